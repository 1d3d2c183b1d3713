//! The figures of a run: for each load, phase, kind of request and pair of apps (one per S3 endpoint), how many
//! requests succeeded and failed (by status), their latency (p50, p99, max) and the throughput of what succeeded.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::requests::{Kind, Load, Phase, Record};

/// The apps on node 1's endpoint (1 and 2) or on node 2's (3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Apps {
    /// Apps 1 and 2, on node 1.
    OnNode1,
    /// Apps 3 and 4, on node 2.
    OnNode2,
}

impl Apps {
    /// The pair app `app` (1 to 4) belongs to.
    pub fn of(app: usize) -> Self {
        if app <= 2 {
            Self::OnNode1
        } else {
            Self::OnNode2
        }
    }
}

/// One row of figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The load.
    pub load: Load,
    /// The phase.
    pub phase: Phase,
    /// Uploads or reads.
    pub kind: Kind,
    /// Which apps.
    pub apps: Apps,
    /// Requests that did what was asked.
    pub ok: usize,
    /// The others, by status (`0`: no answer; a `200` or `201` here broke off or had wrong bytes).
    pub failed: BTreeMap<u16, usize>,
    /// Median latency of every request of the row.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
    /// Megabytes (10^6 bytes) per second that succeeded, over the row's span (first start to last end).
    pub mb_per_s: f64,
}

impl Figures {
    /// Requests that failed.
    pub fn failures(&self) -> usize {
        self.failed.values().sum()
    }
}

/// The rows of `records`, in the order of load, phase, kind and apps.
pub fn figures(records: &[Record]) -> Vec<Figures> {
    let mut groups: BTreeMap<(Load, Phase, Kind, Apps), Vec<&Record>> = BTreeMap::new();
    for record in records {
        let key = (record.load, record.phase, record.kind, Apps::of(record.app));
        groups.entry(key).or_default().push(record);
    }
    groups
        .into_iter()
        .map(|((load, phase, kind, apps), rows)| {
            let mut latencies: Vec<Duration> = rows.iter().map(|r| r.latency()).collect();
            latencies.sort_unstable();
            let mut failed = BTreeMap::new();
            for row in rows.iter().filter(|r| !r.ok()) {
                *failed.entry(row.status.unwrap_or(0)).or_insert(0) += 1;
            }
            let first = rows.iter().map(|r| r.started).min();
            let last = rows.iter().map(|r| r.ended).max();
            let span = match (first, last) {
                (Some(first), Some(last)) => last - first,
                _ => Duration::ZERO,
            };
            let bytes: u64 = rows.iter().filter(|r| r.ok()).map(|r| r.upload.size).sum();
            Figures {
                load,
                phase,
                kind,
                apps,
                ok: rows.iter().filter(|r| r.ok()).count(),
                failed,
                p50: percentile(&latencies, 50),
                p99: percentile(&latencies, 99),
                max: latencies.last().copied().unwrap_or_default(),
                mb_per_s: bytes as f64 / 1e6 / span.as_secs_f64().max(1e-3),
            }
        })
        .collect()
}

/// The `p`th percentile of sorted `values` (nearest rank).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The rows as a table.
#[derive(Debug)]
pub struct Table<'a>(pub &'a [Figures]);

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:<7} {:<6} {:<9} {:>5} {:>14} {:>9} {:>9} {:>9} {:>8}",
            "load", "phase", "kind", "apps", "ok", "failed", "p50", "p99", "max", "MB/s"
        )?;
        for row in self.0 {
            let failed = if row.failed.is_empty() {
                "0".to_owned()
            } else {
                row.failed
                    .iter()
                    .map(|(status, n)| format!("{n}x{status}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            writeln!(
                f,
                "{:<16} {:<7} {:<6} {:<9} {:>5} {:>14} {:>9} {:>9} {:>9} {:>8.1}",
                match row.load {
                    Load::NodeFailure => "node 3 killed",
                    Load::EndpointOutage => "node 2 killed",
                    Load::Verification => "final reads",
                },
                match (row.load, row.phase) {
                    (Load::Verification, _) => "all up".to_owned(),
                    (_, phase) => format!("{phase:?}").to_lowercase(),
                },
                format!("{:?}", row.kind).to_lowercase(),
                match row.apps {
                    Apps::OnNode1 => "apps 1-2",
                    Apps::OnNode2 => "apps 3-4",
                },
                row.ok,
                failed,
                millis(row.p50),
                millis(row.p99),
                millis(row.max),
                row.mb_per_s,
            )?;
        }
        Ok(())
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
