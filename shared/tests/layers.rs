//! Imports point one way, checked over the source text (a failure names the file, the line and
//! what it reached):
//! - in `shared/src`: lambda → app → api → flows → connectors → ports → http / store / secrets →
//!   domain, and no job in `flows/` names a vendor;
//! - in `sandbox/src`: the composition (`state.rs`, `hosts.rs`, `control.rs`, `demo.rs`,
//!   `lib.rs`) knows the fakes; a fake (`<vendor>/`) and the fault layer (`faults/`) know neither
//!   the composition nor another fake (a fake declares what it needs as its host trait).

use std::path::{Path, PathBuf};

/// Each layer, and the layers above it that it must not import.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "store",
            "secrets",
            "http",
            "ports",
            "connectors",
            "flows",
            "api",
            "app",
            "lambda",
        ],
    ),
    (
        "store",
        &[
            "http",
            "ports",
            "connectors",
            "flows",
            "api",
            "app",
            "lambda",
        ],
    ),
    (
        "secrets",
        &[
            "http",
            "ports",
            "connectors",
            "flows",
            "api",
            "app",
            "lambda",
        ],
    ),
    (
        "http",
        &[
            "store",
            "secrets",
            "ports",
            "connectors",
            "flows",
            "api",
            "app",
            "lambda",
        ],
    ),
    ("ports", &["connectors", "flows", "api", "app", "lambda"]),
    ("connectors", &["flows", "api", "app", "lambda"]),
    ("flows", &["api", "app", "lambda"]),
    ("api", &["app", "lambda"]),
    ("app", &["lambda"]),
];

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
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

/// Whether `text` names `crate::<module>` as a path (not as part of a longer name), directly
/// or in a one-line group (`crate::{module, ...}`).
fn names_module(text: &str, module: &str) -> bool {
    let needle = format!("crate::{module}");
    let direct = text.match_indices(&needle).any(|(i, _)| {
        !text[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    let grouped = text.match_indices("crate::{").any(|(i, _)| {
        text[i + 8..]
            .split(['}', ','])
            .map(|part| part.trim().split("::").next().unwrap_or(""))
            .any(|first| first == module)
    });
    direct || grouped
}

/// Every line under `root` (a folder or one file) that names one of `forbidden`, as
/// `file:line: <what> imports <module>: <code>`, with paths relative to `src`.
fn imports(src: &Path, root: &Path, what: &str, forbidden: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in rust_files(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // doc links may name anything
            }
            for module in forbidden {
                if names_module(code, module) {
                    problems.push(format!(
                        "{}:{}: {what} imports {module}: {code}",
                        file.strip_prefix(src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    problems
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = shared_src();
    let mut problems = Vec::new();
    for (layer, above) in LAYERS {
        let dir = src.join(layer);
        let root = if dir.is_dir() {
            dir
        } else {
            src.join(format!("{layer}.rs"))
        };
        assert!(root.exists(), "the layer {layer} is not in shared/src");
        problems.extend(imports(&src, &root, layer, above));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The jobs know roles (`ports`), never a vendor: a flow that names `connectors::<vendor>`
/// fails.
#[test]
fn no_flow_names_a_vendor() {
    let src = shared_src();
    let vendors: Vec<String> = riskflow::domain::ConnectionKind::ALL
        .iter()
        .map(|k| format!("connectors::{}", k.as_str()))
        .collect();
    let vendors: Vec<&str> = vendors.iter().map(String::as_str).collect();
    let problems = imports(&src, &src.join("flows"), "flows", &vendors);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What composes the sandbox's fakes.
const SANDBOX_COMPOSITION: &[&str] = &[
    "state",
    "hosts",
    "control",
    "demo",
    "Sandbox",
    "SandboxHandle",
];

#[test]
fn no_fake_imports_the_sandbox_composition_or_another_fake() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/src");
    let fakes = riskflow_sandbox::SYSTEMS;
    let mut problems = Vec::new();
    for fake in fakes {
        let root = src.join(fake);
        assert!(root.is_dir(), "the fake {fake} is not in sandbox/src");
        let mut forbidden = SANDBOX_COMPOSITION.to_vec();
        forbidden.extend(fakes.iter().filter(|f| **f != fake));
        problems.extend(imports(&src, &root, fake, &forbidden));
    }
    let mut forbidden = SANDBOX_COMPOSITION.to_vec();
    forbidden.extend(fakes);
    problems.extend(imports(&src, &src.join("faults"), "faults", &forbidden));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    assert!(names_module("use crate::app::App;", "app"));
    assert!(names_module("crate::api::ApiResponse", "api"));
    assert!(!names_module("use crate::apis::X;", "api"));
    assert!(!names_module("use crate::application;", "app"));
    assert!(names_module("use crate::{domain, flows::RunCtx};", "flows"));
    assert!(names_module(
        "use crate::connectors::okta::OktaClient;",
        "connectors::okta"
    ));
    assert!(!names_module(
        "use crate::connectors::oktaish;",
        "connectors::okta"
    ));
    assert!(names_module("use crate::state::SandboxHandle;", "state"));
    assert!(names_module("use crate::{util, okta::OktaState};", "okta"));
    assert!(!names_module("use crate::stateful;", "state"));
}
