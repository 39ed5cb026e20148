//! Imports in `shared/src` point one way: lambda → app → api → flows → connectors → ports →
//! http / store / secrets → domain. A module that reaches up a layer fails this test, naming the
//! file, the line and the layer it reached.

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

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (layer, above) in LAYERS {
        let dir = src.join(layer);
        let root = if dir.is_dir() {
            dir
        } else {
            src.join(format!("{layer}.rs"))
        };
        assert!(root.exists(), "the layer {layer} is not in shared/src");
        for file in rust_files(&root) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue; // doc links may name anything
                }
                for module in *above {
                    if names_module(code, module) {
                        problems.push(format!(
                            "{}:{}: {layer} imports {module}: {}",
                            file.strip_prefix(&src).unwrap().display(),
                            n + 1,
                            code
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The vendors, as `connectors/` names their folders.
const VENDORS: &[&str] = &[
    "incydr",
    "jira",
    "servicenow",
    "okta",
    "workday",
    "adp",
    "bamboohr",
    "generic",
];

/// The jobs know roles (`ports`), never a vendor: a flow that names `connectors::<vendor>`
/// fails, naming the file and line.
#[test]
fn no_flow_names_a_vendor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for file in rust_files(&src.join("flows")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for vendor in VENDORS {
                if names_module(code, &format!("connectors::{vendor}")) {
                    problems.push(format!(
                        "{}:{}: names the vendor {vendor}: {code}",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
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
}
