//! The subcommands: validate arguments, build the engine's inputs, run, map to an exit status.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use kmatrix_runner::prepare::{Mirror, PrepareContext};
use kmatrix_runner::{
    AccelChoice, DEFAULT_MATRIX, ErrorClass, KernelSpec, ProgramRequest, RunOptions, exit_code,
    parse_specs,
};

use crate::args::{
    AccelArg, CacheArgs, Cli, Command, KernelArgs, KernelCommand, RunArgs, SourceArgs,
};
use crate::reporter::Terminal;

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
        Command::Run(args) => run(args),
        Command::Kernel(KernelCommand::Resolve(args)) => kernel_resolve(args, false),
        Command::Kernel(KernelCommand::Fetch(args)) => kernel_resolve(args, true),
        Command::Kernel(KernelCommand::List(args)) => kernel_list(args),
    }
}

fn specs_or_default(
    specs: &[String],
    modules: Option<&std::path::Path>,
) -> Result<Vec<KernelSpec>, CliError> {
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

fn run(args: RunArgs) -> Result<i32, CliError> {
    let kernels = specs_or_default(&args.kernels, args.modules.as_deref())?;
    let (program, program_args) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage(anyhow!("no program given after --")))?;
    let mut env = Vec::new();
    for pair in &args.env {
        let (name, value) = pair
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| CliError::usage(anyhow!("--env {pair}: expected NAME=VALUE")))?;
        env.push((name.into(), value.into()));
    }
    if args.timeout == 0 {
        return Err(CliError::usage(anyhow!(
            "--timeout must be at least 1 second"
        )));
    }
    if args.memory < 128 {
        return Err(CliError::usage(anyhow!(
            "--memory {} MiB is too small for a kernel; use at least 128",
            args.memory
        )));
    }
    if args.cpus == 0 {
        return Err(CliError::usage(anyhow!("--cpus must be at least 1")));
    }
    if let Some(path) = &args.json {
        check_report_path("--json", path)?;
    }
    let mut options = RunOptions::new(
        kernels,
        vec![ProgramRequest {
            path: program.into(),
            args: program_args.to_vec(),
        }],
    );
    options.accel = match args.accel {
        AccelArg::Auto => AccelChoice::Auto,
        AccelArg::Kvm => AccelChoice::Kvm,
        AccelArg::Tcg => AccelChoice::Tcg,
    };
    options.timeout = Duration::from_secs(args.timeout);
    options.memory_mib = args.memory;
    options.cpus = args.cpus;
    options.jobs = match args.jobs {
        Some(0) => return Err(CliError::usage(anyhow!("--jobs must be at least 1"))),
        Some(jobs) => jobs,
        None => kmatrix_runner::default_jobs(args.memory),
    };
    options.cache_dir = cache_dir(&args.source.cache);
    options.mirror = mirror(&args.source);
    options.env = env;

    kmatrix_runner::qemu::watch_signals().map_err(|err| {
        CliError::class(
            ErrorClass::Environment,
            anyhow!("installing signal handlers: {err}"),
        )
    })?;
    let terminal = Terminal::new(args.verbose);
    let report = kmatrix_runner::run(&options, &terminal)
        .map_err(|err| CliError::class(err.class(), err))?;
    terminal.summary(&report);
    if let Some(path) = &args.json {
        kmatrix_runner::cache::write_atomic(path, report.to_json().as_bytes())
            .with_context(|| format!("writing JSON report {}", path.display()))
            .map_err(|err| CliError::class(ErrorClass::Environment, err))?;
    }
    if let Some(signal) = kmatrix_runner::qemu::interrupted_by() {
        return Ok(128 + signal);
    }
    Ok(report.exit_code())
}

/// Refuses a report path that cannot be written, before any VM runs for minutes.
fn check_report_path(flag: &str, path: &std::path::Path) -> Result<(), CliError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
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

fn kernel_resolve(args: KernelArgs, fetch: bool) -> Result<i32, CliError> {
    let specs = specs_or_default(&args.specs, None)?;
    let context = PrepareContext::new(cache_dir(&args.source.cache), mirror(&args.source));
    let mut worst = exit_code::SUCCESS;
    for spec in &specs {
        match context.resolve_debian(spec, fetch) {
            Ok(None) => eprintln!("kmatrix: {spec}: a local kernel; nothing to resolve"),
            Ok(Some((resolved, fetched))) => {
                println!(
                    "{spec}\t{}\t{}\t{}\t{}\t{}",
                    resolved.release,
                    resolved.image.package,
                    resolved.image.version,
                    resolved.suite,
                    resolved.image.sha256
                );
                if let Some(fetched) = fetched {
                    let how = if fetched.downloaded {
                        "downloaded"
                    } else {
                        "cached"
                    };
                    eprintln!("kmatrix: {spec}: {how}: {}", fetched.path.display());
                }
            }
            Err(err) => {
                eprintln!("kmatrix: error: {}", kmatrix_runner::error::one_line(&err));
                let code = CliError::class(err.class(), anyhow!("")).code;
                worst = if worst == exit_code::SUCCESS {
                    code
                } else {
                    worst.min(code)
                };
            }
        }
    }
    Ok(worst)
}

fn kernel_list(args: CacheArgs) -> Result<i32, CliError> {
    let dir = cache_dir(&args).join("kernels");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(exit_code::SUCCESS),
        Err(err) => {
            return Err(CliError::class(
                ErrorClass::Environment,
                anyhow!("reading {}: {err}", dir.display()),
            ));
        }
    };
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let meta = std::fs::read_to_string(entry.path().join("kernel.meta")).unwrap_or_default();
        let field = |name: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or("")
                .to_string()
        };
        if !meta.is_empty() {
            rows.push(format!(
                "{}\t{}\t{}",
                field("release"),
                field("arch"),
                entry.path().display()
            ));
        }
    }
    rows.sort();
    for row in rows {
        println!("{row}");
    }
    Ok(exit_code::SUCCESS)
}
