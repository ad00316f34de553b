//! `tidings-loadtest`: readers over WebSocket, SSE and polling, an open-loop publisher
//! through the real API, and reports of latency, throughput, completeness and the
//! server's memory and CPU. Runs against Tidings or Nchan.

mod plot;
mod procfs;
mod publisher;
mod readers;
mod report;
mod scenarios;
mod stats;
mod target;
mod worker;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tidings-loadtest",
    version,
    about = "Load generator for Tidings (and Nchan, for comparison)"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Which server is under test.
    #[arg(long, value_enum, default_value_t = target::Kind::Tidings, global = true)]
    pub target: target::Kind,
    /// Base URL of the server; several nodes of one cluster comma-separated (readers are
    /// spread over them in turn, the publisher posts to the first).
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    pub url: String,
    /// PID of the server, to read its memory and CPU from /proc; several comma-separated
    /// for several nodes (memory and CPU are summed).
    #[arg(long, global = true, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Number of readers.
    #[arg(long, default_value_t = 1000, global = true)]
    pub readers: usize,
    /// Reader transports and their shares, e.g. `ws=80,sse=15,poll=5`.
    #[arg(long, default_value = "ws=100", global = true)]
    pub mix: String,
    /// Notices per second (the starting rate for `saturate`).
    #[arg(long, default_value_t = 10.0, global = true)]
    pub rate: f64,
    /// Seconds of publishing (per step for `saturate`).
    #[arg(long, default_value_t = 10.0, global = true)]
    pub duration: f64,
    /// Readers per process; larger runs are sharded over child processes.
    #[arg(long, default_value_t = 15_000, global = true)]
    pub per_process: usize,
    /// Pad each published message to this many bytes (for a fair comparison: a Tidings
    /// frame carries a whole Mastodon Status, an Nchan message only what was posted).
    #[arg(long, default_value_t = 0, global = true)]
    pub payload_bytes: usize,
    /// Tidings: readers follow a live event instead of a hashtag. Each stream is an event
    /// (created at the start, fed by the tag of the same name, live) whose editor is the
    /// publisher, so every notice goes into its curated feed; readers subscribe to the
    /// `event` stream.
    #[arg(long, global = true)]
    pub event: bool,
    /// The stream's name, instead of a fresh random one: several generator processes
    /// can then read one stream (with `--event`, the first makes the event).
    #[arg(long, global = true)]
    pub stream_name: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also draw the run's latency (over time, and by percentile) into this SVG file.
    #[arg(long, global = true)]
    pub svg: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Clone, Debug)]
enum Scenario {
    /// Connect N readers and hold them: server memory per idle connection.
    Idle,
    /// N readers of one stream, R notices/s: latency, deliveries/s, completeness, CPU per delivery.
    Broadcast,
    /// Raise R by half each step until p99 > 1 s or completeness < 100%.
    Saturate {
        #[arg(long, default_value_t = 8)]
        max_steps: usize,
    },
    /// Many hashtag streams with 10–100 readers each; Zipf-distributed posting.
    Newsroom {
        #[arg(long, default_value_t = 1000)]
        streams: usize,
        #[arg(long, default_value_t = 10)]
        min_readers: usize,
        #[arg(long, default_value_t = 100)]
        max_readers: usize,
    },
    /// Like broadcast, but 1% of readers stop reading: the others must not notice.
    Slow {
        #[arg(long, default_value_t = 1.0)]
        stalled_percent: f64,
    },
    /// Readers connect and disconnect steadily (each lives 1–5 s) while notices flow.
    Churn,
    /// All readers drop at once mid-run and resume from their positions.
    ReconnectStorm {
        /// Drop at this Unix time (seconds) instead of a third into the run: several
        /// generator processes then storm at the same moment.
        #[arg(long)]
        drop_at: Option<f64>,
        /// The first reader's number across processes: it picks the reader's source
        /// address (127.0.0.2 + number / 20,000) and node. Give each generator process
        /// its own range: thousands of sockets from one address to one port make the
        /// kernel's choice of a local port crawl.
        #[arg(long, default_value_t = 0)]
        first_index: usize,
    },
    /// Closed-loop posting as fast as acknowledgements return: notices/s.
    Post {
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Accounts the posters take turns on (1: every post touches one author's row).
        #[arg(long, default_value_t = 1)]
        authors: usize,
    },
    /// Draw the latency of earlier runs on shared axes: `plot OUT.svg LABEL=REPORT.json ...`
    /// (reports written with `--json`).
    Plot {
        out: std::path::PathBuf,
        #[arg(required = true)]
        runs: Vec<String>,
        /// A title above the pictures.
        #[arg(long, default_value = "")]
        title: String,
    },
    /// (internal) a shard of readers in a child process.
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let c = cli.common;
        let report = match cli.scenario {
            Scenario::Worker(w) => return worker::run(c, w).await,
            Scenario::Plot { out, runs, title } => {
                let mut loaded = Vec::new();
                for r in runs {
                    let (label, path) = r
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("give runs as LABEL=REPORT.json"))?;
                    let text = std::fs::read_to_string(path)?;
                    loaded.push((label.to_string(), serde_json::from_str(&text)?));
                }
                return plot::write_svg(&out, &title, &loaded);
            }
            Scenario::Idle => scenarios::idle(&c).await?,
            Scenario::Broadcast => scenarios::broadcast(&c, 0.0).await?,
            Scenario::Slow { stalled_percent } => scenarios::broadcast(&c, stalled_percent).await?,
            Scenario::Saturate { max_steps } => scenarios::saturate(&c, max_steps).await?,
            Scenario::Newsroom {
                streams,
                min_readers,
                max_readers,
            } => scenarios::newsroom(&c, streams, min_readers, max_readers).await?,
            Scenario::Churn => scenarios::churn(&c).await?,
            Scenario::ReconnectStorm {
                drop_at,
                first_index,
            } => scenarios::reconnect_storm(&c, drop_at, first_index).await?,
            Scenario::Post {
                concurrency,
                authors,
            } => scenarios::post(&c, concurrency, authors).await?,
        };
        let mut report = report;
        report.series = stats::SERIES.seconds();
        report.distribution = stats::SERIES.distribution();
        report.print(c.json);
        if let Some(path) = &c.svg {
            let title = format!("{} against {}", report.scenario, report.target);
            plot::write_svg(path, &title, &[(format!("{:?}", c.target), report)])?;
        }
        Ok(())
    })
}
