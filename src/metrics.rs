//! Counters and gauges for operators, served as Prometheus text at `/metrics`.
//!
//! Plain atomics: the hot path only ever does relaxed increments.

use crate::stream::hub::Transport;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
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
    /// Microseconds between the commit of the last published event and its publication.
    pub relay_lag_micros: AtomicI64,
    pub last_published_position: AtomicI64,
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

    /// Render in the Prometheus text exposition format, with the hub's figures.
    pub fn render(&self, hub: &crate::stream::hub::Hub) -> String {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let g = |a: &AtomicI64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, lines: &[(&str, i128)]| {
            let out = &mut out;
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        put(
            "tidings_open_connections",
            "gauge",
            "Open streaming connections by transport.",
            &[
                ("{transport=\"websocket\"}", g(&self.ws_connections) as i128),
                ("{transport=\"sse\"}", g(&self.sse_connections) as i128),
            ],
        );
        put(
            "tidings_subscriptions",
            "gauge",
            "Stream subscriptions on this node.",
            &[("", hub.subscription_count() as i128)],
        );
        put(
            "tidings_events_published_total",
            "counter",
            "Events this node's sequencer handed to the bus.",
            &[("", r(&self.events_published) as i128)],
        );
        put(
            "tidings_publish_failures_total",
            "counter",
            "Bus publications that failed and were retried.",
            &[("", r(&self.publish_failures) as i128)],
        );
        put(
            "tidings_events_dispatched_total",
            "counter",
            "Events routed by this node's hub.",
            &[("", r(&hub.stats.dispatched_events) as i128)],
        );
        put(
            "tidings_deliveries_total",
            "counter",
            "Frames queued to readers on this node.",
            &[("", r(&hub.stats.delivered) as i128)],
        );
        put(
            "tidings_deliveries_dropped_slow_total",
            "counter",
            "Frames not queued because the reader was too slow.",
            &[("", r(&hub.stats.dropped_slow) as i128)],
        );
        put(
            "tidings_slow_readers_closed_total",
            "counter",
            "Connections closed because the reader fell behind.",
            &[("", r(&self.slow_closed) as i128)],
        );
        put(
            "tidings_streams_refused_total",
            "counter",
            "Streams refused by the per-IP or per-account caps.",
            &[("", r(&self.streams_refused) as i128)],
        );
        put(
            "tidings_replay_reads_total",
            "counter",
            "Database reads of a stream's history for resuming readers.",
            &[("", r(&self.replay_reads) as i128)],
        );
        put(
            "tidings_replay_shared_total",
            "counter",
            "Resumes served by a read another resume had started.",
            &[("", r(&self.replay_shared) as i128)],
        );
        put(
            "tidings_bus_reconnects_total",
            "counter",
            "Reconnections of this node to the bus.",
            &[("", r(&self.bus_reconnects) as i128)],
        );
        put(
            "tidings_catch_ups_total",
            "counter",
            "Times this node read missed events from the database.",
            &[("", r(&self.catch_ups) as i128)],
        );
        put(
            "tidings_last_position",
            "gauge",
            "Last position dispatched on this node.",
            &[("", hub.routed_upto() as i128)],
        );
        put(
            "tidings_last_published_position",
            "gauge",
            "Last position published by this node's sequencer.",
            &[("", g(&self.last_published_position) as i128)],
        );
        let _ = writeln!(
            out,
            "# HELP tidings_relay_lag_seconds Commit-to-publish delay of the last published event.\n\
             # TYPE tidings_relay_lag_seconds gauge\ntidings_relay_lag_seconds {}",
            g(&self.relay_lag_micros) as f64 / 1e6
        );
        out
    }
}
