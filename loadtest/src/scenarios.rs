//! The scenarios. Each connects readers (locally, and in child processes past
//! `--per-process`), publishes through the real API on a fixed schedule, and reports.

use crate::Common;
use crate::publisher::{self, Pick};
use crate::readers::{Reader, Shared, Transport};
use crate::report::{Report, ServerStats};
use crate::stats::{Completeness, Counters, LatencySummary};
use crate::target::{Kind, Target};
use crate::worker::WorkerResult;
use anyhow::Context;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, watch};

/// Is reader `i` one of the `percent` that stop reading?
pub fn stalled(i: usize, percent: f64) -> bool {
    percent > 0.0
        && (i as f64 * percent / 100.0).floor() != ((i + 1) as f64 * percent / 100.0).floor()
}

fn parse_mix(mix: &str) -> anyhow::Result<Vec<(Transport, f64)>> {
    let mut out = Vec::new();
    for part in mix.split(',') {
        let (name, share) = part.split_once('=').context("--mix is like ws=80,sse=20")?;
        let t = match name.trim() {
            "ws" => Transport::Ws,
            "sse" => Transport::Sse,
            "poll" => Transport::Poll,
            other => anyhow::bail!("unknown transport {other:?} in --mix"),
        };
        out.push((t, share.trim().parse::<f64>()?));
    }
    Ok(out)
}

/// The transport of reader `i` under the mix (deterministic, interleaved).
fn transport_for(i: usize, mix: &[(Transport, f64)]) -> Transport {
    let total: f64 = mix.iter().map(|m| m.1).sum();
    let x = ((i as f64 * 0.618_033_988_75) % 1.0) * total;
    let mut acc = 0.0;
    for (t, share) in mix {
        acc += share;
        if x < acc {
            return *t;
        }
    }
    mix.last().map_or(Transport::Ws, |m| m.0)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Connect readers, at most 256 handshakes at a time; returns (ok, errors, seconds).
pub async fn connect_all(
    shared: &Arc<Shared>,
    readers: Vec<Reader>,
    progress: Option<&ProgressBar>,
) -> (u64, u64, f64) {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(256));
    let mut waits = Vec::with_capacity(readers.len());
    for r in readers {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let permit = gate.clone().acquire_owned().await;
        let shared = shared.clone();
        tokio::spawn(r.run(shared, tx));
        waits.push(tokio::spawn(async move {
            let ok = rx.await.unwrap_or(false);
            drop(permit);
            ok
        }));
    }
    let (mut ok, mut err) = (0, 0);
    for w in waits {
        if w.await.unwrap_or(false) {
            ok += 1;
        } else {
            err += 1;
        }
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    shared.counters.connected.fetch_add(ok, Ordering::Relaxed);
    shared
        .counters
        .connect_errors
        .fetch_add(err, Ordering::Relaxed);
    (ok, err, started.elapsed().as_secs_f64())
}

/// Local readers plus child processes holding the rest.
struct Fleet {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    children: Vec<(
        tokio::process::Child,
        tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    )>,
    local: usize,
    stalled_percent: f64,
    connected: u64,
    errors: u64,
    seconds: f64,
}

impl Fleet {
    async fn start(
        c: &Common,
        target: &Target,
        stream: &str,
        stalled_percent: f64,
    ) -> anyhow::Result<Fleet> {
        let mix = parse_mix(&c.mix)?;
        let local = c.readers.min(c.per_process);
        let (stop, stop_rx) = watch::channel(false);
        let shared = Shared::new(target.clone(), local, stop_rx, false);
        let pb = bar(c.readers as u64, "connecting");
        let started = Instant::now();
        // Children first, so they connect while we do.
        let mut children = Vec::new();
        let mut first = local;
        while first < c.readers {
            let n = (c.readers - first).min(c.per_process);
            let exe = std::env::current_exe()?;
            let mut child = tokio::process::Command::new(exe)
                .args([
                    "--target",
                    if c.target == Kind::Tidings {
                        "tidings"
                    } else {
                        "nchan"
                    },
                    "--url",
                    &c.url,
                    "--readers",
                    &n.to_string(),
                ])
                .args(c.event.then_some("--event"))
                .args([
                    "worker",
                    "--stream",
                    stream,
                    "--first-index",
                    &first.to_string(),
                    "--stalled-percent",
                    &stalled_percent.to_string(),
                ])
                .args([
                    "--transport",
                    match transport_for(first, &mix) {
                        Transport::Ws => "ws",
                        Transport::Sse => "sse",
                        Transport::Poll => "poll",
                    },
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let out = BufReader::new(child.stdout.take().context("child stdout")?).lines();
            children.push((child, out));
            first += n;
        }
        let readers = (0..local)
            .map(|i| Reader {
                stalled: stalled(i, stalled_percent),
                ..Reader::at(i, i, transport_for(i, &mix), stream.to_string())
            })
            .collect();
        let (mut ok, mut err, _) = connect_all(&shared, readers, Some(&pb)).await;
        for (_, out) in &mut children {
            let line = out
                .next_line()
                .await?
                .context("a worker died while connecting")?;
            let mut f = line
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse::<u64>().unwrap_or(0));
            let (o, e) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
            ok += o;
            err += e;
            pb.inc(o + e);
        }
        pb.finish_and_clear();
        Ok(Fleet {
            shared,
            stop,
            children,
            local,
            stalled_percent,
            connected: ok,
            errors: err,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    async fn measure(&mut self) -> anyhow::Result<()> {
        self.shared.latency.reset();
        self.shared.measuring.store(true, Ordering::Relaxed);
        for (child, _) in &mut self.children {
            if let Some(stdin) = child.stdin.as_mut() {
                stdin.write_all(b"measure\n").await?;
            }
        }
        Ok(())
    }

    /// Stop everyone; merge latency, frames and completeness over `0..published`.
    async fn finish(
        mut self,
        published: u64,
    ) -> anyhow::Result<(Histogram<u64>, u64, Completeness)> {
        let _ = self.stop.send(true);
        let mut hist = self.shared.latency.merged();
        let mut frames = self.shared.counters.frames.load(Ordering::Relaxed);
        let mut comp = Completeness::default();
        let mut counted_readers = 0u64;
        for (i, s) in self.shared.seen.iter().enumerate().take(self.local) {
            if stalled(i, self.stalled_percent) {
                continue;
            }
            let s = s.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            comp.delivered += s.unique_below(published);
            comp.duplicates += s.duplicates;
            comp.out_of_order += s.out_of_order;
            counted_readers += 1;
        }
        for (child, out) in &mut self.children {
            if let Some(stdin) = child.stdin.as_mut() {
                stdin
                    .write_all(format!("stop {published}\n").as_bytes())
                    .await?;
            }
            let line = out.next_line().await?.context("a worker died")?;
            let r: WorkerResult = serde_json::from_str(&line)?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(r.histogram)?;
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let _ = hist.add(&h);
            crate::stats::SERIES.add(&r.series);
            frames += r.frames;
            comp.delivered += r.delivered;
            comp.duplicates += r.duplicates;
            comp.out_of_order += r.out_of_order;
            counted_readers += r.readers - stalled_count(r.readers as usize, self.stalled_percent);
        }
        comp.expected = published * counted_readers;
        comp.percent = if comp.expected == 0 {
            100.0
        } else {
            comp.delivered as f64 * 100.0 / comp.expected as f64
        };
        Ok((hist, frames, comp))
    }
}

fn stalled_count(n: usize, percent: f64) -> u64 {
    (0..n).filter(|i| stalled(*i, percent)).count() as u64
}

fn stream_name(c: &Common) -> String {
    c.stream_name
        .clone()
        .unwrap_or_else(|| format!("lt{}", rand::random::<u32>()))
}

fn base_report(c: &Common, scenario: &str, f: &Fleet) -> Report {
    Report {
        scenario: scenario.into(),
        target: format!("{:?} at {}", c.target, c.url).to_lowercase(),
        readers: c.readers,
        mix: c.mix.clone(),
        connected: f.connected,
        connect_errors: f.errors,
        connect_seconds: f.seconds,
        connects_per_second: f.connected as f64 / f.seconds.max(1e-9),
        rate: c.rate,
        duration_seconds: c.duration,
        ..Report::default()
    }
}

fn server_stats(
    before: Option<crate::procfs::Sample>,
    after: Option<crate::procfs::Sample>,
    connections: u64,
    deliveries: u64,
) -> Option<ServerStats> {
    let (b, a) = (before?, after?);
    let cpu = a.cpu.saturating_sub(b.cpu).as_secs_f64();
    let kernel = a.kernel.saturating_sub(b.kernel).as_secs_f64();
    let per_delivery = |s: f64| {
        if deliveries == 0 {
            0.0
        } else {
            s * 1e6 / deliveries as f64
        }
    };
    let per = per_delivery(cpu);
    Some(ServerStats {
        rss_before_kib: b.rss_kib,
        rss_after_kib: a.rss_kib,
        rss_per_connection_kib: if connections == 0 {
            0.0
        } else {
            (a.rss_kib as f64 - b.rss_kib as f64) / connections as f64
        },
        cpu_seconds: cpu,
        cpu_us_per_delivery: per,
        kernel_us_per_delivery: per_delivery(kernel),
        deliveries_per_core_second: if per > 0.0 { 1e6 / per } else { 0.0 },
    })
}

/// Memory and CPU of all the server's processes, summed; `None` without PIDs or when one
/// cannot be read.
fn sample(c: &Common) -> Option<crate::procfs::Sample> {
    if c.server_pid.is_empty() {
        return None;
    }
    c.server_pid
        .iter()
        .try_fold(crate::procfs::Sample::default(), |sum, pid| {
            let s = crate::procfs::sample(*pid)?;
            Some(crate::procfs::Sample {
                rss_kib: sum.rss_kib + s.rss_kib,
                cpu: sum.cpu + s.cpu,
                kernel: sum.kernel + s.kernel,
            })
        })
}

pub async fn idle(c: &Common) -> anyhow::Result<Report> {
    let target = Target::reader_only(c.target, &c.url).await?;
    let before = sample(c);
    let f = Fleet::start(c, &target, &stream_name(c), 0.0).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = sample(c);
    let mut r = base_report(c, "idle", &f);
    r.rate = 0.0;
    r.duration_seconds = 3.0;
    r.server = server_stats(before, after, f.connected, 0);
    r.completeness.percent = 100.0;
    f.finish(0).await?;
    Ok(r)
}

/// `broadcast`, and `slow` when `stalled_percent` > 0.
pub async fn broadcast(c: &Common, stalled_percent: f64) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let stream = stream_name(c);
    target.prepare(&stream).await?;
    let rss_empty = sample(c);
    let mut f = Fleet::start(c, &target, &stream, stalled_percent).await?;
    let rss_connected = sample(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.measure().await?;
    let count = (c.rate * c.duration).round() as u64;
    let before = sample(c);
    let pick: Pick = {
        let s = stream.clone();
        Arc::new(move |_| s.clone())
    };
    let publish_started = Instant::now();
    let published = publisher::run(&target, &f.shared.counters, c.rate, count, 0, pick).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = sample(c);
    let window = publish_started.elapsed().as_secs_f64();
    let mut r = base_report(
        c,
        if stalled_percent > 0.0 {
            "slow"
        } else {
            "broadcast"
        },
        &f,
    );
    r.frame_bytes = f.shared.counters.mean_frame_bytes();
    let (hist, frames, comp) = f.finish(published).await?;
    r.published = published;
    r.publish_errors = count - published;
    r.deliveries = frames;
    r.deliveries_per_second = frames as f64 / window;
    r.latency = LatencySummary::of(&hist);
    r.completeness = comp;
    // Memory per connection as connected (before publishing); CPU over the publishing window.
    r.server = server_stats(before, after, r.connected, frames).map(|mut s| {
        if let (Some(e), Some(rc)) = (rss_empty, rss_connected) {
            s.rss_before_kib = e.rss_kib;
            s.rss_per_connection_kib =
                (rc.rss_kib as f64 - e.rss_kib as f64) / r.connected.max(1) as f64;
        }
        s
    });
    if stalled_percent > 0.0 {
        r.notes.push(format!(
            "{stalled_percent}% of readers never read; latency and completeness count the others"
        ));
    }
    Ok(r)
}

pub async fn saturate(c: &Common, max_steps: usize) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let stream = stream_name(c);
    target.prepare(&stream).await?;
    let mut f = Fleet::start(c, &target, &stream, 0.0).await?;
    f.measure().await?;
    let mut rate = c.rate;
    let mut seq = 0u64;
    let mut best: Option<(f64, f64, LatencySummary)> = None;
    let mut notes = Vec::new();
    for step in 0..max_steps {
        f.shared.latency.reset();
        let frames0 = f.shared.counters.frames.load(Ordering::Relaxed);
        let count = (rate * c.duration).round() as u64;
        let pick: Pick = {
            let s = stream.clone();
            Arc::new(move |_| s.clone())
        };
        let started = Instant::now();
        let ok = publisher::run(&target, &f.shared.counters, rate, count, seq, pick).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let frames = f.shared.counters.frames.load(Ordering::Relaxed) - frames0;
        let lat = LatencySummary::of(&f.shared.latency.merged());
        let expected = ok * f.connected;
        let complete = frames >= expected && ok == count;
        let dps = frames as f64 / started.elapsed().as_secs_f64();
        notes.push(format!("step {step}: {rate:.0}/s → {dps:.0} deliveries/s, p99 {:.1} ms, {frames}/{expected} frames (local shard)", lat.p99_ms));
        seq += count;
        if lat.p99_ms > 1000.0 || !complete {
            break;
        }
        best = Some((rate, dps, lat));
        rate *= 1.5;
    }
    let mut r = base_report(c, "saturate", &f);
    f.finish(seq).await?;
    if let Some((rate, dps, lat)) = best {
        r.rate = rate;
        r.deliveries_per_second = dps;
        r.latency = lat;
        r.completeness.percent = 100.0;
    }
    r.notes = notes;
    r.notes.push("rate, deliveries and latency are those of the last step with p99 ≤ 1 s and 100% completeness".into());
    Ok(r)
}

/// Zipf weights over `n` streams (s = 1).
fn zipf_pick(n: usize) -> Pick {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / k as f64).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |a, w| {
            *a += w / total;
            Some(*a)
        })
        .collect();
    Arc::new(move |seq: u64| {
        // A hash of the sequence number, so that the stream of a notice can be recomputed.
        let x = ((seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64) / (1u64 << 53) as f64;
        let k = cumulative
            .partition_point(|c| *c < x)
            .min(cumulative.len() - 1);
        format!("news{k}")
    })
}

pub async fn newsroom(
    c: &Common,
    streams: usize,
    min_r: usize,
    max_r: usize,
) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let mix = parse_mix(&c.mix)?;
    let mut per_stream: Vec<usize> = (0..streams)
        .map(|_| min_r + rand::random_range(0..=max_r.saturating_sub(min_r)))
        .collect();
    let total: usize = per_stream.iter().sum();
    if total > c.per_process {
        let scale = c.per_process as f64 / total as f64;
        per_stream
            .iter_mut()
            .for_each(|n| *n = ((*n as f64 * scale) as usize).max(1));
    }
    for s in 0..streams {
        target.prepare(&format!("news{s}")).await?;
    }
    let (stop, stop_rx) = watch::channel(false);
    let n: usize = per_stream.iter().sum();
    let shared = Shared::new(target.clone(), n, stop_rx, false);
    let mut stream_of = Vec::with_capacity(n);
    let mut readers = Vec::with_capacity(n);
    for (s, count) in per_stream.iter().enumerate() {
        for _ in 0..*count {
            let i = readers.len();
            stream_of.push(s);
            readers.push(Reader::at(i, i, transport_for(i, &mix), format!("news{s}")));
        }
    }
    let pb = bar(n as u64, "connecting");
    let (ok, err, secs) = connect_all(&shared, readers, Some(&pb)).await;
    pb.finish_and_clear();
    shared.measuring.store(true, Ordering::Relaxed);
    let count = (c.rate * c.duration).round() as u64;
    let pick = zipf_pick(streams);
    let before = sample(c);
    let started = Instant::now();
    let published = publisher::run(&target, &shared.counters, c.rate, count, 0, pick.clone()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    let mut posted_to = vec![0u64; streams];
    for seq in 0..count {
        let name = pick(seq);
        if let Ok(k) = name.trim_start_matches("news").parse::<usize>() {
            posted_to[k] += 1;
        }
    }
    let mut comp = Completeness::default();
    for (i, s) in shared.seen.iter().enumerate() {
        let s = s.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        comp.expected += posted_to[stream_of[i]];
        comp.delivered += s.received;
        comp.duplicates += s.duplicates;
        comp.out_of_order += s.out_of_order;
    }
    comp.percent = if comp.expected == 0 {
        100.0
    } else {
        comp.delivered as f64 * 100.0 / comp.expected as f64
    };
    let frames = shared.counters.frames.load(Ordering::Relaxed);
    Ok(Report {
        scenario: "newsroom".into(),
        target: format!("{:?} at {}", c.target, c.url).to_lowercase(),
        readers: n,
        mix: c.mix.clone(),
        connected: ok,
        connect_errors: err,
        connect_seconds: secs,
        connects_per_second: ok as f64 / secs.max(1e-9),
        rate: c.rate,
        duration_seconds: c.duration,
        published,
        publish_errors: count - published,
        deliveries: frames,
        deliveries_per_second: frames as f64 / started.elapsed().as_secs_f64(),
        frame_bytes: shared.counters.mean_frame_bytes(),
        latency: LatencySummary::of(&shared.latency.merged()),
        completeness: comp,
        server: server_stats(before, sample(c), 0, frames),
        notes: vec![format!(
            "{streams} streams, {n} readers, Zipf(1) posting; completeness assumes every publish succeeded"
        )],
        ..Report::default()
    })
}

pub async fn churn(c: &Common) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let stream = stream_name(c);
    target.prepare(&stream).await?;
    let mix = parse_mix(&c.mix)?;
    let n = c.readers.min(c.per_process);
    let (stop, stop_rx) = watch::channel(false);
    let shared = Shared::new(target.clone(), n, stop_rx.clone(), true);
    let deadline = Instant::now() + Duration::from_secs_f64(c.duration + 1.0);
    let mut loops = Vec::new();
    for i in 0..n {
        let (shared, stream) = (shared.clone(), stream.clone());
        let t = transport_for(i, &mix);
        loops.push(tokio::spawn(async move {
            // Each life is one connection from the live edge, dropped after 1–5 s like a
            // phone losing its network (no close frame). All lives of reader `i` record
            // into its own slot: no per-connection histograms to allocate and merge.
            while Instant::now() < deadline {
                let life = Duration::from_millis(rand::random_range(1000..5000));
                let (tx, rx) = tokio::sync::oneshot::channel();
                let reader = Reader::at(i, i, t, stream.clone());
                let run = tokio::spawn(tokio::time::timeout(life, reader.run(shared.clone(), tx)));
                if rx.await.unwrap_or(false) {
                    shared.counters.connected.fetch_add(1, Ordering::Relaxed);
                    let _ = run.await;
                } else {
                    shared
                        .counters
                        .connect_errors
                        .fetch_add(1, Ordering::Relaxed);
                    // Refused: wait before the next try rather than spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    let count = (c.rate * c.duration).round() as u64;
    let pick: Pick = {
        let s = stream.clone();
        Arc::new(move |_| s.clone())
    };
    let before = sample(c);
    let started = Instant::now();
    let published = publisher::run(&target, &shared.counters, c.rate, count, 0, pick).await;
    for l in loops {
        let _ = l.await;
    }
    let _ = stop.send(true);
    let elapsed = started.elapsed().as_secs_f64();
    let connects = shared.counters.connected.load(Ordering::Relaxed);
    let frames = shared.counters.frames.load(Ordering::Relaxed);
    Ok(Report {
        scenario: "churn".into(),
        target: format!("{:?} at {}", c.target, c.url).to_lowercase(),
        readers: n,
        mix: c.mix.clone(),
        connected: connects,
        connect_errors: shared.counters.connect_errors.load(Ordering::Relaxed),
        connect_seconds: elapsed,
        connects_per_second: connects as f64 / elapsed,
        rate: c.rate,
        duration_seconds: c.duration,
        published,
        publish_errors: count - published,
        deliveries: frames,
        deliveries_per_second: frames as f64 / elapsed,
        frame_bytes: shared.counters.mean_frame_bytes(),
        latency: LatencySummary::of(&shared.latency.merged()),
        completeness: Completeness { percent: f64::NAN, ..Completeness::default() },
        server: server_stats(before, sample(c), 0, frames),
        notes: vec!["each reader lives 1–5 s and reconnects without resuming; completeness is not defined here".into()],
        ..Report::default()
    })
}

pub async fn reconnect_storm(
    c: &Common,
    drop_at: Option<f64>,
    first_index: usize,
) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let stream = stream_name(c);
    target.prepare(&stream).await?;
    let mix = parse_mix(&c.mix)?;
    let n = c.readers.min(c.per_process);
    let counters = Arc::new(Counters::default());
    let count = (c.rate * c.duration).round() as u64;
    let pick: Pick = {
        let s = stream.clone();
        Arc::new(move |_| s.clone())
    };
    // Phase one: everyone connected; publishing starts.
    let (stop1, rx1) = watch::channel(false);
    let first = Shared::new(target.clone(), n, rx1, true);
    let readers: Vec<Reader> = (0..n)
        .map(|i| Reader {
            positions: true,
            ..Reader::at(first_index + i, i, transport_for(i, &mix), stream.clone())
        })
        .collect();
    let pb = bar(n as u64, "connecting");
    let (ok1, err1, secs1) = connect_all(&first, readers, Some(&pb)).await;
    pb.finish_and_clear();
    let publishing = {
        let (target, counters, pick) = (target.clone(), counters.clone(), pick.clone());
        let rate = c.rate;
        tokio::spawn(async move { publisher::run(&target, &counters, rate, count, 0, pick).await })
    };
    let wait = match drop_at {
        Some(at) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs_f64();
            (at - now).max(0.0)
        }
        None => c.duration / 3.0,
    };
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    // The storm: all drop at once, and all come back with their positions.
    let _ = stop1.send(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (stop2, rx2) = watch::channel(false);
    let second = Shared::new(target.clone(), n, rx2, true);
    let readers: Vec<Reader> = (0..n)
        .map(|i| {
            // A reader that saw nothing yet resumes from the start of the stream on
            // Tidings; Nchan has no such position, so it comes back at the live edge.
            let seen = first.seen[i]
                .lock()
                .ok()
                .and_then(|s| s.last_position.clone());
            let resume = match target.kind {
                Kind::Tidings => seen.or_else(|| Some("0".into())),
                Kind::Nchan => seen,
            };
            Reader {
                resume,
                positions: true,
                ..Reader::at(first_index + i, i, transport_for(i, &mix), stream.clone())
            }
        })
        .collect();
    let pb = bar(n as u64, "reconnecting");
    let (ok2, err2, secs2) = connect_all(&second, readers, Some(&pb)).await;
    pb.finish_and_clear();
    let published = publishing.await.unwrap_or(0);
    // Until the resumed readers go quiet (2 s without a frame; 20 s at most): a storm can
    // hold the last notices back longer than a fixed wait would allow.
    let mut last = second.counters.frames.load(Ordering::Relaxed);
    let mut quiet = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = second.counters.frames.load(Ordering::Relaxed);
        if now == last {
            quiet += 1;
            if quiet == 4 {
                break;
            }
        } else {
            (quiet, last) = (0, now);
        }
    }
    let _ = stop2.send(true);
    let mut comp = Completeness::default();
    // Which notices were missed, by how many readers (for the report's notes).
    let mut missed: std::collections::BTreeMap<u64, u64> = Default::default();
    // A notice counts as delivered if either connection of the reader got it; one got
    // by both is a duplicate across the resume.
    for i in 0..n {
        let (Ok(a), Ok(b)) = (first.seen[i].lock(), second.seen[i].lock()) else {
            continue;
        };
        comp.duplicates += a.duplicates + b.duplicates;
        for q in 0..published {
            match (a.has(q), b.has(q)) {
                (true, true) => {
                    comp.delivered += 1;
                    comp.duplicates += 1;
                }
                (true, false) | (false, true) => comp.delivered += 1,
                (false, false) => *missed.entry(q).or_default() += 1,
            }
        }
    }
    comp.expected = published * n as u64;
    comp.percent = if comp.expected == 0 {
        100.0
    } else {
        comp.delivered as f64 * 100.0 / comp.expected as f64
    };
    let mut hist = first.latency.merged();
    let _ = hist.add(second.latency.merged());
    Ok(Report {
        scenario: "reconnect-storm".into(),
        target: format!("{:?} at {}", c.target, c.url).to_lowercase(),
        readers: n,
        mix: c.mix.clone(),
        connected: ok1.min(ok2),
        connect_errors: err1 + err2,
        connect_seconds: secs2,
        connects_per_second: ok2 as f64 / secs2.max(1e-9),
        rate: c.rate,
        duration_seconds: c.duration,
        published,
        publish_errors: count - published,
        deliveries: first.counters.frames.load(Ordering::Relaxed)
            + second.counters.frames.load(Ordering::Relaxed),
        deliveries_per_second: 0.0,
        frame_bytes: second.counters.mean_frame_bytes(),
        latency: LatencySummary::of(&hist),
        completeness: comp,
        server: None,
        notes: std::iter::once(format!(
            "first connect {secs1:.2} s; all {n} dropped at once and resumed in {secs2:.2} s{}; duplicates count frames seen twice across the resume",
            if target.kind == Kind::Tidings {
                " from their last positions"
            } else {
                " from their last message ids (ws+meta.nchan / Last-Event-ID)"
            }
        ))
        .chain((!missed.is_empty()).then(|| {
            format!(
                "missed (notice number: readers): {}",
                missed
                    .iter()
                    .take(12)
                    .map(|(q, k)| format!("{q}: {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }))
        .collect(),
        ..Report::default()
    })
}

pub async fn post(c: &Common, concurrency: usize, authors: usize) -> anyhow::Result<Report> {
    let target = Target::connect(c.target, &c.url)
        .await?
        .padded(c.payload_bytes)
        .events(c.event);
    let mut accounts = vec![target.clone()];
    if target.kind == Kind::Tidings {
        for _ in 1..authors.max(1) {
            accounts.push(target.with_new_author().await?);
        }
    }
    // With `--event`, the notices go into a live event's feed (its editor is the first
    // account).
    let stream = stream_name(c);
    target.prepare(&stream).await?;
    let before = sample(c);
    let started = Instant::now();
    let (ok, err) = publisher::max_rate(
        &accounts,
        concurrency,
        Duration::from_secs_f64(c.duration),
        &stream,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let after = sample(c);
    Ok(Report {
        scenario: "post".into(),
        target: format!("{:?} at {}", c.target, c.url).to_lowercase(),
        readers: 0,
        mix: "-".into(),
        rate: ok as f64 / secs,
        duration_seconds: secs,
        published: ok,
        publish_errors: err,
        server: server_stats(before, after, 0, ok),
        completeness: Completeness {
            percent: 100.0,
            ..Completeness::default()
        },
        notes: vec![format!(
            "{concurrency} posters in a closed loop as {} account(s); `rate` is acknowledged notices per second (server CPU per delivery here = per notice)",
            accounts.len()
        )],
        ..Report::default()
    })
}
