//! The statements both engines run, written once (`$N` placeholders read the same in SQLite and
//! Postgres). Times are Unix milliseconds from the inbox's clock.

/// The columns [`super::rows::delivery`] reads, in order.
macro_rules! columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "id, ",
            $prefix,
            "idempotency_key, ",
            $prefix,
            "source, ",
            $prefix,
            "state, ",
            $prefix,
            "event_type, ",
            $prefix,
            "enrichment_id, ",
            $prefix,
            "external_id, ",
            $prefix,
            "raw_body, ",
            $prefix,
            "signature_header, ",
            $prefix,
            "signed_at_ms, ",
            $prefix,
            "verified, ",
            $prefix,
            "received_at_ms, ",
            $prefix,
            "attempts, ",
            $prefix,
            "due_at_ms, ",
            $prefix,
            "last_error, ",
            $prefix,
            "finished_at_ms"
        )
    };
}

/// The insert of a delivery (a macro, so that both constants below share its text).
macro_rules! insert {
    () => {
        "INSERT INTO enrich_inbox_deliveries \
         (idempotency_key, source, state, event_type, enrichment_id, external_id, raw_body, \
          signature_header, signed_at_ms, verified, received_at_ms, attempts, due_at_ms) \
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, 0, $11) \
         ON CONFLICT (idempotency_key) DO NOTHING"
    };
}

/// Stores a delivery unless its key exists: atomic under any concurrency, never
/// check-then-insert. SQLite reads the new id from the result (`last_insert_rowid`).
#[cfg(feature = "sqlite")]
pub const INSERT: &str = insert!();

/// [`INSERT`] returning the new id (no row for a duplicate), for Postgres.
#[cfg(feature = "postgres")]
pub const INSERT_RETURNING_ID: &str = concat!(insert!(), " RETURNING id");

/// Claims due deliveries in one statement (SQLite serializes writers, so no row can be claimed
/// twice). `$1` now, `$2` lease end, `$3` claim token, `$4` how many.
#[cfg(feature = "sqlite")]
pub const CLAIM_SQLITE: &str = concat!(
    "UPDATE enrich_inbox_deliveries \
     SET state = 'processing', attempts = attempts + 1, due_at_ms = $2, lease_token = $3 \
     WHERE id IN (SELECT id FROM enrich_inbox_deliveries \
                  WHERE state IN ('pending', 'processing') AND due_at_ms <= $1 \
                  ORDER BY due_at_ms, id LIMIT $4) \
     RETURNING ",
    columns!("")
);

/// Claims due deliveries, skipping rows another worker is claiming at this moment
/// (`FOR UPDATE SKIP LOCKED`), so replicas never wait on each other or claim one row twice.
#[cfg(feature = "postgres")]
pub const CLAIM_POSTGRES: &str = concat!(
    "UPDATE enrich_inbox_deliveries AS d \
     SET state = 'processing', attempts = d.attempts + 1, due_at_ms = $2, lease_token = $3 \
     FROM (SELECT id FROM enrich_inbox_deliveries \
           WHERE state IN ('pending', 'processing') AND due_at_ms <= $1 \
           ORDER BY due_at_ms, id LIMIT $4 \
           FOR UPDATE SKIP LOCKED) AS due \
     WHERE d.id = due.id \
     RETURNING ",
    columns!("d.")
);

/// Marks a claimed delivery done, only while the claim `$2` still holds it.
pub const COMPLETE: &str = "UPDATE enrich_inbox_deliveries \
    SET state = 'done', finished_at_ms = $3, last_error = NULL, lease_token = NULL \
    WHERE id = $1 AND lease_token = $2 AND state = 'processing'";

/// Records a failed attempt under claim `$2`: state `$3`, due `$4`, error `$5`, finished `$6`.
pub const FAIL: &str = "UPDATE enrich_inbox_deliveries \
    SET state = $3, due_at_ms = $4, last_error = $5, finished_at_ms = $6, lease_token = NULL \
    WHERE id = $1 AND lease_token = $2 AND state = 'processing'";

/// Gives a claim back: due now, and the attempt it counted is not counted.
pub const RELEASE: &str = "UPDATE enrich_inbox_deliveries \
    SET state = 'pending', due_at_ms = $3, attempts = attempts - 1, lease_token = NULL \
    WHERE id = $1 AND lease_token = $2 AND state = 'processing'";

/// How many rows are in each state.
pub const COUNTS: &str = "SELECT state, COUNT(*) FROM enrich_inbox_deliveries GROUP BY state";

/// The first rows in state `$1`, at most `$2`.
pub const LIST: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM enrich_inbox_deliveries WHERE state = $1 ORDER BY id LIMIT $2"
);

/// One row by id.
pub const GET: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM enrich_inbox_deliveries WHERE id = $1"
);

/// Back to `pending` from state `$3`, due `$2`, attempts reset.
pub const REQUEUE: &str = "UPDATE enrich_inbox_deliveries \
    SET state = 'pending', attempts = 0, due_at_ms = $2, last_error = NULL, \
        finished_at_ms = NULL, lease_token = NULL \
    WHERE id = $1 AND state = $3";

/// Every row in state `$2` back to `pending`, due `$1`, attempts reset.
pub const REQUEUE_ALL: &str = "UPDATE enrich_inbox_deliveries \
    SET state = 'pending', attempts = 0, due_at_ms = $1, last_error = NULL, \
        finished_at_ms = NULL, lease_token = NULL \
    WHERE state = $2";

/// Deletes processed rows (with or without their body) finished at or before `$1`: their keys
/// are forgotten.
pub const FORGET_KEYS: &str = "DELETE FROM enrich_inbox_deliveries \
    WHERE state IN ('done', 'purged') AND finished_at_ms <= $1";

/// Drops the body and signature of processed rows finished at or before `$1`, keeping the key.
pub const DROP_BODIES: &str = "UPDATE enrich_inbox_deliveries \
    SET state = 'purged', raw_body = NULL, signature_header = NULL \
    WHERE state = 'done' AND finished_at_ms <= $1";

/// The table of applied migrations (the same on both engines).
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS enrich_inbox_migrations \
    (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)";

/// The newest applied migration (NULL when none).
pub const CURRENT_VERSION: &str = "SELECT MAX(version) FROM enrich_inbox_migrations";

/// Records an applied migration.
pub const RECORD_VERSION: &str =
    "INSERT INTO enrich_inbox_migrations (version, applied_at_ms) VALUES ($1, $2)";
