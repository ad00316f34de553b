//! Publishes scheduled notices at their time, on whichever node claims each first, and
//! tells voters when a poll has ended (each poll once, whichever node gets to it).
//!
//! Every node runs this loop. Once a second it claims the notices that are due (a
//! conditional update per row: one node wins each) for a minute, posts each through the
//! ordinary path, and then forgets it. A node that dies holding a claim leaves it to
//! expire; another node (or this one, restarted) then posts it. The post carries an
//! `Idempotency-Key` derived from the scheduled notice's id, so a node that died after
//! posting and before forgetting cannot make it appear twice (keys hold for an hour).

use crate::store::{NewStatus, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often due notices are looked for: a notice goes out at most this late.
const EVERY: Duration = Duration::from_secs(1);
/// How long a node's claim holds before another node may take the notice over.
const CLAIM_MICROS: i64 = 60 * 1_000_000;
const BATCH: i64 = 50;

pub async fn run(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = crate::domain::now_micros();
        if let Err(e) = store.tell_ended_polls(now, BATCH).await {
            tracing::warn!(error = %e, "cannot tell of ended polls; will retry");
        }
        let due = match store.claim_due(now, now + CLAIM_MICROS, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read scheduled notices; will retry");
                continue;
            }
        };
        for s in due {
            // A suspended, disabled or pending account posts nothing, nor one the wiki
            // bars from posting; its notice waits (claimed again later), so that a lifted
            // suspension or block keeps it.
            match store.account(s.account_id).await {
                Ok(Some(a)) if a.standing.posting_refusal().is_none() => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a scheduled notice's author; will retry");
                    continue;
                }
            }
            let p = s.params;
            let posted = store
                .create_status(NewStatus {
                    account_id: s.account_id,
                    text: p.text,
                    spoiler_text: p.spoiler_text,
                    sensitive: p.sensitive,
                    visibility: p.visibility,
                    language: p.language,
                    in_reply_to_id: p.in_reply_to_id,
                    idempotency_key: Some(format!("tidings:scheduled:{}", s.id)),
                    poll: p.poll,
                    media_ids: p.media_ids,
                    remote: None,
                })
                .await;
            match posted {
                // Posted, or it can never be (its reply target is gone): forget it.
                Ok(_) | Err(StoreError::Invalid(_) | StoreError::NotFound) => {
                    if let Err(e) = store.unschedule(None, s.id).await {
                        tracing::warn!(error = %e, id = s.id, "posted a scheduled notice but cannot forget it; its idempotency key keeps it single");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, id = s.id, "cannot post a scheduled notice; another try when the claim ends");
                }
            }
        }
    }
}
