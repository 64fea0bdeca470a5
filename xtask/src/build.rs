//! Release builds packaged as the deployer expects them in `dist/`:
//! `solver-api.zip` and `solver-trigger.zip` (each a `bootstrap` for the
//! `provided.al2023` runtime) and the `solver-worker` binary.

use crate::{cargo, root, run_checked, target_dir};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
// Its own group id: flattened into `deploy::Args`, two groups named `Args`
// made clap panic on `cargo xtask deploy`'s first line.
#[group(id = "build_args")]
pub struct Args {
    /// Target architecture: x86_64, or arm64 (Graviton, about 20% cheaper) where its Rust target is installed
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
}

pub struct Artifacts {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
}

/// glibc of Amazon Linux 2023 (`provided.al2023`): a binary needing newer
/// symbols would fail at Lambda start-up, not here.
const AL2023_GLIBC: (u32, u32) = (2, 34);

pub fn run(args: &Args) -> anyhow::Result<Artifacts> {
    let triple = match args.arch.as_str() {
        "x86_64" => "x86_64-unknown-linux-gnu",
        "arm64" | "aarch64" => "aarch64-unknown-linux-gnu",
        other => anyhow::bail!("unknown architecture {other}: use x86_64 or arm64"),
    };
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", triple, "-p", "solver-api", "-p", "solver-trigger", "-p", "solver-worker", "-p", "deployer"]);
    run_checked(&mut cmd).with_context(|| format!("release build for {triple} failed (for arm64: rustup target add aarch64-unknown-linux-gnu and a cross linker)"))?;
    let built = target_dir().join(triple).join("release");
    let dist = root().join("dist");
    std::fs::create_dir_all(&dist)?;
    for name in ["solver-api", "solver-trigger"] {
        let binary = built.join(name);
        check_glibc(&binary)?;
        let zip_path = dist.join(format!("{name}.zip"));
        zip_bootstrap(&binary, &zip_path)?;
        eprintln!("built {}", zip_path.display());
    }
    std::fs::copy(built.join("solver-worker"), dist.join("solver-worker"))?;
    std::fs::write(dist.join("arch"), &args.arch)?;
    Ok(Artifacts { dir: dist, bin_dir: built })
}

/// A Lambda zip for `provided.al2023`: the program as `bootstrap`, executable.
pub fn zip_bootstrap(binary: &std::path::Path, zip_path: &std::path::Path) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(zip_path)?);
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755).compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?)?;
    zip.finish()?;
    Ok(())
}

/// The highest `GLIBC_x.y` a binary asks for, read from its bytes.
fn check_glibc(binary: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let mut highest = (0, 0);
    for window in bytes.windows(6).enumerate().filter(|(_, w)| w == b"GLIBC_").map(|(i, _)| i) {
        let rest = &bytes[window + 6..bytes.len().min(window + 16)];
        let text: String = rest.iter().take_while(|b| b.is_ascii_digit() || **b == b'.').map(|&b| b as char).collect();
        let mut parts = text.split('.').filter_map(|p| p.parse::<u32>().ok());
        if let (Some(a), Some(b)) = (parts.next(), parts.next()) {
            highest = highest.max((a, b));
        }
    }
    anyhow::ensure!(
        highest <= AL2023_GLIBC,
        "{} needs glibc {}.{}, newer than provided.al2023's {}.{}: build on an older distribution or use cargo-zigbuild",
        binary.display(),
        highest.0,
        highest.1,
        AL2023_GLIBC.0,
        AL2023_GLIBC.1
    );
    Ok(())
}
