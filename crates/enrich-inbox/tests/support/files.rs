//! Reading what a database keeps on disk: the SQLite file and its WAL, a Postgres table's and
//! its TOAST table's files, for the tests that check a value is (or is not) stored in clear.

use std::path::PathBuf;

use super::TestDb;

/// The bytes of the SQLite database of `db` and of its WAL (when there is one).
pub fn sqlite_file_bytes(db: &TestDb) -> Vec<u8> {
    let path = db.url.trim_start_matches("sqlite:");
    let mut bytes = std::fs::read(path).expect("read the database file");
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

pub fn occurrences(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle.as_bytes())
        .count()
}

/// A body with `email` and `padding` bytes of job history, so that large bodies spill into
/// SQLite's overflow pages.
pub fn padded_person(external_id: &str, email: &str, padding: usize) -> String {
    let history = "x".repeat(padding);
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"bytes","person":{{"externalID":"{external_id}","emails":[{{"email":"{email}"}}],"jobHistory":[{{"companyName":"{history}"}}]}}}}}}"#
    )
}

/// `len` hexadecimal digits that do not repeat (so Postgres cannot compress a body holding
/// them, and stores it out of line, in the table's TOAST table).
pub fn incompressible(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_digit(u32::try_from(state % 16).unwrap_or(0), 16).unwrap_or('0')
        })
        .collect()
}

/// After a `CHECKPOINT` (so that what was written is in the files), the paths of the inbox
/// table's file and of its TOAST table's file on the Postgres server's disk. `None`, said
/// loudly, when the test cannot read them (a server on another machine or under another user),
/// unless `ENRICH_REQUIRE_POSTGRES=1`, which makes that a failure.
pub async fn postgres_table_files(db: &TestDb) -> Option<(PathBuf, PathBuf)> {
    db.execute("CHECKPOINT").await;
    if let (Some(heap), Some(toast)) = (
        postgres_file(db, "oid").await,
        postgres_file(db, "reltoastrelid").await,
    ) {
        return Some((heap, toast));
    }
    let problem = "the Postgres server's data files are not readable from this test";
    if std::env::var(super::REQUIRE_POSTGRES).is_ok_and(|value| value == "1") {
        panic!("{}=1 but {problem}", super::REQUIRE_POSTGRES);
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("\n!!! SKIPPED: {problem}\n").as_bytes(),
    );
    None
}

/// The path of the file of the inbox table's relation `relation` (a column of `pg_class`: `oid`
/// for the table, `reltoastrelid` for its TOAST table), when this process can read it.
async fn postgres_file(db: &TestDb, relation: &str) -> Option<PathBuf> {
    let path = db
        .text(&format!(
            "SELECT current_setting('data_directory') || '/' || pg_relation_filepath({relation}) \
             FROM pg_class WHERE relname = 'enrich_inbox_deliveries'"
        ))
        .await?;
    let path = PathBuf::from(path);
    std::fs::metadata(&path).is_ok().then_some(path)
}
