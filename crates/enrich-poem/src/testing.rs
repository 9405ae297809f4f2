//! Signed requests for testing your handlers with Poem's test client (feature `test-util`).
//!
//! ```
//! # async fn example() {
//! use enrich_poem::testing::{TEST_SECRET, signed_request};
//! use enrich_poem::{PersonEvent, WebhookConfig};
//! use poem::{Endpoint, EndpointExt, Route, handler, post};
//!
//! #[handler]
//! fn webhook(event: PersonEvent) -> String {
//!     event.person.external_id.clone().unwrap_or_default()
//! }
//!
//! let app = Route::new()
//!     .at("/webhook", post(webhook))
//!     .data(WebhookConfig::with_secret(TEST_SECRET).unwrap());
//! let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
//! let response = app.get_response(signed_request("/webhook", body)).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.into_body().into_string().await.unwrap(), "p-1");
//! # }
//! ```

use poem::Request;
use poem::http::Method;

pub use enrich_webhook::testing::{SignedRequest, TEST_SECRET};

/// A `POST` to `uri` carrying `body`, signed now with [`TEST_SECRET`], as the API sends it.
pub fn signed_request(uri: &str, body: impl Into<Vec<u8>>) -> Request {
    request(uri, SignedRequest::builder(body).build())
}

/// A `POST` to `uri` of a [`SignedRequest`] built any other way (another secret, a stale or
/// missing signature, another content type).
pub fn request(uri: &str, signed: SignedRequest) -> Request {
    let mut builder = Request::builder().method(Method::POST).uri_str(uri);
    for (name, value) in signed.header_pairs {
        builder = builder.header(name, value);
    }
    builder.body(signed.body)
}
