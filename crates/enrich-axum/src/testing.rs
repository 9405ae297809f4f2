//! Signed requests for testing your handlers (feature `test-util`).
//!
//! ```
//! # async fn example() {
//! use axum::{Router, routing::post};
//! use enrich_axum::testing::{TEST_SECRET, signed_request};
//! use enrich_axum::{PersonEvent, WebhookConfig};
//! use tower::ServiceExt;
//!
//! async fn handler(event: PersonEvent) -> String {
//!     event.person.external_id.clone().unwrap_or_default()
//! }
//!
//! let app = Router::new()
//!     .route("/webhook", post(handler))
//!     .with_state(WebhookConfig::with_secret(TEST_SECRET).unwrap());
//! let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
//! let response = app.oneshot(signed_request("/webhook", body)).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use axum::body::Body;
use axum::http::Request;

pub use enrich_webhook::testing::{SignedRequest, TEST_SECRET};

/// A `POST` to `uri` carrying `body`, signed now with [`TEST_SECRET`], as the API sends it.
pub fn signed_request(uri: &str, body: impl Into<Vec<u8>>) -> Request<Body> {
    request(uri, SignedRequest::builder(body).build())
}

/// A `POST` to `uri` of a [`SignedRequest`] built any other way (another secret, a stale or
/// missing signature, another content type).
pub fn request(uri: &str, signed: SignedRequest) -> Request<Body> {
    enrich_webhook::testing::request(uri, signed).map(Body::new)
}
