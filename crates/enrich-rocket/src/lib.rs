//! Rocket 0.5 data guards for Surfe API v2 enrichment webhooks.
//!
//! Take a [`Webhook<T>`] as a route's data guard — [`PersonEvent`], [`CompanyEvent`], [`Event`]
//! or [`WebhookDelivery`]: the body is read under the limit, verified and decoded by
//! [`enrich_webhook`], and the handler runs only for a genuine delivery. Everything else is
//! answered with the pipeline's status and body.
//!
//! Three things to register on the Rocket builder:
//!
//! - `.manage(WebhookConfig::…)`: the configuration (secrets, tolerance, body limit). Without it
//!   Rocket refuses to launch (the guards are [`Sentinel`]s) and says what is missing.
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
//!     println!("enriched {:?}", event.person.external_id);
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
//! The body limit is the stricter of [`WebhookConfig::get_body_limit`] and Rocket's
//! `limits.surfe-webhook` setting ([`LIMIT_KEY`]), e.g. in `Rocket.toml`:
//!
//! ```toml
//! [default.limits]
//! surfe-webhook = "256 KiB"
//! ```
//!
//! # The acknowledgement of an ignored event
//!
//! A guard that does not take a genuine event ([`PersonEvent`] given a company event) must answer
//! `200` without running the handler: the pipeline's [`Acknowledgement`], a success, not a
//! [`Refusal`]. Rocket has no supported way for a data guard to succeed with a response of its
//! own: a guard either yields a value (the handler runs), forwards (another route or a 404) or
//! fails with a status (a catcher answers). So, as Rocket forces, the guard fails with status
//! `200` ([`WebhookRejection::Ignored`]), and the one `200` catcher of [`catchers`] sends the
//! acknowledgement body; the other catchers send refusals only. Rocket logs that as
//! `Data guard … failed: WebhookRejection { status: 200, code: "ignored" }` at warn level. To avoid
//! both, take [`Event`] and match the event type in the handler, or take
//! `Result<PersonEvent, WebhookRejection>` and return the rejection.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::borrow::Cow;
use std::fmt;
use std::io::Cursor;
use std::ops::{Deref, DerefMut};

use enrich_webhook::{Answer, BodyError, RequestHeaders, SIGNATURE_HEADER};
use rocket::catcher::{self, Catcher};
use rocket::data::{ByteUnit, Data, FromData, Outcome};
use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::route::{self, Route};
use rocket::{Ignite, Rocket, Sentinel};
use tokio_util::io::ReaderStream;

pub use enrich_webhook;
pub use enrich_webhook::prelude::*;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

/// The key of Rocket's `limits` configuration that also bounds a delivery's body:
/// `surfe-webhook`. The stricter of it and [`WebhookConfig::get_body_limit`] applies.
pub const LIMIT_KEY: &str = "surfe-webhook";

/// The largest read buffer a body is read into at a time. A body whose declared length fits is
/// read into one buffer of exactly that size; a longer or undeclared one in buffers of this size,
/// so that a declared length alone never reserves more.
const READ_BUFFER: usize = 16 * 1024;

/// The data guard: a verified, decoded delivery, as the `T` the handler asks for (see
/// [`FromDelivery`] for what `T` can be). It derefs to `T`.
///
/// ```no_run
/// # use rocket::post;
/// use enrich_rocket::{PersonEnrichmentCompleted, Webhook};
///
/// #[post("/webhook", data = "<event>")]
/// fn webhook(event: Webhook<PersonEnrichmentCompleted>) {
///     println!("{:?}", event.person.external_id);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Webhook<T>(pub T);

/// The whole accepted delivery: the typed event, the raw body as signed, the signature header
/// and time, and the idempotency key.
pub type WebhookDelivery = Webhook<Delivery>;

/// The typed event of any type (unknown types included, as [`WebhookEvent::Unknown`]).
pub type Event = Webhook<WebhookEvent>;

/// A `person.enrichment.completed` event; any other genuine event is acknowledged with `200`
/// (an [`Acknowledgement`]) without calling the handler.
pub type PersonEvent = Webhook<PersonEnrichmentCompleted>;

/// A `company.enrichment.completed` event; any other genuine event is acknowledged with `200`
/// (an [`Acknowledgement`]) without calling the handler.
pub type CompanyEvent = Webhook<CompanyEnrichmentCompleted>;

impl<T> Deref for Webhook<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Webhook<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[rocket::async_trait]
impl<'r, T: FromDelivery + Send> FromData<'r> for Webhook<T> {
    type Error = WebhookRejection;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        let rejection = match receive(req, data).await.map(Delivery::extract) {
            Ok(Extracted::Taken(value)) => return Outcome::Success(Self(value)),
            Ok(Extracted::Ignored(acknowledgement)) => WebhookRejection::Ignored(acknowledgement),
            Ok(Extracted::Refused(refusal)) | Err(refusal) => WebhookRejection::Refused(refusal),
        };
        let answer = rejection.answer();
        let status = Status::new(answer.status);
        req.local_cache(|| CachedAnswer(Some((status, answer))));
        Outcome::Error((status, rejection))
    }
}

impl<T> Sentinel for Webhook<T> {
    /// Stops launch when no [`WebhookConfig`] is managed: a setup mistake is found before the
    /// first delivery, not told to the sender.
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        let missing = rocket.state::<WebhookConfig>().is_none();
        if missing {
            tracing::error!("{NOT_CONFIGURED}");
        }
        missing
    }
}

const NOT_CONFIGURED: &str = "no WebhookConfig is managed by this Rocket instance: add \
    `.manage(WebhookConfig::from_env()?)` (or another WebhookConfig constructor) to the builder";

/// Why the handler was not called: the guard's error. As a [`Responder`] it renders exactly the
/// pipeline's [`Answer`]: take `Result<PersonEvent, WebhookRejection>` in a handler to see it,
/// and return it to send it.
///
/// A guard can only keep the handler from running by failing, so the acknowledgement of an
/// event the guard does not take travels here too, beside the refusals, though it answers `200`
/// (see the crate docs).
///
/// Its `Debug` form shows only the status and code (Rocket logs a failed guard's error with it).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The delivery is refused (4xx or 5xx).
    Refused(Refusal),
    /// A genuine event of a type the guard does not take, acknowledged with `200`.
    Ignored(Acknowledgement),
}

impl WebhookRejection {
    /// The pipeline's answer.
    fn answer(&self) -> Answer {
        match self {
            Self::Refused(refusal) => Answer::from(refusal),
            Self::Ignored(acknowledgement) => Answer::from(acknowledgement),
        }
    }
}

impl From<Refusal> for WebhookRejection {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl fmt::Debug for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, code) = match self {
            Self::Refused(refusal) => (refusal.status(), refusal.code()),
            Self::Ignored(_) => (Acknowledgement::STATUS, Acknowledgement::CODE),
        };
        f.debug_struct("WebhookRejection")
            .field("status", &status)
            .field("code", &code)
            .finish()
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => refusal.fmt(f),
            Self::Ignored(acknowledgement) => acknowledgement.fmt(f),
        }
    }
}

impl std::error::Error for WebhookRejection {}

impl<'r> Responder<'r, 'static> for WebhookRejection {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(render(self.answer()))
    }
}

/// A refusal as a Rocket [`Responder`]: exactly the pipeline's [`Answer`] for the [`Refusal`].
///
/// Return it from a handler to refuse a delivery yourself, such as
/// [`Refusal::StorageUnavailable`] when storing it failed (`?` turns a [`Refusal`] into one).
///
/// Its `Debug` form shows only the status and code.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRefusal(pub Refusal);

impl From<Refusal> for WebhookRefusal {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl fmt::Debug for WebhookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRefusal")
            .field("status", &self.0.status())
            .field("code", &self.0.code())
            .finish()
    }
}

impl fmt::Display for WebhookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebhookRefusal {
    /// Transparent, as `Display` is: the refusal's own source, so that no message prints twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl<'r> Responder<'r, 'static> for WebhookRefusal {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(render(Answer::from(&self.0)))
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

/// The catchers that send a failed guard's answer: one for every refusal status
/// ([`enrich_webhook::REFUSAL_STATUSES`]), and one for `200`, which sends only the
/// acknowledgement of an event the guard does not take (Rocket lets a guard keep the handler from
/// running only by failing; see the crate docs).
///
/// Register them with `.register("/", enrich_rocket::catchers())`. A catcher whose request
/// holds no answer of this crate for its status (a 400 raised by another route, say) answers
/// as Rocket's built-in default catcher does. To keep your own catchers for the rest of the
/// application, register these under the webhook route's path instead, e.g.
/// `.register("/webhook", enrich_rocket::catchers())`.
pub fn catchers() -> Vec<Catcher> {
    enrich_webhook::REFUSAL_STATUSES
        .iter()
        .copied()
        .chain([Acknowledgement::STATUS])
        .map(|code| {
            // `Catcher::new` accepts only error codes; the acknowledgement needs one for 200,
            // which Rocket routes like any other status (see the crate docs).
            let mut catcher = Catcher::new(500, render_cached);
            catcher.code = Some(code);
            catcher.name = Some("enrich_rocket".into());
            catcher
        })
        .collect()
}

/// Routes answering every method but `POST` on `path` with `405 Method Not Allowed` and
/// `Allow: POST`, as axum and Poem do (Rocket itself answers `404` to a method no route takes).
/// `HEAD` is answered by the `GET` route.
///
/// ```no_run
/// # use rocket::{launch, post, routes};
/// # use enrich_rocket::{PersonEvent, WebhookConfig};
/// #[post("/webhook", data = "<event>")]
/// fn webhook(event: PersonEvent) {}
///
/// #[launch]
/// fn rocket() -> _ {
///     rocket::build()
///         .manage(WebhookConfig::from_env().expect("SURFE_WEBHOOK_SECRET is set"))
///         .mount("/", routes![webhook])
///         .mount("/", enrich_rocket::post_only("/webhook"))
///         .register("/", enrich_rocket::catchers())
/// }
/// ```
pub fn post_only(path: &str) -> Vec<Route> {
    [
        Method::Get,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
    ]
    .into_iter()
    .map(|method| {
        let mut route = Route::new(method, path, method_not_allowed);
        route.name = Some("enrich_rocket::post_only".into());
        route
    })
    .collect()
}

fn method_not_allowed<'r>(_: &'r Request<'_>, _: Data<'r>) -> route::BoxFuture<'r> {
    Box::pin(async {
        route::Outcome::Success(
            Response::build()
                .status(Status::MethodNotAllowed)
                .raw_header("Allow", "POST")
                .finalize(),
        )
    })
}

fn render_cached<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        match req.local_cache(|| CachedAnswer(None)) {
            CachedAnswer(Some((failed, answer))) if *failed == status => Ok(render(answer.clone())),
            _ => Catcher::default().handler.handle(status, req).await,
        }
    })
}

/// Reads the body under the effective limit into the pipeline.
async fn receive<'r>(req: &'r Request<'_>, data: Data<'r>) -> Result<Delivery, Refusal> {
    let config = req
        .rocket()
        .state::<WebhookConfig>()
        .ok_or(Refusal::NotConfigured {
            hint: NOT_CONFIGURED,
        })?;
    let rocket_limit = req.limits().get(LIMIT_KEY).map_or(usize::MAX, |limit| {
        usize::try_from(limit.as_u64()).unwrap_or(usize::MAX)
    });
    let limit = rocket_limit.min(config.get_body_limit());
    let headers = request_headers(req);
    // One byte past the limit is read, so that the collector sees a body over it and refuses it.
    let declared = headers
        .content_length
        .and_then(|length| std::str::from_utf8(length).ok())
        .and_then(|length| length.parse::<usize>().ok());
    let buffer = declared.map_or(READ_BUFFER, |length| length.min(READ_BUFFER - 1) + 1);
    let stream = data.open(ByteUnit::from(limit.saturating_add(1)));
    let chunks = ReaderStream::with_capacity(stream, buffer);
    let classify = |_: &std::io::Error| BodyError::Failed;
    if limit < config.get_body_limit() {
        let config = config.clone().body_limit(limit);
        config.receive_body(&headers, chunks, classify).await
    } else {
        config.receive_body(&headers, chunks, classify).await
    }
}

/// The first value of each header the pipeline reads (Rocket drops header values that are not
/// UTF-8; the rest are passed as sent).
///
/// One pass over the request's few headers, comparing names without case: cheaper than a hashed
/// lookup per name in Rocket's header map (which hashes each name byte by byte, case-folded),
/// and it finds the same first values.
fn request_headers<'r>(req: &'r Request<'_>) -> RequestHeaders<'r> {
    let map = req.headers();
    let mut headers = RequestHeaders::default();
    for header in map.iter() {
        let (name, slot) = if header.name() == "Content-Type" {
            ("Content-Type", &mut headers.content_type)
        } else if header.name() == "Content-Length" {
            ("Content-Length", &mut headers.content_length)
        } else if header.name() == SIGNATURE_HEADER {
            (SIGNATURE_HEADER, &mut headers.signature)
        } else {
            continue;
        };
        if slot.is_none() {
            // The iterator lends the map's own values; were one ever copied, look it up instead.
            let value = match header.value {
                Cow::Borrowed(value) => Some(value),
                Cow::Owned(_) => map.get_one(name),
            };
            *slot = value.map(str::as_bytes);
        }
    }
    headers.with_traceparent_from(|name| map.get_one(name).map(str::as_bytes))
}

/// The README's code blocks, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
