//! The statements both engines run, written once (`$N` placeholders read the same in SQLite and
//! Postgres). Times are Unix milliseconds **from the database's clock**: every statement that
//! records a time or compares one with a lease or a due time reads the clock inside the
//! statement, so replicas whose own clocks disagree still agree on who holds a lease and what is
//! due. The texts are written once, in [`statements!`], with the engine's clock expression put
//! in; [`sqlite`] and [`postgres`] hold each engine's copy.

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
            "finished_at_ms, ",
            $prefix,
            "traceparent"
        )
    };
}

/// Every statement whose text holds the database's clock, with `$now` (an SQL expression of
/// the current Unix time in milliseconds) put in, and `$finished` the engine's way of reading
/// the index `enrich_inbox_finished` (SQLite's `INDEXED BY`, nothing on Postgres).
macro_rules! statements {
    ($now:literal, $finished:literal) => {
        /// The columns a new delivery is inserted with, in the order of [`INSERT`]'s and
        /// [`INSERT_MANY`]'s values.
        macro_rules! insert_into {
            () => {
                "INSERT INTO enrich_inbox_deliveries \
                 (idempotency_key, source, state, event_type, enrichment_id, external_id, \
                  raw_body, signature_header, signed_at_ms, verified, received_at_ms, \
                  attempts, due_at_ms, traceparent) "
            };
        }

        /// Stores a delivery unless its key exists, received and due now: atomic under any
        /// concurrency, never check-then-insert. SQLite reads the new id from the result
        /// (`last_insert_rowid`).
        pub const INSERT: &str = concat!(
            insert_into!(),
            "VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, ",
            $now,
            ", 0, ",
            $now,
            ", $10) ON CONFLICT (idempotency_key) DO NOTHING"
        );

        /// [`INSERT`] for a delivery received before the signing secret was known: stored
        /// `quarantined` (never claimed), and only while the quarantine holds fewer than `$10`
        /// rows (counted through the `state` index, so at most `$10` entries), with `$11` its
        /// `traceparent`. Its id comes back; no row when the key is already stored or the
        /// quarantine is full.
        pub const INSERT_QUARANTINED: &str = concat!(
            insert_into!(),
            "SELECT $1, $2, 'quarantined', $3, $4, $5, $6, $7, $8, $9, ",
            $now,
            ", 0, ",
            $now,
            ", $11 WHERE (SELECT COUNT(*) FROM enrich_inbox_deliveries WHERE state = 'quarantined') \
               < $10 \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        );

        /// Settles quarantined delivery `$1` once its stored signature was checked: `$2` is
        /// `pending` (verified, `$3` true: due now, to be processed) or `dead` (`$3` false,
        /// `$4` the reason, finished now). Changes nothing when it is no longer quarantined.
        pub const SETTLE_QUARANTINED: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = $2, verified = $3, last_error = $4, attempts = 0, due_at_ms = ",
            $now,
            ", finished_at_ms = CASE WHEN $2 = 'dead' THEN ",
            $now,
            " ELSE NULL END \
             WHERE id = $1 AND state = 'quarantined'"
        );

        /// [`INSERT`] for many deliveries in one statement (Postgres only: it reads arrays):
        /// delivery `i` is `($1[i], …, $10[i])`, in [`INSERT`]'s order, all received and due at
        /// the statement's now. The id and key of each row it inserted (none for a key already
        /// stored; the order is not the arrays'). Rows go in in key order: two groups inserting
        /// some of the same new keys then meet them in the same order, so one waits for the
        /// other instead of each waiting on a key the other inserted first (a deadlock the
        /// server breaks by failing one group).
        pub const INSERT_MANY: &str = concat!(
            insert_into!(),
            "SELECT r.key, r.source, 'pending', r.event_type, r.enrichment_id, r.external_id, \
                    r.raw_body, r.signature_header, r.signed_at_ms, r.verified, ",
            $now,
            ", 0, ",
            $now,
            ", r.traceparent \
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
                          $6::BYTEA[], $7::TEXT[], $8::BIGINT[], $9::BOOLEAN[], $10::TEXT[]) \
                  AS r(key, source, event_type, enrichment_id, external_id, raw_body, \
                       signature_header, signed_at_ms, verified, traceparent) \
             ORDER BY r.key \
             ON CONFLICT (idempotency_key) DO NOTHING \
             RETURNING id, idempotency_key"
        );

        /// Claims due deliveries in one statement (SQLite serializes writers, so no row can be
        /// claimed twice). `$1` the lease in milliseconds, `$2` claim token, `$3` how many.
        /// The due rows are read from the partial index `enrich_inbox_due` in its order
        /// (`INDEXED BY`: left to itself, SQLite's planner takes the `state` index and sorts the
        /// whole backlog on every claim), so a claim costs O(log n) at any backlog.
        pub const CLAIM_SQLITE: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'processing', attempts = attempts + 1, due_at_ms = ",
            $now,
            " + $1, lease_token = $2 \
             WHERE id IN (SELECT id FROM enrich_inbox_deliveries INDEXED BY enrich_inbox_due \
                          WHERE state IN ('pending', 'processing') AND due_at_ms <= ",
            $now,
            " ORDER BY due_at_ms, id LIMIT $3) \
             RETURNING ",
            columns!("")
        );

        /// Claims due deliveries, skipping rows another worker is claiming at this moment
        /// (`FOR UPDATE SKIP LOCKED`), so replicas never wait on each other or claim one row
        /// twice. The same parameters as [`CLAIM_SQLITE`], and `$4`: the due index is read from
        /// due time `$4` on (the claim floor, see `postgres::ClaimFloor`; `i64::MIN` reads it
        /// all), past the entries that earlier claims left dead at its low end. Each row comes
        /// back with `newest_due_ms`, the latest due time (before the claim) among the rows
        /// claimed. The ids are gathered first, so that the rows are then updated through the
        /// primary key (`= ANY (ARRAY(…))`) whatever the claim's size: joined with the
        /// subquery instead, a large claim is planned as a hash join over a scan of the whole
        /// table.
        ///
        /// The claim **commits asynchronously**: `set_config('synchronous_commit', 'off',
        /// true)`, run once (a one-time filter of the update) before its rows are written, holds
        /// for the claim's own transaction only (the statement's implicit one; the setting is
        /// back to the session's at its end, so no store or outcome on the same pooled
        /// connection is affected). Its commit then returns without waiting for the WAL flush,
        /// which was one of the two flushes a drained row waited for (measured in
        /// `benches/ANALYSIS.md`). Nothing acknowledged or done can be lost by it:
        /// - a claim lost in a crash leaves its rows as they were before it (pending, or
        ///   processing under an older lease that runs out): they are claimed again later, as
        ///   after a worker that died mid-run (processing is at least once anyway);
        /// - an outcome can only apply to the row version the claim wrote (it matches the
        ///   claim's `lease_token`), so its commit record comes after the claim's in the WAL, and
        ///   an outcome commits synchronously: flushing the WAL up to its own commit record, it
        ///   makes the claim durable too. A success is never recorded on a claim that a crash
        ///   could still undo.
        ///
        /// What a lost claim costs: its handler may have run without its attempt being counted
        /// (the count only bounds the retries of runs that never record an outcome).
        pub const CLAIM_POSTGRES: &str = concat!(
            "WITH async_commit AS MATERIALIZED \
                   (SELECT set_config('synchronous_commit', 'off', true)), \
             due AS MATERIALIZED (SELECT id, due_at_ms FROM enrich_inbox_deliveries \
                   WHERE state IN ('pending', 'processing') AND due_at_ms >= $4 AND due_at_ms <= ",
            $now,
            " ORDER BY due_at_ms, id LIMIT $3 \
                   FOR UPDATE SKIP LOCKED) \
             UPDATE enrich_inbox_deliveries AS d \
             SET state = 'processing', attempts = d.attempts + 1, due_at_ms = ",
            $now,
            " + $1, lease_token = $2 \
             WHERE d.id = ANY (ARRAY(SELECT id FROM due)) AND EXISTS (SELECT FROM async_commit) \
             RETURNING ",
            columns!("d."),
            ", (SELECT MAX(due_at_ms) FROM due) AS newest_due_ms"
        );

        /// Extends the lease of claim `$2` on delivery `$1` to `$3` milliseconds from now (a
        /// heartbeat); changes nothing when the claim no longer holds the delivery.
        pub const EXTEND_LEASE: &str = concat!(
            "UPDATE enrich_inbox_deliveries SET due_at_ms = ",
            $now,
            " + $3 WHERE id = $1 AND lease_token = $2 AND state = 'processing'"
        );

        /// Records a group of outcomes, each only while its claim still holds the delivery;
        /// `$target` names the table as `d`, `$outcomes` is the engine's table of the outcomes,
        /// as `o`, with the columns `delivery`, `token`, `state`
        /// (`done`, `pending` for a retry, `dead`), `due_in_ms` (a retry's wait) and `error`.
        /// A success clears the error and is finished now; a retry is due `due_in_ms` from now;
        /// a dead letter is finished now.
        macro_rules! outcomes {
            ($target:literal, $outcomes:literal) => {
                concat!(
                    "UPDATE ",
                    $target,
                    " SET state = o.state, \
                     due_at_ms = CASE WHEN o.state = 'done' THEN d.due_at_ms ELSE ",
                    $now,
                    " + o.due_in_ms END, \
                     last_error = o.error, \
                     finished_at_ms = CASE WHEN o.state = 'pending' THEN NULL ELSE ",
                    $now,
                    " END, \
                     lease_token = NULL \
                     FROM ",
                    $outcomes,
                    " WHERE d.id = o.delivery AND d.lease_token = o.token \
                     AND d.state = 'processing' \
                     RETURNING id"
                )
            };
        }

        /// [`outcomes!`] on SQLite: `$1` a JSON array with an array `[delivery, token, state,
        /// due_in_ms, error]` per outcome (SQLite has no arrays to bind). The ids it changed
        /// (SQLite's `RETURNING` names the updated table's columns unqualified). `NOT INDEXED`
        /// keeps SQLite's planner (which, given statistics, may prefer it) from walking the
        /// `state` index over every row in `processing` and probing the group for each: each
        /// delivery is looked up by its id instead (the rowid, which `NOT INDEXED` still uses).
        pub const OUTCOMES_SQLITE: &str = outcomes!(
            "enrich_inbox_deliveries AS d NOT INDEXED",
            "(SELECT value ->> 0 AS delivery, value ->> 1 AS token, value ->> 2 AS state, \
                     value ->> 3 AS due_in_ms, value ->> 4 AS error FROM json_each($1)) AS o"
        );

        /// [`outcomes!`] on Postgres: outcome `i` is `($1[i], $2[i], $3[i], $4[i], $5[i])`.
        /// The ids it changed.
        pub const OUTCOMES_POSTGRES: &str = outcomes!(
            "enrich_inbox_deliveries AS d",
            "UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[]) \
                 AS o(delivery, token, state, due_in_ms, error)"
        );

        /// Gives a claim back: due now, and the attempt it counted is not counted.
        pub const RELEASE: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'pending', due_at_ms = ",
            $now,
            ", attempts = attempts - 1, lease_token = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'processing'"
        );

        /// Back to `pending` from state `$2`, due now, attempts reset.
        pub const REQUEUE: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'pending', attempts = 0, due_at_ms = ",
            $now,
            ", last_error = NULL, finished_at_ms = NULL, lease_token = NULL \
             WHERE id = $1 AND state = $2"
        );

        /// Every row in state `$1` back to `pending`, due now, attempts reset.
        pub const REQUEUE_ALL: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'pending', attempts = 0, due_at_ms = ",
            $now,
            ", last_error = NULL, finished_at_ms = NULL, lease_token = NULL \
             WHERE state = $1"
        );

        /// Deletes at most `$2` processed rows (with or without their body) finished at least
        /// `$1` milliseconds ago and not before `$3` (the pass's cursor: where its last batch
        /// stopped), oldest first: their keys are forgotten. Each row's finish time comes back,
        /// the latest being the next batch's cursor. The rows are read from the partial index
        /// `enrich_inbox_finished` in its order (`$finished` is `INDEXED BY` it on SQLite, whose
        /// planner would rather walk the `state` index), and the cursor keeps each batch from
        /// stepping again over the entries of the rows the batches before it changed (on
        /// Postgres, dead index entries until VACUUM), so a batch costs the same at the end of a
        /// pass as at its start.
        pub const FORGET_KEYS: &str = concat!(
            "DELETE FROM enrich_inbox_deliveries WHERE id IN \
             (SELECT id FROM enrich_inbox_deliveries ",
            $finished,
            " WHERE state IN ('done', 'purged') AND finished_at_ms >= $3 AND finished_at_ms <= ",
            $now,
            " - $1 ORDER BY finished_at_ms LIMIT $2) RETURNING finished_at_ms"
        );

        /// Drops the body and signature of at most `$2` processed rows finished at least `$1`
        /// milliseconds ago and not before `$3`, oldest first, keeping the key; as
        /// [`FORGET_KEYS`], each row's finish time comes back. Without the cursor, every batch
        /// would step again over all the rows already purged and not yet forgotten.
        pub const DROP_BODIES: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'purged', raw_body = NULL, signature_header = NULL \
             WHERE id IN (SELECT id FROM enrich_inbox_deliveries ",
            $finished,
            " WHERE state IN ('done', 'purged') AND state = 'done' AND finished_at_ms >= $3 \
               AND finished_at_ms <= ",
            $now,
            " - $1 ORDER BY finished_at_ms LIMIT $2) RETURNING finished_at_ms"
        );

        /// Drops the body, signature and error text of at most `$2` dead letters finished at
        /// least `$1` milliseconds ago, with an id above `$3`, by id: they become `purged` (key
        /// kept, finish time unchanged, so the key is forgotten a key retention after they
        /// died). Each row's id comes back, the largest being the next batch's cursor.
        pub const DROP_DEAD_LETTERS: &str = concat!(
            "UPDATE enrich_inbox_deliveries \
             SET state = 'purged', raw_body = NULL, signature_header = NULL, last_error = NULL \
             WHERE id IN (SELECT id FROM enrich_inbox_deliveries \
                          WHERE state = 'dead' AND id > $3 AND finished_at_ms <= ",
            $now,
            " - $1 ORDER BY id LIMIT $2) RETURNING id"
        );

        /// Erases the deliveries `$ids` (the engine's list of ids, see [`ERASE_SQLITE`] and
        /// [`ERASE_POSTGRES`]), whatever their state: body, signature and error text dropped,
        /// `purged` (never claimed again: an erased pending delivery is not processed with an
        /// empty body), `last_error` set to `$2` (why: erased, not a failure), any claim ended
        /// (the claim's outcome then finds it gone, as after a lost lease). A row that was not
        /// finished is finished now, so that its key is kept one key retention from now.
        macro_rules! erase {
            ($ids:literal) => {
                concat!(
                    "UPDATE enrich_inbox_deliveries \
                     SET state = 'purged', raw_body = NULL, signature_header = NULL, \
                     last_error = $2, lease_token = NULL, finished_at_ms = CASE \
                     WHEN state IN ('pending', 'processing') OR finished_at_ms IS NULL THEN ",
                    $now,
                    " ELSE finished_at_ms END WHERE id IN (",
                    $ids,
                    ")"
                )
            };
        }

        /// What [`Gauges`](crate::Gauges) reads, in one statement (one snapshot), as
        /// `(name, value)` rows: the rows of `$counts` (`(state, count)`, the engine's way of
        /// counting the states without reading a delivery), then `backoff` (pending rows not due
        /// yet) and `oldest_claimable_ms` (how long the claimable row that became due first has
        /// been due, 0 when none is). Both read the due index `enrich_inbox_due` only (`$due`
        /// names it on SQLite): the rows not due yet are its high end (retries on backoff, and
        /// the live leases of the rows being processed: as many as the workers' slots), the
        /// oldest claimable row its first entry. "Claimable" is what a claim takes: pending and
        /// due, or processing with an expired lease, on the database's clock as the claim reads
        /// it; a row waiting on backoff never counts.
        macro_rules! gauges {
            ($counts:literal, $due:literal) => {
                concat!(
                    $counts,
                    " UNION ALL \
                     SELECT 'backoff', COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) \
                     FROM enrich_inbox_deliveries ",
                    $due,
                    " WHERE state IN ('pending', 'processing') AND due_at_ms > ",
                    $now,
                    " UNION ALL \
                     SELECT 'oldest_claimable_ms', COALESCE(",
                    $now,
                    " - (SELECT due_at_ms FROM enrich_inbox_deliveries ",
                    $due,
                    " WHERE state IN ('pending', 'processing') AND due_at_ms <= ",
                    $now,
                    " ORDER BY due_at_ms LIMIT 1), 0)"
                )
            };
        }

        /// [`erase!`] on SQLite: `$1` a JSON array of ids (SQLite binds no arrays).
        pub const ERASE_SQLITE: &str = erase!("SELECT value FROM json_each($1)");

        /// [`erase!`] on Postgres: `$1` an array of ids.
        pub const ERASE_POSTGRES: &str = erase!("SELECT UNNEST($1::BIGINT[])");

        /// [`gauges!`] on SQLite: the states counted through the covering index
        /// `enrich_inbox_state` ([`super::COUNTS_SQLITE`]'s way).
        pub const GAUGES_SQLITE: &str = gauges!(
            "SELECT state, COUNT(*) FROM enrich_inbox_deliveries \
             INDEXED BY enrich_inbox_state GROUP BY state",
            "INDEXED BY enrich_inbox_due"
        );

        /// [`gauges!`] on Postgres: the states from the counts the triggers keep
        /// ([`super::COUNTS_POSTGRES`]'s way).
        pub const GAUGES_POSTGRES: &str = gauges!(
            "SELECT state, CAST(SUM(n) AS BIGINT) FROM enrich_inbox_counts GROUP BY state",
            ""
        );

        /// Records an applied migration, applied now.
        pub const RECORD_VERSION: &str = concat!(
            "INSERT INTO enrich_inbox_migrations (version, applied_at_ms) VALUES ($1, ",
            $now,
            ")"
        );
    };
}

/// SQLite's copy of the statements. Its clock: `julianday('now')`, whole milliseconds (every
/// SQLite version has it; it is one value for a whole statement).
#[cfg(feature = "sqlite")]
#[allow(dead_code)]
pub mod sqlite {
    statements!(
        "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)",
        "INDEXED BY enrich_inbox_finished"
    );
}

/// Postgres's copy of the statements. Its clock: `statement_timestamp()`, the start of the
/// statement (stable within it, so the due index serves the claim; `now()` would be the start
/// of the transaction).
#[cfg(feature = "postgres")]
#[allow(dead_code)]
pub mod postgres {
    statements!(
        "CAST(FLOOR(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT)",
        ""
    );
}

/// How many rows are in each state, on SQLite: exact, counted through the covering index
/// `enrich_inbox_state` alone (`INDEXED BY`), which holds only each row's state and id (about
/// 20 bytes a row, a few milliseconds per 100,000 rows), never the rows and their bodies. It
/// runs on a read connection, which in WAL mode never waits for or holds up the writer, so an
/// operator (`enrich inbox stats`) or a metrics gauge may poll it without slowing the worker.
/// Counts kept by triggers would make counting O(1), but SQLite runs a trigger per row: one
/// that keeps a count nearly doubled the CPU of an insert (measured 20 → 37 µs a row), a cost
/// every store and every claim would pay.
#[cfg(feature = "sqlite")]
pub const COUNTS_SQLITE: &str = "SELECT state, COUNT(*) FROM enrich_inbox_deliveries \
    INDEXED BY enrich_inbox_state GROUP BY state";

/// How many rows are in each state, on Postgres: exact, and read from a table of a few rows
/// (`enrich_inbox_counts`) rather than counted from the deliveries. Statement triggers (over
/// transition tables: one per statement, whatever the rows it changed, about 0.1–0.4 ms) add
/// what each statement changed, per state, in its own transaction, so a read sees exactly the
/// committed rows; each connection adds to a `slot` of its own, so that concurrent transactions
/// do not queue on one row's lock. A count of the table, even through an index, is no option
/// on Postgres: an index-only scan still reads the heap of every page VACUUM has not marked
/// all-visible, which on a queue's table is most of them, so it costs in proportion to the
/// table; a bounded count would not be exact, which `enrich inbox stats` and the tests rely on.
#[cfg(feature = "postgres")]
pub const COUNTS_POSTGRES: &str = "SELECT state, CAST(SUM(n) AS BIGINT) FROM enrich_inbox_counts \
    GROUP BY state";

/// The first rows in state `$1`, at most `$2`.
pub const LIST: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM enrich_inbox_deliveries WHERE state = $1 ORDER BY id LIMIT $2"
);

/// At most `$2` quarantined rows with an id above `$1`, by id: a batch of a release.
pub const LIST_QUARANTINED: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM enrich_inbox_deliveries WHERE state = 'quarantined' AND id > $1 ORDER BY id LIMIT $2"
);

/// Whether idempotency key `$1` is stored (`1`) or not (`0`).
pub const KEY_STORED: &str =
    "SELECT COUNT(*) FROM enrich_inbox_deliveries WHERE idempotency_key = $1";

/// One row by id.
pub const GET: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM enrich_inbox_deliveries WHERE id = $1"
);

/// The id, state, and whether a body and an error text are stored, of at most `$2` rows of
/// external ID `$1` with an id above `$3`, by id.
pub const FIND_EXTERNAL_ID: &str = "SELECT id, state, raw_body IS NOT NULL, last_error IS NOT NULL \
    FROM enrich_inbox_deliveries WHERE external_id = $1 AND id > $3 ORDER BY id LIMIT $2";

/// [`FIND_EXTERNAL_ID`] for the rows of enrichment `$1`.
pub const FIND_ENRICHMENT: &str = "SELECT id, state, raw_body IS NOT NULL, last_error IS NOT NULL \
    FROM enrich_inbox_deliveries WHERE enrichment_id = $1 AND id > $3 ORDER BY id LIMIT $2";

/// The id, state, body, whether an error text is stored, and idempotency key (a sealed body's
/// associated data), of at most `$1` rows with a body and an id above `$2`, by id: a batch of
/// the scan for an email address.
pub const SCAN_BODIES: &str = "SELECT id, state, raw_body, last_error IS NOT NULL, idempotency_key \
    FROM enrich_inbox_deliveries WHERE raw_body IS NOT NULL AND id > $2 ORDER BY id LIMIT $1";

/// The table of applied migrations (the same on both engines).
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS enrich_inbox_migrations \
    (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)";

/// The newest applied migration (NULL when none).
pub const CURRENT_VERSION: &str = "SELECT MAX(version) FROM enrich_inbox_migrations";

/// The health check's read: the database answers a read of the inbox's smallest table (a
/// `SELECT 1` would not touch the file on SQLite, and so pass on a file that is no longer a
/// database).
pub const PING: &str = "SELECT COUNT(*) FROM enrich_inbox_migrations";

/// The health check's write: an update of no row. It takes what a store takes (SQLite's write
/// lock; on Postgres the table's `ROW EXCLUSIVE` lock) and changes nothing.
pub const WRITE_PROBE: &str = "UPDATE enrich_inbox_deliveries SET attempts = attempts WHERE 1 = 0";

/// The id, idempotency key, body and error text of at most `$2` rows with an id above `$1`, by
/// id, whose body or error text is not sealed under the current key: a body whose first `$3`
/// bytes are not `$4` (the sealed form's marker and the current key id), an error text whose
/// first `$5` characters are not `$6` (likewise). A batch of `Inbox::rekey`.
#[cfg(feature = "encryption")]
pub const REKEY_CANDIDATES: &str = "SELECT id, idempotency_key, raw_body, last_error \
    FROM enrich_inbox_deliveries WHERE id > $1 \
    AND ((raw_body IS NOT NULL AND substr(raw_body, 1, $3) <> $4) \
         OR (last_error IS NOT NULL AND substr(last_error, 1, $5) <> $6)) \
    ORDER BY id LIMIT $2";

/// Replaces the body and error text of row `$1` with `$2` and `$3` (re-sealed), only while they
/// are still `$4` and `$5` (as read): a value changed meanwhile (erased, purged, a new error
/// recorded) is never overwritten with an older one.
#[cfg(feature = "encryption")]
pub const RESEAL: &str = "UPDATE enrich_inbox_deliveries SET raw_body = $2, last_error = $3 \
    WHERE id = $1 AND raw_body IS NOT DISTINCT FROM $4 AND last_error IS NOT DISTINCT FROM $5";
