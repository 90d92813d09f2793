//! JUnit XML from a [`Report`]: one test suite per kernel × program, one test case per test
//! (or one for a plain program), in the shape CI systems display.

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use crate::outcome::{
    KernelOutcome, ProgramOutcome, ProgramResult, Report, TestOutcome, TestResult, failure_words,
};

/// Renders `report` as JUnit XML.
pub fn to_junit_xml(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut junit = JunitReport::new("kmatrix");
    for kernel in &report.kernels {
        if kernel.programs.is_empty() {
            // A kernel that never ran anything still shows up, as one erroring case.
            let mut suite = TestSuite::new(kernel.spec.clone());
            let mut case = TestCase::new(
                "boot",
                non_success(NonSuccessKind::Error, &kernel_message(kernel)),
            );
            case.set_classname(kernel.spec.clone());
            suite.add_test_case(case);
            junit.add_test_suite(suite);
            continue;
        }
        for program in &kernel.programs {
            let mut suite = TestSuite::new(format!("{} {}", kernel.spec, program.name));
            if program.tests.is_empty() {
                suite.add_test_case(program_case(&kernel.spec, program));
            } else {
                for test in &program.tests {
                    suite.add_test_case(test_case(&kernel.spec, &program.name, test));
                }
            }
            junit.add_test_suite(suite);
        }
    }
    junit.to_string()
}

fn kernel_message(kernel: &crate::outcome::KernelResult) -> String {
    let outcome = match kernel.outcome {
        KernelOutcome::Passed => "passed",
        KernelOutcome::Failed => "failed",
        KernelOutcome::Crashed => "crashed",
        KernelOutcome::TimedOut => "timed out",
        KernelOutcome::Error => "error",
    };
    kernel
        .problem
        .as_ref()
        .map(|p| p.message.clone())
        .unwrap_or_else(|| outcome.to_string())
}

fn non_success(kind: NonSuccessKind, message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(message.to_string());
    status
}

fn program_case(spec: &str, program: &ProgramResult) -> TestCase {
    let status = match program.outcome {
        ProgramOutcome::Passed => TestCaseStatus::success(),
        ProgramOutcome::Skipped => TestCaseStatus::skipped(),
        ProgramOutcome::Failed => non_success(
            NonSuccessKind::Failure,
            &failure_words(program.exit_code, program.signal),
        ),
        ProgramOutcome::Crashed => {
            non_success(NonSuccessKind::Error, "the kernel crashed while it ran")
        }
        ProgramOutcome::TimedOut => non_success(NonSuccessKind::Failure, "timed out"),
    };
    let mut case = TestCase::new(program.name.clone(), status);
    case.set_classname(spec.to_string());
    case.set_time(std::time::Duration::from_millis(program.duration_ms));
    case
}

fn test_case(spec: &str, program: &str, test: &TestResult) -> TestCase {
    let status = match test.outcome {
        TestOutcome::Passed => TestCaseStatus::success(),
        TestOutcome::Ignored | TestOutcome::Skipped => TestCaseStatus::skipped(),
        TestOutcome::Failed => non_success(
            NonSuccessKind::Failure,
            &failure_words(test.exit_code, test.signal),
        ),
        TestOutcome::TimedOut => non_success(NonSuccessKind::Failure, "timed out"),
        TestOutcome::Crashed => {
            non_success(NonSuccessKind::Error, "the kernel crashed while it ran")
        }
    };
    let mut case = TestCase::new(test.name.clone(), status);
    case.set_classname(format!("{spec} {program}"));
    case.set_time(std::time::Duration::from_millis(test.duration_ms));
    if !test.stdout.is_empty() {
        case.set_system_out(test.stdout.clone());
    }
    if !test.stderr.is_empty() {
        case.set_system_err(test.stderr.clone());
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::KernelResult;

    fn test(name: &str, outcome: TestOutcome) -> TestResult {
        TestResult {
            name: name.into(),
            outcome,
            duration_ms: 5,
            exit_code: None,
            signal: None,
            stdout: "out <&>".into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn one_suite_per_kernel_and_program_with_counts() {
        let mut kernel =
            KernelResult::error("debian:6.1", crate::ErrorClass::Environment, String::new());
        kernel.outcome = KernelOutcome::Failed;
        kernel.problem = None;
        kernel.programs.push(ProgramResult {
            name: "crate".into(),
            outcome: ProgramOutcome::Failed,
            exit_code: None,
            signal: None,
            duration_ms: 15,
            tests: vec![
                test("a", TestOutcome::Passed),
                test("b", TestOutcome::Failed),
                test("c", TestOutcome::Ignored),
            ],
        });
        let xml = to_junit_xml(&Report {
            kernels: vec![kernel],
        })
        .unwrap();
        assert!(xml.contains(r#"<testsuite name="debian:6.1 crate" tests="3" skipped="1" errors="0" failures="1""#), "{xml}");
        assert!(xml.contains("out &lt;&amp;&gt;"), "{xml}");
    }
}
