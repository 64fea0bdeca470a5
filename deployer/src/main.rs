//! `deploy`: provision, switch modes and report the on-demand solver
//! pipeline, on AWS or on a local emulator (selected by `AWS_ENDPOINT_URL`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod adopted_queue;
mod apply;
mod artifacts;
mod aws;
mod buckets;
mod cancel;
mod config;
mod console;
mod consumers;
mod cost;
mod destroy;
mod discover;
mod doctor;
mod errors;
mod execute;
mod facts;
mod hotswap;
mod iam_policy;
mod image;
mod logs;
mod plan;
mod pricing;
mod progress;
mod queues;
mod record;
mod report;
mod repository;
mod review;
mod stack;
mod status;
mod template;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "deploy", version, about = "Deploy and operate the on-demand solver pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (missing: every default)
    #[arg(long, global = true, default_value = "deploy.yaml")]
    config: PathBuf,
    /// AWS profile
    #[arg(long, global = true)]
    profile: Option<String>,
    /// AWS region (else AWS_REGION, the profile, or deploy.yaml)
    #[arg(long, global = true)]
    region: Option<String>,
    /// A copy of the whole system beside the others: `-STAGE` ends the stack's and every resource's name (overrides `stage:` in deploy.yaml)
    #[arg(long, global = true, env = "DEPLOY_STAGE")]
    stage: Option<String>,
    /// The worker image (overrides worker.image; an image in this account's ECR is checked and pinned by digest)
    #[arg(long, global = true, env = "DEPLOY_WORKER_IMAGE")]
    image: Option<String>,
    /// Never prompt
    #[arg(long, global = true)]
    yes: bool,
    /// deploy and plan: when only Lambda code changed, update the functions directly instead of through a change set
    #[arg(long, global = true)]
    hotswap: bool,
    /// Print the report as JSON
    #[arg(long, global = true)]
    json: bool,
    /// Directory with solver-api.zip and solver-trigger.zip
    #[arg(long, global = true, env = "DEPLOY_ARTIFACTS", default_value = "dist")]
    artifacts: PathBuf,
    /// Another template instead of the built-in stacks/solver.yaml
    #[arg(long, global = true, hide = true)]
    template: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update the stack, then switch to on-demand mode (the default)
    Apply,
    /// Show the change set and the mode switch, without executing them
    Plan {
        /// Exit 2 when `deploy` would change something, 0 when up to date (1 on error)
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update the worker image's ECR repository (its own stack; one adopted from the old system is left as it is), before the first push
    Repository,
    /// Mode, running tasks, queue depths, legacy service, recent jobs
    Status,
    /// Check what makes jobs fail to start or run (the runbook's troubleshooting list), each with its fix; exit 1 when one fails
    Doctor,
    /// Switch to the legacy polling service: trigger disabled, desired count 1
    Rollback,
    /// A job's log lines in time order: the API's and the trigger's that name it, and every line of each attempt's worker task
    Logs {
        /// The job's run id
        run_id: String,
        /// Keep printing new lines until the job has ended (Ctrl-C stops)
        #[arg(long, short)]
        follow: bool,
        /// From this far back (30d, 12h, 90m); default: a minute before the job was created
        #[arg(long)]
        since: Option<String>,
        /// Also the API's status reads (GET), left out by default
        #[arg(long)]
        reads: bool,
    },
    /// Cancel a job: at once when it has no task yet, else its worker stops and keeps its best schedule
    Cancel {
        /// The job's run id
        run_id: String,
    },
    /// What solving cost over a period (per job, Spot vs on-demand), beside the old polling service's cost
    Cost {
        /// The period back from now: 30d, 12h, 90m
        #[arg(long, default_value = "30d")]
        since: String,
    },
    /// Serve the API's console on 127.0.0.1, forwarding its calls to the Function URL signed with your credentials
    Console {
        /// Local port (0: any free one)
        #[arg(long, default_value_t = 8740)]
        port: u16,
        /// Do not open a browser
        #[arg(long)]
        no_browser: bool,
        /// Forward to this URL instead of the API function's Function URL (the emulator makes none)
        #[arg(long, hide = true)]
        function_url: Option<String>,
    },
    /// Delete the stack (the results bucket is kept unless --delete-results)
    Destroy {
        #[arg(long)]
        delete_results: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print<T: std::fmt::Display + serde::Serialize>(json: bool, report: &T) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = config::Settings::load(&cli.config, cli.stage.as_deref())?;
    if let Some(image) = &cli.image {
        settings.worker_image = Some(image.clone());
    }
    let aws = aws::Aws::connect(cli.profile.as_deref(), cli.region.as_deref(), settings.region.as_deref()).await?;
    let template_body = match &cli.template {
        Some(path) => std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("failed to read template {}: {e}", path.display()))?,
        None => template::SOLVER_TEMPLATE.to_owned(),
    };
    match cli.command.unwrap_or(Command::Apply) {
        Command::Apply => print(cli.json, &apply::deploy(&aws, &settings, &cli.artifacts, &template_body, cli.yes, cli.hotswap).await?),
        Command::Plan { detailed_exitcode } => {
            let report = apply::plan(&aws, &settings, &cli.artifacts, &template_body, cli.hotswap).await?;
            print(cli.json, &report)?;
            return Ok(if detailed_exitcode && report.pending() { ExitCode::from(2) } else { ExitCode::SUCCESS });
        }
        Command::Repository => print(cli.json, &repository::ensure(&aws, &settings).await?),
        Command::Status => print(cli.json, &status::status(&aws, &settings).await?),
        Command::Doctor => {
            let report = doctor::doctor(&aws, &settings).await?;
            print(cli.json, &report)?;
            return Ok(if report.healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Command::Rollback => print(cli.json, &apply::rollback(&aws, &settings).await?),
        Command::Logs { run_id, follow, since, reads } => logs::logs(&aws, &settings, &run_id, since.as_deref(), follow, reads, cli.json).await,
        Command::Cancel { run_id } => print(cli.json, &cancel::cancel(&aws, &settings, &run_id).await?),
        Command::Cost { since } => print(cli.json, &cost::cost(&aws, &settings, &since).await?),
        Command::Console { port, no_browser, function_url } => return console(&aws, &settings, port, no_browser, function_url).await,
        Command::Destroy { delete_results } => {
            confirm(cli.yes, &format!("delete stack {}{}", settings.names.stack, if delete_results { " and its results" } else { "" }))?;
            print(cli.json, &destroy::destroy(&aws, &settings, delete_results).await?)
        }
    }?;
    Ok(ExitCode::SUCCESS)
}

async fn console(aws: &aws::Aws, settings: &config::Settings, port: u16, no_browser: bool, function_url: Option<String>) -> anyhow::Result<ExitCode> {
    let (url, auth) = match function_url {
        Some(url) => (url, "AWS_IAM".to_owned()),
        None => console::function_url(aws, &settings.names.api_function).await?,
    };
    let provider = aws.credentials.clone().ok_or_else(|| anyhow::anyhow!("no AWS credentials to sign the console's calls with"))?;
    let upstream = console::Upstream::new(&url, &aws.region, provider)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port} ({e}): choose another with --port (0 for any free one)"))?;
    let local = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
    println!("console: {local}");
    eprintln!("forwarding to {} signed as {} ({})", upstream.url(), aws.caller, aws.region);
    if auth == "NONE" {
        eprintln!("(this Function URL is public: {url} serves the console directly too)");
    }
    eprintln!("Ctrl-C stops it");
    if !no_browser && std::io::stdout().is_terminal() {
        console::open_browser(&local);
    }
    tokio::select! {
        served = console::serve(listener, upstream) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on a terminal; refuses (rather than hangs or assumes) elsewhere.
pub fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(errors::DeployError::NeedsConfirmation { what: what.into() }.into());
    }
    eprint!("{what}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    anyhow::ensure!(answer.trim().eq_ignore_ascii_case("y"), "not confirmed");
    Ok(())
}
