//! An app server's write load in one process: many concurrent saves into one storage. The NFS tests start several
//! of these against one share at once (many servers), and kill them mid-save (crashes).
//!
//! Run it with
//! `cargo run --features nfs --example nfs_writer -- many 'nfs:///mnt/share/media' --writer 1 --names 10 --rounds 50`
//! (each of `--names` names saved `--rounds` times, by `--concurrency` tasks, default 8), or
//! `cargo run --features nfs --example nfs_writer -- slow 'nfs:///mnt/share/media' --writer 1`, which saves large
//! files slowly, half of them overwriting one name, until it is killed. Each stored name is printed on its own line.
//!
//! Every file holds a header line `writer=W seq=S bytes=N` and then N bytes of
//! `storages_core::conformance::pattern(W * 1_000_000 + S, 0, N)`, so a reader can check every byte of it.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use storages::conformance::pattern;
use storages::{Bytes, Content, SaveOptions, Settings, Storage, StorageExt};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Options from the command line.
#[derive(Debug)]
struct Args {
    mode: String,
    url: String,
    writer: u64,
    names: u64,
    rounds: u64,
    concurrency: u64,
}

fn args() -> Result<Args, AnyError> {
    let mut raw = std::env::args().skip(1);
    let mode = raw
        .next()
        .ok_or("usage: nfs_writer many|slow URL [--writer N] ...")?;
    let url = raw.next().ok_or("the settings URL is missing")?;
    let mut args = Args {
        mode,
        url,
        writer: 0,
        names: 10,
        rounds: 50,
        concurrency: 8,
    };
    while let Some(flag) = raw.next() {
        let value: u64 = raw
            .next()
            .ok_or_else(|| format!("{flag} needs a number"))?
            .parse()
            .map_err(|_| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--writer" => args.writer = value,
            "--names" => args.names = value,
            "--rounds" => args.rounds = value,
            "--concurrency" => args.concurrency = value.max(1),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(args)
}

/// The content of save `seq` by `writer`: the header, then `size` pattern bytes, streamed in 16 KiB chunks (or in
/// `delay`-spaced 64 KiB chunks, as a slow client's upload arrives).
fn content(writer: u64, seq: u64, size: usize, delay: Option<Duration>) -> Content<'static> {
    let header = Bytes::from(format!("writer={writer} seq={seq} bytes={size}\n"));
    let total = (header.len() + size) as u64;
    let seed = writer * 1_000_000 + seq;
    let chunk = if delay.is_some() {
        64 * 1024
    } else {
        16 * 1024
    };
    let body =
        futures_util::stream::iter((0..size).step_by(chunk)).then(move |offset| async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let len = chunk.min(size - offset);
            Ok(Bytes::from(pattern(seed, offset as u64, len)))
        });
    let stream = futures_util::stream::once(async move { Ok(header) }).chain(body);
    Content::from_stream(stream).with_length(total)
}

fn print_name(name: &str) -> Result<(), AnyError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{name}")?;
    out.flush()?;
    Ok(())
}

/// Each of `names` names saved `rounds` times, by `concurrency` tasks taking the next save from a shared counter.
async fn many(storage: Arc<dyn Storage>, args: &Args) -> Result<(), AnyError> {
    let total = args.names * args.rounds;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.min(total) {
        let (storage, next, writer, names) = (
            Arc::clone(&storage),
            Arc::clone(&next),
            args.writer,
            args.names,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    return Ok::<(), AnyError>(());
                }
                // Sizes from empty to a few chunks, so both one-write and streamed saves happen.
                let size = ((seq * 7919) % 97) as usize * 1024 + (seq % 5) as usize;
                let name = format!("shared/name-{}.bin", seq % names);
                let stored = storage
                    .save(name.as_str(), content(writer, seq, size, None))
                    .await?;
                print_name(stored.as_str())?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Large files saved slowly, forever: even saves create `crash/file-N.bin` (or an alternative), odd ones
/// overwrite `crash/hot.bin`.
async fn slow(storage: Arc<dyn Storage>, args: &Args) -> Result<(), AnyError> {
    for seq in 0.. {
        let size = 1024 * 1024 + (seq as usize % 7) * 100_000;
        let data = content(args.writer, seq, size, Some(Duration::from_millis(2)));
        let stored = if seq % 2 == 0 {
            let name = format!("crash/file-{}.bin", seq % 5);
            storage.save(name.as_str(), data).await?
        } else {
            storage
                .save_with("crash/hot.bin", data, SaveOptions::overwrite())
                .await?
        };
        print_name(stored.as_str())?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let args = args()?;
    let storage = Settings::parse(&args.url)?.build()?;
    match args.mode.as_str() {
        "many" => many(storage, &args).await,
        "slow" => slow(storage, &args).await,
        other => Err(format!("unknown mode `{other}`: expected many or slow").into()),
    }
}
