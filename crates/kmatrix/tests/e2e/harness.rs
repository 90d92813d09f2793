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

/// Builds the fixture programs in `fixtures/guest-programs` once and returns the path of `name`.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/guest-programs");
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest-programs");
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the fixture programs failed");
        target.join("debug")
    });
    dir.join(name)
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
