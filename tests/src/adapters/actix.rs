//! The suite's actix-web server: one resource per extractor, the configuration as app data.

use std::io;

use actix_web::{App, HttpResponse, HttpServer, web};
use enrich_actix::{
    CompanyEvent, Event, PersonEvent, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use enrich_inbox::Inbox;

use crate::server::{Adapter, RunningServer};
use crate::view::{Route, Seen, VIEW_CONTENT_TYPE, closed_inbox, handler_view, store_then_view};

/// `enrich-actix` under test.
#[derive(Debug)]
pub struct ActixAdapter;

impl Adapter for ActixAdapter {
    const NAME: &'static str = "actix";

    async fn start(config: WebhookConfig) -> io::Result<RunningServer> {
        let inbox = web::Data::new(closed_inbox().await?);
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // Each path a resource, as the README says: other methods get `405` with `Allow: POST`.
        let server = HttpServer::new(move || {
            App::new()
                .app_data(config.clone())
                .app_data(inbox.clone())
                .service(web::resource(Route::Webhook.path()).route(web::post().to(webhook)))
                .service(web::resource(Route::Event.path()).route(web::post().to(event)))
                .service(web::resource(Route::Person.path()).route(web::post().to(person)))
                .service(web::resource(Route::Company.path()).route(web::post().to(company)))
                .service(web::resource(Route::Stored.path()).route(web::post().to(stored)))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(async move {
            let _ = server.await;
        });
        Ok(RunningServer::new(addr, task, move || {
            // Stops accepting at once; the dropped task ends the rest.
            drop(handle.stop(false));
        }))
    }
}

async fn webhook(Webhook(delivery): WebhookDelivery) -> HttpResponse {
    view(Seen::Delivery(&delivery))
}

async fn event(Webhook(event): Event) -> HttpResponse {
    view(Seen::Event(&event))
}

async fn person(Webhook(person): PersonEvent) -> HttpResponse {
    view(Seen::Person(&person))
}

async fn company(Webhook(company): CompanyEvent) -> HttpResponse {
    view(Seen::Company(&company))
}

async fn stored(
    inbox: web::Data<Inbox>,
    Webhook(delivery): WebhookDelivery,
) -> Result<HttpResponse, WebhookRefusal> {
    let view = store_then_view(&inbox, &delivery).await?;
    Ok(HttpResponse::Ok()
        .content_type(VIEW_CONTENT_TYPE)
        .body(view))
}

fn view(seen: Seen<'_>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(VIEW_CONTENT_TYPE)
        .body(handler_view(seen))
}
