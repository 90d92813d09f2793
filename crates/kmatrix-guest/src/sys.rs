//! Thin wrappers around the few system facilities init and modprobe share: errno names,
//! `uname`, `CLOCK_BOOTTIME` and `/dev/kmsg` notes.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};

use kmatrix_wire::Level;

/// An errno value; displays as `ENOENT (No such file or directory)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno of the last failed libc call on this thread.
    pub fn last() -> Errno {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name, for the errnos a guest is likely to meet.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::ENXIO => "ENXIO",
            libc::E2BIG => "E2BIG",
            libc::ENOEXEC => "ENOEXEC",
            libc::EBADF => "EBADF",
            libc::ECHILD => "ECHILD",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::ENODEV => "ENODEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::ENFILE => "ENFILE",
            libc::EMFILE => "EMFILE",
            libc::ENOTTY => "ENOTTY",
            libc::ETXTBSY => "ETXTBSY",
            libc::EFBIG => "EFBIG",
            libc::ENOSPC => "ENOSPC",
            libc::EROFS => "EROFS",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOSYS => "ENOSYS",
            libc::ELOOP => "ELOOP",
            libc::ENOKEY => "ENOKEY",
            libc::EKEYREJECTED => "EKEYREJECTED",
            libc::EBADMSG => "EBADMSG",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ELIBBAD => "ELIBBAD",
            _ => return None,
        })
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = io::Error::from_raw_os_error(self.0).to_string();
        // io::Error appends " (os error N)"; the name already identifies it.
        let text = text.split(" (os error").next().unwrap_or_default();
        match self.name() {
            Some(name) => write!(f, "{name} ({text})"),
            None => write!(f, "errno {} ({text})", self.0),
        }
    }
}

/// Formats an I/O error with its errno name when it has one.
pub fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => Errno(code).to_string(),
        None => error.to_string(),
    }
}

/// The running kernel's release, as `uname -r` prints it.
pub fn kernel_release() -> Result<String, Errno> {
    // SAFETY: utsname is a plain C struct of byte arrays, for which all-zero is valid.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(Errno::last());
    }
    // The field is NUL-terminated by the kernel; stop at the first NUL in any case.
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| u8::from_ne_bytes(c.to_ne_bytes()))
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Milliseconds since the kernel started, suspend included (`CLOCK_BOOTTIME`).
pub fn boottime_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1000).saturating_add(nanos / 1_000_000)
}

/// Writes one note to the kernel log (`/dev/kmsg`), so it shows in the console log.
///
/// `/dev/kmsg` rate-limits each open file, so every note opens it afresh. Errors (no
/// `/dev/kmsg`) are ignored: the note is a courtesy, the channel is the record.
pub fn kmsg(tag: &str, level: Level, text: &str) {
    let priority = match level {
        Level::Info => 5,
        Level::Warn => 4,
        Level::Error => 3,
    };
    // The kernel rejects records longer than about 1 KiB; keep well below.
    let mut end = text.len().min(900);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let line = format!("<{priority}>{tag}: {}\n", text.get(..end).unwrap_or(text));
    if let Ok(mut file) = OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = file.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_displays_name_and_text() {
        assert_eq!(
            Errno(libc::ENOENT).to_string(),
            "ENOENT (No such file or directory)"
        );
        assert!(Errno(4000).to_string().starts_with("errno 4000 ("));
    }

    #[test]
    fn kernel_release_and_uptime_are_plausible() {
        let release = kernel_release().expect("uname");
        assert!(!release.is_empty() && !release.contains('\0'));
        assert!(boottime_ms() > 0);
    }
}
