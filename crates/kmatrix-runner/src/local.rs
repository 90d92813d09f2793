//! The "local" environment: the same units as in a guest, run on this machine's own kernel
//! through a runner prefix (`sudo -E` by default), with the same timeouts and the same report.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use crate::engine::RunError;
use crate::events::{Event, EventSink, KernelId, OutputStream};
use crate::outcome::{KernelOutcome, KernelResult, ProgramOutcome, ProgramResult, Report};
use crate::programs::ProgramRequest;
use crate::units::{Captured, Unit, all_passed, fold, units};

/// The spec shown for the local environment.
pub const LOCAL_SPEC: &str = "local";

/// Runs every unit of `programs` on the host, each as `runner... PROGRAM ARGS`.
pub fn run_local(
    programs: &[ProgramRequest],
    runner: &[OsString],
    env: &[(OsString, OsString)],
    sink: &dyn EventSink,
) -> Result<Report, RunError> {
    let resolved = programs
        .iter()
        .map(crate::programs::resolve)
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = resolved.iter().map(|p| p.name.clone()).collect();
    let units = units(programs, &names);
    let kernel = KernelId {
        index: 0,
        spec: LOCAL_SPEC.to_string(),
    };
    let started = Instant::now();
    let mut results = Vec::new();
    let mut captured = Vec::new();
    for unit in &units {
        if crate::qemu::interrupted_by().is_some() {
            break;
        }
        sink.event(Event::ProgramStarted {
            kernel: kernel.clone(),
            program: unit.name.clone(),
        });
        let (result, output) = run_unit(
            unit,
            &resolved[unit.program].host_path,
            runner,
            env,
            &kernel,
            sink,
        );
        sink.event(Event::ProgramFinished {
            kernel: kernel.clone(),
            result: result.clone(),
        });
        results.push(result);
        captured.push(output);
    }
    // Units not run because of an interruption are skipped.
    for unit in units.iter().skip(results.len()) {
        results.push(ProgramResult {
            name: unit.name.clone(),
            outcome: ProgramOutcome::Skipped,
            exit_code: None,
            signal: None,
            duration_ms: 0,
            tests: Vec::new(),
        });
        captured.push(Captured::default());
    }
    let programs = fold(programs, &names, &units, &results, &captured);
    let result = KernelResult {
        index: 0,
        spec: LOCAL_SPEC.to_string(),
        release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|r| r.trim().to_string()),
        arch: Some(crate::spec::host_arch().to_string()),
        accel: None,
        outcome: if all_passed(&programs) {
            KernelOutcome::Passed
        } else {
            KernelOutcome::Failed
        },
        boot_ms: None,
        run_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        console_log: None,
        problem: None,
        programs,
    };
    sink.event(Event::KernelFinished {
        kernel,
        result: Box::new(result.clone()),
    });
    Ok(Report {
        kernels: vec![result],
    })
}

enum Ended {
    Exited(std::process::ExitStatus),
    TimedOut,
}

fn run_unit(
    unit: &Unit,
    program: &std::path::Path,
    runner: &[OsString],
    env: &[(OsString, OsString)],
    kernel: &KernelId,
    sink: &dyn EventSink,
) -> (ProgramResult, Captured) {
    let started = Instant::now();
    let mut command = match runner.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    };
    command
        .args(&unit.args)
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut result = ProgramResult {
        name: unit.name.clone(),
        outcome: ProgramOutcome::Failed,
        exit_code: None,
        signal: None,
        duration_ms: 0,
        tests: Vec::new(),
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            let text = format!("cannot start {}: {err}", program.display());
            sink.event(Event::Notice {
                kernel: kernel.clone(),
                text: text.clone(),
            });
            return (
                result,
                Captured {
                    stdout: Vec::new(),
                    stderr: text.into_bytes(),
                },
            );
        }
    };
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let (tx, rx) = mpsc::channel();
    let readers: Vec<_> = [(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        OutputStream::Stdout,
    )]
    .into_iter()
    .chain([(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        OutputStream::Stderr,
    )])
    .filter_map(|(pipe, stream)| pipe.map(|p| (p, stream)))
    .map(|(mut pipe, stream)| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                Captured::push(&mut all, &buf[..n]);
            }
            (stream, all)
        })
    })
    .collect();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let ended = match unit.timeout {
        Some(limit) => rx.recv_timeout(limit).map_err(|_| ()),
        None => rx.recv().map_err(|_| ()),
    };
    let ended = match ended {
        Ok(Ok(status)) => Ended::Exited(status),
        _ => Ended::TimedOut,
    };
    // Kill the whole group: on timeout, and leftovers that would hold the pipes open.
    // SAFETY: kill(2) with a negative pid signals our child's process group; no memory involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = waiter.join();
    let mut output = Captured::default();
    for reader in readers {
        if let Ok((stream, bytes)) = reader.join() {
            sink.event(Event::ProgramOutput {
                kernel: kernel.clone(),
                program: unit.name.clone(),
                stream,
                data: bytes.clone(),
            });
            match stream {
                OutputStream::Stdout => output.stdout = bytes,
                OutputStream::Stderr => output.stderr = bytes,
            }
        }
    }
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match ended {
        Ended::TimedOut => result.outcome = ProgramOutcome::TimedOut,
        Ended::Exited(status) => {
            use std::os::unix::process::ExitStatusExt;
            result.exit_code = status.code();
            result.signal = status.signal();
            result.outcome = if status.success() {
                ProgramOutcome::Passed
            } else {
                ProgramOutcome::Failed
            };
        }
    }
    (result, output)
}

/// The default runner prefix: nothing for root, `sudo -E` for anyone else.
pub fn default_runner() -> Vec<OsString> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Vec::new()
    } else {
        vec!["sudo".into(), "-E".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_unit_that_outlives_its_timeout_is_killed_and_reported() {
        let unit = Unit {
            program: 0,
            test: None,
            name: "sleep".into(),
            args: vec!["30".into()],
            timeout: Some(Duration::from_millis(300)),
        };
        let kernel = KernelId {
            index: 0,
            spec: LOCAL_SPEC.into(),
        };
        let (result, _) = run_unit(
            &unit,
            std::path::Path::new("/bin/sleep"),
            &[],
            &[],
            &kernel,
            &|_: Event| {},
        );
        assert_eq!(result.outcome, ProgramOutcome::TimedOut);
    }

    #[test]
    fn exit_status_and_output_are_collected() {
        let unit = Unit {
            program: 0,
            test: None,
            name: "sh".into(),
            args: vec!["-c".into(), "echo out; echo err >&2; exit 3".into()],
            timeout: None,
        };
        let kernel = KernelId {
            index: 0,
            spec: LOCAL_SPEC.into(),
        };
        let (result, output) = run_unit(
            &unit,
            std::path::Path::new("/bin/sh"),
            &[],
            &[],
            &kernel,
            &|_: Event| {},
        );
        assert_eq!(result.outcome, ProgramOutcome::Failed);
        assert_eq!(result.exit_code, Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
    }
}
