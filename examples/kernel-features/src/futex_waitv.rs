//! `futex_waitv(2)` (5.16, commit bf69bad38cf6): wait on several futexes at once.
//!
//! The probe waits on one private 32-bit futex whose word (0) differs from the expected value
//! (1): a kernel that has the syscall compares, sees the mismatch and returns `EAGAIN` at once;
//! one that does not returns `ENOSYS`. The timeout is already in the past, so even a kernel that
//! somehow did not compare would come back (`ETIMEDOUT`) instead of blocking.

use std::sync::atomic::AtomicU32;

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// `futex_waitv(2)`: mainline since 5.16.
pub const FUTEX_WAITV: Feature = Feature::new("futex_waitv(2)", "5.16");

/// `FUTEX2_SIZE_U32`: the futex word is 32 bits.
const FUTEX2_SIZE_U32: u32 = 0x02;
/// `FUTEX2_PRIVATE`: the futex is private to this process.
const FUTEX2_PRIVATE: u32 = 128;

/// `struct futex_waitv`.
#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

/// `struct __kernel_timespec`: 64-bit seconds on every architecture.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Calls `futex_waitv(2)` on a futex word that does not hold the expected value; `Ok` when the
/// kernel answers `EAGAIN`, as it must.
pub fn probe() -> Result<(), ProbeError> {
    let word = AtomicU32::new(0);
    let waiter = FutexWaitv {
        val: 1,
        uaddr: word.as_ptr() as u64,
        flags: FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
        reserved: 0,
    };
    // An absolute CLOCK_MONOTONIC deadline of 0: long past.
    let deadline = KernelTimespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: futex_waitv(2) reads one `struct futex_waitv` (count 1) and one
    // `struct __kernel_timespec`; both live across the call, as does the futex word the waiter
    // points to, which the kernel only reads.
    let ret = unsafe {
        libc::syscall(
            sys::SYS_FUTEX_WAITV,
            &raw const waiter,
            1 as libc::c_uint,
            0 as libc::c_uint,
            &raw const deadline,
            libc::CLOCK_MONOTONIC,
        )
    };
    match sys::check(ret) {
        Err(Errno(libc::EAGAIN)) => Ok(()),
        Err(errno @ Errno(libc::ENOSYS)) => Err(FUTEX_WAITV.missing(errno.to_string())),
        Err(errno) => Err(FUTEX_WAITV.unexpected(format!(
            "{errno}, where a mismatched futex word should give EAGAIN"
        ))),
        Ok(woken) => Err(FUTEX_WAITV.unexpected(format!(
            "returned {woken} (woken), where a mismatched futex word should give EAGAIN"
        ))),
    }
}
