//! What readers record: latency into sharded HdrHistograms, and per-reader
//! completeness (received, duplicates, order violations) against the published count.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
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
        SERIES.record(micros);
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
        SERIES.reset();
    }
}

/// Buckets per doubling of latency in [`Series`]: each bucket is 9 % wider than the one
/// before, fine enough for a picture.
const PER_DOUBLING: f64 = 8.0;
/// Buckets from 1 µs to 2^26 µs (67 s).
const BUCKETS: usize = 208;
/// Seconds of a run kept in [`Series`].
const SECONDS: usize = 900;

/// Latency over time, for the pictures: for each second since measuring began, counts in
/// logarithmic buckets. One relaxed increment per delivery; one for the whole process
/// (workers send theirs to the parent, which adds them up).
pub struct Series {
    start_ms: AtomicU64,
    counts: Vec<AtomicU64>,
}

pub static SERIES: std::sync::LazyLock<Series> = std::sync::LazyLock::new(|| Series {
    start_ms: AtomicU64::new(0),
    counts: (0..SECONDS * BUCKETS).map(|_| AtomicU64::new(0)).collect(),
});

static EPOCH: std::sync::LazyLock<std::time::Instant> =
    std::sync::LazyLock::new(std::time::Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

fn bucket_of(micros: u64) -> usize {
    ((micros.max(1) as f64).log2() * PER_DOUBLING) as usize
}

/// The upper bound of a bucket, in milliseconds.
fn bucket_ms(b: usize) -> f64 {
    2f64.powf((b + 1) as f64 / PER_DOUBLING) / 1000.0
}

/// One second of a run: deliveries and their latency percentiles (ms, to a bucket's
/// upper bound).
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct Second {
    pub t: u64,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Series {
    pub fn record(&self, micros: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let second = (now_ms().saturating_sub(self.start_ms.load(Relaxed)) / 1000) as usize;
        let b = bucket_of(micros).min(BUCKETS - 1);
        if second < SECONDS {
            self.counts[second * BUCKETS + b].fetch_add(1, Relaxed);
        }
    }

    pub fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        for c in &self.counts {
            c.store(0, Relaxed);
        }
        self.start_ms.store(now_ms(), Relaxed);
    }

    /// The non-zero counts as (second, bucket, count), to send from a worker.
    pub fn export(&self) -> Vec<(u32, u16, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = c.load(Relaxed);
                (n > 0).then_some(((i / BUCKETS) as u32, (i % BUCKETS) as u16, n))
            })
            .collect()
    }

    pub fn add(&self, cells: &[(u32, u16, u64)]) {
        use std::sync::atomic::Ordering::Relaxed;
        for &(t, b, n) in cells {
            if (t as usize) < SECONDS && (b as usize) < BUCKETS {
                self.counts[t as usize * BUCKETS + b as usize].fetch_add(n, Relaxed);
            }
        }
    }

    fn second(&self, t: usize) -> Vec<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts[t * BUCKETS..(t + 1) * BUCKETS]
            .iter()
            .map(|c| c.load(Relaxed))
            .collect()
    }

    /// Each second that had deliveries, with its percentiles.
    pub fn seconds(&self) -> Vec<Second> {
        (0..SECONDS)
            .filter_map(|t| {
                let counts = self.second(t);
                let n: u64 = counts.iter().sum();
                (n > 0).then(|| Second {
                    t: t as u64,
                    count: n,
                    p50_ms: quantile(&counts, 0.5),
                    p99_ms: quantile(&counts, 0.99),
                    max_ms: quantile(&counts, 1.0),
                })
            })
            .collect()
    }

    /// The whole run's latency at percentiles from 0 to 99.999 (percentile, ms).
    pub fn distribution(&self) -> Vec<(f64, f64)> {
        let mut all = vec![0u64; BUCKETS];
        for t in 0..SECONDS {
            for (a, c) in all.iter_mut().zip(self.second(t)) {
                *a += c;
            }
        }
        if all.iter().sum::<u64>() == 0 {
            return Vec::new();
        }
        // Evenly spaced in "nines": 0, 68 %, 90 %, 96.8 %, 99 %, … 99.999 %.
        (0..=50)
            .map(|k| {
                let p = 1.0 - 10f64.powf(-(k as f64) / 10.0);
                (p * 100.0, quantile(&all, p))
            })
            .collect()
    }
}

/// The latency (ms) below which `q` of `counts` lie, to a bucket's upper bound.
fn quantile(counts: &[u64], q: f64) -> f64 {
    let n: u64 = counts.iter().sum();
    let want = ((n as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= want {
            return bucket_ms(b);
        }
    }
    bucket_ms(BUCKETS - 1)
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

#[derive(Serialize, Deserialize, Debug, Default, Clone)]
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

#[derive(Serialize, Deserialize, Debug, Default, Clone)]
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

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut counts = vec![0u64; BUCKETS];
        counts[bucket_of(1_000)] = 99;
        counts[bucket_of(100_000)] = 1;
        let p50 = quantile(&counts, 0.5);
        assert!((1.0..1.2).contains(&p50), "{p50}");
        let max = quantile(&counts, 1.0);
        assert!((100.0..120.0).contains(&max), "{max}");
    }
}
