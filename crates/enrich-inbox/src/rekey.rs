//! Key rotation: [`Inbox::rekey`] re-seals, under the keyring's current key, every stored body
//! and error text sealed under an older key or stored as plaintext.

use crate::backend::{Resealed, SealedRow};
use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::DeliveryId;

/// Where [`Inbox::rekey`] is, reported after each batch and returned at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RekeyReport {
    /// The key everything is re-sealed under (the keyring's current key).
    pub key_id: String,
    /// Rows whose body or error text was re-sealed.
    pub resealed: u64,
    /// Rows found but changed between the read and the write (erased, purged, a new error
    /// recorded): left as they are by the batch and looked at again by the next pass.
    pub changed_meanwhile: u64,
    /// Batches that re-sealed rows, each its own commit.
    pub batches: u64,
    /// Passes over the table (a pass again after one that met rows changed meanwhile).
    pub passes: u64,
    /// The largest delivery id looked at so far in the current pass.
    pub last_id: DeliveryId,
}

/// The most passes [`Inbox::rekey`] makes; rows still changing after them are reported.
const MAX_PASSES: u64 = 3;

impl Inbox {
    /// Re-seals under the keyring's current key every body and error text sealed under another
    /// key or stored as plaintext (rows stored before encryption was turned on), `batch_size`
    /// rows per commit (at least 1): read on a read connection, re-sealed outside the
    /// database, written back each only while its values are still those read, so a batch holds
    /// SQLite's write lock for the writes alone and never overwrites a concurrent erasure,
    /// purge or newly recorded error. Rows are taken by id; `progress` sees the report after
    /// every batch.
    ///
    /// A value sealed under a key the keyring lacks stops it with [`Error::MissingKey`] naming
    /// the key (nothing is skipped): add the old key as a previous key and run it again. Without
    /// a keyring it fails with [`Error::InvalidOption`]. Once it returns, older keys can be
    /// dropped from the keyring (but see the README, "Encryption", on backups).
    pub async fn rekey(
        &self,
        batch_size: usize,
        mut progress: impl FnMut(&RekeyReport) + Send,
    ) -> Result<RekeyReport, Error> {
        let Some(prefixes) = self.sealer().current_prefixes() else {
            return Err(Error::InvalidOption {
                option: "keys",
                expected: "a keyring (InboxConfig::keys or ENRICH_INBOX_KEYS): rekey seals under its current key",
            });
        };
        let limit = i64::try_from(batch_size.max(1)).unwrap_or(i64::MAX);
        let mut report = RekeyReport {
            key_id: self
                .sealer()
                .current_key_id()
                .unwrap_or_default()
                .to_owned(),
            resealed: 0,
            changed_meanwhile: 0,
            batches: 0,
            passes: 0,
            last_id: DeliveryId(0),
        };
        loop {
            report.passes += 1;
            report.last_id = DeliveryId(0);
            let changed_before = report.changed_meanwhile;
            loop {
                let rows = self
                    .backend()
                    .rekey_candidates(report.last_id, limit, &prefixes)
                    .await?;
                let Some(last) = rows.last() else { break };
                report.last_id = last.id;
                let found = u64::try_from(rows.len()).unwrap_or(u64::MAX);
                let resealed = rows
                    .into_iter()
                    .map(|row| self.reseal(row))
                    .collect::<Result<Vec<_>, Error>>()?;
                let written = self.backend().reseal(resealed).await?;
                report.resealed += written;
                report.changed_meanwhile += found - written.min(found);
                report.batches += 1;
                progress(&report);
                if found < u64::try_from(limit).unwrap_or(u64::MAX) {
                    break;
                }
            }
            if report.changed_meanwhile == changed_before || report.passes >= MAX_PASSES {
                break;
            }
        }
        tracing::info!(
            key_id = %report.key_id,
            resealed = report.resealed,
            changed_meanwhile = report.changed_meanwhile,
            "enrich-inbox: stored values re-sealed under the current key"
        );
        Ok(report)
    }

    /// `row`'s values opened and sealed again under the current key.
    fn reseal(&self, row: SealedRow) -> Result<Resealed, Error> {
        let sealer = self.sealer();
        let raw_body = row
            .raw_body
            .as_ref()
            .map(|body| {
                let opened = sealer.open_body(&row.key, body.clone().into())?;
                sealer
                    .seal_body(&row.key, opened)
                    .map(|sealed| sealed.to_vec())
            })
            .transpose()?;
        let last_error = row
            .last_error
            .as_ref()
            .map(|text| {
                let opened = sealer.open_text(row.id, text.clone())?;
                sealer.seal_text(row.id, opened)
            })
            .transpose()?;
        Ok(Resealed {
            before: row,
            raw_body,
            last_error,
        })
    }
}
