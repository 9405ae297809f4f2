//! The suite's Rocket server: three routes with the data guards, the configuration managed, and
//! `enrich_rocket::catchers()` registered (the documented setup).
//!
//! Rocket's own `limits` leave [`LIMIT_KEY`](enrich_rocket::LIMIT_KEY) unset here, so the
//! pipeline's limit governs as on the other frameworks; the key itself is tested on its own.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use enrich_inbox::Inbox;
use enrich_rocket::{
    CompanyEvent, Event, PersonEvent, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use rocket::config::{LogLevel, Shutdown};
use rocket::data::Limits;
use rocket::fairing::AdHoc;
use rocket::http::ContentType;
use rocket::{Build, Config, Rocket, State, post, routes};
use tokio::sync::oneshot;

use crate::server::{Adapter, RunningServer};
use crate::view::{Seen, VIEW_CONTENT_TYPE, closed_inbox, handler_view, store_then_view};

/// `enrich-rocket` under test.
#[derive(Debug)]
pub struct RocketAdapter;

impl Adapter for RocketAdapter {
    const NAME: &'static str = "rocket";

    async fn start(config: WebhookConfig) -> io::Result<RunningServer> {
        let rocket = rocket_with(config, Limits::default())
            .mount("/", routes![stored])
            .manage(closed_inbox().await?);
        launch(rocket).await
    }
}

/// A quiet Rocket on 127.0.0.1, port 0, with the suite's routes, `config` managed and the
/// crate's catchers registered; `limits` are Rocket's own.
pub fn rocket_with(config: WebhookConfig, limits: Limits) -> Rocket<Build> {
    let rocket_config = Config {
        address: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: LogLevel::Off,
        cli_colors: false,
        limits,
        shutdown: Shutdown {
            ctrlc: false,
            grace: 0,
            mercy: 0,
            ..Shutdown::default()
        },
        ..Config::debug_default()
    };
    rocket::custom(rocket_config)
        .mount("/", routes![webhook, event, person, company])
        .mount("/", enrich_rocket::post_only("/webhook"))
        .register("/", enrich_rocket::catchers())
        .manage(config)
}

/// Launches `rocket` in a task and waits until it listens.
pub async fn launch(rocket: Rocket<Build>) -> io::Result<RunningServer> {
    let (bound, listening) = oneshot::channel();
    let rocket = rocket.attach(AdHoc::on_liftoff("report the bound port", move |rocket| {
        Box::pin(async move {
            let port = rocket.config().port;
            let _ = bound.send((port, rocket.shutdown()));
        })
    }));
    let task = tokio::spawn(async move {
        let _ = rocket.launch().await;
    });
    let (port, shutdown) = listening
        .await
        .map_err(|_| io::Error::other("Rocket stopped before it listened"))?;
    Ok(RunningServer::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        task,
        move || shutdown.notify(),
    ))
}

#[post("/webhook", data = "<delivery>")]
fn webhook(delivery: WebhookDelivery) -> (ContentType, Vec<u8>) {
    view(Seen::Delivery(&delivery.0))
}

#[post("/event", data = "<event>")]
fn event(event: Event) -> (ContentType, Vec<u8>) {
    view(Seen::Event(&event.0))
}

#[post("/person", data = "<person>")]
fn person(person: PersonEvent) -> (ContentType, Vec<u8>) {
    view(Seen::Person(&person))
}

#[post("/company", data = "<company>")]
fn company(company: CompanyEvent) -> (ContentType, Vec<u8>) {
    view(Seen::Company(&company))
}

fn view(seen: Seen<'_>) -> (ContentType, Vec<u8>) {
    let content_type = ContentType::parse_flexible(VIEW_CONTENT_TYPE).unwrap_or(ContentType::JSON);
    (content_type, handler_view(seen))
}

/// `/stored`: mounted, with its inbox managed, by [`RocketAdapter::start`].
#[post("/stored", data = "<delivery>")]
async fn stored(
    inbox: &State<Inbox>,
    delivery: WebhookDelivery,
) -> Result<(ContentType, Vec<u8>), WebhookRefusal> {
    let view = store_then_view(inbox, &delivery).await?;
    let content_type = ContentType::parse_flexible(VIEW_CONTENT_TYPE).unwrap_or(ContentType::JSON);
    Ok((content_type, view))
}
