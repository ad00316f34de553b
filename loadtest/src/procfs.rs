//! The server's resident memory and CPU time, read from `/proc/<pid>`.

use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub rss_kib: u64,
    /// User and kernel time together.
    pub cpu: Duration,
    /// The kernel's part of `cpu`: system calls, and the network stack's work done on
    /// the process's behalf (on loopback, the receiving side's TCP processing too).
    pub kernel: Duration,
}

pub fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (user, system): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    let ticks = |t: u64| Duration::from_micros(t * 1_000_000 / 100); // USER_HZ on Linux
    Some(Sample {
        rss_kib,
        cpu: ticks(user + system),
        kernel: ticks(system),
    })
}
