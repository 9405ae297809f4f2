//! The suite's axum server: a `Router` with the four extractors, the configuration as state.

use std::io;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use enrich_axum::{
    CompanyEvent, Event, PersonEvent, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use enrich_inbox::Inbox;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::server::{Adapter, RunningServer};
use crate::view::{Route, Seen, VIEW_CONTENT_TYPE, closed_inbox, handler_view, store_then_view};

/// `enrich-axum` under test.
#[derive(Debug)]
pub struct AxumAdapter;

impl Adapter for AxumAdapter {
    const NAME: &'static str = "axum";

    async fn start(config: WebhookConfig) -> io::Result<RunningServer> {
        serve(router(config, closed_inbox().await?)).await
    }
}

/// The suite's routes with `config` as the router state and `inbox` behind `/stored`.
pub fn router(config: WebhookConfig, inbox: Inbox) -> Router {
    Router::new()
        .route(Route::Webhook.path(), post(webhook))
        .route(Route::Event.path(), post(event))
        .route(Route::Person.path(), post(person))
        .route(Route::Company.path(), post(company))
        .route(Route::Stored.path(), post(stored))
        .layer(Extension(inbox))
        .with_state(config)
}

/// Serves `app` on 127.0.0.1, port 0.
pub async fn serve(app: Router) -> io::Result<RunningServer> {
    {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RunningServer::new(addr, task, move || {
            let _ = stop.send(());
        }))
    }
}

async fn webhook(Webhook(delivery): WebhookDelivery) -> Response {
    view(Seen::Delivery(&delivery))
}

async fn event(Webhook(event): Event) -> Response {
    view(Seen::Event(&event))
}

async fn person(Webhook(person): PersonEvent) -> Response {
    view(Seen::Person(&person))
}

async fn company(Webhook(company): CompanyEvent) -> Response {
    view(Seen::Company(&company))
}

async fn stored(
    Extension(inbox): Extension<Inbox>,
    Webhook(delivery): WebhookDelivery,
) -> Result<Response, WebhookRefusal> {
    let view = store_then_view(&inbox, &delivery).await?;
    Ok(([(CONTENT_TYPE, VIEW_CONTENT_TYPE)], view).into_response())
}

fn view(seen: Seen<'_>) -> Response {
    ([(CONTENT_TYPE, VIEW_CONTENT_TYPE)], handler_view(seen)).into_response()
}
