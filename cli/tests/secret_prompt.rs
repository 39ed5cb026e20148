//! The interactive secret prompt does not echo: a Python script drives `riskflow connections
//! connect` on a pseudo-terminal (`cli/tests/support/secret_prompt.py`) and checks that the
//! typed secret never comes back on the terminal.

mod support;

use std::process::Command;
use support::{TempDir, bin};

#[test]
fn a_secret_typed_at_the_prompt_is_not_echoed() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED a_secret_typed_at_the_prompt_is_not_echoed: python3 is not installed (it drives the pseudo-terminal)"
        );
        return;
    }
    let dir = TempDir::new("riskflow-cli-prompt");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/secret_prompt.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(bin())
        .arg(dir.path().join("data"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok:"), "{stdout}");
}
