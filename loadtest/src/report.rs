//! The report of one run: a table for people, JSON for scripts.

use crate::stats::{Completeness, LatencySummary};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct ServerStats {
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// Memory per connection: (after − before) / connected readers.
    pub rss_per_connection_kib: f64,
    pub cpu_seconds: f64,
    /// Server CPU time per delivered frame, in µs of one core.
    pub cpu_us_per_delivery: f64,
    /// The kernel's share of `cpu_us_per_delivery`.
    pub kernel_us_per_delivery: f64,
    /// Deliveries one core could make per second at that cost.
    pub deliveries_per_core_second: f64,
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub readers: usize,
    pub mix: String,
    pub connected: u64,
    pub connect_errors: u64,
    pub connect_seconds: f64,
    pub connects_per_second: f64,
    pub rate: f64,
    pub duration_seconds: f64,
    pub published: u64,
    pub publish_errors: u64,
    pub deliveries: u64,
    pub deliveries_per_second: f64,
    /// Average size of a delivered frame as the reader saw it (local shard).
    pub frame_bytes: f64,
    pub latency: LatencySummary,
    pub completeness: Completeness,
    pub server: Option<ServerStats>,
    pub notes: Vec<String>,
    /// Latency per second of the run, and over the whole run by percentile (for the
    /// pictures: `tidings-loadtest plot`).
    #[serde(default)]
    pub series: Vec<crate::stats::Second>,
    #[serde(default)]
    pub distribution: Vec<(f64, f64)>,
}

impl Report {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
            return;
        }
        let l = &self.latency;
        let c = &self.completeness;
        println!(
            "\n{} against {} — {} readers ({})",
            self.scenario, self.target, self.readers, self.mix
        );
        line(
            "connected",
            format!(
                "{} ({} errors) in {:.2} s, {:.0}/s",
                self.connected, self.connect_errors, self.connect_seconds, self.connects_per_second
            ),
        );
        line(
            "published",
            format!(
                "{} at {:.1}/s for {:.1} s ({} errors)",
                self.published, self.rate, self.duration_seconds, self.publish_errors
            ),
        );
        line(
            "deliveries",
            format!("{} ({:.0}/s)", self.deliveries, self.deliveries_per_second),
        );
        line(
            "latency ms p50/p90/p99",
            format!("{:.2} / {:.2} / {:.2}", l.p50_ms, l.p90_ms, l.p99_ms),
        );
        line(
            "latency ms p99.9/max",
            format!("{:.2} / {:.2} (n={})", l.p999_ms, l.max_ms, l.count),
        );
        line(
            "completeness",
            format!(
                "{:.3}% ({} of {}, {} duplicates, {} out of order)",
                c.percent, c.delivered, c.expected, c.duplicates, c.out_of_order
            ),
        );
        if let Some(s) = &self.server {
            line(
                "server RSS",
                format!(
                    "{} → {} KiB ({:.2} KiB per connection)",
                    s.rss_before_kib, s.rss_after_kib, s.rss_per_connection_kib
                ),
            );
            line(
                "server CPU",
                format!(
                    "{:.2} s, {:.2} µs per delivery, {:.2} of them in the kernel ({:.0} deliveries per core-second)",
                    s.cpu_seconds,
                    s.cpu_us_per_delivery,
                    s.kernel_us_per_delivery,
                    s.deliveries_per_core_second
                ),
            );
        }
        for n in &self.notes {
            println!("  note: {n}");
        }
    }
}

fn line(label: &str, value: String) {
    println!("  {label:<28} {value}");
}
