//! The suite's bare hyper 1.x server on `enrich-webhook`'s `http` entry point: no framework, a
//! match on the path, `WebhookConfig::receive_request_as` per route, and the entry point's own
//! responses for everything that is not the handler's view.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use enrich_inbox::Inbox;
use enrich_webhook::enrich_types::{
    CompanyEnrichmentCompleted, PersonEnrichmentCompleted, WebhookEvent,
};
use enrich_webhook::{Answer, Delivery, WebhookConfig};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::server::{Adapter, RunningServer};
use crate::view::{Route, Seen, VIEW_CONTENT_TYPE, closed_inbox, handler_view, store_then_view};

/// `enrich-webhook`'s `http` entry point, served by hyper alone.
#[derive(Debug)]
pub struct HyperAdapter;

impl Adapter for HyperAdapter {
    const NAME: &'static str = "hyper";

    async fn start(config: WebhookConfig) -> io::Result<RunningServer> {
        let receiver = Arc::new(Receiver {
            config,
            inbox: closed_inbox().await?,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Every connection's task belongs to the set: aborting the server ends them all.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let receiver = Arc::clone(&receiver);
                let service = service_fn(move |request| {
                    let receiver = Arc::clone(&receiver);
                    async move { Ok::<_, Infallible>(receiver.respond(request).await) }
                });
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                connections.spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Ok(RunningServer::new(addr, task, || {}))
    }
}

/// What every connection serves: the configuration, and the inbox behind `/stored`.
struct Receiver {
    config: WebhookConfig,
    inbox: Inbox,
}

impl Receiver {
    /// The handler's view, or the entry point's response in its place; `404` off the routes.
    async fn respond(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        let Some(route) = Route::ALL.into_iter().find(|route| route.path() == path) else {
            let mut not_found = Response::new(Full::default());
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            return not_found;
        };
        let config = &self.config;
        let view = match route {
            Route::Webhook => (config.receive_request(request).await)
                .map(|delivery| handler_view(Seen::Delivery(&delivery))),
            Route::Event => (config.receive_request_as::<WebhookEvent, _>(request).await)
                .map(|event| handler_view(Seen::Event(&event))),
            Route::Person => (config.receive_request_as::<PersonEnrichmentCompleted, _>(request))
                .await
                .map(|person| handler_view(Seen::Person(&person))),
            Route::Company => (config.receive_request_as::<CompanyEnrichmentCompleted, _>(request))
                .await
                .map(|company| handler_view(Seen::Company(&company))),
            Route::Stored => match config.receive_request(request).await {
                Ok(delivery) => self.store(&delivery).await,
                Err(answer) => Err(answer),
            },
        };
        view.map_or_else(std::convert::identity, |view| {
            let mut response = Response::new(Full::new(Bytes::from(view)));
            let content_type = hyper::header::HeaderValue::from_static(VIEW_CONTENT_TYPE);
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response
        })
    }

    /// `/stored`: the view of a stored delivery, or the refusal the inbox's failure gets.
    async fn store(&self, delivery: &Delivery) -> Result<Vec<u8>, Response<Full<Bytes>>> {
        store_then_view(&self.inbox, delivery)
            .await
            .map_err(|refusal| Answer::from(&refusal).into())
    }
}
