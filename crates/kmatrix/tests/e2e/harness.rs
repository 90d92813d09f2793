//! Running the `kmatrix` binary and reading what it produced.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The kernel most tests boot.
pub const KERNEL: &str = "debian:6.1";

/// The cache shared by all end-to-end tests.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kmatrix-e2e-cache")
}

/// A `kmatrix` command using the shared cache.
pub fn kmatrix() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kmatrix"));
    command
        .env("KMATRIX_CACHE_DIR", cache_dir())
        .env_remove("KMATRIX_MIRROR");
    command
}

/// What a finished `kmatrix` run left behind.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub json: Option<serde_json::Value>,
}

impl Finished {
    /// The first kernel entry of the JSON report.
    pub fn kernel(&self) -> &serde_json::Value {
        &self.json.as_ref().expect("a JSON report was written")["kernels"][0]
    }
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `kmatrix run --accel tcg --json FILE <args>` and collects everything.
pub fn run(args: &[&str]) -> Finished {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("report.json");
    let mut command = kmatrix();
    command
        .arg("run")
        .arg("--accel")
        .arg("tcg")
        .arg("--json")
        .arg(&json)
        .args(args);
    finish(command.output().expect("kmatrix runs"), &json)
}

/// Collects the output of a finished command and its JSON report, if any.
pub fn finish(output: Output, json: &Path) -> Finished {
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        json: std::fs::read(json)
            .ok()
            .map(|bytes| serde_json::from_slice(&bytes).expect("valid JSON report")),
    }
}

/// Builds the fixture programs in `fixtures/guest-programs` for the host once and returns the
/// path of `name`.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_fixtures(None)).join(name)
}

/// Like [`fixture`], built as a static aarch64 program (`aarch64-unknown-linux-musl`, linked by
/// the toolchain's `rust-lld`; `.ci/run` installs the target).
pub fn aarch64_fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build_fixtures(Some("aarch64-unknown-linux-musl")))
        .join(name)
}

fn build_fixtures(target: Option<&str>) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/guest-programs");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest-programs");
    let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    command
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    command.arg("--target-dir").arg(&target_dir);
    if let Some(target) = target {
        command.arg("--target").arg(target);
        command.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER", "rust-lld");
    }
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the fixture programs ({target:?}) failed"
    );
    match target {
        Some(target) => target_dir.join(target).join("debug"),
        None => target_dir.join("debug"),
    }
}

/// Pids of live processes whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}
