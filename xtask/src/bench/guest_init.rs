//! The trivial guest init (`guest/bench_init.rs`): compiling it and packing it as `/init`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use kmatrix_cpio::NewcWriter;

/// The line the trivial init prints on the console once it runs.
pub const MARKER: &str = "kmatrix-bench-init: reached init";

/// What the trivial init adds to [`MARKER`] when a module tree was unpacked.
pub const MODULES_PRESENT: &str = "modules=yes";

/// Compiles `guest/bench_init.rs` into a static, stripped host-architecture executable in
/// `work_dir`.
pub fn build(workspace: &Path, work_dir: &Path) -> anyhow::Result<PathBuf> {
    let source = workspace.join("xtask/guest/bench_init.rs");
    let out = work_dir.join("bench-init");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let host = host_triple(&rustc)?;
    let status = Command::new(&rustc)
        .args([
            "--edition",
            "2024",
            "--crate-name",
            "bench_init",
            "--target",
        ])
        .arg(&host)
        .args([
            "-C",
            "target-feature=+crt-static",
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            // Without this the binary carries the standard library's debug information (~5 MiB).
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&out)
        .arg(&source)
        .status()
        .with_context(|| format!("running {}", rustc.to_string_lossy()))?;
    if !status.success() {
        bail!("compiling {} failed ({status})", source.display());
    }
    Ok(out)
}

/// The host triple, from `rustc -vV`.
fn host_triple(rustc: &std::ffi::OsStr) -> anyhow::Result<String> {
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {} -vV", rustc.to_string_lossy()))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

/// A newc archive holding only the trivial init as `/init`.
pub fn archive(init: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut cpio = NewcWriter::new(Vec::new());
    add_init(&mut cpio, init)?;
    Ok(cpio.finish()?)
}

/// Adds `/dev/console` and the trivial init as `/init` to an archive being written.
pub fn add_init<W: std::io::Write>(cpio: &mut NewcWriter<W>, init: &[u8]) -> anyhow::Result<()> {
    // The kernel opens /dev/console for init's standard streams; kmatrix packs it too.
    cpio.add_directory("dev", 0o755)?;
    cpio.add_char_device("dev/console", 0o600, 5, 1)?;
    cpio.add_file("init", 0o755, init)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_archive_has_console_and_init() -> anyhow::Result<()> {
        let bytes = archive(b"\x7fELF")?;
        let entries = kmatrix_cpio::parse_newc(&bytes)?;
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["dev", "dev/console", "init"]);
        Ok(())
    }
}
