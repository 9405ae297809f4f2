//! Signed requests for testing your handlers with `actix_web::test` (feature `test-util`).
//!
//! ```
//! # #[actix_web::main]
//! # async fn main() {
//! use actix_web::{App, test, web};
//! use enrich_actix::testing::{TEST_SECRET, signed_request};
//! use enrich_actix::{PersonEvent, WebhookConfig};
//!
//! async fn webhook(event: PersonEvent) -> String {
//!     event.person.external_id.clone().unwrap_or_default()
//! }
//!
//! let app = test::init_service(
//!     App::new()
//!         .app_data(WebhookConfig::with_secret(TEST_SECRET).unwrap())
//!         .service(web::resource("/webhook").route(web::post().to(webhook))),
//! )
//! .await;
//! let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
//! let response = test::call_service(&app, signed_request("/webhook", body).to_request()).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(test::read_body(response).await, "p-1");
//! # }
//! ```

use actix_web::http::Method;
use actix_web::test::TestRequest;

pub use enrich_webhook::testing::{SignedRequest, TEST_SECRET};

/// A `POST` to `uri` carrying `body`, signed now with [`TEST_SECRET`], as the API sends it.
pub fn signed_request(uri: &str, body: impl Into<Vec<u8>>) -> TestRequest {
    request(uri, SignedRequest::builder(body).build())
}

/// A `POST` to `uri` of a [`SignedRequest`] built any other way (another secret, a stale or
/// missing signature, another content type).
pub fn request(uri: &str, signed: SignedRequest) -> TestRequest {
    signed
        .header_pairs
        .into_iter()
        .fold(
            TestRequest::default().method(Method::POST).uri(uri),
            |request, pair| request.insert_header(pair),
        )
        .set_payload(signed.body)
}
