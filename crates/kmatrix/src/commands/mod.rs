//! The subcommands: validate arguments (no I/O), build the engine's inputs, run, map the outcome
//! to an exit status.

mod kernel;
mod report;
mod run;
mod test;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use kmatrix_runner::prepare::Mirror;
use kmatrix_runner::{
    AccelChoice, DEFAULT_MATRIX, ErrorClass, KernelSpec, Report, RunOptions, exit_code, parse_specs,
};

use crate::args::{
    AccelArg, CacheArgs, CacheCommand, Cli, Command, KernelCommand, ReportArgs, ReportCommand,
    SourceArgs, VmArgs,
};
use crate::config::{Config, merge_option};

/// An error with the exit status it calls for.
pub struct CliError {
    /// Exit status.
    pub code: i32,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl CliError {
    fn usage(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: exit_code::USAGE,
            error: error.into(),
        }
    }

    fn class(class: ErrorClass, error: impl Into<anyhow::Error>) -> Self {
        let code = match class {
            ErrorClass::Usage => exit_code::USAGE,
            ErrorClass::Environment => exit_code::ENVIRONMENT,
        };
        CliError {
            code,
            error: error.into(),
        }
    }
}

/// Runs the parsed command; `Ok` carries the exit status.
pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::test(args),
        Command::Local(args) => test::local(args),
        Command::Kernel(KernelCommand::Resolve(args)) => kernel::kernel_resolve(args, false),
        Command::Kernel(KernelCommand::Fetch(args)) => kernel::kernel_resolve(args, true),
        Command::Kernel(KernelCommand::List(args)) => kernel::kernel_list(args),
        Command::Kernel(KernelCommand::Update(args)) => kernel::kernel_update(args),
        Command::Cache(CacheCommand::List(args)) => kernel::cache_list(args),
        Command::Cache(CacheCommand::Prune(args)) => kernel::cache_prune(args),
        Command::Matrix(args) => report::matrix(args),
        Command::Report(ReportCommand::Merge(args)) => report::merge(args),
    }
}

fn specs_or_default(specs: &[String], modules: Option<&Path>) -> Result<Vec<KernelSpec>, CliError> {
    let specs: Vec<String> = if specs.is_empty() {
        DEFAULT_MATRIX.iter().map(|s| s.to_string()).collect()
    } else {
        specs.to_vec()
    };
    parse_specs(&specs, modules).map_err(CliError::usage)
}

fn cache_dir(args: &CacheArgs) -> PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(kmatrix_runner::cache::default_cache_dir)
}

fn mirror(args: &SourceArgs) -> Mirror {
    match &args.mirror {
        Some(url) if !url.is_empty() => Mirror::Url(url.clone()),
        _ => Mirror::System,
    }
}

/// Checks the report flags and the environment pairs before any work starts.
fn check_report_args(report: &ReportArgs) -> Result<Vec<(OsString, OsString)>, CliError> {
    for (flag, path) in [("--json", &report.json), ("--junit", &report.junit)] {
        if let Some(path) = path {
            check_report_path(flag, path)?;
        }
    }
    let mut env = Vec::new();
    for pair in &report.env {
        let (name, value) = pair
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| CliError::usage(anyhow!("--env {pair}: expected NAME=VALUE")))?;
        env.push((name.into(), value.into()));
    }
    Ok(env)
}

/// The configuration file in effect (explicit `--config`, or the nearest `kmatrix.toml`).
fn load_config(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|err| CliError::usage(anyhow!("current directory: {err}")))?;
    crate::config::load_discovered(&cwd, explicit).map_err(|err| CliError::usage(anyhow!("{err}")))
}

/// Engine options from the VM flags merged over the configuration file, validated before any
/// kernel work starts. Also returns the configuration, for command-specific keys.
fn run_options(
    vm: &VmArgs,
    env: Vec<(OsString, OsString)>,
) -> Result<(RunOptions, Config), CliError> {
    let loaded = load_config(vm.config.as_deref())?;
    let (config_path, config) = match loaded {
        Some((path, config)) => (Some(path), config),
        None => (None, Config::default()),
    };
    let from_config = vm.kernels.is_empty() && config.kernels.is_some();
    let mut kernels = specs_or_default(&config.kernels_or(&vm.kernels), vm.modules.as_deref())
        .map_err(|err| {
            // A spec taken from the configuration file is the file's mistake: say which file.
            match (&config_path, from_config) {
                (Some(path), true) => CliError {
                    code: err.code,
                    error: err.error.context(format!("{}: kernels", path.display())),
                },
                _ => err,
            }
        })?;
    let mut index_offset = 0;
    if let Some(shard) = vm.shard {
        let range = shard.range(kernels.len());
        index_offset = range.start;
        kernels = kernels.drain(range).collect();
        if kernels.is_empty() {
            return Err(CliError::usage(anyhow!(
                "--shard {}/{}: this shard has no kernels",
                shard.index,
                shard.count
            )));
        }
    }
    let timeout = merge_option(vm.timeout, config.timeout).unwrap_or(300);
    let memory = merge_option(vm.memory, config.memory).unwrap_or(1024);
    let cpus = merge_option(vm.cpus, config.cpus).unwrap_or(2);
    if timeout == 0 {
        return Err(CliError::usage(anyhow!(
            "--timeout must be at least 1 second"
        )));
    }
    if memory < 128 {
        return Err(CliError::usage(anyhow!(
            "--memory {memory} MiB is too small for a kernel; use at least 128"
        )));
    }
    if cpus == 0 {
        return Err(CliError::usage(anyhow!("--cpus must be at least 1")));
    }
    let mut options = RunOptions::new(kernels, Vec::new());
    let cli_accel = vm.accel.map(|accel| match accel {
        AccelArg::Auto => AccelChoice::Auto,
        AccelArg::Kvm => AccelChoice::Kvm,
        AccelArg::Tcg => AccelChoice::Tcg,
    });
    options.accel = merge_option(cli_accel, config.accel.map(Into::into)).unwrap_or_default();
    options.timeout = Duration::from_secs(timeout);
    options.memory_mib = memory;
    options.cpus = cpus;
    options.jobs = match merge_option(vm.jobs, config.jobs) {
        Some(0) => return Err(CliError::usage(anyhow!("--jobs must be at least 1"))),
        Some(jobs) => jobs,
        None => kmatrix_runner::default_jobs(memory),
    };
    options.index_offset = index_offset;
    // The lock file lives next to the configuration file unless given explicitly.
    options.lock = vm.pin.lock.clone().or_else(|| {
        config_path
            .as_ref()
            .and_then(|path| path.parent())
            .map(|dir| dir.join(LOCK_FILE_NAME))
    });
    options.offline = vm.pin.offline;
    options.refresh = vm.pin.refresh;
    options.keyring = vm.source.keyring.clone();
    options.cache_dir = cache_dir(&vm.source.cache);
    options.mirror = match (&vm.source.mirror, &config.mirror) {
        (Some(url), _) | (None, Some(url)) if !url.is_empty() => Mirror::Url(url.clone()),
        _ => Mirror::System,
    };
    options.env = config.env_with(&env);
    options.modules = config.modules.clone();
    options.files = config
        .files
        .iter()
        .map(|f| (f.from.clone(), f.to.clone()))
        .collect();
    Ok((options, config))
}

/// Name of the lock file written next to `kmatrix.toml`.
const LOCK_FILE_NAME: &str = "kmatrix.lock";

/// Refuses a report path that cannot be written, before any VM runs for minutes.
fn check_report_path(flag: &str, path: &Path) -> Result<(), CliError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(CliError::usage(anyhow!(
            "{flag} {}: directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    if path.is_dir() {
        return Err(CliError::usage(anyhow!(
            "{flag} {}: is a directory",
            path.display()
        )));
    }
    Ok(())
}

/// Writes the JSON and JUnit reports that were asked for.
fn write_reports(report: &Report, args: &ReportArgs) -> Result<(), CliError> {
    let environment = |err| CliError::class(ErrorClass::Environment, err);
    if let Some(path) = &args.json {
        kmatrix_runner::cache::write_atomic(path, report.to_json().as_bytes())
            .with_context(|| format!("writing JSON report {}", path.display()))
            .map_err(environment)?;
    }
    if let Some(path) = &args.junit {
        let xml = kmatrix_runner::junit::to_junit_xml(report)
            .with_context(|| format!("rendering JUnit report {}", path.display()))
            .map_err(environment)?;
        kmatrix_runner::cache::write_atomic(path, xml.as_bytes())
            .with_context(|| format!("writing JUnit report {}", path.display()))
            .map_err(environment)?;
    }
    Ok(())
}

/// The exit status for a finished run: interruption first, then the report's verdict.
fn final_status(report: &Report) -> i32 {
    match kmatrix_runner::qemu::interrupted_by() {
        Some(signal) => 128 + signal,
        None => report.exit_code(),
    }
}

fn watch_signals() -> Result<(), CliError> {
    kmatrix_runner::qemu::watch_signals().map_err(|err| {
        CliError::class(
            ErrorClass::Environment,
            anyhow!("installing signal handlers: {err}"),
        )
    })
}
