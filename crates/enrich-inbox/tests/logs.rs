//! No person reaches the logs: the worker, its retries and dead letters, retention and
//! erasure run at `TRACE` (the inbox's events, sqlx's and the handler's own `{job:?}`) over
//! bodies full of marked values, and no log line holds a marker. One test in its own binary: it
//! installs the process's global subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enrich_inbox::{Backoff, Inbox, Job, Retention, State, Subject, Worker, WorkerConfig};
use support::{TestDb, delivery, eventually};

/// The marked values: each appears in the bodies, never in a log line.
const MARKERS: [&str; 6] = [
    "MarkFirstname",
    "MarkLastname",
    "mark.person@marked.example",
    "+44 7700 900999",
    "linkedin.com/in/mark-person",
    "MarkEmployerHistory",
];

fn marked_body(external_id: &str) -> String {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"logs","person":{{"externalID":"{external_id}","firstName":"MarkFirstname","lastName":"MarkLastname","linkedInUrl":"https://linkedin.com/in/mark-person","emails":[{{"email":"mark.person@marked.example"}}],"mobilePhones":[{{"mobilePhone":"+44 7700 900999"}}],"jobHistory":[{{"companyName":"MarkEmployerHistory"}}]}}}}}}"#
    )
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_marked_value_reaches_a_log_line_at_trace() {
    let captured = Arc::new(Mutex::new(Vec::new()));
    let writer = Capture(captured.clone());
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let sqlite = TestDb::sqlite("logs");
    let postgres = TestDb::postgres("logs").await;
    for db in std::iter::once(&sqlite).chain(postgres.as_ref()) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        for person in ["ok", "retried", "dead"] {
            inbox.store(&delivery(&marked_body(person))).await.unwrap();
        }
        let worker = Worker::new(inbox.clone(), |job: Job| async move {
            // A handler that logs its job: its Debug form must not carry the person.
            tracing::info!(?job, "handling");
            match (job.delivery().external_id.as_deref(), job.attempt()) {
                (Some("retried"), 1) | (Some("dead"), _) => {
                    Err(std::io::Error::other("the CRM refused the record"))
                }
                _ => Ok(()),
            }
        })
        .config(
            WorkerConfig::default()
                .max_attempts(2)
                .poll_interval(Duration::from_millis(20))
                .backoff(Backoff::exponential(
                    Duration::from_millis(10),
                    Duration::from_millis(20),
                )),
        )
        .spawn();
        eventually("every delivery to finish", || async {
            let counts = inbox.counts().await.unwrap();
            (counts.done == 2 && counts.dead == 1).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        let erased = inbox
            .erase(&Subject::Email("mark.person@marked.example".to_owned()))
            .await
            .unwrap();
        assert_eq!(erased.deliveries.len(), 3);
        inbox
            .purge(Retention::default().bodies(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(inbox.counts().await.unwrap().purged, 3);
        assert!(inbox.list(State::Dead, 1).await.unwrap().is_empty());
        inbox.close().await;
    }

    let logs = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    // The logs are there (so the absence of markers means something): the handler's job, the
    // retry, the dead letter, the erasure, sqlx's statements.
    for expected in [
        "handling",
        "<redacted>",
        "it will be retried",
        "dead letter",
        "were erased",
        "sqlx::query",
    ] {
        assert!(
            logs.contains(expected),
            "no {expected:?} in the logs:\n{logs}"
        );
    }
    for line in logs.lines() {
        for marker in MARKERS {
            assert!(!line.contains(marker), "{marker} in the log line: {line}");
        }
    }
}
