//! The one-shot commands against a data dir, with the sandbox started in this process:
//! connect (secrets on standard input only), list, test, disconnect, a dry run's plan, runs,
//! the audit trail as CSV, and failed items.

mod support;

use riskflow_sandbox::{Sandbox, creds};
use serde_json::Value;
use std::time::Duration;
use support::{DevServer, TempDir, riskflow, riskflow_ok, riskflow_with};

/// A sandbox served by its own runtime while the test thread runs the CLI.
struct BackgroundSandbox {
    sandbox: Option<Sandbox>,
    runtime: tokio::runtime::Runtime,
}

impl BackgroundSandbox {
    fn start() -> BackgroundSandbox {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = runtime.block_on(Sandbox::start(0)).expect("sandbox starts");
        riskflow_sandbox::seed_demo(&sandbox.state());
        BackgroundSandbox {
            sandbox: Some(sandbox),
            runtime,
        }
    }

    fn sb(&self) -> &Sandbox {
        self.sandbox.as_ref().unwrap()
    }
}

impl Drop for BackgroundSandbox {
    fn drop(&mut self) {
        if let Some(sb) = self.sandbox.take() {
            self.runtime.block_on(sb.shutdown());
        }
    }
}

fn connect_jira_args(sb: &Sandbox) -> Vec<String> {
    vec![
        "connections".into(),
        "connect".into(),
        "jira".into(),
        "--set".into(),
        format!("url={}", sb.url("jira")),
        "--set".into(),
        format!("email={}", creds::JIRA_EMAIL),
        "--set".into(),
        "project_key=SEC".into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The `connections list` line of a kind: (status, message).
fn listed(dir: &std::path::Path, kind: &str) -> (String, String) {
    let out = riskflow_ok(dir, &["connections", "list"], "");
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kind))
        .unwrap_or_else(|| panic!("{kind} is listed:\n{out}"));
    let mut parts = line.split_whitespace();
    parts.next();
    let status = parts.next().unwrap_or_default().to_string();
    (status, parts.collect::<Vec<_>>().join(" "))
}

#[test]
fn connections_are_managed_from_the_cli_with_secrets_only_on_standard_input() {
    let sb = BackgroundSandbox::start();
    let dir = TempDir::new("riskflow-cli-conn");
    let d = dir.path().join("data");
    let args = connect_jira_args(sb.sb());

    // Everything is listed, nothing connected yet.
    let out = riskflow_ok(&d, &["connections", "list"], "");
    assert_eq!(out.lines().count(), 8, "{out}");
    assert_eq!(listed(&d, "jira").0, "never_connected");

    // A secret on the command line is refused before anything happens.
    let mut on_cmdline = args.clone();
    on_cmdline.extend(["--set".into(), "api_token=jira-demo-token".into()]);
    let r = riskflow(&d, &strs(&on_cmdline), "");
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "'api_token' is a secret: give it on standard input (key=value), not on the command line"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(listed(&d, "jira").0, "never_connected");

    // Missing secret: said so.
    let r = riskflow(&d, &strs(&args), "");
    assert!(!r.ok);
    assert!(
        r.stderr
            .contains("missing required field(s): api_token (400)"),
        "{}",
        r.stderr
    );

    // A wrong secret: Jira's answer, and the secret is not echoed anywhere.
    let canary = "canary-3c1f9b-cli";
    let r = riskflow(&d, &strs(&args), &format!("api_token={canary}\n"));
    assert!(!r.ok);
    assert!(
        r.stderr.contains("Jira rejected the credentials (401)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(canary) && !r.stdout.contains(canary));
    assert_eq!(listed(&d, "jira").0, "verify_failed");

    // The right secret on standard input connects.
    let out = riskflow_ok(
        &d,
        &strs(&args),
        &format!("api_token={}\n", creds::JIRA_API_TOKEN),
    );
    assert!(out.starts_with("Connected to Jira as "), "{out}");
    let (status, message) = listed(&d, "jira");
    assert_eq!(status, "connected");
    assert!(message.starts_with("Connected to Jira as "), "{message}");
    assert_eq!(listed(&d, "okta").0, "never_connected");

    let out = riskflow_ok(&d, &["connections", "test", "jira"], "");
    assert!(out.starts_with("Connected to Jira as "), "{out}");

    let out = riskflow_ok(&d, &["connections", "disconnect", "jira"], "");
    assert!(out.starts_with("Disconnected Jira Cloud"), "{out}");
    assert_eq!(listed(&d, "jira").0, "disconnected");
    let r = riskflow(&d, &["connections", "test", "jira"], "");
    assert!(!r.ok);
    assert!(
        r.stderr.contains("Jira Cloud is not connected (409)"),
        "{}",
        r.stderr
    );
    // And again at once.
    riskflow_ok(
        &d,
        &strs(&args),
        &format!("api_token={}\n", creds::JIRA_API_TOKEN),
    );
    assert_eq!(listed(&d, "jira").0, "connected");

    // Unknown kinds and malformed input are refused with a clear message.
    let r = riskflow(&d, &["connections", "test", "salesforce"], "");
    assert!(!r.ok);
    assert!(r.stderr.contains("salesforce"), "{}", r.stderr);
    let r = riskflow(&d, &["connections", "connect", "jira", "--set", "url"], "");
    assert!(!r.ok);
    assert!(
        r.stderr.contains("--set takes key=value, got 'url'"),
        "{}",
        r.stderr
    );
    let r = riskflow(&d, &strs(&args), "jira-demo-token\n");
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "standard input must hold key=value lines for the secret fields of jira: api_token"
        ),
        "{}",
        r.stderr
    );

    // The secret never reached the state database, nor the output with debug logs on.
    for entry in std::fs::read_dir(&d).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
        if path.file_name().unwrap() == "secrets.json" {
            assert!(text.contains(creds::JIRA_API_TOKEN));
        } else {
            assert!(!text.contains(creds::JIRA_API_TOKEN), "{}", path.display());
            assert!(!text.contains(canary), "{}", path.display());
        }
    }
}

#[test]
fn runs_dry_runs_the_audit_trail_and_items_are_read_from_the_cli() {
    let sb = BackgroundSandbox::start();
    let dir = TempDir::new("riskflow-cli-runs");
    let d = dir.path().join("data");
    riskflow_ok(
        &d,
        &strs(&connect_jira_args(sb.sb())),
        &format!("api_token={}\n", creds::JIRA_API_TOKEN),
    );
    let out = riskflow_ok(
        &d,
        &[
            "connections",
            "connect",
            "incydr",
            "--set",
            &format!("url={}", sb.sb().url("incydr")),
            "--set",
            &format!("client_id={}", creds::INCYDR_CLIENT_ID),
            "--set",
            "sink=jira",
        ],
        &format!("client_secret={}\n", creds::INCYDR_CLIENT_SECRET),
    );
    assert!(out.starts_with("Connected to Incydr"), "{out}");

    // A dry run prints its plan and changes nothing outside.
    let out = riskflow_ok(&d, &["run", "alert-tickets", "--dry-run"], "");
    let rec: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(rec["flow"], "alert-tickets");
    assert_eq!(rec["dry_run"], true);
    let plan = rec["plan"].as_array().expect("a plan");
    assert!(!plan.is_empty(), "the plan says what would be done: {out}");
    assert!(
        plan.iter()
            .any(|p| p.as_str().unwrap_or_default().contains("create")),
        "{plan:?}"
    );
    let snapshot = sb.sb().state().snapshot();
    assert!(snapshot.jira_issues.is_empty(), "a dry run creates nothing");

    // The real run acts.
    let out = riskflow_ok(&d, &["run", "alert-tickets"], "");
    let rec: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rec["dry_run"], false);
    let created = rec["counts"]["tickets_created"].as_u64().unwrap_or(0);
    assert!(created > 0, "{out}");
    assert_eq!(sb.sb().state().snapshot().jira_issues.len() as u64, created);
    // A run whose connections are missing is skipped and says why.
    let out = riskflow_ok(&d, &["run", "departing-response"], "");
    let rec: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rec["status"], "skipped");
    assert_eq!(rec["message"], "Okta is not connected");
    let r = riskflow(&d, &["run", "payroll"], "");
    assert!(!r.ok && r.stderr.contains("payroll"), "{}", r.stderr);

    // Runs, newest first, by flow.
    let out = riskflow_ok(&d, &["runs"], "");
    let runs: Value = serde_json::from_str(&out).unwrap();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{out}");
    assert_eq!(runs[0]["flow"], "departing-response");
    let out = riskflow_ok(&d, &["runs", "--flow", "alert-tickets", "--limit", "1"], "");
    let runs: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    assert_eq!(runs["runs"][0]["dry_run"], false, "the newest first");

    // The audit trail as CSV: the header, then one row per outside action.
    let out = riskflow_ok(&d, &["audit", "--format", "csv"], "");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("at,flow,system,action,target,reason,result")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.iter()
            .filter(|r| r.contains(",alert-tickets,jira,create_ticket,"))
            .count() as u64,
        created,
        "{out}"
    );
    let out = riskflow_ok(&d, &["audit"], "");
    let audit: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(audit["entries"].as_array().unwrap().len(), rows.len());
    let out = riskflow_ok(
        &d,
        &[
            "audit",
            "--format",
            "csv",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
        ],
        "",
    );
    assert_eq!(out.trim(), "at,flow,system,action,target,reason,result");
    let r = riskflow(&d, &["audit", "--format", "xml"], "");
    assert!(!r.ok);

    // No failed items.
    let out = riskflow_ok(&d, &["items", "list"], "");
    let items: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(items["items"], serde_json::json!([]));
    let out = riskflow_ok(&d, &["items", "list", "--status", "pending"], "");
    let items: Value = serde_json::from_str(&out).unwrap();
    assert!(items["items"].is_array());
    let r = riskflow(&d, &["items", "retry", "alert-tickets", "nope"], "");
    assert!(!r.ok);
    assert!(
        r.stderr.contains("no work item alert-tickets/nope"),
        "{}",
        r.stderr
    );
}

#[test]
fn dev_records_allow_private_urls_in_the_data_dir_and_starts_with_its_scheduler_off() {
    let sb = BackgroundSandbox::start();
    let dir = TempDir::new("riskflow-cli-private");
    let d = dir.path().join("data");
    let args = connect_jira_args(sb.sb());
    let secret = format!("api_token={}\n", creds::JIRA_API_TOKEN);

    // The sandbox is on loopback: refused without the variable or a recorded choice.
    let r = riskflow_with(&d, &strs(&args), &secret, None);
    assert!(!r.ok, "{}", r.stdout);
    assert!(r.stderr.contains("URL not allowed"), "{}", r.stderr);

    let mut dev = DevServer::start_with(&d, &["--allow-private-urls", "--no-schedule"]);
    dev.wait_for_line("private and loopback hosts allowed", Duration::from_secs(5));
    dev.wait_for_line("scheduler off", Duration::from_secs(5));
    // No run happens until one is started; then exactly that one.
    let runs = dev.request("GET", "/runs", true, None).json();
    assert_eq!(runs["runs"], serde_json::json!([]), "{runs}");
    dev.dry_run("hr-departures");
    let runs = dev.request("GET", "/runs", true, None).json();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");
    drop(dev);

    // Later commands on the data dir honour the recorded choice without the variable.
    let r = riskflow_with(&d, &strs(&args), &secret, None);
    assert!(r.ok, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(listed(&d, "jira").0, "connected");

    // Withdrawn: refused again.
    let dev = DevServer::start_with(&d, &["--allow-private-urls=false", "--no-schedule"]);
    drop(dev);
    assert!(!d.join("allow-private-urls").exists());
    let r = riskflow_with(&d, &strs(&args), &secret, None);
    assert!(!r.ok, "{}", r.stdout);
    assert!(r.stderr.contains("URL not allowed"), "{}", r.stderr);
}
