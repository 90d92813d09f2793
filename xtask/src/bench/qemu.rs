//! Bare QEMU boots with the trivial init, on the same command line kmatrix uses.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::guest_init::{MARKER, MODULES_PRESENT};

/// How long one bare boot may take before it is killed and counted as a failure.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// How often a running QEMU is polled for its exit (small against a boot of seconds).
const POLL: Duration = Duration::from_millis(2);

/// What to boot.
#[derive(Debug, Clone)]
pub struct BareBoot {
    /// The kernel image.
    pub kernel: PathBuf,
    /// The initramfs.
    pub initrd: PathBuf,
    /// Whether the guest must see a module tree (a check that the whole initramfs unpacked).
    pub expect_modules: bool,
}

/// The argument list of `crates/kmatrix-runner/src/qemu/mod.rs` (`VmConfig::args`) for an
/// x86_64 guest under TCG with kmatrix's defaults (1024 MiB, 2 CPUs). The second serial port,
/// kmatrix's report channel, goes to a null chardev: the guest has the same devices, and the
/// trivial init does not use it.
pub fn args(kernel: &Path, initrd: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-M",
        "q35",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-m",
        "1024",
        "-smp",
        "2",
        "-chardev",
        "stdio,id=console,signal=off",
        "-serial",
        "chardev:console",
        "-chardev",
        "null,id=channel",
        "-serial",
        "chardev:channel",
        "-append",
        "console=ttyS0 panic=-1 quiet rdinit=/init",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.extend([
        "-kernel".into(),
        kernel.into(),
        "-initrd".into(),
        initrd.into(),
    ]);
    args
}

impl BareBoot {
    /// Boots once and returns the wall time from spawning QEMU to its exit. Fails unless the
    /// console shows the trivial init's marker (and the module tree when expected).
    pub fn run(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut child = Command::new("qemu-system-x86_64")
            .args(args(&self.kernel, &self.initrd))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting qemu-system-x86_64")?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = started + BOOT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for QEMU")? {
                break status;
            }
            if Instant::now() >= deadline {
                // Best effort: the child may have exited just now.
                let _ = child.kill();
                let _ = child.wait();
                bail!("the guest did not power off within {BOOT_TIMEOUT:?}");
            }
            std::thread::sleep(POLL);
        };
        let elapsed = started.elapsed();
        let console = join(stdout);
        let errors = join(stderr);
        let Some(line) = console.lines().find(|line| line.contains(MARKER)) else {
            bail!(
                "the guest never reached the trivial init (QEMU {status}); console ends: {:?}; \
                 QEMU said: {:?}",
                tail(&console, 5),
                errors.trim()
            );
        };
        if self.expect_modules && !line.contains(MODULES_PRESENT) {
            bail!("the guest reached init without a module tree: the initramfs was cut short");
        }
        Ok(elapsed)
    }
}

/// Reads a child's stream to the end on a thread.
fn drain<R: Read + Send + 'static>(stream: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            // A read error just ends the capture; the marker check then fails.
            let _ = stream.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The text a [`drain`] thread collected (empty if the thread panicked).
fn join(handle: std::thread::JoinHandle<String>) -> String {
    handle.join().unwrap_or_default()
}

/// The last `n` lines of `text`, joined.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// `qemu-system-x86_64 --version`, first line.
pub fn version() -> anyhow::Result<String> {
    let output = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .context("running qemu-system-x86_64 --version")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_matches_kmatrix() {
        let args: Vec<String> = args(Path::new("/k"), Path::new("/i"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("-nodefaults -no-user-config -display none -no-reboot"));
        assert!(joined.contains("-M q35 -accel tcg -cpu max -m 1024 -smp 2"));
        assert!(joined.contains("console=ttyS0 panic=-1 quiet rdinit=/init"));
        assert!(joined.ends_with("-kernel /k -initrd /i"));
        assert_eq!(args.iter().filter(|a| *a == "-serial").count(), 2);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b | c");
        assert_eq!(tail("", 2), "");
    }
}
