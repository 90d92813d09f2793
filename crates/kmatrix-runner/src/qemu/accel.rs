//! Choosing the accelerator: KVM only when it really works.
//!
//! `/dev/kvm` existing proves little: under nested virtualization a guest may abort (`-cpu host`
//! and MSR 0x10a) or hang forever in early boot. So `auto` boots the real kernel under KVM with
//! an early console and waits a few seconds for the kernel's banner; anything else means TCG.
//! The verdict is kept per emulator binary, host kernel and architecture, in memory and in the
//! cache directory, so only the first run on a machine pays for the probe.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use kmatrix_kernel::Arch;

use super::{ArchProfile, QemuChild, rw_accessible};

/// The `--accel` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelChoice {
    /// KVM when it works, TCG otherwise.
    #[default]
    Auto,
    /// KVM or fail.
    Kvm,
    /// Software emulation.
    Tcg,
}

/// The accelerator a VM runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization.
    Kvm,
    /// QEMU's software emulator.
    Tcg,
}

impl Accel {
    /// The `-accel` value and report string.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// How long a KVM guest may take to print its banner before KVM is declared broken.
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// Decides the accelerator for `arch`. Returns the accelerator and, when `auto` fell back to
/// TCG, the reason (to show the user once). `Err` only for an explicit `--accel kvm` that cannot work.
pub fn resolve_accel(
    choice: AccelChoice,
    qemu: &Path,
    arch: Arch,
    kernel: &Path,
    cache_dir: &Path,
) -> Result<(Accel, Option<String>), String> {
    // A foreign architecture can only be emulated: that is not worth a notice.
    let foreign = arch != crate::spec::host_arch();
    if choice == AccelChoice::Tcg || (choice == AccelChoice::Auto && foreign) {
        return Ok((Accel::Tcg, None));
    }
    let verdict = kvm_verdict(qemu, arch, kernel, cache_dir);
    match (choice, verdict) {
        (_, Ok(())) => Ok((Accel::Kvm, None)),
        (AccelChoice::Kvm, Err(reason)) => Err(format!("--accel kvm: {reason}")),
        (_, Err(reason)) => Ok((
            Accel::Tcg,
            Some(format!("KVM not usable ({reason}); using TCG")),
        )),
    }
}

fn kvm_verdict(qemu: &Path, arch: Arch, kernel: &Path, cache_dir: &Path) -> Result<(), String> {
    static VERDICTS: Mutex<Vec<(String, Result<(), String>)>> = Mutex::new(Vec::new());
    if arch != crate::spec::host_arch() {
        return Err(format!(
            "{arch} guest on a {} host",
            crate::spec::host_arch()
        ));
    }
    if let Err(err) = rw_accessible(Path::new("/dev/kvm")) {
        return Err(format!("/dev/kvm: {err}"));
    }
    let key = verdict_key(qemu, arch);
    let mut verdicts = VERDICTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, verdict)) = verdicts.iter().find(|(k, _)| *k == key) {
        return verdict.clone();
    }
    let file = cache_dir.join("kvm-probe").join(&key);
    let verdict = match std::fs::read_to_string(&file) {
        Ok(text) if text == "ok" => Ok(()),
        Ok(text) if !text.is_empty() => Err(format!("{text}; cached in {}", file.display())),
        _ => {
            let verdict = probe(qemu, arch, kernel);
            let text = match &verdict {
                Ok(()) => "ok".to_string(),
                Err(reason) => reason.clone(),
            };
            // The verdict is only a speed-up; failing to store it is harmless.
            let _ = crate::cache::write_atomic(&file, text.as_bytes());
            verdict
        }
    };
    verdicts.push((key, verdict.clone()));
    verdict
}

/// Identifies the circumstances a verdict holds for: emulator, host kernel, architecture.
fn verdict_key(qemu: &Path, arch: Arch) -> String {
    let host_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu_stamp = std::fs::metadata(qemu)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let identity = format!(
        "{}|{qemu_stamp}|{}|{arch}",
        qemu.display(),
        host_release.trim()
    );
    crate::cache::short_hash(identity.as_bytes())
}

fn probe(qemu: &Path, arch: Arch, kernel: &Path) -> Result<(), String> {
    let profile = ArchProfile::for_arch(arch);
    let append = match arch {
        Arch::X86_64 => "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
        Arch::Aarch64 => "console=ttyAMA0 earlycon panic=-1",
    };
    let args: Vec<std::ffi::OsString> = [
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-M",
        profile.machine,
        "-accel",
        "kvm",
        "-cpu",
        profile.kvm_cpu,
        "-m",
        "256",
        "-serial",
        "stdio",
        "-append",
        append,
        "-kernel",
    ]
    .iter()
    .map(Into::into)
    .chain(std::iter::once(PathBuf::from(kernel).into_os_string()))
    .collect();
    let mut child = QemuChild::spawn(qemu, &args).map_err(|e| e.to_string())?;
    let (Some(mut stdout), Some(mut stderr)) = (child.take_stdout(), child.take_stderr()) else {
        return Err("probe has no console pipe".into());
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(13).any(|w| w == b"Linux version") {
                let _ = tx.send(true);
                return;
            }
        }
        let _ = tx.send(false);
    });
    let banner = rx.recv_timeout(PROBE_DEADLINE);
    child.kill();
    let mut err_text = String::new();
    let _ = stderr.read_to_string(&mut err_text);
    match banner {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "KVM guest exited at once: {}",
            first_line(&err_text)
        )),
        Err(_) => Err(format!(
            "KVM guest showed no kernel banner within {} s",
            PROBE_DEADLINE.as_secs()
        )),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
}
