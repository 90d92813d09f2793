//! `kmatrix run`: one program (or a directory of test programs) in every kernel.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use kmatrix_runner::ProgramRequest;

use super::{CliError, check_report_args, final_status, run_options, watch_signals, write_reports};
use crate::args::RunArgs;
use crate::reporter::{Mode, Terminal};

/// The automake convention for "this test was skipped".
const SKIP_EXIT_CODE: i32 = 77;

/// `kmatrix run`.
pub fn run(args: RunArgs) -> Result<i32, CliError> {
    let env = check_report_args(&args.report)?;
    let (mut options, _config) = run_options(&args.vm, env)?;
    let (program, program_args) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage(anyhow!("no program given after --")))?;
    let timeout = match args.program_timeout {
        Some(0) => {
            return Err(CliError::usage(anyhow!(
                "--program-timeout must be at least 1 second"
            )));
        }
        Some(secs) => Some(Duration::from_secs(secs)),
        None => None,
    };
    let path = Path::new(program);
    options.programs = if path.is_dir() {
        directory_programs(path, timeout)?
    } else {
        let mut request = ProgramRequest::new(program, program_args.iter().cloned());
        request.timeout = timeout;
        vec![request]
    };
    watch_signals()?;
    let terminal = Terminal::new(args.report.verbose, Mode::Programs);
    let report = kmatrix_runner::run(&options, &terminal)
        .map_err(|err| CliError::class(err.class(), err))?;
    terminal.summary(&report);
    write_reports(&report, &args.report)?;
    Ok(final_status(&report))
}

/// Every executable file in `dir`, in name order, each one test (as C projects' test suites
/// are): exit status 0 passes, 77 is skipped, anything else fails.
fn directory_programs(
    dir: &Path,
    timeout: Option<Duration>,
) -> Result<Vec<ProgramRequest>, CliError> {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).map_err(|err| {
        CliError::usage(anyhow!(
            "reading program directory {}: {err}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CliError::usage(anyhow!(
            "{}: no executable files in this directory",
            dir.display()
        )));
    }
    Ok(paths
        .into_iter()
        .map(|path| {
            let mut request = ProgramRequest::new(path, Vec::<String>::new());
            request.timeout = timeout;
            request.skip_exit_code = Some(SKIP_EXIT_CODE);
            request
        })
        .collect())
}
