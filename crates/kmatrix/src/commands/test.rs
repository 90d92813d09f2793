//! `kmatrix test` and `kmatrix local`: build a workspace's tests with cargo, then run each test
//! in its own process, in each kernel of the matrix or on this machine.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::anyhow;
use kmatrix_cargo::{BuildRequest, CargoError, RunDecision, TestBinary, TestSelection};
use kmatrix_runner::{ErrorClass, ProgramRequest, TestRequest};

use super::{CliError, check_report_args, final_status, run_options, watch_signals, write_reports};
use crate::args::{CargoArgs, LocalArgs, TestArgs};
use crate::matrix;
use crate::reporter::{Mode, Terminal};

/// `kmatrix test`.
pub fn test(args: TestArgs) -> Result<i32, CliError> {
    let env = check_report_args(&args.report)?;
    let (mut options, config) = run_options(&args.vm, env)?;
    let timeout = test_timeout(
        crate::config::merge_option(args.test_timeout, config.test_timeout).unwrap_or(60),
    )?;
    options.programs = build_programs(&args.cargo, &args.test_args, timeout)?;
    if options.programs.is_empty() {
        eprintln!("kmatrix: no test matches the given filters; nothing to run");
        return Ok(kmatrix_runner::exit_code::SUCCESS);
    }
    watch_signals()?;
    let terminal = Terminal::new(args.report.verbose, Mode::Tests);
    let report = kmatrix_runner::run(&options, &terminal)
        .map_err(|err| CliError::class(err.class(), err))?;
    terminal.summary(&report);
    matrix::print(&report);
    write_reports(&report, &args.report)?;
    Ok(final_status(&report))
}

/// `kmatrix local`.
pub fn local(args: LocalArgs) -> Result<i32, CliError> {
    let env = check_report_args(&args.report)?;
    let timeout = test_timeout(args.test_timeout)?;
    let runner: Vec<OsString> = match &args.runner {
        Some(text) => text.split_whitespace().map(OsString::from).collect(),
        None => kmatrix_runner::local::default_runner(),
    };
    let programs = build_programs(&args.cargo, &args.test_args, timeout)?;
    if programs.is_empty() {
        eprintln!("kmatrix: no test matches the given filters; nothing to run");
        return Ok(kmatrix_runner::exit_code::SUCCESS);
    }
    watch_signals()?;
    let terminal = Terminal::new(args.report.verbose, Mode::Tests);
    let report = kmatrix_runner::local::run_local(&programs, &runner, &env, &terminal)
        .map_err(|err| CliError::class(err.class(), err))?;
    terminal.summary(&report);
    matrix::print(&report);
    write_reports(&report, &args.report)?;
    Ok(final_status(&report))
}

fn test_timeout(secs: u64) -> Result<Duration, CliError> {
    match secs {
        0 => Err(CliError::usage(anyhow!(
            "--test-timeout must be at least 1 second"
        ))),
        secs => Ok(Duration::from_secs(secs)),
    }
}

/// The profiles to build: `--profile` as given (repeatable), else release or the default.
fn profiles(cargo: &CargoArgs) -> Vec<Option<String>> {
    match (cargo.profile.is_empty(), cargo.release) {
        (false, _) => cargo.profile.iter().cloned().map(Some).collect(),
        (true, true) => vec![Some("release".to_string())],
        (true, false) => vec![None],
    }
}

/// Cargo's selection flags, as cargo takes them.
fn cargo_flags(cargo: &CargoArgs) -> Vec<OsString> {
    let mut flags: Vec<OsString> = Vec::new();
    let mut push = |flag: &str, value: Option<&str>| {
        flags.push(flag.into());
        if let Some(value) = value {
            flags.push(value.into());
        }
    };
    for package in &cargo.package {
        push("--package", Some(package));
    }
    if cargo.workspace {
        push("--workspace", None);
    }
    for exclude in &cargo.exclude {
        push("--exclude", Some(exclude));
    }
    for features in &cargo.features {
        push("--features", Some(features));
    }
    if cargo.all_features {
        push("--all-features", None);
    }
    if cargo.no_default_features {
        push("--no-default-features", None);
    }
    if let Some(target) = &cargo.target {
        push("--target", Some(target));
    }
    if let Some(manifest) = &cargo.manifest_path {
        flags.push("--manifest-path".into());
        flags.push(manifest.clone().into_os_string());
    }
    flags
}

/// Builds every profile's test binaries and lists their tests.
fn build_programs(
    cargo: &CargoArgs,
    test_args: &[OsString],
    timeout: Duration,
) -> Result<Vec<ProgramRequest>, CliError> {
    let selection = kmatrix_cargo::parse_test_args(test_args);
    let profiles = profiles(cargo);
    let cwd = std::env::current_dir()
        .map_err(|err| CliError::usage(anyhow!("current directory: {err}")))?;
    let mut programs = Vec::new();
    let mut built_any = false;
    for profile in &profiles {
        let request = BuildRequest {
            cargo: std::env::var_os("CARGO")
                .unwrap_or_else(|| "cargo".into())
                .into(),
            cwd: cwd.clone(),
            args: cargo_flags(cargo),
            profile: profile.clone(),
        };
        let binaries = kmatrix_cargo::build_tests(&request).map_err(cargo_error)?;
        built_any |= !binaries.is_empty();
        for binary in binaries {
            programs.extend(binary_program(
                &binary,
                profiles.len() > 1,
                &selection,
                test_args,
                timeout,
            )?);
        }
    }
    if !built_any {
        return Err(CliError::usage(anyhow!(
            "cargo built no test binaries for this selection"
        )));
    }
    Ok(programs)
}

fn binary_program(
    binary: &TestBinary,
    several_profiles: bool,
    selection: &TestSelection,
    test_args: &[OsString],
    timeout: Duration,
) -> Result<Option<ProgramRequest>, CliError> {
    let name = match several_profiles {
        true => format!("{} [{}]", binary.display_name(), binary.profile),
        false => binary.display_name(),
    };
    let mut program = ProgramRequest::new(&binary.path, test_args.iter().cloned());
    program.name = Some(name);
    program.timeout = Some(timeout);
    match kmatrix_cargo::list_tests(&binary.path) {
        Ok(cases) => {
            program.tests = cases
                .iter()
                .filter_map(|case| match selection.selects(case) {
                    RunDecision::Run => Some(TestRequest {
                        name: case.name.clone(),
                        args: Some(selection.per_test_args(case)),
                    }),
                    RunDecision::Ignored => Some(TestRequest {
                        name: case.name.clone(),
                        args: None,
                    }),
                    RunDecision::Filtered => None,
                })
                .collect();
            if program.tests.is_empty() {
                // Every test filtered out (or none at all): nothing to run or report.
                return Ok(None);
            }
        }
        // A `harness = false` target runs as one plain program with the test arguments.
        Err(CargoError::NotLibtest { .. }) => {}
        Err(err) => return Err(cargo_error(err)),
    }
    Ok(Some(program))
}

fn cargo_error(err: CargoError) -> CliError {
    let class = match err {
        CargoError::BuildFailed { .. } => ErrorClass::Usage,
        _ => ErrorClass::Environment,
    };
    CliError::class(class, err)
}
