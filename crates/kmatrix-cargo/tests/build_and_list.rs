//! Builds a tiny cargo project in a temporary directory and lists and runs its tests.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kmatrix_cargo::{
    BuildRequest, CargoError, RunDecision, TestBinary, TestCase, build_tests, list_tests,
    parse_test_args,
};
use tempfile::TempDir;

const MANIFEST: &str = r#"
[package]
name = "kmx-fixture"
version = "0.1.0"
edition = "2021"

# Its own workspace, whatever lies above the temporary directory.
[workspace]

[[test]]
name = "plain"
harness = false
"#;

const LIB: &str = r#"
pub fn answer() -> u32 { 42 }

#[cfg(test)]
mod tests {
    #[test]
    fn passes() { assert_eq!(super::answer(), 42); }

    #[test]
    fn fails() { assert_eq!(super::answer(), 41); }

    #[test]
    #[ignore]
    fn slow() { println!("slow test ran"); }
}
"#;

const IT: &str = "#[test]\nfn from_outside() { assert_eq!(kmx_fixture::answer(), 42); }\n";

const PLAIN: &str = "fn main() {}\n";

/// A temporary project directory "fixture" (named unlike its package) with its target dir.
fn make_fixture() -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("create temp dir");
    let project = temp.path().join("fixture");
    fs::create_dir_all(project.join("src")).expect("create src");
    fs::create_dir_all(project.join("tests")).expect("create tests");
    fs::write(project.join("Cargo.toml"), MANIFEST).expect("write manifest");
    fs::write(project.join("src/lib.rs"), LIB).expect("write lib");
    fs::write(project.join("tests/it.rs"), IT).expect("write it");
    fs::write(project.join("tests/plain.rs"), PLAIN).expect("write plain");
    (temp, project)
}

fn request(temp: &Path, project: &Path, profile: Option<&str>) -> BuildRequest {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    BuildRequest {
        cargo: cargo.into(),
        cwd: project.to_owned(),
        args: vec!["--target-dir".into(), temp.join("target").into()],
        profile: profile.map(str::to_owned),
    }
}

fn find<'a>(binaries: &'a [TestBinary], display: &str) -> &'a TestBinary {
    binaries
        .iter()
        .find(|b| b.display_name() == display)
        .unwrap_or_else(|| panic!("no binary {display} in {binaries:?}"))
}

fn run(binary: &Path, args: &[OsString]) -> (bool, String) {
    let output = Command::new(binary)
        .args(args)
        .output()
        .expect("run test binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout)
}

#[test]
fn builds_lists_and_runs_single_tests() {
    let (temp, project) = make_fixture();
    let binaries = build_tests(&request(temp.path(), &project, None)).expect("build");

    let summary: Vec<_> = binaries
        .iter()
        .map(|b| (b.package.as_str(), b.kind.as_str(), b.target.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("kmx-fixture", "lib", "kmx_fixture"),
            ("kmx-fixture", "test", "it"),
            ("kmx-fixture", "test", "plain"),
        ]
    );
    assert!(
        binaries
            .iter()
            .all(|b| b.profile == "dev" && b.path.is_file())
    );

    let lib = find(&binaries, "kmx-fixture");
    let cases = list_tests(&lib.path).expect("list lib");
    let case = |name: &str, ignored| TestCase {
        name: name.into(),
        ignored,
    };
    assert_eq!(
        cases,
        [
            case("tests::fails", false),
            case("tests::passes", false),
            case("tests::slow", true)
        ]
    );

    let it = find(&binaries, "kmx-fixture::it");
    assert_eq!(
        list_tests(&it.path).expect("list it"),
        [case("from_outside", false)]
    );

    let plain = find(&binaries, "kmx-fixture::plain");
    match list_tests(&plain.path) {
        Err(CargoError::NotLibtest { binary, .. }) => assert_eq!(binary, plain.path),
        other => panic!("expected NotLibtest, got {other:?}"),
    }

    // The per-test arguments run exactly one test, including an ignored one.
    let selection = parse_test_args(&["--nocapture".into()]);
    let slow = &cases[2];
    assert_eq!(selection.selects(slow), RunDecision::Ignored);
    let (ok, stdout) = run(&lib.path, &selection.per_test_args(slow));
    assert!(ok, "{stdout}");
    assert!(stdout.contains("slow test ran"), "{stdout}");
    assert!(stdout.contains("1 passed; 0 failed; 0 ignored"), "{stdout}");

    // Without the ignore flag libtest would only report it ignored: the flag matters.
    let plain_args = selection.per_test_args(&case("tests::slow", false));
    let (ok, stdout) = run(&lib.path, &plain_args);
    assert!(
        ok && stdout.contains("0 passed; 0 failed; 1 ignored"),
        "{stdout}"
    );

    let (ok, stdout) = run(&lib.path, &selection.per_test_args(&cases[1]));
    assert!(
        ok && stdout.contains("1 passed; 0 failed; 0 ignored"),
        "{stdout}"
    );
    let (ok, stdout) = run(&lib.path, &selection.per_test_args(&cases[0]));
    assert!(!ok && stdout.contains("0 passed; 1 failed"), "{stdout}");
}

#[test]
fn release_profile_is_reported() {
    let (temp, project) = make_fixture();
    let binaries = build_tests(&request(temp.path(), &project, Some("release"))).expect("build");
    assert_eq!(binaries.len(), 3, "{binaries:?}");
    for binary in &binaries {
        assert_eq!(binary.profile, "release");
        assert!(binary.path.components().any(|c| c.as_os_str() == "release"));
    }
}

#[test]
fn failed_build_names_the_command() {
    let (temp, project) = make_fixture();
    let mut request = request(temp.path(), &project, None);
    request.args.extend(["-p".into(), "no-such-package".into()]);
    match build_tests(&request) {
        Err(error @ CargoError::BuildFailed { .. }) => {
            let message = error.to_string();
            assert!(message.contains("test --no-run"), "{message}");
            assert!(message.contains("no-such-package"), "{message}");
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
}

#[test]
fn missing_cargo_is_a_spawn_error() {
    let (temp, project) = make_fixture();
    let mut request = request(temp.path(), &project, None);
    request.cargo = temp.path().join("no-such-cargo");
    match build_tests(&request) {
        Err(error @ CargoError::Spawn { .. }) => {
            assert!(error.to_string().contains("no-such-cargo"), "{error}");
        }
        other => panic!("expected Spawn, got {other:?}"),
    }
}
