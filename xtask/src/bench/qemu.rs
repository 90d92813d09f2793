//! Bare QEMU boots with the trivial init, on the same command line kmatrix uses.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::guest_init::{MARKER, MODULES_PRESENT};
use super::measure::Sample;

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
    /// Firmware other than QEMU's default SeaBIOS (`-bios`), to measure what it costs.
    pub firmware: Option<PathBuf>,
}

/// QEMU's minimal x86 firmware, which Debian's QEMU packages ship.
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";

/// The argument list of `crates/kmatrix-runner/src/qemu/mod.rs` (`VmConfig::args`) for an
/// x86_64 guest under TCG with kmatrix's defaults (1024 MiB, 2 CPUs). The second serial port,
/// kmatrix's report channel, goes to a null chardev: the guest has the same devices, and the
/// trivial init does not use it.
pub fn args(kernel: &Path, initrd: &Path, firmware: Option<&Path>) -> Vec<std::ffi::OsString> {
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
    if let Some(firmware) = firmware {
        args.extend(["-bios".into(), firmware.into()]);
    }
    args.extend([
        "-kernel".into(),
        kernel.into(),
        "-initrd".into(),
        initrd.into(),
    ]);
    args
}

impl BareBoot {
    /// Boots once and times it: the wall time from spawning QEMU to its exit, and the host
    /// and guest clocks when the trivial init ran. Fails unless the console shows the trivial
    /// init's marker (and a module tree when expected).
    pub fn run(&self) -> anyhow::Result<Sample> {
        let started = Instant::now();
        let mut child = Command::new("qemu-system-x86_64")
            .args(args(&self.kernel, &self.initrd, self.firmware.as_deref()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting qemu-system-x86_64")?;
        let stdout = read_lines(child.stdout.take());
        let stderr = read_lines(child.stderr.take());
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
        let wall = started.elapsed();
        let console = stdout.join().unwrap_or_default();
        let errors = stderr.join().unwrap_or_default();
        let Some((line, seen)) = console.lines.iter().find(|(line, _)| line.contains(MARKER))
        else {
            bail!(
                "the guest never reached the trivial init (QEMU {status}); console ends: {:?}; \
                 QEMU said: {:?}",
                console.tail(5),
                errors.tail(3)
            );
        };
        if self.expect_modules && !line.contains(MODULES_PRESENT) {
            bail!("the guest reached init without a module tree: the initramfs was cut short");
        }
        Ok(Sample {
            wall,
            to_init: Some(seen.saturating_duration_since(started)),
            guest_init: marker_uptime(line),
            guest_off: console.lines.iter().find_map(|(l, _)| power_off_uptime(l)),
            run: None,
        })
    }
}

/// The lines of a child's output stream, each with the moment it arrived.
#[derive(Debug, Default)]
struct Lines {
    /// (line, arrival).
    lines: Vec<(String, Instant)>,
}

impl Lines {
    /// The last `n` lines, joined.
    fn tail(&self, n: usize) -> String {
        let start = self.lines.len().saturating_sub(n);
        let last: Vec<&str> = self.lines[start..]
            .iter()
            .map(|(l, _)| l.as_str())
            .collect();
        last.join(" | ")
    }
}

/// Reads a child's stream line by line on a thread, time-stamping each line.
fn read_lines<R: Read + Send + 'static>(stream: Option<R>) -> std::thread::JoinHandle<Lines> {
    std::thread::spawn(move || {
        let mut lines = Lines::default();
        let Some(stream) = stream else {
            return lines;
        };
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        // A read error just ends the capture; the marker check then fails.
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
            lines.lines.push((line, Instant::now()));
            buf.clear();
        }
        lines
    })
}

/// The guest clock the trivial init printed in its marker line (`uptime_ms=N`).
fn marker_uptime(line: &str) -> Option<Duration> {
    let digits: String = line
        .split("uptime_ms=")
        .nth(1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_millis)
}

/// The kernel's timestamp of a `[    3.476484] reboot: Power down` console line.
pub fn power_off_uptime(line: &str) -> Option<Duration> {
    if !line.contains("reboot: Power down") {
        return None;
    }
    let stamp = line.split_once('[')?.1.split_once(']')?.0.trim();
    stamp
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
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
        let args: Vec<String> = args(Path::new("/k"), Path::new("/i"), None)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("-nodefaults -no-user-config -display none -no-reboot"));
        assert!(joined.contains("-M q35 -accel tcg -cpu max -m 1024 -smp 2"));
        assert!(joined.contains("console=ttyS0 panic=-1 quiet rdinit=/init"));
        assert!(joined.ends_with("-kernel /k -initrd /i"));
        assert_eq!(args.iter().filter(|a| *a == "-serial").count(), 2);
        assert!(!joined.contains("-bios"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let now = Instant::now();
        let lines = Lines {
            lines: ["a", "b", "c"]
                .iter()
                .map(|l| (l.to_string(), now))
                .collect(),
        };
        assert_eq!(lines.tail(2), "b | c");
        assert_eq!(Lines::default().tail(2), "");
    }

    #[test]
    fn clocks_are_read_from_the_console() {
        assert_eq!(
            marker_uptime("kmatrix-bench-init: reached init, modules=no, uptime_ms=1234"),
            Some(Duration::from_millis(1234))
        );
        assert_eq!(marker_uptime("kmatrix-bench-init: reached init"), None);
        assert_eq!(
            power_off_uptime("[    3.476484] reboot: Power down"),
            Some(Duration::from_micros(3_476_484))
        );
        assert_eq!(power_off_uptime("[    3.476484] something else"), None);
    }
}
