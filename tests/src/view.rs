//! The handler's view: what each test handler answers, built here once so that the three
//! adapters' handlers cannot drift apart.

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
}

impl Route {
    /// Every route, in the order the servers mount them.
    pub const ALL: [Route; 4] = [Route::Webhook, Route::Event, Route::Person, Route::Company];

    /// The request path.
    pub const fn path(self) -> &'static str {
        match self {
            Route::Webhook => "/webhook",
            Route::Event => "/event",
            Route::Person => "/person",
            Route::Company => "/company",
        }
    }

    /// The name in the view's `route` member.
    pub const fn name(self) -> &'static str {
        match self {
            Route::Webhook => "webhook",
            Route::Event => "event",
            Route::Person => "person",
            Route::Company => "company",
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

fn to_value(event: &WebhookEvent) -> Value {
    serde_json::to_value(event)
        .unwrap_or_else(|error| json!({ "serializeError": error.to_string() }))
}
