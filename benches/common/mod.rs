//! Measuring helpers every benchmark shares: bounded concurrency, peak RSS, best-of rounds.

#![allow(dead_code)] // each benchmark uses a different part

pub mod corpus;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
pub type BenchResult<T> = Result<T, BenchError>;

/// Tasks saving or reading at once, as a busy server's request handlers would.
pub const CONCURRENCY: usize = 32;

/// Runs `job(0..count)` on `CONCURRENCY` tasks that each take the next index from a shared counter
/// (as a server's request tasks would), and returns how long all of it took.
pub async fn concurrently<F, Fut>(count: usize, job: F) -> BenchResult<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY.min(count))
        .map(|_| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<(), BenchError>(());
                    }
                    job(i).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(start.elapsed())
}

/// This process's peak resident set size so far, in KiB.
pub fn peak_rss_kib() -> BenchResult<u64> {
    vm_hwm_kib("self")
}

/// The peak resident set size so far of the live process `pid`, in KiB.
pub fn peak_rss_kib_of(pid: u32) -> BenchResult<u64> {
    vm_hwm_kib(&pid.to_string())
}

fn vm_hwm_kib(pid: &str) -> BenchResult<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

pub fn expect_size(name: &str, got: u64, want: u64) -> BenchResult<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("`{name}` holds {got} bytes, expected {want}").into())
    }
}

/// Whether every round's numbers go to stderr too (`STORAGES_BENCH_VERBOSE=1`), to see how noisy
/// the machine is.
pub fn verbose() -> bool {
    std::env::var_os("STORAGES_BENCH_VERBOSE").is_some()
}

/// The middle of `times` (the mean of the two middle ones for an even count): what paired, alternating rounds
/// compare, so one disturbed round moves neither side.
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    match times.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => times[n / 2],
        n => (times[n / 2 - 1] + times[n / 2]) / 2,
    }
}

pub fn best(times: Vec<Duration>) -> Duration {
    times.into_iter().min().unwrap_or_default()
}
