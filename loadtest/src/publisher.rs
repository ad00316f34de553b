//! The open-loop publisher: notices are sent on a fixed schedule whatever the server
//! does, each stamped with its *scheduled* send time, so a stalled server shows up as
//! latency rather than as a slower publisher.

use crate::stats::Counters;
use crate::target::{Target, marker};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How to pick a stream for notice `seq`.
pub type Pick = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// Publish `count` notices at `rate` per second; returns how many were acknowledged.
/// Sequence numbers run from `first_seq`.
pub async fn run(
    target: &Target,
    counters: &Counters,
    rate: f64,
    count: u64,
    first_seq: u64,
    pick: Pick,
) -> u64 {
    let pad = target.pad;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap_or_default();
    // Bound the requests in flight; past it, sends wait but keep their stamps.
    let inflight = Arc::new(Semaphore::new(512));
    let runtime = tokio::runtime::Handle::current();
    let target = target.clone();
    // The schedule is kept by a thread of its own: tokio's timer wakes up to a
    // millisecond late, and that delay would be counted as the server's latency.
    let schedule = tokio::task::spawn_blocking(move || {
        let start = std::time::Instant::now();
        let epoch_us = crate::target::now_us();
        let mut tasks = Vec::with_capacity(count as usize);
        for i in 0..count {
            let offset = Duration::from_secs_f64(i as f64 / rate);
            std::thread::sleep(
                (start + offset).saturating_duration_since(std::time::Instant::now()),
            );
            let scheduled = epoch_us + offset.as_micros() as u64;
            let seq = first_seq + i;
            let mut body = marker(seq, scheduled);
            if body.len() < pad {
                body.push_str(&".".repeat(pad - body.len()));
            }
            let (target, http, inflight, stream) =
                (target.clone(), http.clone(), inflight.clone(), pick(seq));
            tasks.push(runtime.spawn(async move {
                let _permit = inflight.acquire_owned().await;
                target.publish(&http, &stream, &body).await.is_ok()
            }));
        }
        tasks
    });
    let tasks = schedule.await.expect("the publisher's schedule thread");
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
            counters.published.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.publish_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    ok
}

/// Closed loop: `concurrency` posters as fast as acknowledgements come back, for
/// `duration`; poster `w` posts as `authors[w % authors.len()]`. Returns (acknowledged,
/// failed).
pub async fn max_rate(
    authors: &[Target],
    concurrency: usize,
    duration: Duration,
    stream: &str,
) -> (u64, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let target = authors[w % authors.len()].clone();
        let (http, stream) = (http.clone(), stream.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            let mut i = 0u64;
            while tokio::time::Instant::now() < deadline {
                let body = marker(w as u64 * 1_000_000_000 + i, crate::target::now_us());
                if target.publish(&http, &stream, &body).await.is_ok() {
                    ok += 1;
                } else {
                    err += 1;
                }
                i += 1;
            }
            (ok, err)
        }));
    }
    let mut total = (0, 0);
    for t in tasks {
        let (o, e) = t.await.unwrap_or((0, 0));
        total.0 += o;
        total.1 += e;
    }
    total
}
