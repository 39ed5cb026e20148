//! The sandbox's imports point one way: the composition (`lib.rs`, `state.rs`, `hosts.rs`,
//! `control.rs`, `demo.rs`) knows the fakes; a fake (`src/<vendor>/`) and the fault layer
//! (`src/faults/`) know neither the composition nor another fake. A fake says what it needs
//! from the sandbox as its host trait (`JiraHost`, ...), which `hosts.rs` implements. An import
//! that points back fails this test, naming the file and the line.

use std::path::{Path, PathBuf};

const VENDORS: &[&str] = &[
    "incydr",
    "jira",
    "servicenow",
    "okta",
    "workday",
    "adp",
    "bamboohr",
];

/// The modules that compose the fakes.
const COMPOSITION: &[&str] = &[
    "state",
    "hosts",
    "control",
    "demo",
    "Sandbox",
    "SandboxHandle",
];

fn rust_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// Whether `code` names `crate::<module>` as a path (not as part of a longer name), directly or
/// in a one-line group (`crate::{module, ...}`).
fn names_module(code: &str, module: &str) -> bool {
    let needle = format!("crate::{module}");
    let direct = code.match_indices(&needle).any(|(i, _)| {
        !code[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    let grouped = code.match_indices("crate::{").any(|(i, _)| {
        code[i + 8..]
            .split(['}', ','])
            .map(|part| part.trim().split("::").next().unwrap_or(""))
            .any(|first| first == module)
    });
    direct || grouped
}

/// Problems in the files under `dir`: every line naming one of `forbidden`.
fn imports(src: &Path, dir: &str, forbidden: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in rust_files(&src.join(dir)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // doc links may name anything
            }
            for module in forbidden {
                if names_module(code, module) {
                    problems.push(format!(
                        "{}:{}: {dir} imports {module}: {code}",
                        file.strip_prefix(src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn no_fake_imports_the_composition_or_another_fake() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for vendor in VENDORS {
        let mut forbidden: Vec<&str> = COMPOSITION.to_vec();
        forbidden.extend(VENDORS.iter().filter(|v| *v != vendor));
        problems.extend(imports(&src, vendor, &forbidden));
    }
    let mut forbidden: Vec<&str> = COMPOSITION.to_vec();
    forbidden.extend(VENDORS);
    problems.extend(imports(&src, "faults", &forbidden));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_a_backward_import() {
    assert!(names_module("use crate::state::SandboxHandle;", "state"));
    assert!(names_module("use crate::{util, okta::OktaState};", "okta"));
    assert!(!names_module("use crate::stateful;", "state"));
}
