//! Reading a stored row back, the same way on both engines.

use bytes::Bytes;
use enrich_webhook::SignatureTimestamp;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::Undecodable;
use crate::error::Error;
use crate::record::{DeliveryId, Source, State, StoredDelivery, from_millis};

/// The delivery in `row`, whose columns are `sql::columns!` in order; when it does not read
/// back, its id and why.
pub fn delivery<R>(row: &R) -> Result<StoredDelivery, Undecodable>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let read = || -> Result<StoredDelivery, Error> {
        let source: String = row.try_get(2)?;
        let state: String = row.try_get(3)?;
        let raw_body: Option<Vec<u8>> = row.try_get(7)?;
        let signed_at_ms: Option<i64> = row.try_get(9)?;
        let attempts: i64 = row.try_get(12)?;
        let finished_at_ms: Option<i64> = row.try_get(15)?;
        Ok(StoredDelivery {
            id: DeliveryId(row.try_get(0)?),
            key: row.try_get(1)?,
            source: Source::parse(&source).ok_or(Error::CorruptRow { column: "source" })?,
            state: State::parse(&state).ok_or(Error::CorruptRow { column: "state" })?,
            event_type: row.try_get(4)?,
            enrichment_id: row.try_get(5)?,
            external_id: row.try_get(6)?,
            raw_body: raw_body.map(Bytes::from),
            signature_header: row.try_get(8)?,
            signed_at: signed_at_ms
                .map(|millis| u64::try_from(millis).map(SignatureTimestamp::from_unix_millis))
                .transpose()
                .map_err(|_| Error::CorruptRow {
                    column: "signed_at_ms",
                })?,
            verified: row.try_get(10)?,
            received_at: from_millis(row.try_get(11)?),
            attempts: u32::try_from(attempts)
                .map_err(|_| Error::CorruptRow { column: "attempts" })?,
            due_at: from_millis(row.try_get(13)?),
            last_error: row.try_get(14)?,
            finished_at: finished_at_ms.map(from_millis),
            traceparent: row.try_get(16)?,
        })
    };
    read().map_err(|error| Undecodable {
        // The id is the primary key: an integer whatever else the row holds.
        id: DeliveryId(row.try_get(0).unwrap_or_default()),
        error,
    })
}
