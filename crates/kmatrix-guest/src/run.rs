//! Running one program of the job and reporting it.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use kmatrix_wire::{Level, Message, Program, ProgramStatus, Stream};

use crate::channel::Reporter;
use crate::sys;

/// Largest [`Message::Output`] chunk.
pub const CHUNK: usize = 64 * 1024;

/// The environment every program starts with, before the job's own.
pub const BASE_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("RUST_BACKTRACE", "1"),
];

/// How to clean up after a program.
pub struct RunOptions {
    /// After the program and its process group are gone, wait this long for its output pipes
    /// to close; if something outside the group still holds them, kill every process but
    /// init. Only honoured in PID 1 (never on the host, where that would be a disaster).
    pub straggler_grace: Option<Duration>,
}

/// Runs program `index` to completion: sends [`Message::ProgramStarted`], its output as
/// [`Message::Output`] chunks, and [`Message::ProgramFinished`]; returns how it ended.
///
/// The program runs in its own process group with a clean environment, standard input from
/// `/dev/null`, in init's current directory. The group is killed when the program exits or
/// times out, so background children cannot hold the output pipes open.
pub fn run_program<W: Write + Send>(
    reporter: &Reporter<W>,
    index: u32,
    program: &Program,
    env: &[(Vec<u8>, Vec<u8>)],
    options: &RunOptions,
) -> ProgramStatus {
    let _ = reporter.send(&Message::ProgramStarted { index });
    let start = Instant::now();
    let (status, duration) = match spawn(program, env) {
        Ok(child) => supervise(reporter, index, program, child, options),
        Err(e) => {
            reporter.log(
                Level::Error,
                format!(
                    "cannot start program {} ({}): {}",
                    program.name,
                    String::from_utf8_lossy(&program.path),
                    sys::describe(&e)
                ),
            );
            (ProgramStatus::SpawnFailed, start.elapsed())
        }
    };
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let _ = reporter.send(&Message::ProgramFinished {
        index,
        status,
        duration_ms,
    });
    status
}

fn spawn(program: &Program, env: &[(Vec<u8>, Vec<u8>)]) -> std::io::Result<Child> {
    let mut command = Command::new(OsStr::from_bytes(&program.path));
    command
        .args(program.args.iter().map(|arg| OsStr::from_bytes(arg)))
        .env_clear()
        .envs(
            BASE_ENV
                .iter()
                .map(|&(k, v)| (OsStr::new(k), OsStr::new(v))),
        )
        .envs(
            env.iter()
                .map(|(k, v)| (OsStr::from_bytes(k), OsStr::from_bytes(v))),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // No current_dir(): with it, std falls back from posix_spawn to fork + execvp in a static
    // binary, and glibc's execvp runs files it cannot execute through /bin/sh instead of
    // failing with ENOEXEC. Init changes its own directory to /tmp instead.
    command.spawn()
}

fn supervise<W: Write + Send>(
    reporter: &Reporter<W>,
    index: u32,
    program: &Program,
    mut child: Child,
    options: &RunOptions,
) -> (ProgramStatus, Duration) {
    let start = Instant::now();
    let pgid = i32::try_from(child.id()).unwrap_or(0);
    let pipes = [
        (
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            Stream::Stdout,
        ),
        (
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            Stream::Stderr,
        ),
    ];
    thread::scope(|scope| {
        // Every reader holds a sender; when all are dropped, the pipes are closed.
        let (pipes_tx, pipes_rx) = mpsc::channel::<()>();
        for (pipe, stream) in pipes {
            if let Some(pipe) = pipe {
                let pipes_tx = pipes_tx.clone();
                scope.spawn(move || {
                    forward(reporter, index, stream, pipe);
                    drop(pipes_tx);
                });
            }
        }
        drop(pipes_tx);

        let (exit_tx, exit_rx) = mpsc::channel();
        scope.spawn(move || {
            let result = child.wait();
            let _ = exit_tx.send((result, Instant::now()));
        });
        let timeout = program.timeout_ms.map(Duration::from_millis);
        let (result, timed_out) = match timeout.map(|t| exit_rx.recv_timeout(t)) {
            Some(Ok(result)) => (Some(result), false),
            Some(Err(RecvTimeoutError::Timeout)) => {
                kill_group(pgid);
                (exit_rx.recv().ok(), true)
            }
            Some(Err(RecvTimeoutError::Disconnected)) => (None, false),
            None => (exit_rx.recv().ok(), false),
        };
        // Leftover background children would hold the pipes open forever.
        kill_group(pgid);
        if let Some(grace) = options.straggler_grace
            && std::process::id() == 1
            && pipes_rx.recv_timeout(grace) == Err(RecvTimeoutError::Timeout)
        {
            reporter.log(
                Level::Warn,
                format!(
                    "program {} left processes outside its group holding its output open; \
                     killing every process",
                    program.name
                ),
            );
            kill_all_but_init();
        }

        let end = result.as_ref().map_or_else(Instant::now, |&(_, end)| end);
        let status = match result {
            _ if timed_out => ProgramStatus::TimedOut,
            Some((Ok(exit), _)) => exit_status(exit),
            Some((Err(e), _)) => {
                reporter.log(
                    Level::Error,
                    format!(
                        "cannot wait for program {}: {}",
                        program.name,
                        sys::describe(&e)
                    ),
                );
                ProgramStatus::Exited(-1)
            }
            None => ProgramStatus::Exited(-1),
        };
        (status, end.saturating_duration_since(start))
    })
}

/// Copies one pipe to the channel in chunks of at most [`CHUNK`] bytes, as they come.
fn forward<W: Write>(
    reporter: &Reporter<W>,
    index: u32,
    stream: Stream,
    mut pipe: Box<dyn Read + Send>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default().to_vec();
                let _ = reporter.send(&Message::Output {
                    index,
                    stream,
                    data,
                });
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn exit_status(status: ExitStatus) -> ProgramStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => ProgramStatus::Exited(code),
        (None, Some(signal)) => ProgramStatus::Signaled(signal),
        (None, None) => ProgramStatus::Exited(-1),
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill takes plain integers; a negative pid addresses the process group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

fn kill_all_but_init() {
    // SAFETY: kill(-1) signals every process except init itself; only called in PID 1.
    unsafe { libc::kill(-1, libc::SIGKILL) };
}

/// Reaps zombies that were reparented to init. Only for PID 1: elsewhere it could reap
/// children that other code is waiting for.
pub fn reap_orphans() {
    if std::process::id() != 1 {
        return;
    }
    // SAFETY: waitpid with a null status pointer is allowed; WNOHANG never blocks.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
