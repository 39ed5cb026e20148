//! The local commands: each builds the same environment `riskflow dev` uses (SQLite state and
//! file secrets in the data dir) and calls the same handlers the API serves.

use crate::Command;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Subcommand;
use http::{HeaderMap, HeaderValue, Method};
use riskflow::api::ApiRequest;
use riskflow::api::connections::{ConnectionsApi, RunStarter};
use riskflow::app::App;
use riskflow::connectors::fields;
use riskflow::domain::{ConnectionKind, Flow};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum ConnectionsCmd {
    /// Every connection with its status.
    List,
    /// Connect a system: settings with --set key=value; secret fields are read from standard
    /// input (`key=value` lines) or asked for, never taken from the command line.
    Connect {
        kind: String,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Delete the secret; the settings stay and the entry stays listed.
    Disconnect { kind: String },
    /// Verify the stored credentials again.
    Test { kind: String },
}

#[derive(Subcommand)]
pub enum ItemsCmd {
    /// Failed (or pending) work items with their last error.
    List {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, default_value = "failed", value_parser = ["failed", "pending"])]
        status: String,
    },
    /// Put a failed item back to pending, so the next run processes it again.
    Retry { flow: String, key: String },
}

/// Local runs are started in this process and waited for.
struct InlineRunner {
    env: App,
}

#[async_trait::async_trait]
impl RunStarter for InlineRunner {
    async fn start(&self, flow: Flow, dry_run: bool) -> Result<String, String> {
        let rec = self
            .env
            .run_flow(flow, dry_run, Instant::now() + Duration::from_secs(900))
            .await;
        Ok(format!("{} finished: {:?}", flow, rec.status))
    }
}

/// The file in a data dir recording `riskflow dev --allow-private-urls`: while it exists every
/// command on that data dir may reach private and loopback hosts (a test double, an
/// on-premises proxy) without `RISKFLOW_ALLOW_PRIVATE_URLS`.
pub const ALLOW_PRIVATE_FILE: &str = "allow-private-urls";

/// Whether commands on `data_dir` may reach private hosts: `RISKFLOW_ALLOW_PRIVATE_URLS=true`,
/// or the choice recorded in the data dir. Only the local CLI reads the data dir; a Lambda
/// never does (and refuses the variable: `riskflow::config`).
pub fn allows_private_urls(data_dir: &Path) -> Result<bool> {
    let from_env = riskflow::config::parse_bool(
        "RISKFLOW_ALLOW_PRIVATE_URLS",
        std::env::var("RISKFLOW_ALLOW_PRIVATE_URLS").ok().as_deref(),
    )?;
    Ok(from_env || data_dir.join(ALLOW_PRIVATE_FILE).is_file())
}

/// Record (or withdraw) the private-URL choice in `data_dir`, which must exist.
pub fn record_private_urls(data_dir: &Path, allow: bool) -> Result<()> {
    let path = data_dir.join(ALLOW_PRIVATE_FILE);
    if allow {
        std::fs::write(
            &path,
            "Written by `riskflow dev --allow-private-urls`: commands on this data dir may reach \
             private and loopback hosts. `riskflow dev --allow-private-urls=false` removes it.\n",
        )
        .with_context(|| format!("writing {}", path.display()))
    } else {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }
}

pub fn open_env(data_dir: &Path) -> Result<App> {
    App::local(data_dir, allows_private_urls(data_dir)?).map_err(|e| anyhow!(e))
}

pub fn api(env: &App) -> ConnectionsApi {
    env.connections_api(Arc::new(InlineRunner { env: env.clone() }))
}

fn request(
    method: Method,
    path: &str,
    body: Option<Value>,
    query: BTreeMap<String, String>,
) -> ApiRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    ApiRequest {
        method,
        path: path.to_string(),
        query,
        headers,
        body: body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
        principal: "local".into(),
    }
}

/// Where requests go: the handlers in-process (local data dir) or a deployed API.
pub enum Target<'a> {
    Local(&'a ConnectionsApi),
    Remote(&'a crate::remote::Remote),
}

/// Call a route; a non-2xx answer becomes an error with the API's message.
async fn call(target: &Target<'_>, req: ApiRequest) -> Result<Value> {
    let (status, body) = match target {
        Target::Local(api) => {
            let resp = api.handle(req).await;
            (resp.status.as_u16(), resp.body)
        }
        Target::Remote(r) => r.send(&req).await?,
    };
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(anyhow!(
            "{} ({status})",
            body["message"].as_str().unwrap_or("request failed")
        ))
    }
}

/// The commands that work against a deployed API.
pub async fn run_remote(api_url: &str, cmd: Command) -> Result<()> {
    let remote = crate::remote::Remote::new(api_url).await?;
    let target = Target::Remote(&remote);
    match cmd {
        Command::Connections(c) => connections(&target, c).await,
        Command::Runs { flow, limit } => runs(&target, flow, limit).await,
        Command::Audit { from, to, format } => audit(&target, from, to, &format).await,
        Command::Run { flow, dry_run } => {
            flow.parse::<Flow>().map_err(|e| anyhow!("{e}"))?;
            let v = call(
                &target,
                request(
                    Method::POST,
                    &format!("/runs/{flow}"),
                    Some(json!({ "dry_run": dry_run })),
                    BTreeMap::new(),
                ),
            )
            .await?;
            println!("{}", v["message"].as_str().unwrap_or("started"));
            Ok(())
        }
        Command::Items(c) => items(&target, c).await,
        Command::Containments { closed } => containments(&target, closed).await,
        Command::Undo { id, note } => undo(&target, &id, note).await,
        Command::Backfill { .. } => Err(anyhow!(
            "`backfill` works on a local data dir only (on AWS, see infra/docs/runbook.md)"
        )),
        Command::Dev(_) => unreachable!("handled in main"),
    }
}

fn parse_kind(s: &str) -> Result<ConnectionKind> {
    s.parse::<ConnectionKind>().map_err(|e| anyhow!(e))
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub async fn run(data_dir: &Path, cmd: Command) -> Result<()> {
    let env = open_env(data_dir)?;
    let api = api(&env);
    match cmd {
        Command::Dev(_) => unreachable!("handled in main"),
        Command::Run { flow, dry_run } => {
            let flow: Flow = flow.parse().map_err(|e| anyhow!("{e}"))?;
            let rec = env
                .run_flow(flow, dry_run, Instant::now() + Duration::from_secs(900))
                .await;
            print(&riskflow::api::connections::run_view(&rec));
            if rec.status == riskflow::domain::RunStatus::Failed {
                bail!("the run failed");
            }
        }
        Command::Connections(c) => connections(&Target::Local(&api), c).await?,
        Command::Runs { flow, limit } => runs(&Target::Local(&api), flow, limit).await?,
        Command::Audit { from, to, format } => {
            audit(&Target::Local(&api), from, to, &format).await?
        }
        Command::Items(c) => items(&Target::Local(&api), c).await?,
        Command::Containments { closed } => containments(&Target::Local(&api), closed).await?,
        Command::Undo { id, note } => undo(&Target::Local(&api), &id, note).await?,
        Command::Backfill { from, to, dry_run } => backfill(&env, &from, &to, dry_run).await?,
    }
    Ok(())
}

async fn runs(target: &Target<'_>, flow: Option<String>, limit: usize) -> Result<()> {
    let mut q = BTreeMap::new();
    q.insert("limit".to_string(), limit.to_string());
    if let Some(f) = flow {
        q.insert("flow".into(), f);
    }
    print(&call(target, request(Method::GET, "/runs", None, q)).await?);
    Ok(())
}

async fn audit(
    target: &Target<'_>,
    from: Option<String>,
    to: Option<String>,
    format: &str,
) -> Result<()> {
    let mut q = BTreeMap::new();
    if let Some(f) = from {
        q.insert("from".to_string(), f);
    }
    if let Some(t) = to {
        q.insert("to".to_string(), t);
    }
    q.insert("limit".into(), "1000".into());
    let mut entries = Vec::new();
    loop {
        let page = call(target, request(Method::GET, "/audit", None, q.clone())).await?;
        entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => {
                q.insert("cursor".into(), n.to_string());
            }
            None => break,
        }
    }
    if format == "csv" {
        println!("at,flow,system,action,target,reason,result");
        for e in &entries {
            let cols: Vec<String> = [
                "at", "flow", "system", "action", "target", "reason", "result",
            ]
            .iter()
            .map(|k| csv_field(e[*k].as_str().unwrap_or("")))
            .collect();
            println!("{}", cols.join(","));
        }
    } else {
        print(&json!({ "entries": entries }));
    }
    Ok(())
}

/// A CSV field, quoted when needed (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn connections(api: &Target<'_>, c: ConnectionsCmd) -> Result<()> {
    match c {
        ConnectionsCmd::List => {
            let v = call(
                api,
                request(Method::GET, "/connections", None, BTreeMap::new()),
            )
            .await?;
            for conn in v["connections"].as_array().into_iter().flatten() {
                println!(
                    "{:<11} {:<16} {}",
                    conn["kind"].as_str().unwrap_or(""),
                    conn["status"].as_str().unwrap_or(""),
                    conn["message"].as_str().unwrap_or("")
                );
            }
        }
        ConnectionsCmd::Connect { kind, set } => {
            let k = parse_kind(&kind)?;
            let mut body = Map::new();
            for pair in &set {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set takes key=value, got '{pair}'"))?;
                if fields(k).iter().any(|f| f.name == key && f.secret) {
                    bail!(
                        "'{key}' is a secret: give it on standard input (key=value), not on the command line"
                    );
                }
                body.insert(key.to_string(), Value::String(value.to_string()));
            }
            for (key, value) in read_secrets(k)? {
                body.insert(key, Value::String(value));
            }
            let v = call(
                api,
                request(
                    Method::PUT,
                    &format!("/connections/{kind}"),
                    Some(Value::Object(body)),
                    BTreeMap::new(),
                ),
            )
            .await?;
            println!("{}", v["message"].as_str().unwrap_or("connected"));
        }
        ConnectionsCmd::Disconnect { kind } => {
            parse_kind(&kind)?;
            let v = call(
                api,
                request(
                    Method::DELETE,
                    &format!("/connections/{kind}"),
                    None,
                    BTreeMap::new(),
                ),
            )
            .await?;
            println!("{}", v["message"].as_str().unwrap_or("disconnected"));
        }
        ConnectionsCmd::Test { kind } => {
            parse_kind(&kind)?;
            let v = call(
                api,
                request(
                    Method::POST,
                    &format!("/connections/{kind}/test"),
                    None,
                    BTreeMap::new(),
                ),
            )
            .await?;
            println!("{}", v["message"].as_str().unwrap_or("ok"));
        }
    }
    Ok(())
}

/// Secret fields: `key=value` lines on standard input, or a prompt per field on a terminal
/// (typed with echo off).
fn read_secrets(kind: ConnectionKind) -> Result<Vec<(String, String)>> {
    let secret_fields: Vec<_> = fields(kind).iter().filter(|f| f.secret).collect();
    let stdin = std::io::stdin();
    let mut out = Vec::new();
    if stdin.is_terminal() {
        for f in secret_fields {
            eprint!(
                "{}{}: ",
                f.label,
                if f.required {
                    ""
                } else {
                    " (optional, Enter to skip)"
                }
            );
            std::io::stderr().flush().ok();
            // From the terminal with echo off: the secret never shows on screen.
            let v = rpassword::read_password().context("reading a secret from the terminal")?;
            if !v.is_empty() {
                out.push((f.name.to_string(), v));
            }
        }
        return Ok(out);
    }
    let mut buf = String::new();
    let mut pending: Option<(String, String)> = None;
    for line in stdin.lock().lines() {
        let line = line.context("reading secrets from standard input")?;
        buf.push_str(&line);
        buf.push('\n');
        // A PEM value runs over several lines: lines without `=` continue the previous value.
        match line.split_once('=') {
            Some((k, v)) if secret_fields.iter().any(|f| f.name == k.trim()) => {
                if let Some(p) = pending.take() {
                    out.push(p);
                }
                pending = Some((k.trim().to_string(), v.to_string()));
            }
            _ => match &mut pending {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(&line);
                }
                None if line.trim().is_empty() => {}
                None => bail!(
                    "standard input must hold key=value lines for the secret fields of {kind}: {}",
                    secret_fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
    if let Some(p) = pending.take() {
        out.push(p);
    }
    Ok(out)
}

/// `items list` / `items retry`, through the API routes (in-process locally, signed remotely).
async fn items(target: &Target<'_>, c: ItemsCmd) -> Result<()> {
    match c {
        ItemsCmd::List { flow, status } => {
            let mut rows: Vec<Value> = Vec::new();
            let flows: Vec<String> = match flow {
                Some(f) => {
                    f.parse::<Flow>().map_err(|e| anyhow!("{e}"))?;
                    vec![f]
                }
                None => Flow::ALL.iter().map(|f| f.as_str().to_string()).collect(),
            };
            for f in flows {
                let mut cursor: Option<String> = None;
                loop {
                    let mut q = BTreeMap::new();
                    q.insert("flow".to_string(), f.clone());
                    q.insert("status".to_string(), status.clone());
                    q.insert("limit".to_string(), "500".to_string());
                    if let Some(c) = &cursor {
                        q.insert("cursor".to_string(), c.clone());
                    }
                    let page = call(target, request(Method::GET, "/items", None, q)).await?;
                    rows.extend(page["items"].as_array().cloned().unwrap_or_default());
                    match page["next"].as_str() {
                        Some(n) => cursor = Some(n.to_string()),
                        None => break,
                    }
                }
            }
            print(&json!({ "items": rows }));
        }
        ItemsCmd::Retry { flow, key } => {
            flow.parse::<Flow>().map_err(|e| anyhow!("{e}"))?;
            let v = call(
                target,
                request(
                    Method::POST,
                    &format!("/items/{flow}/retry"),
                    Some(json!({ "key": key })),
                    BTreeMap::new(),
                ),
            )
            .await?;
            println!("{}", v["message"].as_str().unwrap_or("pending again"));
        }
    }
    Ok(())
}

/// `containments`: every page of open (or closed) containments.
async fn containments(target: &Target<'_>, closed: bool) -> Result<()> {
    let mut rows: Vec<Value> = Vec::new();
    let mut q = BTreeMap::new();
    q.insert(
        "status".to_string(),
        if closed { "closed" } else { "open" }.to_string(),
    );
    q.insert("limit".to_string(), "500".to_string());
    loop {
        let page = call(
            target,
            request(Method::GET, "/containments", None, q.clone()),
        )
        .await?;
        rows.extend(page["containments"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => {
                q.insert("cursor".to_string(), n.to_string());
            }
            None => break,
        }
    }
    print(&json!({ "containments": rows }));
    Ok(())
}

/// `undo <id>`: record the request (the departing-response job carries it out).
async fn undo(target: &Target<'_>, id: &str, note: Option<String>) -> Result<()> {
    let body = note
        .map(|n| json!({ "note": n }))
        .unwrap_or_else(|| json!({}));
    let path = format!("/containments/{}/undo", riskflow::http::path_segment(id));
    let v = call(
        target,
        request(Method::POST, &path, Some(body), BTreeMap::new()),
    )
    .await?;
    println!("{}", v["message"].as_str().unwrap_or("undo requested"));
    Ok(())
}

async fn backfill(env: &App, from: &str, to: &str, dry_run: bool) -> Result<()> {
    let from_ms = riskflow::api::parse_time("from", from)
        .map_err(|e| anyhow!(e.message().unwrap_or("bad --from").to_string()))?;
    let to_ms = riskflow::api::parse_time("to", to)
        .map_err(|e| anyhow!(e.message().unwrap_or("bad --to").to_string()))?;
    if from_ms >= to_ms {
        bail!("--from must be before --to");
    }
    const DAY: i64 = 86_400_000;
    let pk = format!("backfill#{from_ms}#{to_ms}");
    let now = riskflow::clock::now_ms();
    let mut at = match env.store.get_doc(&pk, "progress", now).await? {
        Some(p) if !dry_run => p["done_until"].as_i64().unwrap_or(from_ms),
        _ => from_ms,
    };
    if at > from_ms {
        eprintln!("resuming at {}", riskflow::clock::rfc3339_of_ms(at));
    }
    let total = ((to_ms - from_ms) + DAY - 1) / DAY;
    while at < to_ms {
        let end = (at + DAY).min(to_ms);
        let done = (at - from_ms) / DAY;
        let bar_len = 30usize;
        let filled = ((done as f64 / total.max(1) as f64) * bar_len as f64) as usize;
        eprint!(
            "\r[{}{}] {}/{} days  {} ",
            "#".repeat(filled),
            "-".repeat(bar_len - filled),
            done,
            total,
            riskflow::clock::date_of_ms(at)
        );
        let rec = env
            .backfill(at, end, dry_run, Instant::now() + Duration::from_secs(900))
            .await;
        match rec.status {
            riskflow::domain::RunStatus::Failed | riskflow::domain::RunStatus::Skipped => {
                eprintln!();
                bail!(
                    "stopped at {}: {}",
                    riskflow::clock::rfc3339_of_ms(at),
                    rec.message.clone().unwrap_or_else(|| rec.errors.join("; "))
                );
            }
            _ => {}
        }
        if dry_run {
            for line in &rec.plan {
                eprintln!("\n  would {line}");
            }
        } else {
            env.store
                .put_doc(&pk, "progress", &json!({"done_until": end}))
                .await?;
        }
        at = end;
    }
    eprintln!("\r[{}] {}/{} days  done", "#".repeat(30), total, total);
    Ok(())
}
