//! The `http` entry point (feature `http`): the pipeline on a plain `http::Request`, for any
//! server without an adapter of its own (hyper used directly, AWS Lambda through `lambda_http`,
//! a tower stack). The rest of this crate holds no `http` type; this module is the one opt-in
//! exception, on `http` 1.x, `http-body` 1.x and `http-body-util` (whose `Full` carries the
//! answers' bytes). Every answer is rendered from [`Answer`], as the adapters render it, and the
//! conformance suite runs every case against a bare hyper server on it.

use std::error::Error as StdError;

use ::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use ::http::{HeaderValue, Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError};

use crate::answer::Answer;
use crate::config::WebhookConfig;
use crate::delivery::Delivery;
use crate::extract::{Extracted, FromDelivery};
use crate::receive::{BodyError, RequestHeaders};
use crate::signature::SIGNATURE_HEADER;

/// The error type a request body's errors are turned into (what hyper and tower use).
type BoxError = Box<dyn StdError + Send + Sync>;

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl WebhookConfig {
    /// Runs the pipeline on a plain `http::Request`: the accepted [`Delivery`], or the response
    /// to send instead, exactly as every adapter answers.
    ///
    /// - A method other than `POST` is answered `405 Method Not Allowed` with `Allow: POST` and
    ///   no body, before anything else is looked at.
    /// - Then [`receive_body`](WebhookConfig::receive_body): the header checks before the body
    ///   is polled once (so hyper sends no `100 Continue` to a request they refuse), the body
    ///   read under [`body_limit`](WebhookConfig::body_limit), the signature and decoding. A body
    ///   that reports an exact size (`Body::size_hint`, such as an in-memory Lambda body) and
    ///   carries no `Content-Length` is checked by that size as if it were declared: over the
    ///   limit, it is refused before it is read.
    /// - A body that fails while it is read (hyper's `Incoming` when the sender stops short, or
    ///   any other error of `B`) is `incomplete_body`; an `http_body_util::Limited` body cut off
    ///   by its own limit (`LengthLimitError` in the error's source chain, as tower-http's
    ///   `RequestBodyLimitLayer` makes) is `payload_too_large`, naming this configuration's
    ///   limit: set the same on both.
    ///
    /// The path is not looked at: route the request before calling this.
    ///
    /// With the `metrics` feature the delivery returned is counted here as `accepted`; to take
    /// a `T` from it, call [`receive_request_as`](WebhookConfig::receive_request_as) instead
    /// (which counts it as `accepted` or `ignored`), not [`Delivery::extract`] on the result,
    /// which would count it a second time.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use enrich_webhook::WebhookConfig;
    /// use enrich_webhook::testing::{TEST_SECRET, signed_request};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let config = WebhookConfig::with_secret(TEST_SECRET).unwrap();
    /// let body = r#"{"eventType":"person.enrichment.completed","data":{}}"#;
    /// let delivery = config.receive_request(signed_request("/webhook", body)).await.unwrap();
    /// assert!(delivery.is_verified());
    ///
    /// let unsigned = http::Request::post("/webhook").body(http_body_util::Full::new(Bytes::from(body)));
    /// let refusal = config.receive_request(unsigned.unwrap()).await.unwrap_err();
    /// assert_eq!(refusal.status(), 401); // missing_signature, as problem+json
    /// # }
    /// ```
    pub async fn receive_request<B>(
        &self,
        request: Request<B>,
    ) -> Result<Delivery, Response<Full<Bytes>>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        // The delivery goes to the caller as it is: its final outcome, counted here (through
        // `receive_request_as`, `Delivery::extract` counts it instead).
        self.receive_http(request).await.inspect(|delivery| {
            crate::metrics::delivered(
                crate::metrics::ACCEPTED,
                crate::metrics::event_type_label(delivery.event()),
            );
        })
    }

    /// [`receive_request`](WebhookConfig::receive_request) without counting the accepted
    /// delivery (refusals are counted by the pipeline).
    async fn receive_http<B>(&self, request: Request<B>) -> Result<Delivery, Response<Full<Bytes>>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if request.method() != Method::POST {
            return Err(method_not_allowed());
        }
        let (parts, body) = request.into_parts();
        let exact_size = body.size_hint().exact().map(|size| size.to_string());
        let first = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
        let headers = RequestHeaders::new(
            first(CONTENT_TYPE.as_str()),
            first(CONTENT_LENGTH.as_str()).or(exact_size.as_deref().map(str::as_bytes)),
            first(SIGNATURE_HEADER),
        )
        .with_traceparent_from(first);
        let chunks = body.map_err(Into::into).into_data_stream();
        self.receive_body(&headers, chunks, |error| BodyError::classify(&**error))
            .await
            .map_err(|refusal| Answer::from(&refusal).into())
    }

    /// [`receive_request`](WebhookConfig::receive_request), then
    /// [`Delivery::extract`]: the `T` a handler asks for ([`Delivery`], `WebhookEvent`,
    /// `PersonEnrichmentCompleted`, `CompanyEnrichmentCompleted`, or a [`FromDelivery`] of your
    /// own).
    ///
    /// `Err` is the response to send instead of running your code: a refusal (4xx or 5xx), the
    /// `405` of another method, or the `200` acknowledgement of a genuine event `T` does not take
    /// (a company event where `T` is a person event), so that the sender does not retry it.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use enrich_webhook::WebhookConfig;
    /// use enrich_webhook::prelude::PersonEnrichmentCompleted;
    /// use http_body_util::Full;
    ///
    /// /// `POST /webhook` of any server whose requests are `http::Request`s.
    /// async fn webhook<B>(config: &WebhookConfig, request: http::Request<B>) -> http::Response<Full<Bytes>>
    /// where
    ///     B: http_body::Body<Data = Bytes>,
    ///     B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    /// {
    ///     match config.receive_request_as::<PersonEnrichmentCompleted, _>(request).await {
    ///         Ok(event) => {
    ///             println!("{:?} enriched", event.person.external_id);
    ///             http::Response::new(Full::default()) // 200, once the work is done or queued
    ///         }
    ///         // A refusal, a 405, or the 200 acknowledgement of another event: send it as it is.
    ///         Err(answer) => answer,
    ///     }
    /// }
    /// ```
    pub async fn receive_request_as<T, B>(
        &self,
        request: Request<B>,
    ) -> Result<T, Response<Full<Bytes>>>
    where
        T: FromDelivery,
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        match self.receive_http(request).await?.extract() {
            Extracted::Taken(value) => Ok(value),
            Extracted::Ignored(acknowledgement) => Err(Answer::from(&acknowledgement).into()),
            Extracted::Refused(refusal) => Err(Answer::from(&refusal).into()),
        }
    }
}

/// An [`Answer`] as an `http::Response`, exactly: its status, `Content-Type`, `Retry-After` when
/// it has one, and body bytes. A handler that refuses a delivery itself sends
/// `Response::from(Answer::from(&refusal))` (such as `Refusal::StorageUnavailable` when storing
/// it failed).
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl From<Answer> for Response<Full<Bytes>> {
    fn from(answer: Answer) -> Self {
        let mut response = Response::new(Full::new(Bytes::from(answer.body)));
        // The pipeline only produces valid codes; 500 keeps a bad one visible.
        *response.status_mut() =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
        if let Some(seconds) = answer.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// `405 Method Not Allowed` with `Allow: POST` and no body, as every adapter answers a method
/// other than `POST` on the webhook's path.
fn method_not_allowed() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    response
}

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl BodyError {
    /// What a body error of the `http` ecosystem means: `http_body_util`'s [`LengthLimitError`]
    /// (of a `Limited` body, as tower-http's and axum's body limits make) anywhere in its source
    /// chain is [`BodyError::TooLarge`]; anything else is [`BodyError::Failed`].
    pub fn classify(error: &(dyn StdError + 'static)) -> Self {
        let mut chain = std::iter::successors(Some(error), |error| (*error).source());
        if chain.any(|error| error.is::<LengthLimitError>()) {
            Self::TooLarge
        } else {
            Self::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::{Frame, SizeHint};
    use http_body_util::{Empty, Limited, StreamBody};

    use super::*;
    use crate::testing::{SignedRequest, TEST_SECRET};
    use crate::{Acknowledgement, Refusal};
    use enrich_types::{PersonEnrichmentCompleted, WebhookEvent};

    const PERSON: &str =
        r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
    const COMPANY: &str = r#"{"eventType":"company.enrichment.completed","data":{}}"#;

    fn config() -> WebhookConfig {
        WebhookConfig::with_secret(TEST_SECRET).unwrap()
    }

    /// A POST of `signed`'s headers (all but `content-length` when `length` is false), carrying
    /// `body`.
    fn post<B>(signed: &SignedRequest, length: bool, body: B) -> Request<B> {
        let mut builder = Request::post("/webhook");
        for (name, value) in &signed.header_pairs {
            if length || name != "content-length" {
                builder = builder.header(name, value);
            }
        }
        builder.body(body).unwrap()
    }

    fn full(signed: &SignedRequest) -> Request<Full<Bytes>> {
        crate::testing::request("/webhook", signed.clone())
    }

    /// Status, `Content-Type`, `Retry-After` and body.
    type Parts = (StatusCode, Option<HeaderValue>, Option<HeaderValue>, Bytes);

    async fn parts(response: Response<Full<Bytes>>) -> Parts {
        let (parts, body) = response.into_parts();
        let Ok(body) = body.collect().await;
        let header = |name| parts.headers.get(name).cloned();
        (
            parts.status,
            header(CONTENT_TYPE),
            header(RETRY_AFTER),
            body.to_bytes(),
        )
    }

    /// The response every adapter sends for `refusal`, as the pipeline's answer spells it.
    fn refused(refusal: &Refusal) -> Parts {
        let answer = Answer::from(refusal);
        (
            StatusCode::from_u16(answer.status).unwrap(),
            Some(HeaderValue::from_static(answer.content_type)),
            answer.retry_after_secs.map(HeaderValue::from),
            Bytes::from(answer.body),
        )
    }

    #[tokio::test]
    async fn a_signed_delivery_is_accepted() {
        let signed = SignedRequest::builder(PERSON).build();
        let delivery = config().receive_request(full(&signed)).await.unwrap();
        assert!(delivery.is_verified());
        assert_eq!(delivery.raw_body(), PERSON.as_bytes());
    }

    #[tokio::test]
    async fn a_refusal_is_the_answer_of_every_adapter() {
        let unsigned = SignedRequest::builder(PERSON).unsigned().build();
        let response = config().receive_request(full(&unsigned)).await.unwrap_err();
        assert_eq!(parts(response).await, refused(&Refusal::MissingSignature));

        let unavailable = Refusal::StorageUnavailable {
            retry_after_secs: 7,
        };
        let response = Response::from(Answer::from(&unavailable));
        let expected = refused(&unavailable);
        assert_eq!(expected.2, Some(HeaderValue::from_static("7")));
        assert_eq!(parts(response).await, expected);
    }

    #[tokio::test]
    async fn another_method_is_405_with_allow_post_and_no_body() {
        for method in [Method::GET, Method::DELETE, Method::PUT, Method::HEAD] {
            let request = Request::builder()
                .method(method.clone())
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = config().receive_request(request).await.unwrap_err();
            assert_eq!(response.headers().get(ALLOW).unwrap(), "POST", "{method}");
            let (status, content_type, _, body) = parts(response).await;
            assert_eq!(
                (status, content_type, body),
                (StatusCode::METHOD_NOT_ALLOWED, None, Bytes::new())
            );
        }
    }

    #[tokio::test]
    async fn an_event_not_taken_is_acknowledged_with_200() {
        let signed = SignedRequest::builder(COMPANY).build();
        let response = config()
            .receive_request_as::<PersonEnrichmentCompleted, _>(full(&signed))
            .await
            .unwrap_err();
        let acknowledgement = Acknowledgement::of_event_type("company.enrichment.completed");
        let expected = Answer::from(&acknowledgement);
        assert_eq!(
            parts(response).await,
            (
                StatusCode::OK,
                Some(HeaderValue::from_static("application/json")),
                None,
                Bytes::from(expected.body)
            )
        );

        let signed = SignedRequest::builder(PERSON).build();
        let event = config()
            .receive_request_as::<WebhookEvent, _>(full(&signed))
            .await
            .unwrap();
        assert_eq!(event.external_id(), Some("p-1"));
    }

    /// A body of this many bytes, as its size hint says, that fails the test if it is polled.
    struct Unread(u64);

    impl Body for Unread {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            panic!("the body was read")
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.0)
        }
    }

    #[tokio::test]
    async fn an_exact_size_over_the_limit_is_refused_before_reading() {
        let config = config().body_limit(100);
        let signed = SignedRequest::builder(PERSON).build();
        let response = config
            .receive_request(post(&signed, false, Unread(101)))
            .await
            .unwrap_err();
        let too_large = Refusal::PayloadTooLarge { limit: 100 };
        assert_eq!(parts(response).await, refused(&too_large));

        // After the media type, as a declared `Content-Length` is.
        let text = SignedRequest::builder(PERSON)
            .content_type(Some("text/plain"))
            .build();
        let response = config
            .receive_request(post(&text, false, Unread(101)))
            .await
            .unwrap_err();
        assert_eq!(
            parts(response).await,
            refused(&Refusal::UnsupportedMediaType)
        );
    }

    #[tokio::test]
    async fn a_body_that_fails_mid_read_is_incomplete() {
        let signed = SignedRequest::builder(PERSON).build();
        let frames: [Result<_, BoxError>; 2] = [
            Ok(Frame::data(Bytes::from_static(&PERSON.as_bytes()[..10]))),
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into()),
        ];
        let failing = StreamBody::new(futures_util::stream::iter(frames));
        let response = config()
            .receive_request(post(&signed, true, failing))
            .await
            .unwrap_err();
        assert_eq!(parts(response).await, refused(&Refusal::IncompleteBody));
    }

    #[tokio::test]
    async fn a_limited_body_cut_off_is_too_large() {
        let signed = SignedRequest::builder(PERSON).build();
        let limited = Limited::new(Full::new(Bytes::from(signed.body.clone())), 8);
        let response = config()
            .receive_request(post(&signed, false, limited))
            .await
            .unwrap_err();
        let too_large = Refusal::PayloadTooLarge {
            limit: crate::DEFAULT_BODY_LIMIT,
        };
        assert_eq!(parts(response).await, refused(&too_large));
    }
}
