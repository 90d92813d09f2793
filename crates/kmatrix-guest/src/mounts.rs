//! The filesystems init mounts, as a table.

use std::ffi::CString;

use libc::{MS_NODEV, MS_NOEXEC, MS_NOSUID, c_ulong};

use crate::sys::{self, Errno};

/// One filesystem to mount.
pub struct Mount {
    /// Filesystem type (also used as the source name).
    pub fstype: &'static str,
    /// Mount point; created if missing.
    pub target: &'static str,
    /// `MS_*` flags.
    pub flags: c_ulong,
    /// Filesystem-specific options.
    pub data: &'static str,
    /// Init cannot work without it.
    pub essential: bool,
}

const SECURE: c_ulong = MS_NOSUID | MS_NODEV | MS_NOEXEC;

/// Mounted in order; later entries may live inside earlier ones.
pub const MOUNTS: &[Mount] = &[
    m("proc", "/proc", SECURE, "", true),
    m("devtmpfs", "/dev", MS_NOSUID, "mode=0755", true),
    m("sysfs", "/sys", SECURE, "", true),
    m("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777", false),
    m("tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755", false),
    m(
        "devpts",
        "/dev/pts",
        MS_NOSUID | MS_NOEXEC,
        "gid=5,mode=0620,ptmxmode=0666",
        false,
    ),
    m(
        "tmpfs",
        "/dev/shm",
        MS_NOSUID | MS_NODEV,
        "mode=1777",
        false,
    ),
    m("debugfs", "/sys/kernel/debug", SECURE, "", false),
    m("tracefs", "/sys/kernel/tracing", SECURE, "", false),
    m("bpf", "/sys/fs/bpf", SECURE, "mode=0700", false),
    m("cgroup2", "/sys/fs/cgroup", SECURE, "", false),
    m("securityfs", "/sys/kernel/security", SECURE, "", false),
];

const fn m(
    fstype: &'static str,
    target: &'static str,
    flags: c_ulong,
    data: &'static str,
    essential: bool,
) -> Mount {
    Mount {
        fstype,
        target,
        flags,
        data,
        essential,
    }
}

/// A mount that did not happen.
pub struct MountFailure {
    /// The table entry.
    pub mount: &'static Mount,
    /// What failed, with the errno.
    pub reason: String,
}

impl MountFailure {
    /// One line naming the filesystem, the mount point and the error.
    pub fn describe(&self) -> String {
        format!(
            "cannot mount {} on {}: {}",
            self.mount.fstype, self.mount.target, self.reason
        )
    }
}

/// Mounts every entry of [`MOUNTS`], carrying on past failures, which it returns.
pub fn mount_all() -> Vec<MountFailure> {
    MOUNTS
        .iter()
        .filter_map(|mount| {
            mount_one(mount)
                .err()
                .map(|reason| MountFailure { mount, reason })
        })
        .collect()
}

fn mount_one(mount: &Mount) -> Result<(), String> {
    if let Err(e) = std::fs::create_dir_all(mount.target) {
        return Err(format!("cannot create mount point: {}", sys::describe(&e)));
    }
    let cstr = |s: &str| CString::new(s).map_err(|_| "NUL in mount table".to_string());
    let (source, target, fstype, data) = (
        cstr(mount.fstype)?,
        cstr(mount.target)?,
        cstr(mount.fstype)?,
        cstr(mount.data)?,
    );
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            mount.flags,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        let errno = Errno::last();
        return Err(match errno.0 {
            libc::ENODEV => format!("{errno}: the kernel lacks this filesystem"),
            _ => errno.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_mounts_parents_before_children() {
        for (i, mount) in MOUNTS.iter().enumerate() {
            assert!(mount.target.starts_with('/'));
            for later in MOUNTS.iter().skip(i + 1) {
                let later_is_parent = mount.target.starts_with(&format!("{}/", later.target));
                assert!(!later_is_parent, "{} before its parent", mount.target);
            }
        }
        let essential: Vec<_> = MOUNTS
            .iter()
            .filter(|m| m.essential)
            .map(|m| m.target)
            .collect();
        assert_eq!(essential, ["/proc", "/dev", "/sys"]);
    }
}
