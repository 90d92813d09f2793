//! One VM from start to end: QEMU, its console, the guest's report channel, the watchdog and
//! the timeout, folded into a [`KernelResult`].
//!
//! ```text
//!  QEMU stdout (ttyS0) ──► console thread ──► log file, watchdog ──┐
//!  QEMU stderr ──────────► stderr thread ──► log file ─────────────┤ mpsc ──► session loop ─► Events
//!  unix socket (ttyS1) ──► channel thread ──► FrameDecoder ────────┘           (deadline)
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use kmatrix_wire::{FrameDecoder, Message, ProgramStatus};

use crate::error::ErrorClass;
use crate::events::{Event, EventSink, KernelId};
use crate::outcome::{KernelOutcome, KernelProblem, KernelResult, ProgramOutcome, ProgramResult};
use crate::qemu::{QemuChild, VmConfig, interrupted_by};
use crate::units::Captured;
use crate::watchdog::{ConsoleTail, Fatal, check_line};

/// Lines of console kept for the report of a crashed or hung guest.
const TAIL_LINES: usize = 25;
/// How long QEMU may take to exit after the guest said it is done.
const POWER_OFF_GRACE: Duration = Duration::from_secs(10);

/// What a session needs besides the VM itself.
pub(crate) struct Session<'a> {
    pub kernel: &'a KernelId,
    pub vm: &'a VmConfig,
    pub release: &'a str,
    pub program_names: Vec<String>,
    pub timeout: Duration,
    pub console_log: PathBuf,
    pub sink: &'a dyn EventSink,
}

enum Input {
    Console(String),
    ConsoleClosed,
    QemuStderr(String),
    Guest(Message),
    BadFrame(String),
    ChannelClosed,
}

/// How the session loop ended.
enum End {
    Done,
    InitFailed(String),
    Fatal(Fatal),
    QemuExited,
    TimedOut,
}

struct ProgramState {
    name: String,
    started_at: Option<Instant>,
    finished: Option<(ProgramStatus, u64)>,
    captured: Captured,
}

impl Session<'_> {
    /// Boots the VM and runs it to the end. Never fails: every problem becomes part of the result.
    pub(crate) fn run(self) -> (KernelResult, Vec<Captured>) {
        let mut result = KernelResult {
            index: self.kernel.index,
            spec: self.kernel.spec.clone(),
            release: Some(self.release.to_string()),
            arch: Some(self.vm.profile.arch.to_string()),
            accel: Some(self.vm.accel.as_str().to_string()),
            outcome: KernelOutcome::Error,
            boot_ms: None,
            run_ms: None,
            console_log: Some(self.console_log.clone()),
            problem: None,
            programs: Vec::new(),
        };
        let problem = |message: String| KernelProblem {
            class: Some(ErrorClass::Environment),
            message,
            console_tail: vec![],
        };
        let log = match File::create(&self.console_log) {
            Ok(file) => file,
            Err(err) => {
                result.problem = Some(problem(format!(
                    "{}: creating console log {}: {err}",
                    self.kernel.spec,
                    self.console_log.display()
                )));
                return (result, Vec::new());
            }
        };
        let _ = std::fs::remove_file(&self.vm.channel_socket);
        let listener = match UnixListener::bind(&self.vm.channel_socket) {
            Ok(listener) => listener,
            Err(err) => {
                result.problem = Some(problem(format!(
                    "{}: listening on {}: {err}",
                    self.kernel.spec,
                    self.vm.channel_socket.display()
                )));
                return (result, Vec::new());
            }
        };
        self.sink.event(Event::VmStarting {
            kernel: self.kernel.clone(),
            release: self.release.to_string(),
            arch: self.vm.profile.arch.to_string(),
            accel: self.vm.accel.as_str().to_string(),
            console_log: self.console_log.clone(),
        });
        let started = Instant::now();
        let mut child = match QemuChild::spawn(&self.vm.qemu, &self.vm.args()) {
            Ok(child) => child,
            Err(err) => {
                result.problem = Some(problem(format!("{}: {err}", self.kernel.spec)));
                let _ = std::fs::remove_file(&self.vm.channel_socket);
                return (result, Vec::new());
            }
        };
        let (tx, rx) = mpsc::channel();
        spawn_readers(&mut child, log, listener, tx);
        let outcome = self.drive(&rx, started, &mut result);
        child.kill();
        // Unblock the channel thread if QEMU never connected, then remove the socket.
        let _ = UnixStream::connect(&self.vm.channel_socket);
        let _ = std::fs::remove_file(&self.vm.channel_socket);
        let captured = outcome
            .programs
            .iter()
            .map(|p| p.captured.clone())
            .collect();
        outcome.finish(&mut result, &self);
        (result, captured)
    }

    fn drive(&self, rx: &Receiver<Input>, started: Instant, result: &mut KernelResult) -> Outcome {
        let deadline = started + self.timeout;
        let mut tail = ConsoleTail::new(TAIL_LINES);
        let mut programs: Vec<ProgramState> = self
            .program_names
            .iter()
            .map(|name| ProgramState {
                name: name.clone(),
                started_at: None,
                captured: Captured::default(),
                finished: None,
            })
            .collect();
        let mut booted_at: Option<Instant> = None;
        let mut stderr_lines = Vec::new();
        let mut console_open = true;
        let mut end = None;
        let mut done_at: Option<Instant> = None;
        while console_open {
            let limit = match done_at {
                Some(done) => done + POWER_OFF_GRACE,
                None => deadline,
            };
            let input = match rx.recv_timeout(limit.saturating_duration_since(Instant::now())) {
                Ok(input) => input,
                Err(RecvTimeoutError::Timeout) if done_at.is_some() => break,
                Err(RecvTimeoutError::Timeout) => {
                    end = Some(End::TimedOut);
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match input {
                Input::Console(line) => {
                    tail.push(&line);
                    if let Some(fatal) = check_line(&line)
                        && done_at.is_none()
                    {
                        end = Some(End::Fatal(fatal));
                        break;
                    }
                }
                Input::QemuStderr(line) => stderr_lines.push(line),
                Input::ConsoleClosed => console_open = false,
                Input::ChannelClosed => {}
                Input::BadFrame(err) => self.guest_note(kmatrix_wire::Level::Error, err),
                Input::Guest(message) => match message {
                    Message::Hello { release, .. } => {
                        let now = Instant::now();
                        booted_at = Some(now);
                        let boot_time = now - started;
                        result.boot_ms = Some(millis(boot_time));
                        if !release.is_empty() {
                            result.release = Some(release);
                        }
                        self.sink.event(Event::Booted {
                            kernel: self.kernel.clone(),
                            boot_time,
                        });
                    }
                    Message::Log { level, text } => self.guest_note(level, text),
                    Message::ProgramStarted { index } => {
                        if let Some(program) = programs.get_mut(index as usize) {
                            program.started_at.get_or_insert_with(Instant::now);
                            self.sink.event(Event::ProgramStarted {
                                kernel: self.kernel.clone(),
                                program: program.name.clone(),
                            });
                        }
                    }
                    Message::Output {
                        index,
                        stream,
                        data,
                    } => {
                        if let Some(program) = programs.get_mut(index as usize) {
                            let buffer = match stream {
                                kmatrix_wire::Stream::Stdout => &mut program.captured.stdout,
                                kmatrix_wire::Stream::Stderr => &mut program.captured.stderr,
                            };
                            Captured::push(buffer, &data);
                            self.sink.event(Event::ProgramOutput {
                                kernel: self.kernel.clone(),
                                program: program.name.clone(),
                                stream,
                                data,
                            });
                        }
                    }
                    Message::ProgramFinished {
                        index,
                        status,
                        duration_ms,
                    } => {
                        if let Some(program) = programs.get_mut(index as usize) {
                            program.started_at.get_or_insert_with(Instant::now);
                            program.finished = Some((status, duration_ms));
                            let result = program_result(program, None);
                            self.sink.event(Event::ProgramFinished {
                                kernel: self.kernel.clone(),
                                result,
                            });
                        }
                    }
                    Message::InitFailed { message } => {
                        end = Some(End::InitFailed(message));
                        break;
                    }
                    Message::Done => {
                        end = Some(End::Done);
                        done_at = Some(Instant::now());
                    }
                },
            }
        }
        if let Some(booted) = booted_at {
            result.run_ms = Some(millis(done_at.unwrap_or_else(Instant::now) - booted));
        }
        Outcome {
            end: end.unwrap_or(End::QemuExited),
            booted: booted_at.is_some(),
            programs,
            tail,
            stderr_lines,
        }
    }

    fn guest_note(&self, level: kmatrix_wire::Level, text: String) {
        self.sink.event(Event::GuestLog {
            kernel: self.kernel.clone(),
            level,
            text,
        });
    }
}

struct Outcome {
    end: End,
    booted: bool,
    programs: Vec<ProgramState>,
    tail: ConsoleTail,
    stderr_lines: Vec<String>,
}

impl Outcome {
    fn finish(self, result: &mut KernelResult, session: &Session<'_>) {
        let spec = &session.kernel.spec;
        let running_outcome = match &self.end {
            End::TimedOut => ProgramOutcome::TimedOut,
            _ => ProgramOutcome::Crashed,
        };
        result.programs = self
            .programs
            .iter()
            .map(|p| program_result(p, Some(running_outcome)))
            .collect();
        let tail = self.tail.lines();
        let qemu_said = || match self.stderr_lines.iter().find(|l| !l.trim().is_empty()) {
            Some(line) => format!(": {}", line.trim()),
            None => String::new(),
        };
        let (outcome, class, message) = match (&self.end, self.booted) {
            (_, _) if interrupted_by().is_some() => (
                KernelOutcome::Error,
                ErrorClass::Environment,
                format!(
                    "{spec}: interrupted by signal {}",
                    interrupted_by().unwrap_or_default()
                ),
            ),
            (End::Done, _) => {
                let passed = result
                    .programs
                    .iter()
                    .all(|p| p.outcome == ProgramOutcome::Passed);
                result.outcome = if passed {
                    KernelOutcome::Passed
                } else {
                    KernelOutcome::Failed
                };
                return;
            }
            (End::InitFailed(message), _) => (
                KernelOutcome::Error,
                ErrorClass::Environment,
                format!("{spec}: guest init failed: {message}"),
            ),
            (End::Fatal(fatal), true) => (
                KernelOutcome::Crashed,
                ErrorClass::Environment,
                format!("{spec}: {}: {}", fatal.kind, fatal.line),
            ),
            (End::Fatal(fatal), false) => (
                KernelOutcome::Error,
                ErrorClass::Environment,
                format!(
                    "{spec}: kernel failed to boot to init ({}: {})",
                    fatal.kind, fatal.line
                ),
            ),
            (End::TimedOut, true) => (
                KernelOutcome::TimedOut,
                ErrorClass::Environment,
                format!("{spec}: timed out after {} s", session.timeout.as_secs()),
            ),
            (End::TimedOut, false) => (
                KernelOutcome::Error,
                ErrorClass::Environment,
                format!(
                    "{spec}: kernel did not reach init within {} s",
                    session.timeout.as_secs()
                ),
            ),
            (End::QemuExited, true) => (
                KernelOutcome::Crashed,
                ErrorClass::Environment,
                format!(
                    "{spec}: the guest stopped without reporting its results{}",
                    qemu_said()
                ),
            ),
            (End::QemuExited, false) => (
                KernelOutcome::Error,
                ErrorClass::Environment,
                format!(
                    "{spec}: QEMU exited before the kernel reached init{}",
                    qemu_said()
                ),
            ),
        };
        result.outcome = outcome;
        let class = (outcome == KernelOutcome::Error).then_some(class);
        result.problem = Some(KernelProblem {
            class,
            message,
            console_tail: tail,
        });
    }
}

fn program_result(state: &ProgramState, running: Option<ProgramOutcome>) -> ProgramResult {
    let (outcome, exit_code, signal, duration_ms) = match state.finished {
        Some((ProgramStatus::Exited(0), ms)) => (ProgramOutcome::Passed, Some(0), None, ms),
        Some((ProgramStatus::Exited(code), ms)) => (ProgramOutcome::Failed, Some(code), None, ms),
        Some((ProgramStatus::Signaled(signal), ms)) => {
            (ProgramOutcome::Failed, None, Some(signal), ms)
        }
        Some((ProgramStatus::TimedOut, ms)) => (ProgramOutcome::TimedOut, None, None, ms),
        Some((ProgramStatus::SpawnFailed, ms)) => (ProgramOutcome::Failed, None, None, ms),
        None => match state.started_at {
            Some(at) => (
                running.unwrap_or(ProgramOutcome::Crashed),
                None,
                None,
                millis(at.elapsed()),
            ),
            None => (ProgramOutcome::Skipped, None, None, 0),
        },
    };
    ProgramResult {
        name: state.name.clone(),
        outcome,
        exit_code,
        signal,
        duration_ms,
        tests: Vec::new(),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn spawn_readers(child: &mut QemuChild, log: File, listener: UnixListener, tx: Sender<Input>) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(log));
    if let Some(stdout) = child.take_stdout() {
        let (tx, log) = (tx.clone(), log.clone());
        std::thread::spawn(move || {
            for_each_line(stdout, |line| {
                write_log(&log, line.as_bytes());
                let _ = tx.send(Input::Console(line));
            });
            let _ = tx.send(Input::ConsoleClosed);
        });
    }
    if let Some(stderr) = child.take_stderr() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for_each_line(stderr, |line| {
                write_log(&log, format!("[qemu] {line}").as_bytes());
                let _ = tx.send(Input::QemuStderr(line));
            });
        });
    }
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            let _ = tx.send(Input::ChannelClosed);
            return;
        };
        let mut decoder = FrameDecoder::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            decoder.push(&buf[..n]);
            while let Some(message) = decoder.next_message() {
                let input = match message {
                    Ok(message) => Input::Guest(message),
                    Err(err) => Input::BadFrame(err.to_string()),
                };
                if tx.send(input).is_err() {
                    return;
                }
            }
        }
        let _ = tx.send(Input::ChannelClosed);
    });
}

fn write_log(log: &std::sync::Mutex<File>, line: &[u8]) {
    let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
    let _ = file.write_all(line);
    if !line.ends_with(b"\n") {
        let _ = file.write_all(b"\n");
    }
}

/// Calls `each` with every line (lossily decoded, newline kept) until EOF.
fn for_each_line(reader: impl Read, mut each: impl FnMut(String)) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    while let Ok(n @ 1..) = reader.read_until(b'\n', &mut line) {
        let _ = n;
        each(String::from_utf8_lossy(&line).replace('\r', ""));
        line.clear();
    }
}

/// The console log path for `kernel` under `dir`.
pub(crate) fn console_log_path(dir: &Path, index: usize, slug: &str) -> PathBuf {
    dir.join(format!("{index:02}-{slug}.console.log"))
}
