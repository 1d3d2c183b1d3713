//! A test that runs itself again as a child process: for what one process cannot show about itself (servers that
//! must not outlive it, an environment that must be cleared before anything reads it).

use std::process::{Command, Stdio};

/// Runs the test `test` of the current test binary again, alone, in a child process that `configure` sets up
/// (its environment, usually a variable telling the test it is the child), and returns what the child printed.
/// Panics, with its output, when the child fails.
pub fn run_test_in_child(test: &str, configure: impl FnOnce(&mut Command)) -> String {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args(["--exact", test, "--nocapture"])
        .stdin(Stdio::null());
    configure(&mut command);
    let output = command.output().expect("run the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
