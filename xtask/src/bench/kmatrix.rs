//! Running the release `kmatrix` binary, and finding what it cached.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::measure::Sample;
use super::qemu;

/// The kmatrix binary and the cache it works in.
#[derive(Debug, Clone)]
pub struct Kmatrix {
    /// `target/release/kmatrix`.
    pub binary: PathBuf,
    /// The benchmark's own cache (`--cache-dir`).
    pub cache_dir: PathBuf,
    /// Where the JSON reports go.
    pub work_dir: PathBuf,
}

/// One `kmatrix run` that passed.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Its timing; only the wall time for a matrix run.
    pub sample: Sample,
    /// The release of each kernel, in matrix order.
    pub releases: Vec<String>,
}

impl Kmatrix {
    /// `kmatrix run --accel tcg [--jobs N] --kernel K... -- /bin/true`, timed from spawn to exit.
    /// Fails unless kmatrix exits 0 and its JSON report says every kernel passed.
    pub fn run_true(&self, kernels: &[String], jobs: Option<u32>) -> anyhow::Result<RunOutcome> {
        let json = self.work_dir.join("kmatrix-report.json");
        let mut command = Command::new(&self.binary);
        command
            .args(["run", "--accel", "tcg", "--cache-dir"])
            .arg(&self.cache_dir)
            .arg("--json")
            .arg(&json);
        for kernel in kernels {
            command.args(["--kernel", kernel]);
        }
        if let Some(jobs) = jobs {
            command.args(["--jobs", &jobs.to_string()]);
        }
        command.args(["--", "/bin/true"]).stdin(Stdio::null());
        let started = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("running {}", self.binary.display()))?;
        let wall = started.elapsed();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            bail!(
                "kmatrix exited with {}: {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("reading {}", json.display()))?;
        let report: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))?;
        let results = report["kernels"]
            .as_array()
            .context("kmatrix's JSON report has no `kernels` list")?;
        let mut releases = Vec::new();
        for result in results {
            if result["outcome"] != "passed" {
                bail!("kmatrix reported {}: {}", result["spec"], result["outcome"]);
            }
            releases.push(result["release"].as_str().unwrap_or_default().to_owned());
        }
        let only = match results.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        let millis = |key: &str| {
            only.and_then(|r| r[key].as_u64())
                .map(Duration::from_millis)
        };
        // The console log ends with the kernel's "reboot: Power down" line.
        let guest_off = only
            .and_then(|r| r["console_log"].as_str())
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|log| log.lines().find_map(qemu::power_off_uptime));
        Ok(RunOutcome {
            sample: Sample {
                wall,
                to_init: millis("boot_ms"),
                guest_init: None,
                guest_off,
                run: millis("run_ms"),
            },
            releases,
        })
    }

    /// The cache directory of the x86_64 kernel `release`, from `kmatrix kernel list`
    /// (one `release<TAB>arch<TAB>dir` line per extracted kernel).
    pub fn kernel_dir(&self, release: &str) -> anyhow::Result<PathBuf> {
        let output = Command::new(&self.binary)
            .args(["kernel", "list", "--cache-dir"])
            .arg(&self.cache_dir)
            .output()
            .with_context(|| format!("running {} kernel list", self.binary.display()))?;
        if !output.status.success() {
            bail!("kmatrix kernel list exited with {}", output.status);
        }
        let listing = String::from_utf8_lossy(&output.stdout);
        find_kernel_dir(&listing, release)
            .filter(|dir| dir.join("vmlinuz").is_file())
            .with_context(|| format!("kmatrix kernel list shows no x86_64 kernel {release}"))
    }
}

/// The directory column of the `kernel list` row for `release` on x86_64.
fn find_kernel_dir(listing: &str, release: &str) -> Option<PathBuf> {
    listing.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let (rel, arch, dir) = (fields.next()?, fields.next()?, fields.next()?);
        (rel == release && arch == "x86_64").then(|| PathBuf::from(dir))
    })
}

/// Builds the release kmatrix binary (a no-op when it is up to date), as `cargo build --release
/// -p kmatrix`, so the benchmark never times a stale binary.
pub fn build_release(workspace: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "kmatrix", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p kmatrix failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dir_matches_release_and_arch() {
        let listing = "6.1.0-57-cloud-amd64\tx86_64\t/c/kernels/aa\n\
                       6.1.0-57-cloud-arm64\taarch64\t/c/kernels/bb\n";
        assert_eq!(
            find_kernel_dir(listing, "6.1.0-57-cloud-amd64"),
            Some(PathBuf::from("/c/kernels/aa"))
        );
        assert_eq!(find_kernel_dir(listing, "6.1.0-57-cloud-arm64"), None);
        assert_eq!(find_kernel_dir(listing, "5.10"), None);
    }
}
