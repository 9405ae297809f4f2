//! The handler's view: what each test handler answers, built here once so that the servers'
//! handlers (the four adapters' and the bare hyper server's) cannot drift apart.

use enrich_webhook::Delivery;
use enrich_webhook::enrich_types::{
    CompanyEnrichmentCompleted, PersonEnrichmentCompleted, WebhookEvent,
};
use serde_json::{Map, Value, json};

/// The `Content-Type` of every handler answer. Each handler sets it explicitly (Poem's own
/// `Json` would add `; charset=utf-8`, which is not what is compared here).
pub const VIEW_CONTENT_TYPE: &str = "application/json";

/// The four routes every test server serves, one per extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /webhook`: takes `WebhookDelivery`.
    Webhook,
    /// `POST /event`: takes `Event`.
    Event,
    /// `POST /person`: takes `PersonEvent`.
    Person,
    /// `POST /company`: takes `CompanyEvent`.
    Company,
    /// `POST /stored`: takes `WebhookDelivery` and stores it in an inbox whose database is
    /// closed, so every genuine delivery meets a storage failure (`503`).
    Stored,
}

impl Route {
    /// Every route, in the order the servers mount them.
    pub const ALL: [Route; 5] = [
        Route::Webhook,
        Route::Event,
        Route::Person,
        Route::Company,
        Route::Stored,
    ];

    /// The request path.
    pub const fn path(self) -> &'static str {
        match self {
            Route::Webhook => "/webhook",
            Route::Event => "/event",
            Route::Person => "/person",
            Route::Company => "/company",
            Route::Stored => "/stored",
        }
    }

    /// The name in the view's `route` member.
    pub const fn name(self) -> &'static str {
        match self {
            Route::Webhook => "webhook",
            Route::Event => "event",
            Route::Person => "person",
            Route::Company => "company",
            Route::Stored => "stored",
        }
    }
}

/// What a handler received from its extractor.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// `WebhookDelivery`: the whole delivery.
    Delivery(&'a Delivery),
    /// `Event`: the decoded event alone.
    Event(&'a WebhookEvent),
    /// `PersonEvent`: the person event's `data` alone.
    Person(&'a PersonEnrichmentCompleted),
    /// `CompanyEvent`: the company event's `data` alone.
    Company(&'a CompanyEnrichmentCompleted),
}

/// The body a handler answers with (status 200, [`VIEW_CONTENT_TYPE`]):
///
/// `{"route":…,"eventType":…,"verified":…,"idempotencyKey":…,"event":<the event re-serialized>}`
///
/// `verified` and `idempotencyKey` are present only on `/webhook`, whose extractor gives the
/// whole delivery. Everything in it is a pure function of the request body, so it is the same
/// bytes whichever adapter served it.
pub fn handler_view(seen: Seen<'_>) -> Vec<u8> {
    let mut view = Map::new();
    let event = match seen {
        Seen::Delivery(delivery) => {
            view.insert("route".into(), Route::Webhook.name().into());
            view.insert("eventType".into(), delivery.event().event_type().into());
            view.insert("verified".into(), delivery.is_verified().into());
            view.insert(
                "idempotencyKey".into(),
                delivery.idempotency_key().to_string().into(),
            );
            to_value(delivery.event())
        }
        Seen::Event(event) => {
            view.insert("route".into(), Route::Event.name().into());
            view.insert("eventType".into(), event.event_type().into());
            to_value(event)
        }
        Seen::Person(data) => {
            let event = WebhookEvent::PersonEnrichmentCompleted(data.clone());
            view.insert("route".into(), Route::Person.name().into());
            view.insert("eventType".into(), event.event_type().into());
            to_value(&event)
        }
        Seen::Company(data) => {
            let event = WebhookEvent::CompanyEnrichmentCompleted(data.clone());
            view.insert("route".into(), Route::Company.name().into());
            view.insert("eventType".into(), event.event_type().into());
            to_value(&event)
        }
    };
    view.insert("event".into(), event);
    serde_json::to_vec(&Value::Object(view)).unwrap_or_else(|error| {
        serde_json::to_vec(&json!({ "viewError": error.to_string() })).unwrap_or_default()
    })
}

/// The event re-serialized, as JSON values; an event that values cannot hold (an unknown event
/// whose raw `data` nests deeper than serde_json's limit or holds a number beyond `f64`) as its
/// re-serialized text instead, which shows it was kept byte for byte.
fn to_value(event: &WebhookEvent) -> Value {
    serde_json::to_value(event).unwrap_or_else(|_| match serde_json::to_string(event) {
        Ok(text) => json!({ "asText": text }),
        Err(error) => json!({ "serializeError": error.to_string() }),
    })
}

/// A real inbox whose database is closed: storing in it fails as a database outage does, for
/// the `/stored` route. (A delivery that was stored would be answered with the handler's view.)
pub async fn closed_inbox() -> std::io::Result<enrich_inbox::Inbox> {
    let inbox = enrich_inbox::Inbox::open("sqlite::memory:")
        .await
        .map_err(std::io::Error::other)?;
    inbox.close().await;
    Ok(inbox)
}

/// What the `/stored` handler answers: the view of a delivery it stored, or the pipeline's
/// `storage_unavailable` refusal when the inbox failed.
pub async fn store_then_view(
    inbox: &enrich_inbox::Inbox,
    delivery: &Delivery,
) -> Result<Vec<u8>, enrich_webhook::Refusal> {
    inbox.store(delivery).await?;
    Ok(handler_view(Seen::Delivery(delivery)))
}
