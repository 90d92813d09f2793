//! Project chores for kmatrix, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! The only task is `bench`: how long kmatrix takes to run `/bin/true` in a guest, compared with
//! the floor (a bare QEMU boot of the same kernel with a trivial init), with the pipeline the
//! project started from, with compressed kernel parts, and with and without parallel kernels.
//! See `docs/PERFORMANCE.md` for the figures and what they mean.

mod bench;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "kmatrix project tasks")]
struct Cli {
    /// The task to run.
    #[command(subcommand)]
    task: Task,
}

/// The tasks.
#[derive(Debug, Subcommand)]
enum Task {
    /// Measure kmatrix's wall time against the bare-QEMU floor and alternatives.
    Bench(BenchArgs),
}

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Timed runs per single-kernel case (after one untimed warm-up run).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Timed runs per matrix case (each boots four kernels, so fewer by default).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub matrix_runs: u32,
    /// Kernel of the single-kernel cases (an amd64 kmatrix spec).
    #[arg(long, default_value = "debian:6.1")]
    pub kernel: String,
    /// Kernels of the matrix case (repeatable; default: four amd64 Debian kernels).
    #[arg(long = "matrix-kernel")]
    pub matrix_kernels: Vec<String>,
    /// Skip the matrix case (it is the longest).
    #[arg(long)]
    pub no_matrix: bool,
    /// kmatrix cache to use (default: `target/bench-cache` in the workspace); kept apart from
    /// the user's cache so that the benchmark disturbs nothing.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Use the existing `target/release/kmatrix` instead of building it first.
    #[arg(long)]
    pub no_build: bool,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Bench(args) => bench::run(args),
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
