//! One trace from receipt to processing (feature `opentelemetry`), on SQLite and Postgres: the
//! receive span continues the request's `traceparent`, the inbox stores the receive span's
//! context, the first attempt's `inbox_delivery` span is its child (and the handler's log lines
//! carry its trace id), a retry's span starts a trace of its own that links back to the receive
//! span. Spans are read from the OpenTelemetry SDK's in-memory exporter; log lines from a layer
//! that notes each event's trace id, as a log formatter that prints trace ids would.

mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use enrich_inbox::{Backoff, DeliveryId, Inbox, Job, State, Stored, Worker, WorkerConfig};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{TRACEPARENT_HEADER, WebhookConfig, format_traceparent, parse_traceparent};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{SECRET, TestDb, delivery, eventually, person_body};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The sender's trace, as a request would carry it.
const SENDER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Each log line's message and the trace id of the span it was logged in.
type Lines = Arc<Mutex<Vec<(String, Option<TraceId>)>>>;

/// Notes the trace id of every event's span.
struct TraceIdsOfLogs {
    dispatch: OnceLock<WeakDispatch>,
    lines: Lines,
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S> Layer<S> for TraceIdsOfLogs
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        let trace = context.event_span(event).and_then(|span| {
            let dispatch = self.dispatch.get()?.upgrade()?;
            let otel = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
            Some(otel.span().span_context().trace_id())
        });
        self.lines.lock().unwrap().push((message, trace));
    }
}

/// What one test records: finished spans and log lines.
struct Recording {
    provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
    lines: Lines,
    _guard: DefaultGuard,
}

impl Recording {
    /// This thread's subscriber (the tests run on a current-thread runtime, so every task of
    /// the inbox and its worker logs here): the OpenTelemetry layer, then the log lines' layer.
    fn start() -> Self {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("enrich-inbox-test")))
            .with(TraceIdsOfLogs {
                dispatch: OnceLock::new(),
                lines: lines.clone(),
            });
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            provider,
            spans,
            lines,
            _guard: guard,
        }
    }

    fn finished(&self, name: &str) -> Vec<SpanData> {
        self.provider.force_flush().unwrap();
        self.spans
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|span| span.name == name)
            .collect()
    }

    /// The trace id of each line whose message is `message`, in order.
    fn traces_of(&self, message: &str) -> Vec<Option<TraceId>> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|(text, _)| text == message)
            .map(|(_, trace)| *trace)
            .collect()
    }
}

/// A signed request for `body` carrying `traceparent`, received by the real pipeline.
fn traced_delivery(body: &str, traceparent: &str) -> enrich_webhook::Delivery {
    let mut request = SignedRequest::builder(body).secret(SECRET).build();
    request
        .header_pairs
        .push((TRACEPARENT_HEADER.to_owned(), traceparent.to_owned()));
    WebhookConfig::with_secret(SECRET)
        .unwrap()
        .receive(&request.headers(), Bytes::from(request.body.clone()))
        .unwrap()
}

const HANDLING: &str = "handling the delivery";

/// A worker whose handler logs [`HANDLING`] and fails its first attempt.
fn failing_once(inbox: Inbox) -> enrich_inbox::WorkerHandle {
    Worker::new(inbox, |job: Job| async move {
        tracing::info!(attempt = job.attempt(), "{HANDLING}");
        if job.attempt() == 1 {
            Err(std::io::Error::other("the first attempt fails"))
        } else {
            Ok(())
        }
    })
    .config(
        WorkerConfig::default()
            .max_attempts(3)
            .poll_interval(Duration::from_millis(20))
            .backoff(Backoff::exponential(
                Duration::from_millis(10),
                Duration::from_millis(10),
            )),
    )
    .spawn()
}

/// Waits until delivery `id` is processed.
async fn until_done(inbox: &Inbox, id: DeliveryId) {
    eventually("the delivery to be processed", || async {
        let state = inbox.get(id).await.unwrap().unwrap().state;
        (state == State::Done).then_some(())
    })
    .await;
}

async fn one_trace_from_receipt_to_processing(db: &TestDb) {
    let recording = Recording::start();
    let inbox = Inbox::open(&db.url).await.unwrap();

    let received = traced_delivery(&person_body("traced", "p1"), SENDER);
    let Stored::New(id) = inbox.store(&received).await.unwrap() else {
        panic!("a new delivery")
    };
    drop(received);
    let receive = recording.finished("webhook_delivery");
    assert_eq!(receive.len(), 1, "one receive span");
    let receive = &receive[0].span_context;
    let sender = parse_traceparent(SENDER.as_bytes()).unwrap();
    assert_eq!(
        receive.trace_id(),
        sender.trace_id(),
        "continues the sender's trace"
    );
    assert_eq!(
        recording.finished("webhook_delivery")[0].parent_span_id,
        sender.span_id()
    );
    let stored = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(stored.traceparent, format_traceparent(receive));

    let worker = failing_once(inbox.clone());
    until_done(&inbox, id).await;
    worker.shutdown(Duration::from_secs(10)).await;

    let mut processing = recording.finished("inbox_delivery");
    assert_eq!(processing.len(), 2, "a span per attempt");
    processing.sort_by_key(|span| span.start_time);
    let (first, retry) = (&processing[0], &processing[1]);

    // The first attempt: a child of the receive span, in its trace.
    assert_eq!(first.span_context.trace_id(), receive.trace_id());
    assert_eq!(first.parent_span_id, receive.span_id());
    assert!(first.links.is_empty());
    // The retry: a trace of its own, linked to the receive span.
    assert_ne!(retry.span_context.trace_id(), receive.trace_id());
    assert_eq!(retry.parent_span_id, SpanId::INVALID);
    let links: Vec<_> = retry
        .links
        .iter()
        .map(|link| (link.span_context.trace_id(), link.span_context.span_id()))
        .collect();
    assert_eq!(links, [(receive.trace_id(), receive.span_id())]);

    // The handler's log lines carry the trace of their attempt.
    assert_eq!(
        recording.traces_of(HANDLING),
        [
            Some(receive.trace_id()),
            Some(retry.span_context.trace_id())
        ]
    );
    inbox.close().await;
}

#[tokio::test]
async fn one_trace_from_receipt_to_processing_on_sqlite() {
    one_trace_from_receipt_to_processing(&TestDb::sqlite("trace")).await;
}

#[tokio::test]
async fn one_trace_from_receipt_to_processing_on_postgres() {
    if let Some(db) = TestDb::postgres("trace").await {
        one_trace_from_receipt_to_processing(&db).await;
    }
}

/// A request without `traceparent` starts a trace at the receive span, which processing joins.
#[tokio::test]
async fn a_request_without_traceparent_starts_the_trace_at_receipt() {
    let recording = Recording::start();
    let db = TestDb::sqlite("trace_root");
    let inbox = Inbox::open(&db.url).await.unwrap();
    let received = delivery(&person_body("traced", "root"));
    let Stored::New(id) = inbox.store(&received).await.unwrap() else {
        panic!("a new delivery")
    };
    drop(received);
    let receive = recording.finished("webhook_delivery").remove(0);
    assert_eq!(receive.parent_span_id, SpanId::INVALID, "a root span");
    assert_eq!(
        inbox.get(id).await.unwrap().unwrap().traceparent,
        format_traceparent(&receive.span_context)
    );
    inbox.close().await;
}

/// Without an OpenTelemetry layer no tracer knows the receive span: nothing is stored, and the
/// worker processes the delivery all the same.
#[tokio::test]
async fn without_a_tracer_nothing_is_stored() {
    let db = TestDb::sqlite("trace_none");
    let inbox = Inbox::open(&db.url).await.unwrap();
    let Stored::New(id) = inbox
        .store(&traced_delivery(&person_body("traced", "none"), SENDER))
        .await
        .unwrap()
    else {
        panic!("a new delivery")
    };
    assert_eq!(inbox.get(id).await.unwrap().unwrap().traceparent, None);
    let worker = failing_once(inbox.clone());
    until_done(&inbox, id).await;
    worker.shutdown(Duration::from_secs(10)).await;
    inbox.close().await;
}
