//! Signed requests for testing your routes with Rocket's local client (feature `test-util`).
//!
//! ```
//! use enrich_rocket::testing::{TEST_SECRET, signed_request};
//! use enrich_rocket::{PersonEvent, WebhookConfig};
//! use rocket::local::blocking::Client;
//! use rocket::{post, routes};
//!
//! #[post("/webhook", data = "<event>")]
//! fn webhook(event: PersonEvent) -> String {
//!     event.person.external_id.clone().unwrap_or_default()
//! }
//!
//! let rocket = rocket::build()
//!     .manage(WebhookConfig::with_secret(TEST_SECRET).unwrap())
//!     .mount("/", routes![webhook])
//!     .register("/", enrich_rocket::catchers());
//! let client = Client::tracked(rocket).unwrap();
//! let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
//! let response = signed_request(&client, "/webhook", body).dispatch();
//! assert_eq!(response.status().code, 200);
//! assert_eq!(response.into_string().as_deref(), Some("p-1"));
//! ```

use rocket::http::Header;
use rocket::local::blocking::{Client, LocalRequest};

pub use enrich_webhook::testing::{SignedRequest, TEST_SECRET};

/// A `POST` to `uri` carrying `body`, signed now with [`TEST_SECRET`], as the API sends it.
pub fn signed_request<'c>(
    client: &'c Client,
    uri: &'c str,
    body: impl Into<Vec<u8>>,
) -> LocalRequest<'c> {
    request(client, uri, SignedRequest::builder(body).build())
}

/// A `POST` to `uri` of a [`SignedRequest`] built any other way (another secret, a stale or
/// missing signature, another content type).
pub fn request<'c>(client: &'c Client, uri: &'c str, signed: SignedRequest) -> LocalRequest<'c> {
    let mut request = client.post(uri);
    for (name, value) in signed.header_pairs {
        request.add_header(Header::new(name, value));
    }
    request.body(signed.body)
}
