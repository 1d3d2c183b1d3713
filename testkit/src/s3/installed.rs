//! Where the test servers and clients are installed: `garage` (by `cargo install`) and a virtualenv with moto and
//! boto3 (named by `STORAGES_TEST_VENV`). `scripts/test` installs both.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `garage` binary: on `PATH`, else where `cargo install` puts it (`$CARGO_HOME/bin`, `~/.cargo/bin`).
pub fn garage_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo_homes = [
            std::env::var_os("CARGO_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")),
        ];
        on_path("garage")
            .or_else(|| {
                cargo_homes
                    .into_iter()
                    .flatten()
                    .map(|home| home.join("bin").join("garage"))
                    .find(|path| path.is_file())
            })
            .unwrap_or_else(|| {
                panic!(
                    "garage is not installed (looked on PATH, in $CARGO_HOME/bin and ~/.cargo/bin): run scripts/test, \
                     which installs it with `cargo install --locked garage@2.5.0`"
                )
            })
    })
    .clone()
}

/// The test virtualenv with moto and boto3: `$STORAGES_TEST_VENV`, else `${XDG_CACHE_HOME:-~/.cache}/storages-test-venv`
/// when it exists.
pub fn venv() -> Option<PathBuf> {
    if let Some(venv) = non_empty_var("STORAGES_TEST_VENV") {
        return Some(PathBuf::from(venv));
    }
    let cache = non_empty_var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty_var("HOME").map(|home| Path::new(&home).join(".cache")))?;
    let venv = cache.join("storages-test-venv");
    venv.join("bin").join("python").is_file().then_some(venv)
}

/// The Python with boto3 for interop tests: the virtualenv's, else `python3` on `PATH`.
pub fn python() -> PathBuf {
    venv_program("python", "python3")
}

/// `moto_server`: the virtualenv's, else on `PATH`.
pub fn moto_server_bin() -> PathBuf {
    venv_program("moto_server", "moto_server")
}

fn venv_program(in_venv: &str, on_path_name: &str) -> PathBuf {
    if let Some(venv) = venv() {
        let path = venv.join("bin").join(in_venv);
        assert!(
            path.is_file(),
            "{} does not exist: run scripts/test, which creates the test virtualenv with moto and boto3",
            path.display()
        );
        return path;
    }
    on_path(on_path_name).unwrap_or_else(|| {
        panic!(
            "no test virtualenv (STORAGES_TEST_VENV, ~/.cache/storages-test-venv) and no {on_path_name} on PATH: \
             run scripts/test, which creates the virtualenv with moto and boto3"
        )
    })
}

fn non_empty_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

fn on_path(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name.as_ref()))
        .find(|candidate| candidate.is_file())
}
