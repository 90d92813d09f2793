//! The terminal reporter: one consumer of the engine's event stream.
//!
//! Progress and notes go to stderr as `kmatrix: <kernel>: ...` lines; each program's output goes
//! to the same stream it was written to in the guest, line by line, prefixed with the kernel it
//! came from (`[debian:6.1] ...`), so interleaved output of a matrix stays attributable.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use kmatrix_runner::events::{GuestLevel, OutputStream};
use kmatrix_runner::{Event, EventSink, KernelOutcome, KernelResult, ProgramOutcome, Report};

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
}

impl Terminal {
    /// A reporter; `verbose` also shows cache hits, boot times and informational guest notes.
    pub fn new(verbose: bool, mode: Mode) -> Self {
        Terminal {
            verbose,
            mode,
            partial: Mutex::new(HashMap::new()),
        }
    }

    fn note(&self, kernel: &str, text: &str) {
        eprintln!("kmatrix: {kernel}: {text}");
    }

    fn output(&self, kernel_index: usize, spec: &str, stream: OutputStream, data: &[u8]) {
        let is_stderr = stream == OutputStream::Stderr;
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = partial.entry((kernel_index, is_stderr)).or_default();
        buffer.extend_from_slice(data);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            print_line(spec, is_stderr, &line);
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
                print_line(spec, is_stderr, &line);
            }
        }
    }

    /// Prints the final table: one row per kernel.
    pub fn summary(&self, report: &Report) {
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

fn print_line(spec: &str, is_stderr: bool, line: &[u8]) {
    let mut text = format!("[{spec}] ").into_bytes();
    text.extend_from_slice(line);
    // A closed stdout (e.g. piped into `head`) must not abort the run.
    if is_stderr {
        let _ = std::io::stderr().lock().write_all(&text);
    } else {
        let _ = std::io::stdout().lock().write_all(&text);
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
        match event {
            Event::Resolved {
                kernel,
                package,
                version,
                suite,
            } => {
                self.note(&kernel.spec, &format!("{package} {version} ({suite})"));
            }
            Event::Downloading { kernel, url, size } => {
                self.note(
                    &kernel.spec,
                    &format!("downloading {url} ({:.1} MB)", size as f64 / 1e6),
                );
            }
            Event::Notice { kernel, text } => self.note(&kernel.spec, &text),
            Event::Fetched {
                kernel,
                path,
                source,
            } => {
                if self.verbose || source == kmatrix_runner::FetchSource::Downloaded {
                    let how = match source {
                        kmatrix_runner::FetchSource::Downloaded => "downloaded and verified",
                        kmatrix_runner::FetchSource::Cached => "cached",
                    };
                    self.note(&kernel.spec, &format!("{how}: {}", path.display()));
                }
            }
            Event::Extracted { kernel, elapsed } => {
                self.note(
                    &kernel.spec,
                    &format!("extracted in {:.1}s", elapsed.as_secs_f64()),
                );
            }
            Event::AccelFallback { reason } => eprintln!("kmatrix: {reason}"),
            Event::VmStarting {
                kernel,
                release,
                arch,
                accel,
                console_log,
            } => {
                self.note(
                    &kernel.spec,
                    &format!(
                        "booting {release} ({arch}, {accel}); console log: {}",
                        console_log.display()
                    ),
                );
            }
            Event::Booted { kernel, boot_time } => {
                if self.verbose {
                    self.note(
                        &kernel.spec,
                        &format!("init running after {:.2}s", boot_time.as_secs_f64()),
                    );
                }
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
            Event::ProgramStarted { .. } => {}
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
                    (_, Some(code), _) => format!("FAILED with exit status {code}"),
                    (_, _, Some(signal)) => format!("FAILED: killed by signal {signal}"),
                    _ => "FAILED: could not be started".to_string(),
                };
                self.note(
                    &kernel.spec,
                    &format!("{} {how} ({} ms)", result.name, result.duration_ms),
                );
            }
            Event::KernelFinished { kernel, result } => {
                self.flush_partial(kernel.index, &kernel.spec);
                if let Some(problem) = &result.problem {
                    eprintln!("kmatrix: error: {}", problem.message);
                    if !problem.console_tail.is_empty() {
                        eprintln!("kmatrix: {}: last console lines:", kernel.spec);
                        for line in &problem.console_tail {
                            eprintln!("    {line}");
                        }
                    }
                }
            }
        }
    }
}
