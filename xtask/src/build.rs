//! Release builds packaged as the deployer expects them in `dist/`:
//! `solver-api.zip` and `solver-trigger.zip` (each a `bootstrap` for the
//! `provided.al2023` runtime) and the `solver-worker` binary, linked with
//! cargo-zigbuild against glibc 2.34 whatever the build machine's glibc
//! (Zig's toolchain comes from PyPI, in the tools venv); and `deploy`, for
//! the machine that runs it.

use crate::{cargo, cargo_like, python, root, run_checked, target_dir};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Debug, Clone)]
// Its own group id: flattened into `deploy::Args`, two groups named `Args`
// made clap panic on `cargo xtask deploy`'s first line.
#[group(id = "build_args")]
pub struct Args {
    /// Target architecture: x86_64, or arm64 (Graviton, about 20% cheaper) where its Rust target is installed
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// The debug profile instead of release (quicker; the build test uses it)
    #[arg(long, hide = true)]
    pub dev: bool,
    /// Where the artifacts go (default: dist/ in the repository)
    #[arg(long, hide = true)]
    pub out: Option<PathBuf>,
}

pub struct Artifacts {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
}

/// glibc of Amazon Linux 2023 (`provided.al2023`): a binary needing newer
/// symbols would fail at Lambda start-up, not here.
const AL2023_GLIBC: (u32, u32) = (2, 34);

/// The programs that run on AWS (Lambda's `provided.al2023`, the worker image).
const RUNTIME_PACKAGES: [&str; 3] = ["solver-api", "solver-trigger", "solver-worker"];

pub fn run(args: &Args) -> anyhow::Result<Artifacts> {
    let triple = match args.arch.as_str() {
        "x86_64" => "x86_64-unknown-linux-gnu",
        "arm64" | "aarch64" => "aarch64-unknown-linux-gnu",
        other => anyhow::bail!("unknown architecture {other}: use x86_64 or arm64"),
    };
    // Before anything is built: a missing standard library would fail late.
    check_target_installed(triple)?;
    let host = host_triple()?;
    python::ensure()?;
    let profile = if args.dev { "debug" } else { "release" };
    let profile_args: &[&str] = if args.dev { &[] } else { &["--release"] };
    // cargo-zigbuild reads the glibc version from the target's suffix and
    // finds Zig as `python3 -m ziglang`: the venv's Python comes first.
    let path = std::env::join_paths(std::iter::once(python::venv().join("bin")).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))?;
    let mut zigbuild = cargo_like(python::bin("cargo-zigbuild"));
    zigbuild.arg("build").args(profile_args).args(["--target", &format!("{triple}.{}.{}", AL2023_GLIBC.0, AL2023_GLIBC.1)]).env("PATH", &path);
    for package in RUNTIME_PACKAGES {
        zigbuild.args(["-p", package]);
    }
    // On a machine of the target's architecture `deploy` is built with the
    // rest (one build of the SDK; an older glibc runs on a newer one).
    let deploy_with_the_rest = host == triple;
    if deploy_with_the_rest {
        zigbuild.args(["-p", "deployer"]);
    }
    run_checked(&mut zigbuild).with_context(|| format!("{profile} build for {triple} (glibc {}.{}) failed", AL2023_GLIBC.0, AL2023_GLIBC.1))?;
    let built = target_dir().join(triple).join(profile);
    let bin_dir = if deploy_with_the_rest {
        built.clone()
    } else {
        run_checked(cargo().args(["build"]).args(profile_args).args(["-p", "deployer"])).context("building deploy for this machine failed")?;
        target_dir().join(profile)
    };
    let dist = args.out.clone().unwrap_or_else(|| root().join("dist"));
    std::fs::create_dir_all(&dist)?;
    for name in RUNTIME_PACKAGES {
        check_glibc(&built.join(name))?;
    }
    for name in ["solver-api", "solver-trigger"] {
        let zip_path = dist.join(format!("{name}.zip"));
        zip_bootstrap(&built.join(name), &zip_path)?;
        eprintln!("built {}", zip_path.display());
    }
    std::fs::copy(built.join("solver-worker"), dist.join("solver-worker"))?;
    std::fs::write(dist.join("arch"), &args.arch)?;
    Ok(Artifacts { dir: dist, bin_dir })
}

/// The Rust target this machine builds for by default (`rustc -vV`'s host).
fn host_triple() -> anyhow::Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned).context("rustc -vV printed no host")
}

/// The target's standard library is installed (cross-linking is Zig's job).
fn check_target_installed(triple: &str) -> anyhow::Result<()> {
    let out = Command::new("rustc").args(["--print", "target-libdir", "--target", triple]).output().context("running rustc")?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let has_std = std::fs::read_dir(&libdir).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-"))));
    anyhow::ensure!(has_std, "{triple} cannot be built on this machine: its Rust standard library is not installed (rustup target add {triple}); nothing was built");
    Ok(())
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
fn check_glibc(binary: &Path) -> anyhow::Result<()> {
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
        "{} needs glibc {}.{}, newer than provided.al2023's {}.{}: the zigbuild did not take the target's glibc suffix",
        binary.display(),
        highest.0,
        highest.1,
        AL2023_GLIBC.0,
        AL2023_GLIBC.1
    );
    Ok(())
}
