//! `riskflow`: run riskflow on one machine (`riskflow dev`), run a flow, manage connections,
//! read runs and the audit trail, retry failed items and backfill, against the local data dir.

mod commands;
mod dev;
mod remote;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "riskflow",
    version,
    about = "Automated insider-risk integrations for Code42 Incydr"
)]
struct Cli {
    /// Where local state (SQLite) and secrets (a 0600 file) live; created 0700.
    #[arg(
        long,
        global = true,
        env = "RISKFLOW_DATA_DIR",
        default_value = ".riskflow"
    )]
    data_dir: PathBuf,
    /// A deployed riskflow API (the Terraform output `api_url`): `connections`, `runs`,
    /// `audit` and `run` go there, signed with SigV4 from the standard AWS credential chain.
    #[arg(long, global = true, env = "RISKFLOW_API_URL")]
    api_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the HR webhook and the Data Sources page on 127.0.0.1 and run the
    /// jobs on a timer, with local state.
    Dev(dev::DevArgs),
    /// Run one flow now: alert-tickets, hr-departures, departing-response or state-sync.
    Run {
        flow: String,
        /// Read everything, change nothing outside, report what would be done.
        #[arg(long)]
        dry_run: bool,
    },
    /// Connect, list, test and disconnect systems.
    #[command(subcommand)]
    Connections(commands::ConnectionsCmd),
    /// Recent runs of the flows.
    Runs {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The audit trail of outside actions.
    Audit {
        /// Start (YYYY-MM-DD, RFC 3339 or epoch ms); default: 24 hours before --to.
        #[arg(long)]
        from: Option<String>,
        /// End (exclusive); default: now.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
        format: String,
    },
    /// Work items that failed: list them, or retry one.
    #[command(subcommand)]
    Items(commands::ItemsCmd),
    /// What riskflow changed to restrict people (Okta group adds): open ones, or --closed.
    Containments {
        /// Closed ones (undone, kept, not reversible), the most recent first.
        #[arg(long)]
        closed: bool,
    },
    /// Undo a containment (an id from `riskflow containments`): the next departing-response
    /// run removes the person from the group, if riskflow added them.
    Undo {
        id: String,
        /// Why, kept with the request and in the audit trail.
        #[arg(long)]
        note: Option<String>,
    },
    /// Ticket alerts of sessions that began between --from and --to (older than the lookback),
    /// a day at a time, resuming where an earlier backfill of the same range stopped.
    Backfill {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RISKFLOW_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev::run(&cli.data_dir, args).await,
        other => match &cli.api_url {
            Some(url) => commands::run_remote(url, other).await,
            None => commands::run(&cli.data_dir, other).await,
        },
    };
    if let Err(e) = result {
        eprintln!("riskflow: {e:#}");
        std::process::exit(1);
    }
}
