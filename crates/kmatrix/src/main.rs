//! `kmatrix`: run a project's tests inside QEMU VMs booted with real Linux kernels.
//!
//! This binary is thin: it parses arguments ([`args`]), hands the work to the
//! `kmatrix-runner` engine, renders the engine's events on the terminal ([`reporter`]) and
//! maps the outcome to the documented exit status.

mod args;
mod commands;
mod config;
mod matrix;
mod reporter;
mod status;

use clap::Parser;

/// The error and its causes on one line.
fn one_line(err: &anyhow::Error) -> String {
    kmatrix_runner::error::one_line(err.as_ref())
}

fn main() {
    let cli = args::Cli::parse();
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kmatrix: error: {}", one_line(&err.error));
            err.code
        }
    };
    std::process::exit(code);
}
