//! `cachestat(2)` (6.5, commit cf264e1329fb): page-cache statistics of a file range.
//!
//! The probe writes one page into a fresh memfd and asks `cachestat` about the whole file: a
//! kernel that has the syscall answers with at least that page cached; one that does not answers
//! `ENOSYS`. (`CONFIG_CACHESTAT_SYSCALL` can also leave it out of a 6.5+ kernel.)

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd};

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// `cachestat(2)`: mainline since 6.5.
pub const CACHESTAT: Feature = Feature::new("cachestat(2)", "6.5");
/// `memfd_create(2)`, which the probe uses for its file: mainline since 3.17.
pub const MEMFD_CREATE: Feature = Feature::new("memfd_create(2)", "3.17");

/// `struct cachestat_range`.
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat`: the answer, in pages.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStat {
    /// Pages in the page cache.
    pub nr_cache: u64,
    /// Dirty pages.
    pub nr_dirty: u64,
    /// Pages under writeback.
    pub nr_writeback: u64,
    /// Pages evicted from the cache.
    pub nr_evicted: u64,
    /// Pages evicted recently (they would have been in the cache with a bit more memory).
    pub nr_recently_evicted: u64,
}

/// `cachestat(2)` on `len` bytes of `file` from `off` (`len` 0: to the end of the file).
pub fn cachestat(file: &impl AsFd, off: u64, len: u64) -> Result<CacheStat, ProbeError> {
    let range = CachestatRange { off, len };
    let mut stat = CacheStat::default();
    // SAFETY: cachestat(2) reads one `struct cachestat_range` and writes one `struct cachestat`;
    // both are `repr(C)` copies of those structs that live across the call, and the descriptor
    // is borrowed for its duration. Flags must be 0.
    let ret = unsafe {
        libc::syscall(
            sys::SYS_CACHESTAT,
            file.as_fd().as_raw_fd(),
            &raw const range,
            &raw mut stat,
            0 as libc::c_uint,
        )
    };
    match sys::check(ret) {
        Ok(_) => Ok(stat),
        Err(errno @ Errno(libc::ENOSYS)) => Err(CACHESTAT.missing(errno.to_string())),
        Err(errno) => Err(CACHESTAT.unexpected(errno.to_string())),
    }
}

/// Writes one page into a new memfd and runs [`cachestat`] on it, checking that the page is
/// counted as cached.
pub fn probe() -> Result<CacheStat, ProbeError> {
    let mut file = memfd()?;
    file.write_all(&[0x5a; 4096])
        .map_err(|e| MEMFD_CREATE.unexpected(format!("writing to the memfd: {e}")))?;
    let stat = cachestat(&file, 0, 0)?;
    if stat.nr_cache == 0 {
        return Err(CACHESTAT.unexpected(format!(
            "a file with a page just written shows no cached page: {stat:?}"
        )));
    }
    Ok(stat)
}

/// A new, empty memfd.
fn memfd() -> Result<File, ProbeError> {
    // SAFETY: memfd_create(2) reads the NUL-terminated name, a static C string.
    let fd =
        unsafe { libc::memfd_create(c"kernel-features-cachestat".as_ptr(), libc::MFD_CLOEXEC) };
    if fd == -1 {
        return Err(MEMFD_CREATE.unexpected(Errno::last().to_string()));
    }
    // SAFETY: memfd_create just returned this descriptor; nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}
