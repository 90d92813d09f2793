//! Units: the processes a guest runs. A plain program is one unit; a test binary is one unit
//! per test (as cargo-nextest runs tests), so a test that crashes or hangs is that test's result
//! alone. Results come back per unit and are folded into one [`ProgramResult`] per program.

use std::ffi::OsString;
use std::time::Duration;

use crate::outcome::{ProgramOutcome, ProgramResult, TestOutcome, TestResult};
use crate::programs::ProgramRequest;

/// One process in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Index of the program it belongs to.
    pub program: usize,
    /// Index of the test within that program, for test binaries.
    pub test: Option<usize>,
    /// Name in events: the program name, or `program test`.
    pub name: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<OsString>,
    /// Limit enforced in the guest.
    pub timeout: Option<Duration>,
}

/// What a unit printed, kept to show the output of a test that did not pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// Standard output (the tail, when very long).
    pub stdout: Vec<u8>,
    /// Standard error (the tail, when very long).
    pub stderr: Vec<u8>,
}

/// Most output kept per stream and unit.
const CAPTURE_LIMIT: usize = 256 * 1024;

impl Captured {
    /// Appends `data`, keeping the last [`CAPTURE_LIMIT`] bytes.
    pub fn push(buffer: &mut Vec<u8>, data: &[u8]) {
        buffer.extend_from_slice(data);
        if buffer.len() > CAPTURE_LIMIT {
            let excess = buffer.len() - CAPTURE_LIMIT;
            buffer.drain(..excess);
        }
    }
}

/// The units for `requests`, given the programs' display names. Ignored tests get no unit.
pub(crate) fn units(requests: &[ProgramRequest], names: &[String]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (program, (request, name)) in requests.iter().zip(names).enumerate() {
        if request.tests.is_empty() {
            units.push(Unit {
                program,
                test: None,
                name: name.clone(),
                args: request.args.clone(),
                timeout: request.timeout,
            });
            continue;
        }
        for (test, case) in request.tests.iter().enumerate() {
            if let Some(args) = &case.args {
                units.push(Unit {
                    program,
                    test: Some(test),
                    name: format!("{name} {}", case.name),
                    args: args.clone(),
                    timeout: request.timeout,
                });
            }
        }
    }
    units
}

/// Folds per-unit results into per-program results, in program order.
pub(crate) fn fold(
    requests: &[ProgramRequest],
    names: &[String],
    units: &[Unit],
    results: &[ProgramResult],
    captured: &[Captured],
) -> Vec<ProgramResult> {
    let mut programs = Vec::new();
    for (index, (request, name)) in requests.iter().zip(names).enumerate() {
        let mine = || {
            units
                .iter()
                .zip(results)
                .zip(captured)
                .filter(move |((u, _), _)| u.program == index)
        };
        if request.tests.is_empty() {
            if let Some(((_, result), _)) = mine().next() {
                let mut result = result.clone();
                if result.exit_code.is_some() && result.exit_code == request.skip_exit_code {
                    result.outcome = ProgramOutcome::Skipped;
                }
                programs.push(result);
            }
            continue;
        }
        let mut tests = Vec::new();
        for (test, case) in request.tests.iter().enumerate() {
            let found = mine().find(|((u, _), _)| u.test == Some(test));
            tests.push(match found {
                Some(((_, result), output)) => test_result(&case.name, result, output),
                None => TestResult {
                    name: case.name.clone(),
                    outcome: TestOutcome::Ignored,
                    duration_ms: 0,
                    exit_code: None,
                    signal: None,
                    stdout: String::new(),
                    stderr: String::new(),
                },
            });
        }
        programs.push(binary_result(name, tests));
    }
    programs
}

fn test_result(name: &str, unit: &ProgramResult, output: &Captured) -> TestResult {
    let outcome = match unit.outcome {
        ProgramOutcome::Passed => TestOutcome::Passed,
        ProgramOutcome::Failed => TestOutcome::Failed,
        ProgramOutcome::Skipped => TestOutcome::Skipped,
        ProgramOutcome::Crashed => TestOutcome::Crashed,
        ProgramOutcome::TimedOut => TestOutcome::TimedOut,
    };
    let keep = !matches!(outcome, TestOutcome::Passed | TestOutcome::Skipped);
    let text = |bytes: &[u8]| {
        if keep {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            String::new()
        }
    };
    TestResult {
        name: name.to_string(),
        outcome,
        duration_ms: unit.duration_ms,
        exit_code: unit.exit_code,
        signal: unit.signal,
        stdout: text(&output.stdout),
        stderr: text(&output.stderr),
    }
}

/// Whether every program passed (skipped programs and ignored tests do not fail a kernel).
pub(crate) fn all_passed(programs: &[ProgramResult]) -> bool {
    programs
        .iter()
        .all(|p| matches!(p.outcome, ProgramOutcome::Passed | ProgramOutcome::Skipped))
}

/// A test binary passed when none of its tests failed, timed out or crashed.
fn binary_result(name: &str, tests: Vec<TestResult>) -> ProgramResult {
    let any = |outcome| tests.iter().any(|t| t.outcome == outcome);
    let outcome = if any(TestOutcome::Crashed) {
        ProgramOutcome::Crashed
    } else if any(TestOutcome::TimedOut) {
        ProgramOutcome::TimedOut
    } else if any(TestOutcome::Failed) {
        ProgramOutcome::Failed
    } else if !tests.is_empty() && tests.iter().all(|t| t.outcome == TestOutcome::Skipped) {
        ProgramOutcome::Skipped
    } else {
        ProgramOutcome::Passed
    };
    ProgramResult {
        name: name.to_string(),
        outcome,
        exit_code: None,
        signal: None,
        duration_ms: tests.iter().map(|t| t.duration_ms).sum(),
        tests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::TestRequest;

    fn binary(tests: &[(&str, bool)]) -> ProgramRequest {
        let mut request = ProgramRequest::new("/t/bin", Vec::<String>::new());
        request.timeout = Some(Duration::from_secs(5));
        request.tests = tests
            .iter()
            .map(|(name, run)| TestRequest {
                name: name.to_string(),
                args: run.then(|| vec![OsString::from("--exact"), OsString::from(*name)]),
            })
            .collect();
        request
    }

    fn unit_result(outcome: ProgramOutcome, exit_code: Option<i32>) -> ProgramResult {
        ProgramResult {
            name: String::new(),
            outcome,
            exit_code,
            signal: None,
            duration_ms: 3,
            tests: vec![],
        }
    }

    #[test]
    fn each_test_that_runs_is_its_own_unit_and_ignored_ones_are_not() {
        let requests = [
            ProgramRequest::new("/bin/true", ["x"]),
            binary(&[("a", true), ("b", false), ("c", true)]),
        ];
        let names = ["true".to_string(), "crate".to_string()];
        let units = units(&requests, &names);
        let summary: Vec<(usize, Option<usize>, &str)> = units
            .iter()
            .map(|u| (u.program, u.test, u.name.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (0, None, "true"),
                (1, Some(0), "crate a"),
                (1, Some(2), "crate c")
            ]
        );
        assert_eq!(
            units[2].args,
            [OsString::from("--exact"), OsString::from("c")]
        );
        assert_eq!(units[1].timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn folding_gives_per_test_outcomes_and_keeps_output_only_for_failures() {
        let requests = [binary(&[
            ("pass", true),
            ("fail", true),
            ("ignored", false),
            ("hang", true),
        ])];
        let names = ["crate".to_string()];
        let units = units(&requests, &names);
        let results = [
            unit_result(ProgramOutcome::Passed, Some(0)),
            unit_result(ProgramOutcome::Failed, Some(101)),
            unit_result(ProgramOutcome::TimedOut, None),
        ];
        let captured = [
            Captured {
                stdout: b"ok out".to_vec(),
                stderr: vec![],
            },
            Captured {
                stdout: b"assertion failed".to_vec(),
                stderr: b"panicked".to_vec(),
            },
            Captured::default(),
        ];
        let programs = fold(&requests, &names, &units, &results, &captured);
        assert_eq!(programs.len(), 1);
        let tests = &programs[0].tests;
        let outcomes: Vec<(&str, TestOutcome)> =
            tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("pass", TestOutcome::Passed),
                ("fail", TestOutcome::Failed),
                ("ignored", TestOutcome::Ignored),
                ("hang", TestOutcome::TimedOut)
            ]
        );
        assert_eq!(tests[0].stdout, "");
        assert_eq!(tests[1].stdout, "assertion failed");
        assert_eq!(tests[1].exit_code, Some(101));
        assert_eq!(programs[0].outcome, ProgramOutcome::TimedOut);
    }

    #[test]
    fn the_skip_exit_code_makes_a_plain_program_skipped() {
        let mut request = ProgramRequest::new("/t/check", Vec::<String>::new());
        request.skip_exit_code = Some(77);
        let requests = [request];
        let names = ["check".to_string()];
        let units = units(&requests, &names);
        let programs = fold(
            &requests,
            &names,
            &units,
            &[unit_result(ProgramOutcome::Failed, Some(77))],
            &[Captured::default()],
        );
        assert_eq!(programs[0].outcome, ProgramOutcome::Skipped);
        assert!(all_passed(&programs));
        let programs = fold(
            &requests,
            &names,
            &units,
            &[unit_result(ProgramOutcome::Failed, Some(1))],
            &[Captured::default()],
        );
        assert_eq!(programs[0].outcome, ProgramOutcome::Failed);
        assert!(!all_passed(&programs));
    }

    #[test]
    fn capture_keeps_the_tail() {
        let mut buffer = Vec::new();
        Captured::push(&mut buffer, &vec![b'a'; CAPTURE_LIMIT]);
        Captured::push(&mut buffer, b"end");
        assert_eq!(buffer.len(), CAPTURE_LIMIT);
        assert!(buffer.ends_with(b"aend"));
    }
}
