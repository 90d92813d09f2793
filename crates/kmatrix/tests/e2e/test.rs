//! `kmatrix test`, `kmatrix local` and the cargo runner mode, on the fixture crate whose tests
//! have every outcome (fixtures/test-crate).

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{Finished, KERNEL, finish, kmatrix};

fn fixture_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/test-crate")
        .canonicalize()
        .unwrap()
}

/// Runs `kmatrix <args>` in the fixture crate with JSON and JUnit reports.
fn in_fixture(args: &[&str], trailing: &[&str]) -> (Finished, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let junit = dir.path().join("report.xml");
    let output = kmatrix()
        .current_dir(fixture_crate())
        .args(args)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--")
        .args(trailing)
        .output()
        .unwrap();
    (finish(output, &json), std::fs::read_to_string(&junit).ok())
}

fn tests_of<'a>(done: &'a Finished, program: &str) -> Vec<(&'a str, &'a str)> {
    let programs = done.kernel()["programs"].as_array().unwrap();
    let program = programs
        .iter()
        .find(|p| p["name"] == program)
        .unwrap_or_else(|| panic!("{program} in {done:?}"));
    program["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["outcome"].as_str().unwrap()))
        .collect()
}

#[test]
fn each_test_gets_its_own_outcome_and_a_hanging_one_does_not_affect_the_others() {
    let (done, junit) = in_fixture(
        &[
            "test",
            "--accel",
            "tcg",
            "--kernel",
            KERNEL,
            "--test-timeout",
            "15",
        ],
        &[],
    );
    assert_eq!(done.code, Some(1), "{done:?}");
    let mut tests = tests_of(&done, "kmatrix-test-crate");
    tests.sort();
    assert_eq!(
        tests,
        [
            ("tests::fails", "failed"),
            ("tests::hangs", "timed_out"),
            ("tests::ignored", "ignored"),
            ("tests::passes", "passed"),
            ("tests::sees_the_guest_kernel", "passed"),
        ]
    );
    let programs = done.kernel()["programs"].as_array().unwrap();
    let plain = programs
        .iter()
        .find(|p| p["name"] == "kmatrix-test-crate::plain")
        .unwrap();
    assert_eq!(plain["outcome"], "passed");
    // The failure is shown with its output and the kernel it failed on.
    assert!(
        done.stdout.contains(&format!(
            "--- kmatrix-test-crate tests::fails on {KERNEL} (exit status 101)"
        )),
        "{done:?}"
    );
    assert!(done.stdout.contains("expected failure marker"), "{done:?}");
    // The matrix row, in plain words since stdout is not a terminal.
    assert!(
        done.stdout
            .lines()
            .any(|l| l.starts_with("kmatrix-test-crate tests::hangs") && l.ends_with("TIMEOUT")),
        "{done:?}"
    );

    let junit = junit.expect("a JUnit report");
    let xml = roxmltree::Document::parse(&junit).expect("well-formed JUnit XML");
    let cases: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6, "{junit}");
    let count = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
            .count()
    };
    assert_eq!(count("failure"), 2, "{junit}"); // fails, hangs
    assert_eq!(count("skipped"), 1, "{junit}"); // ignored
    let suites: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    assert!(
        suites
            .iter()
            .all(|s| s.attribute("name").unwrap().starts_with(KERNEL))
    );
}

#[test]
fn dev_and_release_profiles_are_run_and_reported_separately() {
    let (done, _) = in_fixture(
        &[
            "test",
            "--accel",
            "tcg",
            "--kernel",
            KERNEL,
            "--profile",
            "dev",
            "--profile",
            "release",
        ],
        &["passes"],
    );
    assert_eq!(done.code, Some(0), "{done:?}");
    for profile in ["dev", "release"] {
        assert_eq!(
            tests_of(&done, &format!("kmatrix-test-crate [{profile}]")),
            [("tests::passes", "passed")],
            "{done:?}"
        );
    }
}

#[test]
fn local_mode_runs_the_same_tests_on_the_host_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = kmatrix()
        .current_dir(fixture_crate())
        .env("KMATRIX_FIXTURE_LOCAL", "1")
        .args(["local", "--runner", "", "--json"])
        .arg(&json)
        .args(["--", "passes", "sees_the_guest_kernel", "fails"])
        .output()
        .unwrap();
    let done = finish(output, &json);
    assert_eq!(done.code, Some(1), "{done:?}");
    assert_eq!(done.kernel()["spec"], "local");
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(done.kernel()["release"], host.trim());
    let mut tests = tests_of(&done, "kmatrix-test-crate");
    tests.sort();
    assert_eq!(
        tests,
        [
            ("tests::fails", "failed"),
            ("tests::passes", "passed"),
            ("tests::sees_the_guest_kernel", "passed")
        ]
    );
}

#[test]
fn as_a_cargo_runner_plain_cargo_test_passes_and_fails_as_the_binary_does() {
    let runner = format!(
        "{} run --accel tcg --kernel {KERNEL} --",
        env!("CARGO_BIN_EXE_kmatrix")
    );
    let cargo_test = |filter: &str| {
        Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .current_dir(fixture_crate())
            .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", &runner)
            .env("KMATRIX_CACHE_DIR", crate::harness::cache_dir())
            .args(["test", "--quiet", "--lib", "--", "--exact", filter])
            .output()
            .unwrap()
    };
    let passing = cargo_test("tests::sees_the_guest_kernel");
    let stdout = String::from_utf8_lossy(&passing.stdout);
    assert!(
        passing.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&passing.stderr)
    );
    assert!(
        stdout.contains(&format!("[{KERNEL}] test result: ok. 1 passed")),
        "{stdout}"
    );
    let failing = cargo_test("tests::fails");
    assert!(!failing.status.success());
    assert!(String::from_utf8_lossy(&failing.stdout).contains("expected failure marker"));
}
