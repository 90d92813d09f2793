//! `mseal(2)` (6.10, commit 8be7258aad44): seal a mapping against unmapping and changes.
//!
//! The probe maps 64 KiB of anonymous memory, seals it, and checks that `munmap(2)` of the sealed
//! range is then refused with `EPERM`. A kernel without the syscall answers `ENOSYS` (so does a
//! 32-bit kernel: mseal is 64-bit only). The sealed mapping stays for the life of the process;
//! that is what sealing means.

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// `mseal(2)`: mainline since 6.10.
pub const MSEAL: Feature = Feature::new("mseal(2)", "6.10");

/// Bytes mapped and sealed: a multiple of every page size Linux supports (4, 16 and 64 KiB).
const LEN: usize = 64 * 1024;

/// Seals a fresh mapping and checks that the kernel then refuses to unmap it.
pub fn probe() -> Result<(), ProbeError> {
    // SAFETY: a new private anonymous mapping at an address the kernel picks; it touches no
    // existing memory.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(MSEAL.unexpected(format!("mmap of {LEN} bytes failed: {}", Errno::last())));
    }
    // SAFETY: mseal(2) changes only the attributes of [addr, addr + LEN), the mapping made above,
    // which nothing else in this process knows about. Flags must be 0.
    let ret = unsafe { libc::syscall(sys::SYS_MSEAL, addr, LEN, 0 as libc::c_ulong) };
    let sealed = sys::check(ret);
    if let Err(errno) = sealed {
        unmap(addr);
        return Err(match errno {
            Errno(libc::ENOSYS) => MSEAL.missing(errno.to_string()),
            _ => MSEAL.unexpected(errno.to_string()),
        });
    }
    // SAFETY: [addr, addr + LEN) is the mapping made above; nothing refers into it, so unmapping
    // it (should the seal not hold) invalidates nothing.
    let ret = unsafe { libc::munmap(addr, LEN) };
    if ret == 0 {
        return Err(MSEAL.unexpected("mseal returned 0, but the sealed mapping could be unmapped"));
    }
    match Errno::last() {
        Errno(libc::EPERM) => Ok(()),
        errno => Err(MSEAL.unexpected(format!(
            "munmap of the sealed mapping failed with {errno}, where sealing should give EPERM"
        ))),
    }
}

/// Unmaps the probe's mapping after a failed seal. A failure here would only leak it.
fn unmap(addr: *mut libc::c_void) {
    // SAFETY: [addr, addr + LEN) is the probe's own mapping, which nothing refers into.
    let _ignored = unsafe { libc::munmap(addr, LEN) };
}
