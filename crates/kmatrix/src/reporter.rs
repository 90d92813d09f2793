//! The terminal reporter: one consumer of the engine's event stream.
//!
//! Progress and notes go to stderr as `kmatrix: <kernel>: ...` lines; each program's output goes
//! to the same stream it was written to in the guest, line by line, prefixed with the kernel it
//! came from (`[debian:6.1] ...`), so interleaved output of a matrix stays attributable.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use kmatrix_runner::events::{GuestLevel, OutputStream};
use kmatrix_runner::{
    Event, EventSink, FetchSource, KernelId, KernelOutcome, KernelResult, ProgramOutcome, Report,
};

use crate::status::StatusBoard;

/// What is being run, which decides how much of it is shown live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Programs: their output streams live, line by line.
    Programs,
    /// Test binaries: one line per test; output only with `--verbose` (failures show theirs at the end).
    Tests,
}

/// Renders events for a person at a terminal (or a CI log).
pub struct Terminal {
    verbose: bool,
    mode: Mode,
    partial: Mutex<HashMap<(usize, bool), Vec<u8>>>,
    board: StatusBoard,
}

impl Terminal {
    /// A reporter; `verbose` also shows cache hits, boot times and informational guest notes.
    pub fn new(verbose: bool, mode: Mode) -> Self {
        Terminal {
            verbose,
            mode,
            partial: Mutex::new(HashMap::new()),
            board: StatusBoard::new(std::io::stderr().is_terminal()),
        }
    }

    /// A line above the board (or just a line, off a terminal).
    fn note(&self, kernel: &str, text: &str) {
        self.board
            .print_above(true, format!("kmatrix: {kernel}: {text}\n").as_bytes());
    }

    /// One line of program output, prefixed with the kernel it came from.
    fn print_line(&self, spec: &str, is_stderr: bool, line: &[u8]) {
        let mut text = format!("[{spec}] ").into_bytes();
        text.extend_from_slice(line);
        self.board.print_above(is_stderr, &text);
    }

    /// A change of what a kernel is doing: its status line, and a full line when `line`.
    fn progress(&self, kernel: &KernelId, text: &str, line: bool) {
        self.board.set(kernel.index, &kernel.spec, text);
        if line {
            self.note(&kernel.spec, text);
        }
    }

    fn output(&self, kernel_index: usize, spec: &str, stream: OutputStream, data: &[u8]) {
        let is_stderr = stream == OutputStream::Stderr;
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = partial.entry((kernel_index, is_stderr)).or_default();
        buffer.extend_from_slice(data);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            self.print_line(spec, is_stderr, &line);
        }
    }

    fn flush_partial(&self, kernel_index: usize, spec: &str) {
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        for is_stderr in [false, true] {
            if let Some(rest) = partial.remove(&(kernel_index, is_stderr))
                && !rest.is_empty()
            {
                let mut line = rest;
                line.push(b'\n');
                self.print_line(spec, is_stderr, &line);
            }
        }
    }

    /// Prints the final table: one row per kernel (and takes the status board down).
    pub fn summary(&self, report: &Report) {
        self.board.finish();
        let header = [
            "KERNEL", "RELEASE", "ARCH", "ACCEL", "OUTCOME", "BOOT", "RUN",
        ];
        let rows: Vec<[String; 7]> = report.kernels.iter().map(summary_row).collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = String::from("\n");
        let mut line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(padded.join("  ").trim_end());
            out.push('\n');
        };
        line(header.to_vec());
        for row in &rows {
            line(row.iter().map(String::as_str).collect());
        }
        let passed = report
            .kernels
            .iter()
            .filter(|k| k.outcome == KernelOutcome::Passed)
            .count();
        out.push_str(&format!(
            "{passed} of {} kernels passed\n",
            report.kernels.len()
        ));
        eprint!("{out}");
    }
}

fn seconds(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

fn summary_row(kernel: &KernelResult) -> [String; 7] {
    let outcome = match kernel.outcome {
        KernelOutcome::Passed => "passed",
        KernelOutcome::Failed => "FAILED",
        KernelOutcome::Crashed => "CRASHED",
        KernelOutcome::TimedOut => "TIMEOUT",
        KernelOutcome::Error => "ERROR",
    };
    let dash = || "-".to_string();
    [
        kernel.spec.clone(),
        kernel.release.clone().unwrap_or_else(dash),
        kernel.arch.clone().unwrap_or_else(dash),
        kernel.accel.clone().unwrap_or_else(dash),
        outcome.to_string(),
        seconds(kernel.boot_ms),
        seconds(kernel.run_ms),
    ]
}

impl EventSink for Terminal {
    fn event(&self, event: Event) {
        let board = self.board.enabled();
        match event {
            Event::Resolved {
                kernel,
                package,
                version,
                suite,
            } => {
                self.progress(&kernel, &format!("{package} {version} ({suite})"), !board);
            }
            Event::Downloading { kernel, url, size } => {
                let text = format!("downloading {url} ({:.1} MB)", size as f64 / 1e6);
                self.progress(&kernel, &text, !board);
            }
            Event::Notice { kernel, text } => self.note(&kernel.spec, &text),
            Event::Fetched {
                kernel,
                path,
                source,
            } => {
                let how = match source {
                    FetchSource::Downloaded => "downloaded and verified",
                    FetchSource::Cached => "cached",
                };
                let show = self.verbose || (source == FetchSource::Downloaded && !board);
                self.progress(&kernel, &format!("{how}: {}", path.display()), show);
            }
            Event::Extracted { kernel, elapsed } => {
                self.progress(
                    &kernel,
                    &format!("extracted in {:.1}s", elapsed.as_secs_f64()),
                    !board || self.verbose,
                );
            }
            Event::AccelFallback { reason } => self
                .board
                .print_above(true, format!("kmatrix: {reason}\n").as_bytes()),
            Event::VmStarting {
                kernel,
                release,
                arch,
                accel,
                console_log,
            } => {
                self.board.set(
                    kernel.index,
                    &kernel.spec,
                    &format!("booting {release} ({arch}, {accel})"),
                );
                if !board || self.verbose {
                    let text = format!(
                        "booting {release} ({arch}, {accel}); console log: {}",
                        console_log.display()
                    );
                    self.note(&kernel.spec, &text);
                }
            }
            Event::Booted { kernel, boot_time } => {
                let text = format!("init running after {:.2}s", boot_time.as_secs_f64());
                self.progress(&kernel, &text, self.verbose);
            }
            Event::GuestLog {
                kernel,
                level,
                text,
            } => {
                if self.verbose || level != GuestLevel::Info {
                    self.note(&kernel.spec, &format!("guest: {text}"));
                }
            }
            Event::ProgramStarted { kernel, program } => {
                self.board
                    .set(kernel.index, &kernel.spec, &format!("running {program}"));
            }
            Event::ProgramOutput {
                kernel,
                stream,
                data,
                ..
            } => {
                if self.mode == Mode::Programs || self.verbose {
                    self.output(kernel.index, &kernel.spec, stream, &data);
                }
            }
            Event::ProgramFinished { kernel, result } => {
                self.flush_partial(kernel.index, &kernel.spec);
                let how = match (result.outcome, result.exit_code, result.signal) {
                    (ProgramOutcome::Passed, _, _) => "passed".to_string(),
                    (ProgramOutcome::TimedOut, _, _) => "TIMED OUT".to_string(),
                    (_, code, signal) => format!(
                        "FAILED: {}",
                        kmatrix_runner::outcome::failure_words(code, signal)
                    ),
                };
                let text = format!("{} {how} ({} ms)", result.name, result.duration_ms);
                // On a terminal, passing tests only move the status line; everything else is a line.
                let quiet =
                    board && self.mode == Mode::Tests && result.outcome == ProgramOutcome::Passed;
                self.progress(&kernel, &text, !quiet || self.verbose);
            }
            Event::KernelFinished { kernel, result } => {
                self.flush_partial(kernel.index, &kernel.spec);
                self.board.set(
                    kernel.index,
                    &kernel.spec,
                    &format!("done: {}", summary_row(&result)[4]),
                );
                if let Some(problem) = &result.problem {
                    let mut text = format!("kmatrix: error: {}\n", problem.message);
                    if !problem.console_tail.is_empty() {
                        text.push_str(&format!("kmatrix: {}: last console lines:\n", kernel.spec));
                        for line in &problem.console_tail {
                            text.push_str(&format!("    {line}\n"));
                        }
                    }
                    self.board.print_above(true, text.as_bytes());
                }
            }
        }
    }
}
