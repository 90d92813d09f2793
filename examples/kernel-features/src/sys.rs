//! Syscall numbers and `errno` handling shared by the probes.
//!
//! Numbers come from `libc` where it has them. `cachestat(2)` is not in `libc` yet, so its number
//! is spelled out per architecture: since Linux 5.1 every architecture numbers new syscalls from
//! 424 up in step (x86_64's `syscall_64.tbl` and the generic `asm-generic/unistd.h` that aarch64
//! uses agree), except those that add a base (alpha, mips), so 451 is right for both targets here.

use std::fmt;
use std::io;

use libc::c_long;

/// `io_uring_setup(2)`.
pub const SYS_IO_URING_SETUP: c_long = libc::SYS_io_uring_setup;
/// `io_uring_register(2)`.
pub const SYS_IO_URING_REGISTER: c_long = libc::SYS_io_uring_register;
/// `bpf(2)`.
pub const SYS_BPF: c_long = libc::SYS_bpf;
/// `landlock_create_ruleset(2)`: 444.
pub const SYS_LANDLOCK_CREATE_RULESET: c_long = libc::SYS_landlock_create_ruleset;
/// `futex_waitv(2)`: 449.
pub const SYS_FUTEX_WAITV: c_long = libc::SYS_futex_waitv;
/// `mseal(2)`: 462.
pub const SYS_MSEAL: c_long = libc::SYS_mseal;

/// `cachestat(2)`: 451 on x86_64 (`arch/x86/entry/syscalls/syscall_64.tbl`) and on aarch64
/// (`include/uapi/asm-generic/unistd.h`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const SYS_CACHESTAT: c_long = 451;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "kernel-features knows the cachestat(2) number for x86_64 and aarch64 only; \
     add this architecture's number to src/sys.rs"
);

/// An `errno` value, shown by its symbolic name (`ENOSYS`) when it is one the probes meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's `errno`, as left by the call that just failed.
    pub fn last() -> Self {
        Self(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name, for the values the probes can meet.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::EINTR => "EINTR",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EINVAL => "EINVAL",
            libc::E2BIG => "E2BIG",
            libc::ERANGE => "ERANGE",
            libc::ENOSYS => "ENOSYS",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ETIMEDOUT => "ETIMEDOUT",
            _ => return None,
        })
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(
                f,
                "errno {} ({})",
                self.0,
                io::Error::from_raw_os_error(self.0)
            ),
        }
    }
}

/// Whether this process runs with effective user ID 0.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Turns a raw `syscall(2)` return value into a result. Call it on the value straight away:
/// `errno` is read from the thread, so nothing may run between the syscall and this.
pub fn check(ret: c_long) -> Result<c_long, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}
