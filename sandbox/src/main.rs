//! `riskflow-sandbox`: run every fake on one local port.
//!
//! ```text
//! riskflow-sandbox --port 8400 --seed-demo
//! ```
//!
//! With `--seed-demo` the demo data set is loaded, the ADP mutual-TLS listener is started and
//! its certificates are written to `--cert-dir`. The URLs and demo credentials are printed.

use std::path::PathBuf;

use clap::Parser;
use riskflow_sandbox::{Sandbox, creds, seed_demo};

/// Faithful fakes of Incydr, Jira, ServiceNow, Okta, Workday, ADP and BambooHR.
#[derive(Parser, Debug)]
#[command(name = "riskflow-sandbox", version)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 8400, env = "RISKFLOW_SANDBOX_PORT")]
    port: u16,
    /// Load the demo data set (and start the ADP mTLS listener).
    #[arg(long)]
    seed_demo: bool,
    /// Port of the ADP mutual-TLS listener (0 = any); starting it without `--seed-demo`
    /// needs this flag.
    #[arg(long)]
    adp_mtls_port: Option<u16>,
    /// Where to write the ADP demo CA, client certificate and key.
    #[arg(long, default_value = "sandbox-certs")]
    cert_dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let mut sandbox = Sandbox::start(args.port).await?;
    if args.seed_demo {
        seed_demo(&sandbox.state());
    }
    let mut mtls = None;
    if args.seed_demo || args.adp_mtls_port.is_some() {
        let url = sandbox
            .start_adp_mtls(args.adp_mtls_port.unwrap_or(0))
            .await?;
        if let Some(material) = sandbox.state().adp_tls() {
            material.write_to_dir(&args.cert_dir)?;
        }
        mtls = Some(url);
    }

    println!("riskflow sandbox listening on {}", sandbox.base_url());
    println!();
    println!(
        "  Incydr      {}  (also at the root: {}/v1/...)",
        sandbox.url("incydr"),
        sandbox.base_url()
    );
    println!(
        "              API client {} / {}",
        creds::INCYDR_CLIENT_ID,
        creds::INCYDR_CLIENT_SECRET
    );
    println!("  Jira        {}", sandbox.url("jira"));
    println!(
        "              {} / {}  (project SEC)",
        creds::JIRA_EMAIL,
        creds::JIRA_API_TOKEN
    );
    println!(
        "              scoped token {}: through the gateway {}/ex/jira/{}",
        creds::JIRA_SCOPED_API_TOKEN,
        sandbox.url("jira"),
        riskflow_sandbox::jira::CLOUD_ID
    );
    println!("  ServiceNow  {}", sandbox.url("servicenow"));
    println!(
        "              {} / {}",
        creds::SERVICENOW_USER,
        creds::SERVICENOW_PASSWORD
    );
    println!("  Okta        {}", sandbox.url("okta"));
    println!("              SSWS {}", creds::OKTA_API_TOKEN);
    println!(
        "  Workday     {}/ccx/service/customreport2/sandbox/ISU_demo/Terminations?format=json",
        sandbox.url("workday")
    );
    println!(
        "              {}@sandbox / {}",
        creds::WORKDAY_USER,
        creds::WORKDAY_PASSWORD
    );
    println!("  ADP         {}", sandbox.url("adp"));
    if let Some(url) = &mtls {
        println!(
            "              mutual TLS: {url}  (certificates in {})",
            args.cert_dir.display()
        );
    }
    println!(
        "              client {} / {}",
        creds::ADP_CLIENT_ID,
        creds::ADP_CLIENT_SECRET
    );
    println!("  BambooHR    {}", sandbox.url("bamboohr"));
    println!(
        "              API key {} (password x), webhook key {}",
        creds::BAMBOOHR_API_KEY,
        creds::BAMBOOHR_WEBHOOK_KEY
    );
    println!("  Control     {}/_control/state", sandbox.base_url());
    if args.seed_demo {
        println!();
        println!(
            "  demo data loaded (departing employee: {})",
            riskflow_sandbox::DEPARTING_EMAIL
        );
    }

    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
