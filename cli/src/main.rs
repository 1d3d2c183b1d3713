//! `storages`: the command line of the `storages` crate, with every backend, collectstatic and sync. See
//! `storages --help`; install it with `cargo install --path cli`.

mod cli;
mod collectstatic;
mod sync;
mod terminal;

fn main() -> std::process::ExitCode {
    cli::run()
}
