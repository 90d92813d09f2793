//! Command-line arguments. Parsing only: no I/O happens here.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run a project's tests inside QEMU VMs booted with real Linux kernels.
#[derive(Debug, Parser)]
#[command(name = "kmatrix", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a program (with arguments) inside each kernel of the matrix.
    Run(RunArgs),
    /// Build a Rust workspace's tests and run each test in each kernel of the matrix.
    Test(TestArgs),
    /// Build the same tests and run them on this machine's own kernel.
    Local(LocalArgs),
    /// Resolve, download or list kernels.
    #[command(subcommand)]
    Kernel(KernelCommand),
    /// List or prune the cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Print the kernel matrix for a CI system's own parallelism.
    Matrix(MatrixArgs),
    /// Work with JSON reports.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// `kmatrix cache ...`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List extracted kernels, packages, indexes and logs with their sizes.
    List(CacheArgs),
    /// Remove leftovers of interrupted writes and entries unused for a while.
    Prune(PruneArgs),
}

/// Arguments of `kmatrix cache prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove entries not used for this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub older_than: u64,
    /// Remove everything.
    #[arg(long, conflicts_with = "older_than")]
    pub all: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// `--format` of `kmatrix matrix`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MatrixFormat {
    /// `{"kernel": [...]}` (or `{"shard": [...]}` with --shards), for `strategy.matrix` via `fromJSON`.
    Github,
    /// One entry per line.
    Plain,
}

/// Arguments of `kmatrix matrix`.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Kernels of the matrix. Default: the built-in matrix (or the config file's).
    #[arg(long = "kernel", short = 'k', value_name = "SPEC")]
    pub kernels: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "github")]
    pub format: MatrixFormat,
    /// Print N shard names (`1/N` ... `N/N`) instead of the kernels.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
}

/// `kmatrix report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of shards into one summary, one JSON and one JUnit report.
    Merge(MergeArgs),
}

/// Arguments of `kmatrix report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports written with --json by each shard.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `kmatrix kernel ...`
#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// Print what each spec resolves to (release, package, version, suite, SHA-256).
    Resolve(KernelArgs),
    /// Download (and verify) each spec's kernel packages into the cache.
    Fetch(KernelArgs),
    /// List the kernels extracted in the cache.
    List(CacheArgs),
    /// Resolve specs again and rewrite their pins in the lock file.
    Update(UpdateArgs),
}

/// Arguments of `kernel update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Specs to update (default: every spec pinned in the lock file).
    pub specs: Vec<String>,
    /// The lock file (default: kmatrix.lock next to kmatrix.toml).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Arguments of `kernel resolve` and `kernel fetch`.
#[derive(Debug, Args)]
pub struct KernelArgs {
    /// Kernel specs (`debian:6.1`, `debian:6.12:arm64`, `debian:6.1.0-57`). Default: the built-in matrix.
    pub specs: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Where kernels come from and are kept.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Debian archive URL (default: the Debian mirror in this machine's apt sources).
    #[arg(long, env = "KMATRIX_MIRROR", value_name = "URL")]
    pub mirror: Option<String>,
    /// OpenPGP keyring that must have signed the archive's InRelease files
    /// [default: /usr/share/keyrings/debian-archive-keyring.gpg].
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The cache directory.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache directory (default: $XDG_CACHE_HOME/kmatrix or ~/.cache/kmatrix).
    #[arg(long, env = "KMATRIX_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `--accel` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AccelArg {
    /// KVM when it really works, else TCG.
    Auto,
    /// KVM, or fail.
    Kvm,
    /// Software emulation.
    Tcg,
}

/// The kernel matrix and the VMs: shared by `run` and `test`. Each flag overrides the
/// configuration file (`kmatrix.toml`), which overrides the built-in default shown.
#[derive(Debug, Args)]
pub struct VmArgs {
    /// Kernel to boot; repeat for a matrix. Default: debian:5.10, debian:6.1, debian:6.12.
    #[arg(long = "kernel", short = 'k', value_name = "SPEC")]
    pub kernels: Vec<String>,
    /// Module tree (lib/modules/<release>) for a bare kernel image given with --kernel.
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
    /// Accelerator [default: auto].
    #[arg(long, value_enum)]
    pub accel: Option<AccelArg>,
    /// Limit for each VM, from start to power-off, in seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Guest memory in MiB [default: 1024].
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u32>,
    /// Guest CPUs [default: 2].
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Kernels to run at the same time (default: one per CPU, as memory allows).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only slice K of N of the matrix (contiguous, deterministic); merge the reports with
    /// `kmatrix report merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<kmatrix_runner::Shard>,
    /// Configuration file (default: the nearest kmatrix.toml in this directory or above).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub pin: PinArgs,
}

/// Pinning and offline use.
#[derive(Debug, Args)]
pub struct PinArgs {
    /// Lock file pinning what each debian: spec resolved to (default: kmatrix.lock next to
    /// kmatrix.toml, when there is one).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Use only the lock file and the cache; never the network.
    #[arg(long)]
    pub offline: bool,
    /// Ask the archive for the newest kernels now, even if a spec was resolved within the hour.
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
}

/// Reports and verbosity: shared by `run`, `test` and `local`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Extra environment variable for the programs (repeatable).
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Write a JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Show more progress (cache hits, boot times, guest notes, test output).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Arguments of `kmatrix run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Limit for each program in the guest, in seconds (a directory of programs: each one).
    #[arg(long, value_name = "SECS")]
    pub program_timeout: Option<u64>,
    /// The program to run in each guest, then its arguments (verbatim).
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<OsString>,
}

/// Cargo's selection flags, passed through to `cargo test --no-run`.
#[derive(Debug, Args)]
pub struct CargoArgs {
    /// Package to test (repeatable).
    #[arg(long, short = 'p', value_name = "SPEC")]
    pub package: Vec<String>,
    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Exclude packages from the test (with --workspace).
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Features to activate.
    #[arg(long, short = 'F', value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build for the target triple.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Build with this profile; repeat to run (and report) each profile's binaries separately.
    #[arg(long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// Build in release mode (same as --profile release).
    #[arg(long, short = 'r')]
    pub release: bool,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// Arguments of `kmatrix test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Limit for each test, in seconds, enforced inside the guest [default: 60].
    #[arg(long, value_name = "SECS")]
    pub test_timeout: Option<u64>,
    /// Arguments for the test binaries (e.g. `--include-ignored`, filters).
    #[arg(last = true, value_name = "TEST ARGS")]
    pub test_args: Vec<OsString>,
}

/// Arguments of `kmatrix local`.
#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Command prefix for each test process (default: `sudo -E` unless root; "" runs directly).
    #[arg(long, value_name = "CMD")]
    pub runner: Option<String>,
    /// Limit for each test, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub test_timeout: u64,
    /// Arguments for the test binaries (e.g. `--include-ignored`, filters).
    #[arg(last = true, value_name = "TEST ARGS")]
    pub test_args: Vec<OsString>,
}
