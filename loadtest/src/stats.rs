//! What readers record: latency into sharded HdrHistograms, and per-reader
//! completeness (received, duplicates, order violations) against the published count.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

const SHARDS: usize = 64;

/// Latency in microseconds, 1 µs to 60 s, 3 significant digits.
pub struct Latency {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

impl Latency {
    pub fn record(&self, reader: usize, micros: u64) {
        if let Ok(mut h) = self.shards[reader % SHARDS].lock() {
            let _ = h.record(micros.clamp(1, 60_000_000));
        }
    }

    pub fn merged(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for s in &self.shards {
            if let Ok(h) = s.lock() {
                let _ = all.add(&*h);
            }
        }
        all
    }

    pub fn reset(&self) {
        for s in &self.shards {
            if let Ok(mut h) = s.lock() {
                h.reset();
            }
        }
    }
}

/// Which sequence numbers one reader has seen.
#[derive(Default)]
pub struct Seen {
    bits: Vec<u64>,
    max: Option<u64>,
    pub received: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// The last stream position (Tidings `id`), for resuming.
    pub last_position: Option<String>,
}

impl Seen {
    pub fn note(&mut self, seq: u64) {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if self.bits.len() <= w {
            self.bits.resize(w + 1, 0);
        }
        if self.bits[w] & (1 << b) != 0 {
            self.duplicates += 1;
            return;
        }
        self.bits[w] |= 1 << b;
        self.received += 1;
        if self.max.is_some_and(|m| seq < m) {
            self.out_of_order += 1;
        }
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
    }

    /// Was `seq` seen?
    pub fn has(&self, seq: u64) -> bool {
        self.bits
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    /// How many of `0..published` were seen.
    pub fn unique_below(&self, published: u64) -> u64 {
        (0..published)
            .filter(|s| {
                self.bits
                    .get((s / 64) as usize)
                    .is_some_and(|w| w & (1 << (s % 64)) != 0)
            })
            .count() as u64
    }
}

#[derive(Default)]
pub struct Counters {
    pub connected: AtomicU64,
    pub connect_errors: AtomicU64,
    pub disconnects: AtomicU64,
    pub frames: AtomicU64,
    pub frame_bytes: AtomicU64,
    pub published: AtomicU64,
    pub publish_errors: AtomicU64,
}

impl Counters {
    /// Mean bytes per delivered frame (0 before any frame).
    pub fn mean_frame_bytes(&self) -> f64 {
        use std::sync::atomic::Ordering::Relaxed;
        self.frame_bytes.load(Relaxed) as f64 / self.frames.load(Relaxed).max(1) as f64
    }
}

#[derive(Serialize, Debug, Default, Clone)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Serialize, Debug, Default, Clone)]
pub struct Completeness {
    pub expected: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub percent: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_counts_duplicates_and_disorder() {
        let mut s = Seen::default();
        for q in [0, 1, 3, 2, 3, 70] {
            s.note(q);
        }
        assert_eq!((s.received, s.duplicates, s.out_of_order), (5, 1, 1));
        assert_eq!(s.unique_below(4), 4);
        assert_eq!(s.unique_below(100), 5);
    }
}
