//! The `metrics` feature, read back through a real recorder (`metrics-util`'s debugging one)
//! after a scripted mix on each engine: stores new, duplicate and failed; a handler that
//! succeeds, one that fails twice then succeeds, one that fails until it is a dead letter;
//! reconciliation of a person already stored, one missing and one without an `externalID`; the
//! gauges read from the database, on demand and on a schedule.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enrich_inbox::{Backoff, Inbox, Job, Stored, Worker, WorkerConfig};
use enrich_webhook::enrich_types::EnrichedPersonResponse;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::{TestDb, delivery, eventually, person_body};

/// What a recorder holds: each counter's and gauge's value, and each histogram's samples, by
/// `name{label=value,…}`.
#[derive(Debug, Default)]
struct Recorded {
    counters: BTreeMap<String, u64>,
    gauges: BTreeMap<String, f64>,
    histograms: BTreeMap<String, Vec<f64>>,
}

/// What the inbox recorded (names `enrich_inbox_…`): in a workspace build the pipeline that
/// makes the test's deliveries records too (its `metrics` feature is on through another crate),
/// and its metrics are not the inbox's to check.
fn read(snapshotter: &Snapshotter) -> Recorded {
    let mut recorded = Recorded::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if !key.name().starts_with("enrich_inbox_") {
            continue;
        }
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        match value {
            DebugValue::Counter(count) => {
                recorded.counters.insert(name, count);
            }
            DebugValue::Gauge(value) => {
                recorded.gauges.insert(name, value.into_inner());
            }
            DebugValue::Histogram(samples) => {
                recorded
                    .histograms
                    .insert(name, samples.into_iter().map(|s| s.into_inner()).collect());
            }
        }
    }
    recorded
}

/// Runs `script` with a recorder of its own on a current-thread runtime (every task the inbox
/// spawns runs on this thread, where the recorder is installed), and reads back what it
/// recorded.
fn recorded<F: Future<Output = ()>>(script: impl FnOnce(Snapshotter) -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let during = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(script(during))
    });
    read(&snapshotter)
}

/// A person of enrichment `batch`, as the API's results list it.
fn person(external_id: Option<&str>) -> EnrichedPersonResponse {
    let mut person = EnrichedPersonResponse::default();
    person.external_id = external_id.map(str::to_owned);
    person
}

/// The scripted mix on the inbox at `db`, then what was recorded.
async fn mix(db: &TestDb) {
    let inbox = Inbox::open(&db.url).await.expect("open the inbox");
    for person in ["ok", "flaky", "doomed", "ok"] {
        inbox
            .store(&delivery(&person_body("batch", person)))
            .await
            .expect("store");
    }
    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let counted = runs.clone();
    let worker = Worker::new(inbox.clone(), move |job: Job| {
        let person = job.delivery().external_id.clone().unwrap_or_default();
        let run = {
            let mut runs = counted.lock().unwrap();
            let run = runs.entry(person.clone()).or_default();
            *run += 1;
            *run
        };
        async move {
            match person.as_str() {
                "flaky" if run <= 2 => Err(format!("flaky run {run}")),
                "doomed" => Err("doomed".to_owned()),
                _ => Ok(()),
            }
        }
    })
    .config(
        WorkerConfig::default()
            .max_attempts(3)
            .poll_interval(Duration::from_millis(20))
            .backoff(Backoff::exponential(
                Duration::from_millis(10),
                Duration::from_millis(20),
            )),
    )
    .spawn();
    eventually("ok and flaky done, doomed dead", || async {
        let counts = inbox.counts().await.ok()?;
        (counts.done == 2 && counts.dead == 1).then_some(())
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;

    // Reconciliation after the worker stopped: the added person stays due.
    let people = [person(Some("ok")), person(Some("missed")), person(None)];
    let report = inbox.reconcile_people("batch", &people).await.unwrap();
    assert_eq!(
        (report.already_stored, report.added, report.unmatched),
        (1, 1, 1)
    );

    let gauges = inbox.record_gauges().await.expect("record the gauges");
    assert_eq!(
        (
            gauges.due,
            gauges.backoff,
            gauges.processing,
            gauges.dead,
            gauges.done
        ),
        (1, 0, 0, 1, 2)
    );

    // A store the inbox cannot take (it is closed): failed.
    inbox.close().await;
    assert!(
        inbox
            .store(&delivery(&person_body("batch", "late")))
            .await
            .is_err()
    );
}

fn expect_mix(recorded: &Recorded, engine: &str) {
    let counters: BTreeMap<String, u64> = [
        (
            format!("enrich_inbox_stores_total{{result=new,engine={engine}}}"),
            4,
        ),
        (
            format!("enrich_inbox_stores_total{{result=duplicate,engine={engine}}}"),
            2,
        ),
        (
            format!("enrich_inbox_stores_total{{result=failed,engine={engine}}}"),
            1,
        ),
        // ok once, flaky three times, doomed three times.
        (format!("enrich_inbox_claimed_total{{engine={engine}}}"), 7),
        ("enrich_inbox_attempts_total{outcome=done}".to_owned(), 2),
        ("enrich_inbox_attempts_total{outcome=retried}".to_owned(), 4),
        ("enrich_inbox_attempts_total{outcome=dead}".to_owned(), 1),
        (
            "enrich_inbox_reconciled_total{result=already_stored}".to_owned(),
            1,
        ),
        ("enrich_inbox_reconciled_total{result=added}".to_owned(), 1),
        (
            "enrich_inbox_reconciled_total{result=unmatched}".to_owned(),
            1,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(recorded.counters, counters, "{engine}");

    let gauges: BTreeMap<String, f64> = [
        ("enrich_inbox_deliveries{state=due}", 1.0),
        ("enrich_inbox_deliveries{state=backoff}", 0.0),
        ("enrich_inbox_deliveries{state=processing}", 0.0),
        ("enrich_inbox_deliveries{state=dead}", 1.0),
        ("enrich_inbox_deliveries{state=done}", 2.0),
        ("enrich_inbox_deliveries{state=quarantined}", 0.0),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .chain([(
        "enrich_inbox_oldest_claimable_age_seconds".to_owned(),
        recorded.gauges["enrich_inbox_oldest_claimable_age_seconds"],
    )])
    .collect();
    assert_eq!(recorded.gauges, gauges, "{engine}");
    let age = recorded.gauges["enrich_inbox_oldest_claimable_age_seconds"];
    assert!(
        (0.0..60.0).contains(&age),
        "the reconciled delivery is due since {age} s"
    );

    let samples = |name: &str| recorded.histograms.get(name).cloned().unwrap_or_default();
    // Every store timed (the failed one too).
    assert_eq!(
        samples(&format!(
            "enrich_inbox_store_duration_seconds{{engine={engine}}}"
        ))
        .len(),
        7
    );
    // Every handler run timed: seven runs.
    assert_eq!(samples("enrich_inbox_handler_duration_seconds").len(), 7);
    // Queue time on each `done`: from receipt, so at least the handler's runs before.
    let queued = samples("enrich_inbox_queue_duration_seconds");
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(
        queued.iter().all(|seconds| (0.0..60.0).contains(seconds)),
        "{queued:?}"
    );
    // Group commits: every write in one. On Postgres the groups are the stores' (six reached
    // the database); on SQLite the group writer commits stores, claims and outcomes alike.
    let batches = samples(&format!(
        "enrich_inbox_commit_batch_size{{engine={engine}}}"
    ));
    assert!(batches.iter().all(|writes| *writes >= 1.0), "{batches:?}");
    let writes: f64 = batches.iter().sum();
    if engine == "postgres" {
        assert_eq!(writes, 6.0, "{batches:?}");
    } else {
        // 6 stores, at least 7 claims that took a row, and the outcomes (grouped).
        assert!(writes >= 6.0 + 7.0 + 1.0, "{batches:?}");
    }
    assert_eq!(
        recorded.histograms.len(),
        4,
        "{:?}",
        recorded.histograms.keys()
    );
}

#[test]
fn the_scripted_mix_records_exact_values_on_sqlite() {
    let db = TestDb::sqlite("metrics_mix");
    let recorded = recorded(|_| async { mix(&db).await });
    expect_mix(&recorded, "sqlite");
}

#[test]
fn the_scripted_mix_records_exact_values_on_postgres() {
    let recorded = recorded(|_| async {
        let Some(db) = TestDb::postgres("metrics_mix").await else {
            return;
        };
        mix(&db).await;
    });
    if recorded.counters.is_empty() {
        return; // skipped, loudly, by `TestDb::postgres`
    }
    expect_mix(&recorded, "postgres");
}

// The schedule: `record_gauges_every` sets the gauges now and again after each interval,
// following the database, and stops when asked. (A snapshot of the debugging recorder resets
// what it read to zero: a value read again was set again.)
#[test]
fn the_gauges_follow_the_database_on_a_schedule() {
    let db = TestDb::sqlite("metrics_schedule");
    let recorded = recorded(|snapshotter| async move {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let recorder = inbox.record_gauges_every(Duration::from_millis(100));
        let due = |snapshotter: &Snapshotter| {
            read(snapshotter)
                .gauges
                .get("enrich_inbox_deliveries{state=due}")
                .copied()
        };
        eventually("the first reading", || async {
            due(&snapshotter).is_some().then_some(())
        })
        .await;
        for person in ["a", "b"] {
            let stored = inbox
                .store(&delivery(&person_body("batch", person)))
                .await
                .unwrap();
            assert!(matches!(stored, Stored::New(_)));
        }
        eventually("the gauges to show both", || async {
            (due(&snapshotter) == Some(2.0)).then_some(())
        })
        .await;
        recorder.stop().await;
        let _ = read(&snapshotter);
        inbox
            .store(&delivery(&person_body("batch", "c")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(due(&snapshotter), Some(0.0), "no reading once stopped");
        // On demand, after the schedule stopped.
        inbox.record_gauges().await.unwrap();
    });
    assert_eq!(recorded.gauges["enrich_inbox_deliveries{state=due}"], 3.0);
}
