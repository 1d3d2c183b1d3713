//! `storages`: the command line. See `storages --help`.

fn main() -> std::process::ExitCode {
    storages::cli::run()
}
