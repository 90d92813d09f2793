//! QEMU: the per-architecture table, the command line, and the accelerator choice.
//!
//! Every architecture-specific decision (emulator binary, machine, CPU model, console device)
//! lives in [`ArchProfile::for_arch`], so a new architecture is one table entry.

mod accel;
mod process;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kmatrix_kernel::Arch;

pub use accel::{Accel, AccelChoice, resolve_accel};
pub(crate) use process::{QemuChild, find_in_path};
pub use process::{interrupted_by, kill_all_children, watch_signals};

use crate::error::QemuError;

/// Everything architecture-specific about booting a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchProfile {
    /// Guest architecture.
    pub arch: Arch,
    /// QEMU system emulator binary.
    pub binary: &'static str,
    /// Debian package providing [`ArchProfile::binary`], named in the "not found" error.
    pub package: &'static str,
    /// `-M` value.
    pub machine: &'static str,
    /// `-cpu` value under TCG.
    pub tcg_cpu: &'static str,
    /// `-cpu` value under KVM.
    pub kvm_cpu: &'static str,
    /// Kernel console device (receives kernel messages).
    pub console: &'static str,
}

impl ArchProfile {
    /// The profile for `arch`.
    pub fn for_arch(arch: Arch) -> ArchProfile {
        match arch {
            Arch::X86_64 => ArchProfile {
                arch,
                binary: "qemu-system-x86_64",
                package: "qemu-system-x86",
                // microvm hangs with Debian kernels; q35 boots them in ~1.5 s under TCG.
                machine: "q35",
                tcg_cpu: "max",
                kvm_cpu: "host",
                console: "ttyS0",
            },
            Arch::Aarch64 => ArchProfile {
                arch,
                binary: "qemu-system-aarch64",
                package: "qemu-system-arm",
                machine: "virt",
                // `-cpu max` takes ~4.7 s to reach init under TCG, neoverse-n1 about 1 s.
                tcg_cpu: "neoverse-n1",
                kvm_cpu: "host",
                console: "ttyAMA0",
            },
        }
    }

    /// Firmware to boot with instead of QEMU's default, from `KMATRIX_QEMU_FIRMWARE` (a file,
    /// e.g. QEMU's `qboot.rom`; `default` or unset for QEMU's own). qboot measured no faster
    /// than SeaBIOS end to end here (docs/PERFORMANCE.md), so it is not the default.
    pub fn firmware(&self) -> Option<PathBuf> {
        match std::env::var_os("KMATRIX_QEMU_FIRMWARE") {
            Some(value) if !value.is_empty() && value != "default" => Some(PathBuf::from(value)),
            _ => None,
        }
    }

    /// Finds the emulator binary in `PATH`.
    pub fn locate(&self) -> Result<PathBuf, QemuError> {
        find_in_path(self.binary).ok_or_else(|| QemuError::NotFound {
            program: self.binary.to_string(),
            package: self.package,
        })
    }
}

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Emulator binary.
    pub qemu: PathBuf,
    /// Architecture profile.
    pub profile: ArchProfile,
    /// Accelerator.
    pub accel: Accel,
    /// Kernel image.
    pub kernel: PathBuf,
    /// Initramfs.
    pub initrd: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Guest CPUs.
    pub cpus: u32,
    /// Unix socket the guest's report channel connects to (kmatrix listens on it).
    pub channel_socket: PathBuf,
    /// Firmware to boot with instead of QEMU's default (see [`ArchProfile::firmware`]).
    pub firmware: Option<PathBuf>,
}

impl VmConfig {
    /// The kernel command line.
    pub fn kernel_cmdline(&self) -> String {
        // panic=-1 reboots at once on a panic, and -no-reboot turns that reboot into an exit.
        format!(
            "console={} panic=-1 quiet rdinit=/init",
            self.profile.console
        )
    }

    /// The full QEMU argument list.
    pub fn args(&self) -> Vec<OsString> {
        let cpu = match self.accel {
            Accel::Kvm => self.profile.kvm_cpu,
            Accel::Tcg => self.profile.tcg_cpu,
        };
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        push(&[
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ]);
        push(&[
            "-M",
            self.profile.machine,
            "-accel",
            self.accel.as_str(),
            "-cpu",
            cpu,
        ]);
        push(&[
            "-m",
            &self.memory_mib.to_string(),
            "-smp",
            &self.cpus.to_string(),
        ]);
        push(&[
            "-chardev",
            "stdio,id=console,signal=off",
            "-serial",
            "chardev:console",
        ]);
        let channel = format!(
            "socket,id=channel,path={},server=off",
            self.channel_socket.display()
        );
        push(&["-chardev", &channel, "-serial", "chardev:channel"]);
        push(&["-append", &self.kernel_cmdline()]);
        if let Some(firmware) = &self.firmware {
            args.push("-bios".into());
            args.push(firmware.clone().into_os_string());
        }
        args.push("-kernel".into());
        args.push(self.kernel.clone().into_os_string());
        args.push("-initrd".into());
        args.push(self.initrd.clone().into_os_string());
        args
    }
}

/// A file name for QEMU's unix socket: short, since socket paths are limited to 108 bytes.
pub(crate) fn channel_socket_path(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("kmatrix-{}-{n}-{tag}.sock", std::process::id()))
}

/// Whether `path` exists and can be opened for reading and writing.
pub(crate) fn rw_accessible(path: &Path) -> Result<(), std::io::Error> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_command_line_has_two_serial_ports_and_no_reboot() {
        let config = VmConfig {
            qemu: "qemu-system-x86_64".into(),
            profile: ArchProfile::for_arch(Arch::X86_64),
            accel: Accel::Tcg,
            kernel: "/k/vmlinuz".into(),
            initrd: "/k/initrd".into(),
            memory_mib: 512,
            cpus: 1,
            channel_socket: "/tmp/s.sock".into(),
            firmware: None,
        };
        let args: Vec<String> = config
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("-no-reboot"));
        assert!(joined.contains("-M q35 -accel tcg -cpu max"));
        assert_eq!(args.iter().filter(|a| *a == "-serial").count(), 2);
        assert!(joined.contains("path=/tmp/s.sock,server=off"));
        let append = args.iter().position(|a| a == "-append").unwrap();
        assert!(args[append + 1].contains("panic=-1"));
        assert!(args[append + 1].contains("console=ttyS0"));
    }
}
