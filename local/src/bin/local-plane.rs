//! `local-plane --endpoint URL --bin-dir DIR --log-dir DIR [--api-port N]`:
//! runs the deployed system's data plane until Ctrl-C or SIGTERM
//! (`cargo xtask local` starts it).

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    bin_dir: PathBuf,
    #[arg(long)]
    log_dir: PathBuf,
    #[arg(long, default_value_t = 0)]
    api_port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    job_store::init_logging();
    let args = Args::parse();
    let mut options = local_plane::Options::defaults(args.endpoint, args.bin_dir, args.log_dir);
    options.api_port = args.api_port;
    let system = local_plane::LocalSystem::start(options).await?;
    // The first line is read by `cargo xtask local`: keep its shape.
    println!("api http://{}", system.api_addr);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    system.shutdown().await;
    Ok(())
}
