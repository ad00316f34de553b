//! Counters, gauges and histograms for operators, served as Prometheus text at
//! `/metrics`, encoded by the `prometheus-client` crate.
//!
//! The counters and gauges stay plain atomics that the hot path only ever increments
//! (relaxed); they are read into the exposition at scrape time (a [`Collector`]), together
//! with the hub's own counters. The histograms (relay lag, replay reads, request latency)
//! are `prometheus-client`'s, observed off the per-reader path.

use crate::stream::hub::Transport;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

pub struct Metrics {
    pub ws_connections: AtomicI64,
    pub sse_connections: AtomicI64,
    pub events_published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub bus_reconnects: AtomicU64,
    pub catch_ups: AtomicU64,
    pub slow_closed: AtomicU64,
    pub streams_refused: AtomicU64,
    /// Database reads made for resuming readers, and resumes that joined one instead.
    pub replay_reads: AtomicU64,
    pub replay_shared: AtomicU64,
    /// Polls of a public timeline answered 304 from the stream's head, without the store.
    pub polls_unchanged: AtomicU64,
    /// Microseconds between the commit of the last published event and its publication.
    pub relay_lag_micros: AtomicI64,
    pub last_published_position: AtomicI64,
    /// 1 while this node holds the sequencer's lease.
    pub sequencer_leader: AtomicI64,
    /// Events the sequencer has numbered and not yet published (as of its last round).
    pub publish_backlog: AtomicI64,
    /// Commit-to-publish delay of every published event.
    pub relay_lag: Histogram,
    /// Database reads of a stream's history for resumes.
    pub replay_read: Histogram,
    /// Request to response head.
    pub http_request: Histogram,
    /// Federation: activities taken in at our inboxes, and refused (bad signature, …).
    pub inbox_accepted: AtomicU64,
    pub inbox_refused: AtomicU64,
    /// Federation: deliveries made, attempts that failed (and will be retried), jobs
    /// given up after their last attempt, and jobs waiting (as last seen by the worker).
    pub delivered: AtomicU64,
    pub delivery_failures: AtomicU64,
    pub deliveries_dropped: AtomicU64,
    pub delivery_queue: AtomicI64,
    /// Wiki mode: accounts brought in line with the wiki by the re-check, rounds that
    /// failed (the wiki did not answer), and how long each round took.
    pub wiki_rechecked: AtomicU64,
    pub wiki_recheck_failures: AtomicU64,
    pub wiki_recheck: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            ws_connections: AtomicI64::default(),
            sse_connections: AtomicI64::default(),
            events_published: AtomicU64::default(),
            publish_failures: AtomicU64::default(),
            bus_reconnects: AtomicU64::default(),
            catch_ups: AtomicU64::default(),
            slow_closed: AtomicU64::default(),
            streams_refused: AtomicU64::default(),
            replay_reads: AtomicU64::default(),
            replay_shared: AtomicU64::default(),
            polls_unchanged: AtomicU64::default(),
            relay_lag_micros: AtomicI64::default(),
            last_published_position: AtomicI64::default(),
            sequencer_leader: AtomicI64::default(),
            publish_backlog: AtomicI64::default(),
            relay_lag: seconds_buckets(),
            replay_read: seconds_buckets(),
            http_request: seconds_buckets(),
            inbox_accepted: AtomicU64::default(),
            inbox_refused: AtomicU64::default(),
            delivered: AtomicU64::default(),
            delivery_failures: AtomicU64::default(),
            deliveries_dropped: AtomicU64::default(),
            delivery_queue: AtomicI64::default(),
            wiki_rechecked: AtomicU64::default(),
            wiki_recheck_failures: AtomicU64::default(),
            wiki_recheck: seconds_buckets(),
        }
    }
}

/// Counts one open streaming connection until dropped.
pub struct ConnectionGauge {
    metrics: Arc<Metrics>,
    transport: Transport,
}

impl ConnectionGauge {
    pub fn open(metrics: Arc<Metrics>, transport: Transport) -> Self {
        metrics.gauge(transport).fetch_add(1, Ordering::Relaxed);
        ConnectionGauge { metrics, transport }
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.metrics
            .gauge(self.transport)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    fn gauge(&self, t: Transport) -> &AtomicI64 {
        match t {
            Transport::WebSocket => &self.ws_connections,
            Transport::Sse => &self.sse_connections,
        }
    }

    /// Render in the Prometheus text exposition format, with the hub's figures: the
    /// counters and gauges as they stand now, and the histograms.
    pub fn render(&self, hub: &crate::stream::hub::Hub, bus_up: bool) -> String {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let g = |a: &AtomicI64| a.load(Ordering::Relaxed);
        use Value::{Counter, Gauge};
        let snapshot = Snapshot(vec![
            (
                "open_connections",
                "Open streaming connections by transport",
                Gauge(g(&self.ws_connections)),
                Some(("transport", "websocket")),
            ),
            (
                "open_connections",
                "Open streaming connections by transport",
                Gauge(g(&self.sse_connections)),
                Some(("transport", "sse")),
            ),
            (
                "federation_inbox_activities",
                "Activities other servers pushed to our inboxes, by outcome",
                Counter(r(&self.inbox_accepted)),
                Some(("outcome", "accepted")),
            ),
            (
                "federation_inbox_activities",
                "Activities other servers pushed to our inboxes, by outcome",
                Counter(r(&self.inbox_refused)),
                Some(("outcome", "refused")),
            ),
            (
                "federation_deliveries",
                "Activities sent to other servers' inboxes, by outcome",
                Counter(r(&self.delivered)),
                Some(("outcome", "delivered")),
            ),
            (
                "federation_deliveries",
                "Activities sent to other servers' inboxes, by outcome",
                Counter(r(&self.delivery_failures)),
                Some(("outcome", "failed")),
            ),
            (
                "federation_deliveries",
                "Activities sent to other servers' inboxes, by outcome",
                Counter(r(&self.deliveries_dropped)),
                Some(("outcome", "dropped")),
            ),
            (
                "federation_delivery_queue",
                "Deliveries waiting in the queue (all nodes), as last counted here",
                Gauge(g(&self.delivery_queue)),
                None,
            ),
            (
                "wiki_rechecked",
                "Wiki accounts whose groups and block were asked of the wiki again",
                Counter(r(&self.wiki_rechecked)),
                None,
            ),
            (
                "wiki_recheck_failures",
                "Re-check rounds that failed (the wiki did not answer)",
                Counter(r(&self.wiki_recheck_failures)),
                None,
            ),
            (
                "subscriptions",
                "Stream subscriptions on this node",
                Gauge(hub.subscription_count() as i64),
                None,
            ),
            (
                "events_published",
                "Events this node's sequencer handed to the bus",
                Counter(r(&self.events_published)),
                None,
            ),
            (
                "publish_failures",
                "Bus publications that failed and were retried",
                Counter(r(&self.publish_failures)),
                None,
            ),
            (
                "events_dispatched",
                "Events routed by this node's hub",
                Counter(r(&hub.stats.dispatched_events)),
                None,
            ),
            (
                "deliveries",
                "Frames queued to readers on this node",
                Counter(r(&hub.stats.delivered)),
                None,
            ),
            (
                "deliveries_dropped_slow",
                "Frames not queued because the reader was too slow",
                Counter(r(&hub.stats.dropped_slow)),
                None,
            ),
            (
                "slow_readers_closed",
                "Connections closed because the reader fell behind",
                Counter(r(&self.slow_closed)),
                None,
            ),
            (
                "streams_refused",
                "Streams refused by the per-IP or per-account caps",
                Counter(r(&self.streams_refused)),
                None,
            ),
            (
                "replay_reads",
                "Database reads of a stream's history for resuming readers",
                Counter(r(&self.replay_reads)),
                None,
            ),
            (
                "replay_shared",
                "Resumes served by a read another resume had started",
                Counter(r(&self.replay_shared)),
                None,
            ),
            (
                "polls_unchanged",
                "Timeline polls answered 304 from the stream's head, without the database",
                Counter(r(&self.polls_unchanged)),
                None,
            ),
            (
                "bus_reconnects",
                "Reconnections of this node to the bus",
                Counter(r(&self.bus_reconnects)),
                None,
            ),
            (
                "catch_ups",
                "Times this node read missed events from the database",
                Counter(r(&self.catch_ups)),
                None,
            ),
            (
                "last_position",
                "Last position dispatched on this node",
                Gauge(hub.routed_upto().get()),
                None,
            ),
            (
                "last_published_position",
                "Last position published by this node's sequencer",
                Gauge(g(&self.last_published_position)),
                None,
            ),
            (
                "sequencer_leader",
                "1 while this node holds the sequencer's lease (exactly one node of a deployment should)",
                Gauge(g(&self.sequencer_leader)),
                None,
            ),
            (
                "publish_backlog",
                "Events this node's sequencer has numbered and not yet published",
                Gauge(g(&self.publish_backlog)),
                None,
            ),
            (
                "bus_connected",
                "1 while this node is connected to its bus (Redis; the in-process bus always is)",
                Gauge(i64::from(bus_up)),
                None,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory of this node's process",
                Gauge(resident_bytes()),
                None,
            ),
            (
                "process_open_fds",
                "Open file descriptors of this node's process (sockets included)",
                Gauge(open_fds()),
                None,
            ),
        ]);
        let mut registry = Registry::with_prefix("tidings");
        registry.register_collector(Box::new(snapshot));
        registry.register(
            "relay_lag_seconds",
            "Commit-to-publish delay of published events.",
            self.relay_lag.clone(),
        );
        registry.register(
            "replay_read_seconds",
            "Duration of database reads of a stream's history for resuming readers.",
            self.replay_read.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Time from a request to its response's head (a stream's head, not its end).",
            self.http_request.clone(),
        );
        registry.register(
            "wiki_recheck_seconds",
            "Duration of one round of wiki re-checks (in wiki mode).",
            self.wiki_recheck.clone(),
        );
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// Resident memory from `/proc/self/statm` (Linux; 0 elsewhere).
fn resident_bytes() -> i64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as i64
}

/// Entries of `/proc/self/fd` (Linux; 0 elsewhere), counted at scrape time.
fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64)
}

/// Seconds, from 100 µs to about 100 s.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 4.0, 11))
}

enum Value {
    Counter(u64),
    Gauge(i64),
}

/// The counters and gauges read at scrape time; the hot path only ever did relaxed
/// atomic increments on them.
struct Snapshot(Vec<Row>);

/// (name, help, value, one label).
type Row = (
    &'static str,
    &'static str,
    Value,
    Option<(&'static str, &'static str)>,
);

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut i = 0;
        while i < self.0.len() {
            let (name, help, first, _) = &self.0[i];
            let kind = match first {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) => MetricType::Gauge,
            };
            let mut family = encoder.encode_descriptor(name, &format!("{help}."), None, kind)?;
            // Rows of one name (one per label value) share their descriptor.
            while i < self.0.len() && self.0[i].0 == *name {
                let (_, _, value, label) = &self.0[i];
                let labels: Vec<(&str, &str)> = label.iter().copied().collect();
                let mut m = family.encode_family(&labels)?;
                match value {
                    Value::Counter(v) => m.encode_counter::<NoLabelSet, _, u64>(v, None)?,
                    Value::Gauge(v) => m.encode_gauge(v)?,
                }
                i += 1;
            }
        }
        Ok(())
    }
}
