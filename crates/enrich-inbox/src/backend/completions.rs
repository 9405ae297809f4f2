//! Postgres: successes recorded in groups, one statement and one commit for every completion
//! waiting (as River does), instead of one commit (and one WAL flush) each.
//!
//! A caller hands its `(id, lease token)` to the group's task and waits for the answer, which
//! comes only after the COMMIT that recorded it: "done" is never answered before it is durable,
//! so the worker's promise that a success is never thrown away holds (a caller whose group
//! failed gets the error and retries, as for a single statement). The group is as large as what
//! waited while the previous statement ran (at most [`MAX_GROUP`]); a lone completion pays no
//! wait.

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::sql;
use crate::error::Error;

/// At most this many completions in one statement.
const MAX_GROUP: usize = 512;

/// One completion waiting: the delivery, its claim's token, and where its answer goes.
type Waiting = (i64, i64, oneshot::Sender<Result<bool, Error>>);

/// The handle of the group's task; the task ends when the handle is dropped.
#[derive(Debug)]
pub struct CompletionGroup {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl CompletionGroup {
    /// Starts the group's task on `pool` (on the current Tokio runtime).
    pub fn start(pool: PgPool) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, waiting));
        Self { queue }
    }

    /// Marks delivery `id` done while claim `token` still holds it; `false` when it no longer
    /// does. Answered once committed.
    pub async fn complete(&self, id: i64, token: i64) -> Result<bool, Error> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((id, token, answer))
            .map_err(|_| Error::Closed)?;
        // The task answers every completion it took; a dropped answer means it stopped.
        answered.await.unwrap_or(Err(Error::Closed))
    }
}

async fn run(pool: PgPool, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (ids, tokens): (Vec<i64>, Vec<i64>) =
            group.iter().map(|(id, token, _)| (*id, *token)).unzip();
        let done: Result<Vec<i64>, Error> = sqlx::query_scalar(sql::postgres::COMPLETE_MANY)
            .bind(&ids)
            .bind(&tokens)
            .fetch_all(&pool)
            .await
            .map_err(Error::from);
        for (id, _, answer) in group.drain(..) {
            let _ = answer.send(match &done {
                Ok(done) => Ok(done.contains(&id)),
                Err(error) => Err(error.clone()),
            });
        }
    }
}
