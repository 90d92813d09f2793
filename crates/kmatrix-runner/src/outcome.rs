//! Results: what happened on each kernel, and the JSON report built from them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ErrorClass;

/// How one kernel's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelOutcome {
    /// Every program passed.
    Passed,
    /// At least one program failed; the guest itself was fine.
    Failed,
    /// The kernel panicked, oopsed, stalled, or the guest stopped without reporting.
    Crashed,
    /// The VM ran past `--timeout`.
    TimedOut,
    /// Tests could not run: the kernel could not be fetched or prepared, or did not boot.
    Error,
}

/// How one program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramOutcome {
    /// Exit status 0.
    Passed,
    /// Non-zero exit status, a signal, or it could not be started.
    Failed,
    /// Never started because the guest ended before its turn.
    Skipped,
    /// The guest crashed while it ran.
    Crashed,
    /// It ran past its timeout, or the VM timed out while it ran.
    TimedOut,
}

/// One program's result on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramResult {
    /// Program name.
    pub name: String,
    /// How it ended.
    pub outcome: ProgramOutcome,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Killing signal, when it was killed by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Wall time in the guest.
    pub duration_ms: u64,
    /// Per-test results (libtest binaries); empty for plain programs.
    pub tests: Vec<TestResult>,
}

/// How one test of a test binary ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// The test process exited 0.
    Passed,
    /// The test process exited non-zero or was killed by a signal.
    Failed,
    /// Marked `#[ignore]` and not asked for; not run.
    Ignored,
    /// It ran past its per-test timeout, or the VM timed out while it ran.
    TimedOut,
    /// The guest kernel crashed while it ran.
    Crashed,
    /// Not run because the guest ended before its turn.
    Skipped,
}

/// One test's result: each test runs in its own process, so a crash or hang is its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// Test name, as `--exact` takes it.
    pub name: String,
    /// How it ended.
    pub outcome: TestOutcome,
    /// Wall time of its process.
    pub duration_ms: u64,
    /// Exit status of its process, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Killing signal, when killed by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Captured standard output (kept for tests that did not pass).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    /// Captured standard error (kept for tests that did not pass).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
}

/// How a process that failed ended, in words: `exit status 101`, `killed by signal 9`, or
/// `could not be started` (the guest reported why just before).
pub fn failure_words(exit_code: Option<i32>, signal: Option<i32>) -> String {
    match (exit_code, signal) {
        (Some(code), _) => format!("exit status {code}"),
        (_, Some(signal)) => format!("killed by signal {signal}"),
        _ => "could not be started".to_string(),
    }
}

/// Why a kernel ended in [`KernelOutcome::Error`] (or a crash, with detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelProblem {
    /// Exit-status class, for kernels whose outcome is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ErrorClass>,
    /// One-line description naming the kernel and the cause.
    pub message: String,
    /// Last lines of the kernel console, when the guest crashed or hung.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_tail: Vec<String>,
}

/// One kernel's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelResult {
    /// Position of the kernel in the whole matrix (also when this run is one shard of it).
    #[serde(default)]
    pub index: usize,
    /// The spec as written.
    pub spec: String,
    /// Kernel release (`uname -r`), when known.
    pub release: Option<String>,
    /// Guest architecture, when known.
    pub arch: Option<String>,
    /// `kvm` or `tcg`, when a VM was started.
    pub accel: Option<String>,
    /// How it ended.
    pub outcome: KernelOutcome,
    /// From starting QEMU to the guest init's first message.
    pub boot_ms: Option<u64>,
    /// From the guest init's first message to the end of the last program.
    pub run_ms: Option<u64>,
    /// Console log file.
    pub console_log: Option<PathBuf>,
    /// What went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<KernelProblem>,
    /// Each program's result, in order.
    pub programs: Vec<ProgramResult>,
}

impl KernelResult {
    /// A result for a kernel that never got to run anything.
    pub fn error(spec: &str, class: ErrorClass, message: String) -> Self {
        KernelResult {
            index: 0,
            spec: spec.to_string(),
            release: None,
            arch: None,
            accel: None,
            outcome: KernelOutcome::Error,
            boot_ms: None,
            run_ms: None,
            console_log: None,
            problem: Some(KernelProblem {
                class: Some(class),
                message,
                console_tail: Vec::new(),
            }),
            programs: Vec::new(),
        }
    }
}

/// The results of a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// One entry per kernel, in matrix order.
    pub kernels: Vec<KernelResult>,
}

/// The documented exit statuses.
pub mod exit_code {
    /// Every program passed on every kernel.
    pub const SUCCESS: i32 = 0;
    /// A test failed, or a guest crashed or timed out while tests ran.
    pub const TEST_FAILURE: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// Environment or infrastructure error before tests could run.
    pub const ENVIRONMENT: i32 = 3;
    /// Interrupted by SIGINT (128 + 2), as shells report it.
    pub const INTERRUPTED: i32 = 130;
}

impl Report {
    /// The exit status this report calls for: configuration problems first, then
    /// infrastructure problems, then test failures.
    pub fn exit_code(&self) -> i32 {
        let classes = self
            .kernels
            .iter()
            .filter(|k| k.outcome == KernelOutcome::Error);
        let worst = classes
            .filter_map(|k| k.problem.as_ref().and_then(|p| p.class))
            .min();
        match worst {
            Some(ErrorClass::Usage) => exit_code::USAGE,
            Some(ErrorClass::Environment) => exit_code::ENVIRONMENT,
            None if self
                .kernels
                .iter()
                .all(|k| k.outcome == KernelOutcome::Passed) =>
            {
                exit_code::SUCCESS
            }
            None => exit_code::TEST_FAILURE,
        }
    }

    /// Writes the report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(outcome: KernelOutcome, class: Option<ErrorClass>) -> KernelResult {
        let mut result = KernelResult::error("debian:6.1", ErrorClass::Environment, String::new());
        result.outcome = outcome;
        result.problem = class.map(|class| KernelProblem {
            class: Some(class),
            message: String::new(),
            console_tail: vec![],
        });
        result
    }

    #[test]
    fn exit_code_orders_usage_environment_failure_success() {
        use KernelOutcome::*;
        let report = |ks: Vec<KernelResult>| Report { kernels: ks }.exit_code();
        assert_eq!(report(vec![kernel(Passed, None), kernel(Passed, None)]), 0);
        assert_eq!(report(vec![kernel(Passed, None), kernel(Failed, None)]), 1);
        assert_eq!(report(vec![kernel(Crashed, None)]), 1);
        assert_eq!(report(vec![kernel(TimedOut, None)]), 1);
        assert_eq!(
            report(vec![
                kernel(Failed, None),
                kernel(Error, Some(ErrorClass::Environment))
            ]),
            3
        );
        assert_eq!(
            report(vec![
                kernel(Error, Some(ErrorClass::Environment)),
                kernel(Error, Some(ErrorClass::Usage))
            ]),
            2
        );
    }

    #[test]
    fn json_has_the_contract_fields() {
        let mut result = kernel(KernelOutcome::Passed, None);
        result.release = Some("6.1.0-50-cloud-amd64".into());
        result.arch = Some("x86_64".into());
        result.accel = Some("tcg".into());
        result.boot_ms = Some(1712);
        result.programs.push(ProgramResult {
            name: "uname".into(),
            outcome: ProgramOutcome::Passed,
            exit_code: Some(0),
            signal: None,
            duration_ms: 3,
            tests: vec![],
        });
        let json: serde_json::Value = serde_json::from_str(
            &Report {
                kernels: vec![result],
            }
            .to_json(),
        )
        .unwrap();
        let k = &json["kernels"][0];
        assert_eq!(k["spec"], "debian:6.1");
        assert_eq!(k["release"], "6.1.0-50-cloud-amd64");
        assert_eq!(k["arch"], "x86_64");
        assert_eq!(k["accel"], "tcg");
        assert_eq!(k["outcome"], "passed");
        assert_eq!(k["boot_ms"], 1712);
        assert_eq!(k["programs"][0]["name"], "uname");
        assert_eq!(k["programs"][0]["outcome"], "passed");
        assert_eq!(k["programs"][0]["exit_code"], 0);
        assert!(k["programs"][0]["tests"].as_array().unwrap().is_empty());
    }
}
