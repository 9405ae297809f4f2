//! The guards and catchers in-process, with Rocket's tracked local client.
//!
//! Only what is specific to the framework lives here; every answer the three adapters share (status,
//! headers and body of each acceptance and refusal) is a case of the conformance suite in `tests/`.

use std::sync::Mutex;

use enrich_rocket::{
    Event, LIMIT_KEY, PersonEvent, Refusal, WebhookConfig, WebhookDelivery, WebhookRejection,
    catchers,
};
use enrich_webhook::Answer;
use enrich_webhook::testing::SignedRequest;
use rocket::data::{Limits, ToByteUnit};
use rocket::http::{Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::{Build, Rocket, State, post, routes};

const SECRET: &str = "whsec_test_secret";
const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b1","person":{"externalID":"crm-42","firstName":"Ada"}}}"#;
const COMPANY: &str = r#"{"eventType":"company.enrichment.completed","data":{"enrichmentID":"b2","company":{"externalID":"acme"}}}"#;

/// What the handlers saw.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn push(&self, value: String) {
        self.0.lock().unwrap().push(value);
    }
}

#[post("/person", data = "<event>")]
fn person(event: PersonEvent, seen: &State<Seen>) {
    seen.push(event.0.person.external_id.unwrap_or_default());
}

#[post("/event", data = "<event>")]
fn event(event: Event, seen: &State<Seen>) {
    seen.push(event.0.event_type().to_owned());
}

#[post("/delivery", data = "<delivery>")]
fn delivery(delivery: WebhookDelivery, seen: &State<Seen>) -> Vec<u8> {
    seen.push(delivery.0.idempotency_key().to_string());
    delivery.0.raw_body().to_vec()
}

/// Takes the outcome itself and returns the rejection as its answer.
#[post("/manual", data = "<delivery>")]
fn manual(delivery: Result<WebhookDelivery, WebhookRejection>) -> Result<(), WebhookRejection> {
    delivery.map(drop)
}

/// Turns a rejection into a 500 of its own: the catcher must not send the cached 401.
#[post("/own-error", data = "<delivery>")]
fn own_error(delivery: Result<WebhookDelivery, WebhookRejection>) -> Result<(), Status> {
    delivery.map(drop).map_err(|_| Status::InternalServerError)
}

#[post("/other")]
fn other() -> Status {
    Status::BadRequest
}

fn quiet() -> rocket::figment::Figment {
    rocket::Config::figment().merge(("log_level", "off"))
}

fn app(config: Option<WebhookConfig>, with_catchers: bool) -> Rocket<Build> {
    app_with(quiet(), config, with_catchers)
}

fn app_with(
    figment: rocket::figment::Figment,
    config: Option<WebhookConfig>,
    with_catchers: bool,
) -> Rocket<Build> {
    let mut rocket = rocket::custom(figment).manage(Seen::default()).mount(
        "/",
        routes![person, event, delivery, manual, own_error, other],
    );
    if let Some(config) = config {
        rocket = rocket.manage(config);
    }
    if with_catchers {
        rocket = rocket.register("/", catchers());
    }
    rocket
}

fn config() -> WebhookConfig {
    WebhookConfig::with_secret(SECRET).unwrap()
}

async fn start(rocket: Rocket<Build>) -> Client {
    Client::tracked(rocket).await.unwrap()
}

/// Sends `request` to `uri`, leaving out the headers named in `skip`.
async fn send<'c>(
    client: &'c Client,
    uri: &'static str,
    request: &SignedRequest,
    skip: &[&str],
) -> LocalResponse<'c> {
    let mut local = client.post(uri).body(&request.body);
    for (name, value) in &request.header_pairs {
        if !skip.contains(&name.as_str()) {
            local = local.header(Header::new(name.clone(), value.clone()));
        }
    }
    local.dispatch().await
}

fn signed(body: &str) -> SignedRequest {
    SignedRequest::builder(body).secret(SECRET).build()
}

fn seen(client: &Client) -> Vec<String> {
    client
        .rocket()
        .state::<Seen>()
        .unwrap()
        .0
        .lock()
        .unwrap()
        .clone()
}

async fn assert_answer(response: LocalResponse<'_>, expected: &Answer) {
    assert_eq!(response.status().code, expected.status);
    let content_types: Vec<_> = response.headers().get("Content-Type").collect();
    assert_eq!(content_types, [expected.content_type]);
    let body = response.into_bytes().await.unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected.body)
    );
}

#[rocket::async_test]
async fn a_signed_person_delivery_reaches_the_handler() {
    let client = start(app(Some(config()), true)).await;
    let response = send(&client, "/person", &signed(PERSON), &[]).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_bytes().await.unwrap_or_default(), b"");
    assert_eq!(seen(&client), ["crm-42"]);
}

#[rocket::async_test]
async fn the_delivery_guard_keeps_the_raw_body_and_the_idempotency_key() {
    let client = start(app(Some(config()), true)).await;
    let response = send(&client, "/delivery", &signed(PERSON), &[]).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_bytes().await.unwrap(), PERSON.as_bytes());
    assert_eq!(seen(&client), ["person.enrichment.completed/b1/crm-42"]);
}

#[rocket::async_test]
async fn without_the_catchers_an_unhandled_event_is_still_a_200() {
    let client = start(app(Some(config()), false)).await;
    let response = send(&client, "/person", &signed(COMPANY), &[]).await;
    assert_eq!(response.status(), Status::Ok);
    assert!(seen(&client).is_empty());
}

/// The body is `PERSON` padded with trailing spaces (still one JSON document) to `len` bytes.
fn padded(len: usize) -> SignedRequest {
    signed(&format!("{PERSON:len$}"))
}

#[rocket::async_test]
async fn the_rocket_limit_applies_when_it_is_stricter() {
    let limit = PERSON.len() + 10;
    let figment = quiet().merge(("limits", Limits::default().limit(LIMIT_KEY, limit.bytes())));
    let client = start(app_with(figment, Some(config()), true)).await;
    let too_large = Answer::from(&Refusal::PayloadTooLarge { limit });
    for skip in [&[][..], &["content-length"][..]] {
        let response = send(&client, "/person", &padded(limit), skip).await;
        assert_eq!(response.status(), Status::Ok, "skipping {skip:?}");
        let response = send(&client, "/person", &padded(limit + 1), skip).await;
        assert_answer(response, &too_large).await;
    }

    // A looser Rocket limit leaves the configuration's in force.
    let figment = quiet().merge(("limits", Limits::default().limit(LIMIT_KEY, 1.mebibytes())));
    let client = start(app_with(figment, Some(config().body_limit(limit)), true)).await;
    let response = send(&client, "/person", &padded(limit + 1), &["content-length"]).await;
    assert_answer(response, &too_large).await;
}

#[rocket::async_test]
async fn a_missing_configuration_stops_launch() {
    let Err(error) = Client::tracked(app(None, true)).await else {
        panic!("a Rocket without a managed WebhookConfig must not launch");
    };
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(_)),
        "{error}"
    );
}

#[rocket::async_test]
async fn a_returned_rejection_renders_its_answer_without_the_catchers() {
    let client = start(app(Some(config()), false)).await;
    let request = SignedRequest::builder(PERSON).unsigned().build();
    let response = send(&client, "/manual", &request, &[]).await;
    assert_answer(response, &Answer::from(&Refusal::MissingSignature)).await;
}

#[rocket::async_test]
async fn the_catchers_fall_back_to_rockets_default_for_other_errors() {
    let ours = start(app(Some(config()), true)).await;
    let plain = start(app(Some(config()), false)).await;
    let unsigned = SignedRequest::builder(PERSON).unsigned().build();
    for (uri, status) in [("/other", 400), ("/own-error", 500)] {
        let with = send(&ours, uri, &unsigned, &[]).await;
        let without = send(&plain, uri, &unsigned, &[]).await;
        assert_eq!(with.status().code, status);
        assert_eq!(with.status(), without.status());
        assert_eq!(
            with.headers().get_one("Content-Type"),
            without.headers().get_one("Content-Type")
        );
        assert_eq!(with.into_bytes().await, without.into_bytes().await);
    }
}
