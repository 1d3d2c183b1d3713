//! What the command line shows and asks on a terminal: the progress bar of collectstatic and sync (an
//! implementation of the transfer engine's [`Progress`]), and the confirmation before deleting.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use storages::named::UrlOrAlias;
use storages::transfer::{Confirm, Progress, Stage};

/// A progress bar on standard error: files done of the stage's files, and for stages that move bytes, bytes,
/// rate and time left.
#[derive(Debug)]
pub struct Bar {
    bar: indicatif::ProgressBar,
    label: std::sync::Mutex<&'static str>,
    files: AtomicU64,
    done: AtomicU64,
    by_bytes: AtomicBool,
}

impl Bar {
    /// A bar on standard error when it is a terminal, else `None`.
    pub fn on_terminal() -> Option<Self> {
        std::io::stderr().is_terminal().then(|| Self {
            bar: indicatif::ProgressBar::new(0).with_style(style(BY_FILES)),
            label: std::sync::Mutex::new(""),
            files: AtomicU64::new(0),
            done: AtomicU64::new(0),
            by_bytes: AtomicBool::new(false),
        })
    }

    fn counted(&self) -> String {
        let label = *self
            .label
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        format!(
            "{label} {}/{} files",
            self.done.load(Ordering::Relaxed),
            self.files.load(Ordering::Relaxed)
        )
    }
}

const BY_BYTES: &str =
    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}";
const BY_FILES: &str = "{msg:>16} [{bar:30}] {pos}/{len} ({elapsed})";

fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

impl Progress for Bar {
    fn stage(&self, stage: Stage, files: u64, bytes: u64) {
        *self
            .label
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stage.label();
        self.files.store(files, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        let by_bytes = bytes > 0;
        self.by_bytes.store(by_bytes, Ordering::Relaxed);
        // Message, style and length first, then the reset that draws them (and restarts rate and ETA).
        if by_bytes {
            self.bar.set_message(self.counted());
            self.bar.set_style(style(BY_BYTES));
            self.bar.set_length(bytes);
        } else {
            self.bar.set_message(stage.label());
            self.bar.set_style(style(BY_FILES));
            self.bar.set_length(files);
        }
        self.bar.reset();
    }

    fn bytes(&self, bytes: u64) {
        if self.by_bytes.load(Ordering::Relaxed) {
            self.bar.inc(bytes);
        }
    }

    fn file_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if self.by_bytes.load(Ordering::Relaxed) {
            self.bar.set_message(self.counted());
        } else {
            self.bar.inc(1);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The confirmation `command` asks before deleting from `storage` (the argument naming it, shown as an alias in
/// backquotes or a settings URL with its secrets masked), with the bar (if any) hidden while it asks.
pub fn confirmation(command: &'static str, storage: &str, bar: Option<Arc<Bar>>) -> Confirm {
    let shown = UrlOrAlias::new(storage).shown();
    Arc::new(move |count| match &bar {
        Some(bar) => bar.bar.suspend(|| confirm_deletion(command, &shown, count)),
        None => confirm_deletion(command, &shown, count),
    })
}

/// Asks on the terminal whether `command` may delete `count` files from `shown` (a storage as it may be shown:
/// an alias or a URL with its secrets masked); without a terminal, refuses and says to pass --no-input.
fn confirm_deletion(command: &str, shown: &str, count: usize) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "storages: {command} would delete {count} file(s) from {shown}; not asking without a terminal: \
             pass --no-input to go ahead"
        );
        return false;
    }
    eprint!(
        "This will DELETE {count} file(s) from {shown}. Type 'yes' to continue, or 'no' to cancel: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    read.is_ok() && answer.trim() == "yes"
}
