//! `enrich_inbox_ready` (feature `metrics`): 1 after a health check that passed, 0 after one
//! that failed or a readiness answer before the inbox opened. A test binary of its own: it
//! installs the process's global recorder.

mod support;

use std::time::Duration;

use enrich_inbox::{Inbox, InboxConfig, InboxHandle};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The gauge's value in the recorder, if it was set.
fn ready(snapshotter: &Snapshotter) -> Option<f64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "enrich_inbox_ready")
        .and_then(|(_, _, _, value)| match value {
            DebugValue::Gauge(value) => Some(value.into_inner()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_gauge_follows_each_health_check() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let deadline = Duration::from_secs(2);

    let db = support::TestDb::sqlite("ready_gauge");
    let inbox = Inbox::open(&db.url).await.unwrap();
    assert_eq!(ready(&snapshotter), None, "not set before a check");
    assert!(inbox.health(deadline).await.is_healthy());
    assert_eq!(ready(&snapshotter), Some(1.0));
    inbox.close().await;
    assert!(!inbox.health(deadline).await.is_healthy());
    assert_eq!(ready(&snapshotter), Some(0.0));
    let reopened = Inbox::open(&db.url).await.unwrap();
    assert!(reopened.health(deadline).await.is_healthy());
    assert_eq!(ready(&snapshotter), Some(1.0));

    // Not open yet (its directory is missing): the readiness answer sets it to 0.
    let missing = std::env::temp_dir().join(format!("enrich-no-such-dir-{}", std::process::id()));
    let url = format!("sqlite:{}", missing.join("inbox.db").display());
    let handle = InboxHandle::open_in_background(&url, InboxConfig::default());
    assert!(!handle.readiness(deadline).await.is_ready());
    assert_eq!(ready(&snapshotter), Some(0.0));
}
