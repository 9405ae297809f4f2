//! The engine side of [`crate::Inbox::rekey`]: finding the rows whose values are not sealed
//! under the current key, and writing them back re-sealed, a bounded batch per commit.

use super::{Backend, sql};
use crate::error::Error;
use crate::record::DeliveryId;

/// A row whose body or error text is not sealed under the current key, as stored.
#[derive(Debug, Clone)]
pub(crate) struct SealedRow {
    pub id: DeliveryId,
    pub key: String,
    pub raw_body: Option<Vec<u8>>,
    pub last_error: Option<String>,
}

/// A [`sql::REKEY_CANDIDATES`] row: id, idempotency key, body, error text.
type CandidateRow = (i64, String, Option<Vec<u8>>, Option<String>);

/// A row's values re-sealed, with the values they replace (written only if still there).
#[derive(Debug, Clone)]
pub(crate) struct Resealed {
    pub before: SealedRow,
    pub raw_body: Option<Vec<u8>>,
    pub last_error: Option<String>,
}

/// How the current key's sealed values start: the body's prefix and the error text's.
#[derive(Debug, Clone)]
pub(crate) struct CurrentPrefixes {
    pub body: Vec<u8>,
    pub text: String,
}

impl Backend {
    /// At most `limit` rows with an id above `after`, by id, whose body or error text does not
    /// start with `prefixes` (on a read connection: SQLite's writer is not held).
    pub async fn rekey_candidates(
        &self,
        after: DeliveryId,
        limit: i64,
        prefixes: &CurrentPrefixes,
    ) -> Result<Vec<SealedRow>, Error> {
        let body_len = i32::try_from(prefixes.body.len()).unwrap_or(i32::MAX);
        let text_len = i32::try_from(prefixes.text.chars().count()).unwrap_or(i32::MAX);
        let rows: Vec<CandidateRow> = read!(self, pool => sqlx::query_as(sql::REKEY_CANDIDATES)
                .bind(after.0)
                .bind(limit)
                .bind(body_len)
                .bind(&prefixes.body[..])
                .bind(text_len)
                .bind(prefixes.text.as_str())
                .fetch_all(pool)
                .await?);
        Ok(rows
            .into_iter()
            .map(|(id, key, raw_body, last_error)| SealedRow {
                id: DeliveryId(id),
                key,
                raw_body,
                last_error,
            })
            .collect())
    }

    /// Writes `rows` back, each only while its values are still those read, in one commit
    /// (SQLite: one write of the group writer; Postgres: one transaction). How many were
    /// written (the others changed meanwhile).
    pub async fn reseal(&self, rows: Vec<Resealed>) -> Result<u64, Error> {
        write_each!(self, rows, row => reseal_query(row))
    }
}

/// [`sql::RESEAL`] for `row`, on either engine.
fn reseal_query<DB>(
    row: &Resealed,
) -> sqlx::query::Query<'_, DB, <DB as sqlx::Database>::Arguments<'_>>
where
    DB: sqlx::Database,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q [u8]>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(sql::RESEAL)
        .bind(row.before.id.0)
        .bind(row.raw_body.as_deref())
        .bind(row.last_error.as_deref())
        .bind(row.before.raw_body.as_deref())
        .bind(row.before.last_error.as_deref())
}
