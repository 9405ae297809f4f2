//! Rocket 0.5 data guards for Surfe API v2 enrichment webhooks.
//!
//! Take [`WebhookDelivery`], [`Event`] or [`PersonEvent`] as a route's data guard: the body is
//! read under the limit, verified and decoded by [`enrich_webhook`], and the handler runs only
//! for a genuine delivery. Everything else is answered with the pipeline's status and
//! `application/problem+json` body.
//!
//! Three things to register on the Rocket builder:
//!
//! - `.manage(WebhookConfig::…)`: the configuration (secrets, tolerance, body limit). Without it
//!   every delivery is answered `500 receiver_not_configured`.
//! - `.mount(…)`: your route, with one of the guards as its `data`.
//! - `.register("/", enrich_rocket::catchers())`: Rocket does not hand a guard's error to a
//!   catcher, so the guards leave their answer in the request-local cache and these catchers
//!   send it. Without them the status is the same but the body is Rocket's default HTML page.
//!
//! ```no_run
//! use enrich_rocket::{PersonEvent, WebhookConfig};
//! use rocket::{post, routes};
//!
//! #[post("/webhook", data = "<event>")]
//! fn webhook(event: PersonEvent) {
//!     // Answer fast: the sender waits for this 200. Queue slow work.
//!     println!("enriched {:?}", event.0.person.external_id);
//! }
//!
//! #[rocket::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rocket::build()
//!         .manage(WebhookConfig::from_env()?) // SURFE_WEBHOOK_SECRET
//!         .mount("/", routes![webhook])
//!         .register("/", enrich_rocket::catchers())
//!         .launch()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! The body limit is the stricter of [`WebhookConfig::max_body_bytes`] and Rocket's
//! `limits.surfe-webhook` setting ([`LIMIT_KEY`]), e.g. in `Rocket.toml`:
//!
//! ```toml
//! [default.limits]
//! surfe-webhook = "256 KiB"
//! ```
//!
//! A guard that does not take a genuine event ([`PersonEvent`] given a company event) fails
//! with status `200`, and the `200` catcher of [`catchers`] sends the acknowledgement body
//! (`{"status":"ignored",…}`): the handler is not called and the sender does not retry.

#![warn(missing_docs)]

use std::fmt;
use std::io::Cursor;

use enrich_webhook::enrich_types::{PersonEnrichmentCompleted, WebhookEvent};
use enrich_webhook::{Answer, RequestHeaders, SIGNATURE_HEADER, UnhandledEvent};

use rocket::catcher::{self, Catcher};
use rocket::data::{ByteUnit, Data, FromData, Outcome};
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder, Response};

pub use enrich_webhook;
pub use enrich_webhook::{Delivery, Refusal, Rejection, WebhookConfig};

/// The key of Rocket's `limits` configuration that also bounds a delivery's body:
/// `surfe-webhook`. The stricter of it and [`WebhookConfig::max_body_bytes`] applies.
pub const LIMIT_KEY: &str = "surfe-webhook";

const NOT_CONFIGURED: &str = "no WebhookConfig is managed by this Rocket instance: add \
    `.manage(WebhookConfig::from_env()?)` (or another WebhookConfig constructor) to the builder";

/// Data guard for the full delivery: the typed event, the raw body, the signature time and
/// the idempotency key.
///
/// ```no_run
/// # use rocket::post;
/// use enrich_rocket::WebhookDelivery;
///
/// #[post("/webhook", data = "<delivery>")]
/// fn webhook(delivery: WebhookDelivery) {
///     let key = delivery.0.idempotency_key().to_string(); // deduplicate with this
/// #   let _ = key;
/// }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookDelivery(pub Delivery);

/// Data guard for the decoded event alone (any type, unknown ones included).
#[derive(Debug, Clone)]
pub struct Event(pub WebhookEvent);

/// Data guard that takes only `person.enrichment.completed`.
///
/// Any other genuine event is acknowledged with `200` and the [`UnhandledEvent`] body without
/// calling the handler (through the `200` catcher of [`catchers`]).
#[derive(Debug, Clone)]
pub struct PersonEvent(pub PersonEnrichmentCompleted);

/// Why a guard did not produce its value. As a [`Responder`] it renders exactly the pipeline's
/// [`Answer`]: take `Result<WebhookDelivery, WebhookRejection>` in a handler to see it, and
/// return it to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRejection(pub Refusal);

impl WebhookRejection {
    /// The answer this renders: status, `Content-Type` and body.
    pub fn answer(&self) -> Answer {
        self.0.answer()
    }
}

impl From<Rejection> for WebhookRejection {
    fn from(rejection: Rejection) -> Self {
        Self(Refusal::Rejected(rejection))
    }
}

impl From<UnhandledEvent> for WebhookRejection {
    fn from(unhandled: UnhandledEvent) -> Self {
        Self(Refusal::Unhandled(unhandled))
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl<'r> Responder<'r, 'static> for WebhookRejection {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(render(self.answer()))
    }
}

fn render(answer: Answer) -> Response<'static> {
    let mut response = Response::build();
    response
        .status(Status::new(answer.status))
        .raw_header("Content-Type", answer.content_type);
    if let Some(seconds) = answer.retry_after_secs {
        response.raw_header("Retry-After", seconds.to_string());
    }
    response
        .sized_body(answer.body.len(), Cursor::new(answer.body))
        .finalize()
}

/// What a failed guard left for the catchers: the status it failed with, and the answer.
struct CachedAnswer(Option<(Status, Answer)>);

/// The catchers that send a failed guard's answer: one for every status a guard fails with
/// (`200` for an acknowledged event, then 400, 401, 413, 415, 422 and 500).
///
/// Register them with `.register("/", enrich_rocket::catchers())`. A catcher whose request
/// holds no answer of this crate for its status (a 400 raised by another route, say) answers
/// as Rocket's built-in default catcher does. To keep your own catchers for the rest of the
/// application, register these under the webhook route's path instead, e.g.
/// `.register("/webhook", enrich_rocket::catchers())`.
pub fn catchers() -> Vec<Catcher> {
    enrich_webhook::ANSWER_STATUSES
        .iter()
        .copied()
        .map(|code| {
            // `Catcher::new` accepts only error codes; the acknowledgement needs one for 200,
            // which Rocket routes like any other status.
            let mut catcher = Catcher::new(500, render_cached);
            catcher.code = Some(code);
            catcher.name = Some("enrich_rocket".into());
            catcher
        })
        .collect()
}

fn render_cached<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        match req.local_cache(|| CachedAnswer(None)) {
            CachedAnswer(Some((failed, answer))) if *failed == status => Ok(render(answer.clone())),
            _ => Catcher::default().handler.handle(status, req).await,
        }
    })
}

/// Reads the body under the effective limit and runs the pipeline.
async fn receive<'r>(req: &'r Request<'_>, data: Data<'r>) -> Result<Delivery, Rejection> {
    let config = req
        .rocket()
        .state::<WebhookConfig>()
        .ok_or(Rejection::NotConfigured {
            hint: NOT_CONFIGURED,
        })?;
    let limit = req.limits().get(LIMIT_KEY).map_or(usize::MAX, |limit| {
        usize::try_from(limit.as_u64()).unwrap_or(usize::MAX)
    });
    let config = config
        .clone()
        .body_limit(limit.min(config.max_body_bytes()));
    let limit = config.max_body_bytes();

    // Rocket drops header values that are not UTF-8; the rest are passed as sent.
    let header = |name| req.headers().get_one(name).map(str::as_bytes);
    let headers = RequestHeaders {
        content_type: header("Content-Type"),
        content_length: header("Content-Length"),
        signature: header(SIGNATURE_HEADER),
    };
    let collector = config.start(&headers)?;
    let body = data
        .open(ByteUnit::from(limit))
        .into_bytes()
        .await
        .map_err(|_| collector.read_failed())?;
    if !body.is_complete() {
        return Err(collector.limit_exceeded());
    }
    config.receive(&headers, body.into_inner())
}

/// Runs the pipeline and `take`s the guard's value from the delivery; on failure, caches the
/// answer for [`catchers`] and fails with the status that selects the right catcher.
async fn guard<'r, T>(
    req: &'r Request<'_>,
    data: Data<'r>,
    take: impl FnOnce(Delivery) -> Result<T, WebhookRejection>,
) -> Outcome<'r, T, WebhookRejection> {
    match receive(req, data)
        .await
        .map_err(WebhookRejection::from)
        .and_then(take)
    {
        Ok(value) => Outcome::Success(value),
        Err(error) => {
            let answer = error.answer();
            let status = Status::new(answer.status);
            req.local_cache(|| CachedAnswer(Some((status, answer))));
            Outcome::Error((status, error))
        }
    }
}

#[rocket::async_trait]
impl<'r> FromData<'r> for WebhookDelivery {
    type Error = WebhookRejection;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        guard(req, data, |delivery| Ok(Self(delivery))).await
    }
}

#[rocket::async_trait]
impl<'r> FromData<'r> for Event {
    type Error = WebhookRejection;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        guard(req, data, |delivery| Ok(Self(delivery.into_event()))).await
    }
}

#[rocket::async_trait]
impl<'r> FromData<'r> for PersonEvent {
    type Error = WebhookRejection;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        guard(req, data, |delivery| {
            Ok(Self(delivery.into_person_event()?))
        })
        .await
    }
}
