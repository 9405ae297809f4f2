//! The suite's Poem server: a `Route` with the three extractors, the configuration as data.

use std::io;

use enrich_inbox::Inbox;
use enrich_poem::{
    CompanyEvent, Event, PersonEvent, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use poem::error::MethodNotAllowedError;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route as Routes, Server, handler, post};
use tokio::sync::oneshot;

use crate::server::{Adapter, RunningServer};
use crate::view::{Route, Seen, VIEW_CONTENT_TYPE, closed_inbox, handler_view, store_then_view};

/// `enrich-poem` under test.
#[derive(Debug)]
pub struct PoemAdapter;

impl Adapter for PoemAdapter {
    const NAME: &'static str = "poem";

    async fn start(config: WebhookConfig) -> io::Result<RunningServer> {
        let app = Routes::new()
            .at(Route::Webhook.path(), post(webhook))
            .at(Route::Event.path(), post(event))
            .at(Route::Person.path(), post(person))
            .at(Route::Company.path(), post(company))
            .at(Route::Stored.path(), post(stored))
            .data(config)
            .data(closed_inbox().await?)
            // As the example receiver does: other methods get `405` with `Allow: POST`.
            .catch_error(|_: MethodNotAllowedError| async {
                Response::builder()
                    .status(StatusCode::METHOD_NOT_ALLOWED)
                    .header("allow", "POST")
                    .finish()
            });
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .into_iter()
            .find_map(|addr| addr.as_socket_addr().copied())
            .ok_or_else(|| io::Error::other("the Poem acceptor has no socket address"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = stopped.await;
                    },
                    None,
                )
                .await;
        });
        Ok(RunningServer::new(addr, task, move || {
            let _ = stop.send(());
        }))
    }
}

#[handler]
fn webhook(Webhook(delivery): WebhookDelivery) -> Response {
    view(Seen::Delivery(&delivery))
}

#[handler]
fn event(Webhook(event): Event) -> Response {
    view(Seen::Event(&event))
}

#[handler]
fn person(Webhook(person): PersonEvent) -> Response {
    view(Seen::Person(&person))
}

#[handler]
async fn stored(
    Data(inbox): Data<&Inbox>,
    Webhook(delivery): WebhookDelivery,
) -> poem::Result<Response> {
    let view = store_then_view(inbox, &delivery)
        .await
        .map_err(WebhookRefusal::from)?;
    Ok(Response::builder()
        .content_type(VIEW_CONTENT_TYPE)
        .body(view))
}

#[handler]
fn company(Webhook(company): CompanyEvent) -> Response {
    view(Seen::Company(&company))
}

fn view(seen: Seen<'_>) -> Response {
    Response::builder()
        .content_type(VIEW_CONTENT_TYPE)
        .body(handler_view(seen))
}
