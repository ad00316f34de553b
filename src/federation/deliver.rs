//! The delivery worker: takes due jobs from the queue in the database (any node may; a
//! job is leased to one worker at a time), renders each activity as the notice is *now*
//! (a notice deleted before its `Create` went out is not sent), signs it with its
//! author's key, and POSTs it to the inbox.
//!
//! A 2xx is done; a 410 Gone drops the inbox's actors from our followers; another 4xx
//! (but 408 and 429) is given up at once; anything else is tried again with exponential
//! backoff and jitter (30 s doubling, at most 6 h apart, 17 attempts: about two days),
//! then given up and counted. A host that keeps failing (five in a row) is left alone
//! for ten first waits, five minutes by default (a circuit breaker) and at most [`PER_HOST`] requests go to one host at once, so a dead
//! or slow server does not hold up the others.

use super::fetch::Fetcher;
use super::wire;
use crate::domain::Site;
use crate::domain::entities::Account;
use crate::metrics::Metrics;
use crate::store::{Delivery, Store};
use dashmap::DashMap;
use rsa::pkcs1v15::SigningKey;
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Jobs taken at once, and how long a taken job stays taken.
const BATCH: i64 = 64;
const LEASE: Duration = Duration::from_secs(120);
/// Requests in flight from this node, and to one host.
const IN_FLIGHT: usize = 32;
pub const PER_HOST: usize = 4;
pub const MAX_ATTEMPTS: i64 = 17;
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Failures in a row that open a host's circuit; it stays open for this many first
/// retry waits (`TIDINGS_DELIVERY_RETRY_MS`: 30 s × 10 = 5 minutes by default).
const BREAK_AFTER: u32 = 5;
const BREAK_FOR_WAITS: u32 = 10;

struct Worker {
    store: Arc<dyn Store>,
    fetcher: Fetcher,
    site: Arc<Site>,
    metrics: Arc<Metrics>,
    retry_base: Duration,
    in_flight: Arc<Semaphore>,
    hosts: DashMap<String, Host>,
    /// Each sender's signing key, parsed once (local keys do not change).
    signers: DashMap<crate::domain::AccountId, Arc<SigningKey<Sha256>>>,
}

/// What a batch of jobs renders once: the activity of one notice (by kind and id), the
/// same for every inbox it goes to, as of when the batch was taken.
type Rendered =
    Arc<DashMap<(String, i64), Arc<tokio::sync::OnceCell<Result<Option<String>, String>>>>>;

#[derive(Clone)]
struct Host {
    slots: Arc<Semaphore>,
    failures: u32,
    open_until: i64,
}

/// How long the id of an activity received is kept (a replay within it changes nothing).
const SEEN_KEPT: i64 = 7 * 24 * 3600 * 1_000_000;
const SEEN_PRUNE_EVERY: i64 = 3600 * 1_000_000;

pub async fn run(
    store: Arc<dyn Store>,
    fetcher: Fetcher,
    site: Arc<Site>,
    metrics: Arc<Metrics>,
    retry_base: Duration,
    shutdown: CancellationToken,
) {
    let w = Arc::new(Worker {
        store,
        fetcher,
        site,
        metrics,
        retry_base,
        in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        hosts: DashMap::new(),
        signers: DashMap::new(),
    });
    let waiting = w.store.deliveries_waiting();
    let mut pruned_at = 0;
    loop {
        let now = crate::domain::now_micros();
        // Ids of activities received are kept a week (peers re-deliver for about two
        // days), then forgotten, once an hour, by whichever node gets there.
        if now - pruned_at > SEEN_PRUNE_EVERY {
            pruned_at = now;
            if let Err(e) = w.store.forget_seen(now - SEEN_KEPT).await {
                tracing::warn!(error = %e, "cannot prune the ids of activities received");
            }
        }
        let jobs = match w
            .store
            .claim_deliveries(now, BATCH, LEASE.as_micros() as i64)
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the delivery queue");
                Vec::new()
            }
        };
        if let Ok(n) = w.store.delivery_depth().await {
            w.metrics.delivery_queue.store(n, Ordering::Relaxed);
        }
        let full = jobs.len() as i64 == BATCH;
        let rendered: Rendered = Arc::new(DashMap::new());
        for job in jobs {
            let Ok(permit) = w.in_flight.clone().acquire_owned().await else {
                return;
            };
            let (w, rendered) = (w.clone(), rendered.clone());
            tokio::spawn(async move {
                w.deliver(job, &rendered).await;
                drop(permit);
            });
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = waiting.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// What became of one attempt.
enum Outcome {
    Done,
    Gone,
    GiveUp(String),
    Retry(String),
}

impl Worker {
    async fn deliver(&self, job: Delivery, rendered: &Rendered) {
        let host = url::Url::parse(&job.inbox)
            .ok()
            .map(|u| super::signature::host_of(&u))
            .unwrap_or_default();
        let now = crate::domain::now_micros();
        let entry = self
            .hosts
            .entry(host.clone())
            .or_insert_with(|| Host {
                slots: Arc::new(Semaphore::new(PER_HOST)),
                failures: 0,
                open_until: 0,
            })
            .clone();
        let outcome = if entry.open_until > now {
            // The host keeps failing: not tried now, and not counted as an attempt.
            let _ = self.store.delivery_retry(job.id, entry.open_until).await;
            return;
        } else {
            let _slot = entry.slots.acquire().await;
            self.attempt(&job, rendered).await
        };
        let ok = matches!(outcome, Outcome::Done | Outcome::Gone);
        if let Some(mut h) = self.hosts.get_mut(&host) {
            if ok {
                h.failures = 0;
            } else if matches!(outcome, Outcome::Retry(_)) {
                h.failures += 1;
                if h.failures >= BREAK_AFTER {
                    h.open_until = now + (self.retry_base * BREAK_FOR_WAITS).as_micros() as i64;
                }
            }
        }
        let done = match outcome {
            Outcome::Done => {
                self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                self.store.delivery_done(job.id).await
            }
            Outcome::Gone => {
                self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                let _ = self.store.inbox_gone(&job.inbox).await;
                self.store.delivery_done(job.id).await
            }
            Outcome::GiveUp(why) => {
                tracing::info!(inbox = %job.inbox, kind = %job.kind, %why, "delivery given up");
                self.metrics
                    .deliveries_dropped
                    .fetch_add(1, Ordering::Relaxed);
                self.store.delivery_done(job.id).await
            }
            Outcome::Retry(why) => {
                self.metrics
                    .delivery_failures
                    .fetch_add(1, Ordering::Relaxed);
                if job.attempts + 1 >= MAX_ATTEMPTS {
                    tracing::info!(inbox = %job.inbox, kind = %job.kind, %why, "delivery dropped after its last attempt");
                    self.metrics
                        .deliveries_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    self.store.delivery_done(job.id).await
                } else {
                    tracing::debug!(inbox = %job.inbox, %why, attempt = job.attempts + 1, "delivery failed; will retry");
                    let next = now + backoff(self.retry_base, job.attempts).as_micros() as i64;
                    self.store.delivery_retry(job.id, next).await
                }
            }
        };
        if let Err(e) = done {
            // The lease runs out and another attempt follows: delivered at least once.
            tracing::warn!(error = %e, "cannot update the delivery queue");
        }
    }

    async fn attempt(&self, job: &Delivery, rendered: &Rendered) -> Outcome {
        let account = match self.store.account(job.account_id).await {
            Ok(Some(a)) => a,
            Ok(None) => return Outcome::GiveUp("the sender is gone".into()),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        // Nothing goes to a server a moderator suspended (checked at send time, so a
        // block reaches the jobs already queued).
        let host = url::Url::parse(&job.inbox)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        match self.store.domain_block_of(&host).await {
            Ok(Some(b)) if b.severity == "suspend" => {
                return Outcome::GiveUp(format!("{host} is blocked"));
            }
            Ok(_) => {}
            Err(e) => return Outcome::Retry(e.to_string()),
        }
        let actor = Account::render(&account, &self.site).uri;
        let once = match (job.kind.as_str(), job.status_id) {
            ("raw", _) | (_, None) => None,
            (kind, Some(id)) => Some(
                rendered
                    .entry((kind.to_string(), id.get()))
                    .or_default()
                    .clone(),
            ),
        };
        let body = match once {
            Some(cell) => cell.get_or_init(|| self.render(job, &actor)).await.clone(),
            None => self.render(job, &actor).await,
        };
        let body = match body {
            Ok(Some(b)) => b,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e),
        };
        let signer = match self.signer(account.id).await {
            Ok(k) => k,
            Err(e) => return Outcome::Retry(e),
        };
        let key_id = format!("{actor}#main-key");
        match self
            .fetcher
            .post_signed(&job.inbox, body.as_bytes(), &key_id, signer)
            .await
        {
            Ok(s) if (200..300).contains(&s) => Outcome::Done,
            Ok(410) => Outcome::Gone,
            Ok(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
                Outcome::GiveUp(format!("status {s}"))
            }
            Ok(s) => Outcome::Retry(format!("status {s}")),
            Err(super::fetch::FetchError::Blocked(h)) => {
                Outcome::GiveUp(format!("blocked domain {h}"))
            }
            Err(super::fetch::FetchError::Refused(a)) => {
                Outcome::GiveUp(format!("refused address {a}"))
            }
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    /// The sender's signing key (made if she has none), parsed once.
    async fn signer(
        &self,
        account: crate::domain::AccountId,
    ) -> Result<Arc<SigningKey<Sha256>>, String> {
        if let Some(k) = self.signers.get(&account) {
            return Ok(k.clone());
        }
        let pair = super::keys::ensure(&*self.store, account)
            .await
            .map_err(|e| e.to_string())?;
        let key = Arc::new(super::signature::signing_key(&pair.private_pem)?);
        self.signers.insert(account, key.clone());
        Ok(key)
    }

    /// The activity's JSON as of now; `None` when there is nothing to send any more.
    async fn render(&self, job: &Delivery, actor: &str) -> Result<Option<String>, String> {
        let activity = match job.kind.as_str() {
            "raw" => return Ok(job.body.clone()),
            "delete" => {
                let uri = job.status_uri.as_deref().unwrap_or_default();
                wire::delete_of(actor, uri)
            }
            kind @ ("create" | "update") => {
                let Some(id) = job.status_id else {
                    return Ok(None);
                };
                let Some(s) = self
                    .store
                    .status(id, None)
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    // Deleted since: its `Delete` follows.
                    return Ok(None);
                };
                let (note, uri) = super::note_of(&*self.store, &self.site, &s)
                    .await
                    .map_err(|e| e.to_string())?;
                let (name, id) = if kind == "create" {
                    ("Create", format!("{uri}/activity"))
                } else {
                    let stamp = s.edited_at.unwrap_or(s.created_at);
                    ("Update", format!("{uri}#updates/{stamp}"))
                };
                wire::activity_of_note(name, &note, &id)
            }
            "profile" => {
                let Some(account) = self
                    .store
                    .account(job.account_id)
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    return Ok(None);
                };
                let keys = super::keys::ensure(&*self.store, account.id)
                    .await
                    .map_err(|e| e.to_string())?;
                let a = Account::render(&account, &self.site);
                let person = wire::person(&a, &account.profile, &keys.public_pem, &self.site);
                wire::update_person(&person)
            }
            "delete_actor" => wire::delete_actor(actor),
            kind @ ("like" | "unlike" | "announce" | "unannounce") => {
                let (Some(id), Some(object)) = (job.status_id, job.status_uri.as_deref()) else {
                    return Ok(None);
                };
                let like = kind.ends_with("like");
                let inner = if like {
                    wire::like(&format!("{actor}#likes/{id}"), actor, object)
                } else {
                    wire::announce(&format!("{actor}/statuses/{id}/activity"), actor, object)
                };
                if kind.starts_with("un") {
                    wire::undo(
                        &format!("{}/undo/{}", inner["id"].as_str().unwrap_or(""), job.id),
                        actor,
                        &inner,
                    )
                } else {
                    inner
                }
            }
            other => return Err(format!("unknown delivery kind {other}")),
        };
        Ok(Some(activity.to_string()))
    }
}

/// The wait before attempt `attempts + 1`: `base` doubling, at most six hours, with
/// jitter (between half and all of it) so that retries to one host spread out.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempts.clamp(0, 20) as u32)
        .min(MAX_BACKOFF);
    let jitter = rand::random::<f64>() * 0.5 + 0.5;
    exp.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spread_over_about_two_days() {
        let base = Duration::from_secs(30);
        let most: Duration = (0..MAX_ATTEMPTS - 1)
            .map(|a| {
                base.saturating_mul(1u32 << a.clamp(0, 20) as u32)
                    .min(MAX_BACKOFF)
            })
            .sum();
        let hours = most.as_secs_f64() / 3600.0;
        assert!((40.0..=60.0).contains(&hours), "{hours} h");
        for a in 0..MAX_ATTEMPTS {
            let b = backoff(base, a);
            assert!(b <= MAX_BACKOFF && b >= base / 2, "{a}: {b:?}");
        }
    }
}
