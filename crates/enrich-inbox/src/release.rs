//! Releasing the quarantine once the signing secret is known: each quarantined delivery's
//! stored signature verified against its stored body, as of its receive time.

use enrich_webhook::signature::{self, SigningKeys, Tolerance};
use enrich_webhook::{SECRET_ENV_VAR, WebhookConfig};

use crate::backend::Settlement;
use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::{DeliveryId, StoredDelivery};

/// How many quarantined deliveries one batch of a release reads, checks and settles (one commit).
pub const RELEASE_BATCH: usize = 500;

/// The reason a quarantined delivery that does not verify becomes a dead letter with, before
/// the verification's own message.
pub const NOT_RELEASED: &str = "not released from quarantine";

/// What [`Inbox::release`] did (or, for [`Inbox::release_dry_run`], would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Release {
    /// Quarantined deliveries whose stored signature verified: now `pending`, to be processed.
    pub released: u64,
    /// Quarantined deliveries whose signature did not verify (another secret, a changed body,
    /// signed outside the tolerance of their receive time, no signature stored): now dead
    /// letters, each with the reason.
    pub dead: u64,
    /// How many bounded batches ([`RELEASE_BATCH`] deliveries at most, each its own commit) it
    /// took.
    pub batches: u64,
}

/// Whether `delivery`'s stored signature verifies under `keys`, with the freshness of its `t`
/// measured against the time the inbox received it (not now): the check the receiver would
/// have made then. `Err` holds the reason it does not.
fn check(
    delivery: &StoredDelivery,
    keys: &SigningKeys,
    tolerance: Tolerance,
) -> Result<(), String> {
    let (Some(body), Some(header)) = (&delivery.raw_body, &delivery.signature_header) else {
        return Err(format!(
            "{NOT_RELEASED}: no body and signature stored to verify"
        ));
    };
    signature::verify(
        keys,
        header.as_bytes(),
        body,
        tolerance,
        delivery.received_at,
    )
    .map(|_| ())
    .map_err(|error| format!("{NOT_RELEASED}: {error}"))
}

impl Inbox {
    /// Releases the quarantine with the signing secrets now known: each quarantined delivery's
    /// stored signature is verified against its stored body, its timestamp within `tolerance`
    /// of the time the inbox **received** it (so a delivery signed long before it arrived stays
    /// refused, however long it waited in quarantine). Verified ones become `pending` (marked
    /// verified; a worker processes them), the others dead letters with the reason. It runs in
    /// bounded batches of [`RELEASE_BATCH`], each one commit, oldest first.
    ///
    /// ```no_run
    /// # async fn run(inbox: enrich_inbox::Inbox) -> Result<(), Box<dyn std::error::Error>> {
    /// use enrich_webhook::{SigningKeys, Tolerance};
    ///
    /// let keys = SigningKeys::new(["whsec_from_the_api_settings"])?;
    /// let release = inbox.release(&keys, Tolerance::default()).await?;
    /// println!("{} released, {} dead letters", release.released, release.dead);
    /// # Ok(()) }
    /// ```
    pub async fn release(
        &self,
        keys: &SigningKeys,
        tolerance: Tolerance,
    ) -> Result<Release, Error> {
        let release = self.release_batches(keys, tolerance, true).await?;
        if release.released > 0 {
            self.notify_stored();
        }
        if release.released + release.dead > 0 {
            tracing::info!(
                released = release.released,
                dead = release.dead,
                "enrich-inbox: quarantine released"
            );
        }
        Ok(release)
    }

    /// What a receiver does about the quarantine when it starts with `config`.
    ///
    /// Without a signing secret ([`WebhookConfig::quarantine`]) it logs, at WARN, that
    /// deliveries are quarantined (stored unverified, never processed) and how to release them,
    /// and returns `None`. With one, it releases every delivery quarantined before
    /// ([`Inbox::release`] with the configuration's keys and tolerance). With verification
    /// skipped it does nothing.
    pub async fn quarantine_at_start(
        &self,
        config: &WebhookConfig,
    ) -> Result<Option<Release>, Error> {
        if config.quarantines() {
            tracing::warn!(
                "enrich-inbox: NO SIGNING SECRET: every delivery with a well-formed, fresh \
                 signature is stored in QUARANTINE, unverified and never processed (requests \
                 without one are refused 401); once the API settings show the signing secret, \
                 run `enrich inbox release --inbox URL --secret SECRET` (or set \
                 {SECRET_ENV_VAR} and restart: the quarantine is released at start)"
            );
            return Ok(None);
        }
        match config.signing_keys() {
            Some(keys) => self.release(keys, config.get_tolerance()).await.map(Some),
            None => Ok(None),
        }
    }

    /// What [`Inbox::release`] would do, changing nothing.
    pub async fn release_dry_run(
        &self,
        keys: &SigningKeys,
        tolerance: Tolerance,
    ) -> Result<Release, Error> {
        self.release_batches(keys, tolerance, false).await
    }

    async fn release_batches(
        &self,
        keys: &SigningKeys,
        tolerance: Tolerance,
        settle: bool,
    ) -> Result<Release, Error> {
        let mut release = Release::default();
        let mut cursor = DeliveryId(0);
        let limit = i64::try_from(RELEASE_BATCH).unwrap_or(i64::MAX);
        loop {
            let batch = self.backend().list_quarantined(cursor, limit).await?;
            let Some(last) = batch.last() else {
                return Ok(release);
            };
            cursor = last.id;
            // Bodies sealed at rest are opened to be checked (a missing or wrong key is an
            // error, never a delivery refused for it), and reasons sealed as error texts are.
            let read = batch.len();
            let mut settlements = Vec::with_capacity(read);
            for delivery in batch {
                let delivery = self.sealer().open_delivery(delivery)?;
                let refused = match check(&delivery, keys, tolerance) {
                    Ok(()) => None,
                    Err(reason) => Some(self.sealer().seal_text(delivery.id, reason)?),
                };
                settlements.push(Settlement {
                    id: delivery.id,
                    refused,
                });
            }
            let dead = settlements.iter().filter(|s| s.refused.is_some()).count() as u64;
            let released = settlements.len() as u64 - dead;
            if settle {
                self.backend().settle_quarantined(settlements).await?;
            }
            release.released += released;
            release.dead += dead;
            release.batches += 1;
            if read < RELEASE_BATCH {
                return Ok(release);
            }
        }
    }
}
