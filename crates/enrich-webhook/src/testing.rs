//! Signing helpers for testing handlers with real signatures (feature `test-util`).
//!
//! ```
//! use enrich_webhook::testing::SignedRequest;
//! use enrich_webhook::WebhookConfig;
//!
//! let request = SignedRequest::builder(r#"{"eventType":"person.enrichment.completed","data":{}}"#)
//!     .secret("whsec_test_secret")
//!     .build();
//! let config = WebhookConfig::with_secret("whsec_test_secret")?;
//! let delivery = config.receive(&request.headers(), request.body.clone()).unwrap();
//! assert!(delivery.is_verified());
//! # Ok::<(), enrich_webhook::ConfigError>(())
//! ```

use crate::receive::RequestHeaders;
use crate::signature::{SIGNATURE_HEADER, SignatureTimestamp};

pub use crate::signature::sign;

/// The secret [`SignedRequest::builder`] signs with unless told otherwise.
pub const TEST_SECRET: &str = "whsec_test_secret";

/// The current time as a signature timestamp.
pub fn now() -> SignatureTimestamp {
    SignatureTimestamp::now()
}

/// A complete signed delivery: the headers and body the API would send. Build one with
/// [`SignedRequest::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Header names (lower-case) and values, in the order to send them.
    pub header_pairs: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl SignedRequest {
    /// Starts a request carrying `body`, by default signed now with [`TEST_SECRET`] and sent
    /// as `application/json`.
    pub fn builder(body: impl Into<Vec<u8>>) -> SignedRequestBuilder {
        SignedRequestBuilder {
            body: body.into(),
            secret: TEST_SECRET.to_owned(),
            timestamp: None,
            content_type: Some("application/json".to_owned()),
            signature_override: None,
            sign: true,
        }
    }

    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The headers as the pipeline reads them, to call [`crate::WebhookConfig::receive`]
    /// directly.
    pub fn headers(&self) -> RequestHeaders<'_> {
        RequestHeaders::from_strs(
            self.header("content-type"),
            self.header("content-length"),
            self.header(SIGNATURE_HEADER),
        )
        .with_traceparent_from(|name| self.header(name).map(str::as_bytes))
    }
}

/// Builds a [`SignedRequest`].
#[derive(Debug, Clone)]
pub struct SignedRequestBuilder {
    body: Vec<u8>,
    secret: String,
    timestamp: Option<SignatureTimestamp>,
    content_type: Option<String>,
    signature_override: Option<String>,
    sign: bool,
}

impl SignedRequestBuilder {
    /// Signs with `secret`.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// Signs as of `timestamp` instead of now.
    pub fn timestamp(mut self, timestamp: SignatureTimestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Sends `content_type` instead of `application/json`; `None` sends no `Content-Type`.
    pub fn content_type(mut self, content_type: Option<&str>) -> Self {
        self.content_type = content_type.map(str::to_owned);
        self
    }

    /// Sends `value` as the signature header instead of computing it (for malformed-header tests).
    pub fn signature_header(mut self, value: impl Into<String>) -> Self {
        self.signature_override = Some(value.into());
        self
    }

    /// Sends no signature header.
    pub fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }

    /// The finished request. It carries `content-length` too.
    pub fn build(self) -> SignedRequest {
        let mut header_pairs = Vec::new();
        if let Some(content_type) = self.content_type {
            header_pairs.push(("content-type".to_owned(), content_type));
        }
        header_pairs.push(("content-length".to_owned(), self.body.len().to_string()));
        let signature = match (self.sign, self.signature_override) {
            (false, _) => None,
            (true, Some(value)) => Some(value),
            (true, None) => Some(sign(
                &self.secret,
                self.timestamp.unwrap_or_else(now),
                &self.body,
            )),
        };
        if let Some(signature) = signature {
            header_pairs.push((SIGNATURE_HEADER.to_owned(), signature));
        }
        SignedRequest {
            header_pairs,
            body: self.body,
        }
    }
}

/// A `POST` to `uri` carrying `body`, signed now with [`TEST_SECRET`], as the API sends it: an
/// `http::Request` for [`WebhookConfig::receive_request`](crate::WebhookConfig::receive_request)
/// (features `test-util` and `http`).
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub fn signed_request(
    uri: &str,
    body: impl Into<Vec<u8>>,
) -> ::http::Request<http_body_util::Full<bytes::Bytes>> {
    request(uri, SignedRequest::builder(body).build())
}

/// A `POST` to `uri` of a [`SignedRequest`] built any other way (another secret, a stale or
/// missing signature, another content type), as an `http::Request`.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub fn request(
    uri: &str,
    signed: SignedRequest,
) -> ::http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut builder = ::http::Request::post(uri);
    for (name, value) in &signed.header_pairs {
        builder = builder.header(name, value);
    }
    builder
        .body(http_body_util::Full::new(signed.body.into()))
        .expect("a signed request's headers are valid")
}
