//! The engine side of the quarantine: storing a delivery received before the signing secret
//! was known (within the bound), reading the quarantine in batches, and settling what a release
//! decided.

use super::{Backend, NewRecord, rows, sql};
use crate::error::Error;
use crate::record::{DeliveryId, Stored, StoredDelivery};

/// What a release decided for one quarantined delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settlement {
    pub id: DeliveryId,
    /// `None`: its signature verified, it becomes `pending`; `Some(reason)`: it becomes a dead
    /// letter with this reason.
    pub refused: Option<String>,
}

impl Settlement {
    /// The bindings of [`sql::sqlite::SETTLE_QUARANTINED`]: state, verified, last error.
    fn bindings(&self) -> (&'static str, bool, Option<&str>) {
        match &self.refused {
            None => ("pending", true, None),
            Some(reason) => ("dead", false, Some(reason)),
        }
    }
}

/// Binds `record` to [`sql::sqlite::INSERT_QUARANTINED`] (the same text on both engines).
macro_rules! bind_quarantined {
    ($statement:expr, $record:expr, $limit:expr) => {
        sqlx::query_scalar::<_, i64>($statement)
            .bind($record.key)
            .bind($record.source.as_str())
            .bind($record.event_type)
            .bind($record.enrichment_id)
            .bind($record.external_id)
            .bind($record.raw_body.to_vec())
            .bind($record.signature_header)
            .bind($record.signed_at_ms)
            .bind($record.verified)
            .bind($limit)
            .bind($record.traceparent)
    };
}

impl Backend {
    /// Stores `record` as `quarantined` unless its key is stored already (a duplicate) or the
    /// quarantine holds `limit` rows (`None`). On SQLite the count and the insert are one
    /// statement on the group writer, so the bound is exact; on Postgres one statement, whose
    /// count does not see the stores running beside it.
    pub async fn store_quarantined(
        &self,
        key: String,
        record: NewRecord,
        limit: i64,
    ) -> Result<Option<Stored>, Error> {
        let id: Option<i64> = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                engine
                    .writer
                    .write(move |connection| {
                        Box::pin(async move {
                            Ok(
                                bind_quarantined!(sql::sqlite::INSERT_QUARANTINED, record, limit)
                                    .fetch_optional(connection)
                                    .await?,
                            )
                        })
                    })
                    .await?
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                bind_quarantined!(sql::postgres::INSERT_QUARANTINED, record, limit)
                    .fetch_optional(&engine.pool)
                    .await?
            }
        };
        if let Some(id) = id {
            return Ok(Some(Stored::New(DeliveryId(id))));
        }
        // Nothing inserted: a duplicate, or the quarantine is full.
        let stored: i64 = read!(self, pool => sqlx::query_scalar(sql::KEY_STORED)
            .bind(key)
            .fetch_one(pool)
            .await?);
        Ok((stored > 0).then_some(Stored::Duplicate))
    }

    /// At most `limit` quarantined deliveries with an id above `after`, by id.
    pub async fn list_quarantined(
        &self,
        after: DeliveryId,
        limit: i64,
    ) -> Result<Vec<StoredDelivery>, Error> {
        read!(self, pool => sqlx::query(sql::LIST_QUARANTINED)
            .bind(after.0)
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| rows::delivery(row).map_err(Error::from))
            .collect())
    }

    /// Applies `settlements` in one commit (SQLite: one write of the group writer; Postgres:
    /// one transaction). Returns how many rows changed (a row no longer quarantined is left
    /// alone).
    pub async fn settle_quarantined(&self, settlements: Vec<Settlement>) -> Result<u64, Error> {
        write_each!(self, settlements, settlement, statements => {
            let (state, verified, reason) = settlement.bindings();
            sqlx::query(statements::SETTLE_QUARANTINED)
                .bind(settlement.id.0)
                .bind(state)
                .bind(verified)
                .bind(reason)
        })
    }
}
