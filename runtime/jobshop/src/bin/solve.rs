//! `solve FILE [--format orlib|fjs] --time-limit SECONDS [--threads N] [--seed S] [--json] [--progress]`

use anyhow::Context;
use clap::Parser;
use job_model::{FlexibleJobShop, JobShop, Problem};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Solve a job-shop (OR-Library standard format) or flexible job-shop (fjs) instance and print the makespan")]
struct Args {
    /// Instance file, in the format --format names
    file: std::path::PathBuf,
    /// `orlib` (job-shop, OR-Library "standard") or `fjs` (flexible job-shop)
    #[arg(long, value_enum, default_value_t = Format::Orlib)]
    format: Format,
    /// Stop after this many seconds
    #[arg(long, default_value_t = 10.0)]
    time_limit: f64,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the full result document (DESIGN.md), schedule included
    #[arg(long)]
    json: bool,
    /// Print each improvement to stderr as it is found, one JSON object per line
    #[arg(long)]
    progress: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Orlib,
    Fjs,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.time_limit > 0.0 && args.time_limit.is_finite(), "--time-limit must be a positive number of seconds");
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("failed to read {}", args.file.display()))?;
    let problem = match args.format {
        Format::Orlib => JobShop::parse_orlib(&text).map(Problem::JobShop),
        Format::Fjs => FlexibleJobShop::parse_fjs(&text).map(Problem::Flexible),
    }
    .with_context(|| format!("{} is not a valid instance", args.file.display()))?;
    let params = jobshop::Params { time_limit: Duration::from_secs_f64(args.time_limit), threads: args.threads, seed: args.seed };
    let time_to_best = Mutex::new(0.0);
    let on_improve = |imp: jobshop::Improvement| {
        *time_to_best.lock().expect("not poisoned") = imp.elapsed_s;
        if args.progress {
            eprintln!(r#"{{"makespan":{},"lower_bound":{},"elapsed_s":{:.4}}}"#, imp.makespan, imp.lower_bound, imp.elapsed_s);
        }
    };
    let stop = AtomicBool::new(false);
    let result = match &problem {
        Problem::JobShop(p) => jobshop::solve(p, &params, &stop, &on_improve),
        Problem::Flexible(p) => jobshop::flexible::solve(p, &params, &stop, &on_improve),
    };
    problem.check(&result).context("internal error: the solver produced an invalid schedule")?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        let t = *time_to_best.lock().expect("not poisoned");
        println!("makespan {} lower_bound {} optimal {} time_to_best {:.3}s elapsed {:.3}s", result.makespan, result.lower_bound, result.optimal, t, result.solver.elapsed_s);
    }
    Ok(())
}
