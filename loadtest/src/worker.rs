//! A shard of readers in a child process (one process may hold ~20k sockets here).
//!
//! Protocol on stdin/stdout, one line each: the child prints `ready <connected>
//! <errors>`; the parent sends `measure`, later `stop <published>`; the child prints one
//! JSON line with its histogram and counts, and exits.

use crate::Common;
use crate::readers::{Reader, Shared, Transport};
use crate::target::Target;
use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(clap::Args, Clone, Debug)]
pub struct WorkerArgs {
    #[arg(long)]
    pub stream: String,
    #[arg(long)]
    pub first_index: usize,
    #[arg(long, value_enum)]
    pub transport: Transport,
    #[arg(long, default_value_t = 0.0)]
    pub stalled_percent: f64,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct WorkerResult {
    pub frames: u64,
    pub histogram: String,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub readers: u64,
    /// Latency over time ([`crate::stats::Series::export`]).
    #[serde(default)]
    pub series: Vec<(u32, u16, u64)>,
}

pub async fn run(c: Common, w: WorkerArgs) -> anyhow::Result<()> {
    let target = Target::reader_only(c.target, &c.url).await?.events(c.event);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shared = Shared::new(target, c.readers, stop_rx, false);
    let specs: Vec<Reader> = (0..c.readers)
        .map(|i| Reader {
            stalled: crate::scenarios::stalled(i, w.stalled_percent),
            ..Reader::at(w.first_index + i, i, w.transport, w.stream.clone())
        })
        .collect();
    let (ok, errors, _) = crate::scenarios::connect_all(&shared, specs, None).await;
    println!("ready {ok} {errors}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut published = 0;
    while let Some(line) = lines.next_line().await? {
        if line == "measure" {
            crate::stats::SERIES.reset();
            shared.measuring.store(true, Ordering::Relaxed);
        } else if let Some(n) = line.strip_prefix("stop ") {
            published = n.trim().parse().unwrap_or(0);
            break;
        }
    }
    let _ = stop_tx.send(true);
    let mut result = WorkerResult {
        frames: shared.counters.frames.load(Ordering::Relaxed),
        histogram: String::new(),
        delivered: 0,
        duplicates: 0,
        out_of_order: 0,
        readers: c.readers as u64,
        series: crate::stats::SERIES.export(),
    };
    for (i, s) in shared.seen.iter().enumerate() {
        if crate::scenarios::stalled(i, w.stalled_percent) {
            continue;
        }
        let s = s.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        result.delivered += s.unique_below(published);
        result.duplicates += s.duplicates;
        result.out_of_order += s.out_of_order;
    }
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(&shared.latency.merged(), &mut bytes)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    result.histogram = base64::engine::general_purpose::STANDARD.encode(bytes);
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}
