//! The test matrix: one row per test, one column per kernel, then the failures with their
//! output and the kernel they failed on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use kmatrix_runner::{ProgramOutcome, Report, TestOutcome};

/// A cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Test(TestOutcome),
    Program(ProgramOutcome),
    /// The kernel never ran this row (it failed to boot, or the row is from another kernel).
    Absent,
}

impl Cell {
    fn text(self, symbols: bool) -> &'static str {
        use ProgramOutcome as P;
        use TestOutcome as T;
        match (self, symbols) {
            (Cell::Test(T::Passed) | Cell::Program(P::Passed), true) => "✓",
            (Cell::Test(T::Passed) | Cell::Program(P::Passed), false) => "passed",
            (Cell::Test(T::Failed) | Cell::Program(P::Failed), true) => "✗",
            (Cell::Test(T::Failed) | Cell::Program(P::Failed), false) => "FAILED",
            (Cell::Test(T::Ignored), true) => "○",
            (Cell::Test(T::Ignored), false) => "ignored",
            (Cell::Test(T::TimedOut) | Cell::Program(P::TimedOut), true) => "⧗",
            (Cell::Test(T::TimedOut) | Cell::Program(P::TimedOut), false) => "TIMEOUT",
            (Cell::Test(T::Crashed) | Cell::Program(P::Crashed), true) => "☠",
            (Cell::Test(T::Crashed) | Cell::Program(P::Crashed), false) => "CRASHED",
            (Cell::Test(T::Skipped) | Cell::Program(P::Skipped), true) => "·",
            (Cell::Test(T::Skipped) | Cell::Program(P::Skipped), false) => "skipped",
            (Cell::Absent, _) => "-",
        }
    }
}

/// Prints the matrix and the failures to stdout.
pub fn print(report: &Report) {
    let symbols = std::io::stdout().is_terminal();
    print!("{}", render(report, symbols));
}

/// The matrix and failure sections as text; `symbols` picks compact cells (for a terminal).
pub fn render(report: &Report, symbols: bool) -> String {
    let mut rows: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(String, usize), Cell> = BTreeMap::new();
    for (column, kernel) in report.kernels.iter().enumerate() {
        for program in &kernel.programs {
            if program.tests.is_empty() {
                add_row(&mut rows, &program.name);
                cells.insert(
                    (program.name.clone(), column),
                    Cell::Program(program.outcome),
                );
            }
            for test in &program.tests {
                let row = format!("{} {}", program.name, test.name);
                add_row(&mut rows, &row);
                cells.insert((row, column), Cell::Test(test.outcome));
            }
        }
    }
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let headers: Vec<&str> = report.kernels.iter().map(|k| k.spec.as_str()).collect();
    let name_width = rows
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let widths: Vec<usize> = headers.iter().map(|h| h.chars().count().max(7)).collect();
    let _ = write!(out, "\n{:<name_width$}", "TEST");
    for (header, width) in headers.iter().zip(&widths) {
        let _ = write!(out, "  {header:<width$}");
    }
    out = out.trim_end().to_string();
    out.push('\n');
    for row in &rows {
        let mut line = format!("{row:<name_width$}");
        for (column, width) in widths.iter().enumerate() {
            let cell = cells
                .get(&(row.clone(), column))
                .copied()
                .unwrap_or(Cell::Absent);
            let text = cell.text(symbols);
            let pad = width.saturating_sub(text.chars().count());
            let _ = write!(line, "  {text}{}", " ".repeat(pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&failures(report));
    out
}

fn add_row(rows: &mut Vec<String>, row: &str) {
    if !rows.iter().any(|r| r == row) {
        rows.push(row.to_string());
    }
}

fn failures(report: &Report) -> String {
    let mut out = String::new();
    for kernel in &report.kernels {
        for program in &kernel.programs {
            for test in &program.tests {
                if matches!(
                    test.outcome,
                    TestOutcome::Passed | TestOutcome::Ignored | TestOutcome::Skipped
                ) {
                    continue;
                }
                let how = match (test.outcome, test.exit_code, test.signal) {
                    (TestOutcome::TimedOut, _, _) => "timed out".to_string(),
                    (TestOutcome::Crashed, _, _) => "the kernel crashed".to_string(),
                    (_, code, signal) => kmatrix_runner::outcome::failure_words(code, signal),
                };
                let _ = writeln!(
                    out,
                    "\n--- {} {} on {} ({how})",
                    program.name, test.name, kernel.spec
                );
                for text in [&test.stdout, &test.stderr] {
                    if !text.trim().is_empty() {
                        out.push_str(text.trim_end());
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmatrix_runner::{KernelOutcome, KernelResult, ProgramResult, TestResult};

    fn kernel(spec: &str, outcomes: &[(&str, TestOutcome)]) -> KernelResult {
        let mut kernel =
            KernelResult::error(spec, kmatrix_runner::ErrorClass::Environment, String::new());
        kernel.outcome = KernelOutcome::Failed;
        kernel.problem = None;
        kernel.programs.push(ProgramResult {
            name: "probe".into(),
            outcome: ProgramOutcome::Failed,
            exit_code: None,
            signal: None,
            duration_ms: 0,
            tests: outcomes
                .iter()
                .map(|(name, outcome)| TestResult {
                    name: name.to_string(),
                    outcome: *outcome,
                    duration_ms: 1,
                    exit_code: (*outcome == TestOutcome::Failed).then_some(101),
                    signal: None,
                    stdout: if *outcome == TestOutcome::Failed {
                        "assertion `left == right` failed".into()
                    } else {
                        String::new()
                    },
                    stderr: String::new(),
                })
                .collect(),
        });
        kernel
    }

    fn report() -> Report {
        use TestOutcome::*;
        Report {
            kernels: vec![
                kernel(
                    "debian:5.10",
                    &[
                        ("io_uring", Passed),
                        ("cachestat", Failed),
                        ("slow", Ignored),
                    ],
                ),
                kernel(
                    "debian:6.12",
                    &[
                        ("io_uring", Passed),
                        ("cachestat", Passed),
                        ("slow", Ignored),
                        ("hang", TimedOut),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn plain_words_when_not_a_terminal() {
        let text = render(&report(), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "TEST             debian:5.10  debian:6.12");
        assert_eq!(lines[2], "probe io_uring   passed       passed");
        assert_eq!(lines[3], "probe cachestat  FAILED       passed");
        assert_eq!(lines[4], "probe slow       ignored      ignored");
        assert_eq!(lines[5], "probe hang       -            TIMEOUT");
        assert!(text.contains(
            "--- probe cachestat on debian:5.10 (exit status 101)\nassertion `left == right` failed"
        ));
        assert!(text.contains("--- probe hang on debian:6.12 (timed out)"));
    }

    #[test]
    fn compact_symbols_on_a_terminal() {
        let text = render(&report(), true);
        assert!(text.contains("probe cachestat  ✗            ✓"), "{text}");
        assert!(text.contains("probe hang       -            ⧗"), "{text}");
    }
}
