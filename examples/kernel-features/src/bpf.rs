//! BPF map types: does `bpf(BPF_MAP_CREATE)` accept a ring buffer (5.8) and an arena (6.9)?
//!
//! A kernel rejects a map type it does not know with `EINVAL` (`find_and_alloc_map` checks the
//! type against its table). Creating these maps needs `CAP_BPF` or `CAP_SYS_ADMIN`, so run as
//! root: unprivileged, the answer is `EPERM` and the probe says it needs root.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// The `bpf(2)` syscall itself: mainline since 3.18.
pub const BPF_SYSCALL: Feature = Feature::new("bpf(2)", "3.18");

/// A BPF map type (`enum bpf_map_type` in `include/uapi/linux/bpf.h`) and the release that
/// added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapType {
    /// Its value in `enum bpf_map_type`.
    pub code: u32,
    /// Its name and first release.
    pub feature: Feature,
}

/// `BPF_MAP_TYPE_RINGBUF`: 5.8 (commit 457f44363a88).
pub const RINGBUF: MapType = MapType {
    code: 27,
    feature: Feature::new("BPF_MAP_TYPE_RINGBUF", "5.8"),
};
/// `BPF_MAP_TYPE_ARENA`: 6.9 (commit 317460317a02).
pub const ARENA: MapType = MapType {
    code: 33,
    feature: Feature::new("BPF_MAP_TYPE_ARENA", "6.9"),
};

/// `BPF_MAP_CREATE`, the `bpf(2)` command.
const BPF_MAP_CREATE: libc::c_int = 0;
/// `BPF_F_MMAPABLE`: the map can be `mmap(2)`ed; arenas require it.
const BPF_F_MMAPABLE: u32 = 1 << 10;
/// Ring buffer size: a power of two and a multiple of every page size Linux supports (4, 16 and
/// 64 KiB), as `ringbuf_map_alloc` requires.
const RINGBUF_BYTES: u32 = 64 * 1024;
/// Arena size, in pages.
const ARENA_PAGES: u32 = 1;

/// The `BPF_MAP_CREATE` part of `union bpf_attr`, up to `map_extra` (5.16). An older kernel
/// accepts the longer struct as long as the fields it does not know are zero, and they are.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
    map_ifindex: u32,
    btf_fd: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    btf_vmlinux_value_type_id: u32,
    map_extra: u64,
}

const _: () = assert!(size_of::<MapCreateAttr>() == 72);

/// Creates a `BPF_MAP_TYPE_RINGBUF` map of 64 KiB (no key, no value, size in `max_entries`).
pub fn create_ring_buffer_map() -> Result<OwnedFd, ProbeError> {
    create_map(
        RINGBUF,
        MapCreateAttr {
            map_type: RINGBUF.code,
            max_entries: RINGBUF_BYTES,
            ..Default::default()
        },
    )
}

/// Creates a one-page `BPF_MAP_TYPE_ARENA` map (no key, no value, `max_entries` in pages,
/// `BPF_F_MMAPABLE` required).
///
/// `EOPNOTSUPP` means the kernel knows arenas but its BPF JIT cannot back them on this
/// architecture (`bpf_jit_supports_arena()`).
pub fn create_arena_map() -> Result<OwnedFd, ProbeError> {
    create_map(
        ARENA,
        MapCreateAttr {
            map_type: ARENA.code,
            max_entries: ARENA_PAGES,
            map_flags: BPF_F_MMAPABLE,
            ..Default::default()
        },
    )
}

fn create_map(map: MapType, attr: MapCreateAttr) -> Result<OwnedFd, ProbeError> {
    raise_memlock_limit();
    // SAFETY: bpf(BPF_MAP_CREATE) reads `size` bytes of `union bpf_attr` from the pointer;
    // `attr` is that many bytes (layout checked above) and lives across the call.
    let ret = unsafe {
        libc::syscall(
            sys::SYS_BPF,
            BPF_MAP_CREATE,
            &raw const attr,
            size_of::<MapCreateAttr>() as libc::c_uint,
        )
    };
    match sys::check(ret) {
        Ok(fd) => {
            let fd = RawFd::try_from(fd).map_err(|_| {
                map.feature
                    .unexpected(format!("bpf returned {fd}, not a descriptor"))
            })?;
            // SAFETY: bpf(BPF_MAP_CREATE) just returned this descriptor; nothing else owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        Err(errno @ Errno(libc::ENOSYS)) => Err(BPF_SYSCALL.missing(format!(
            "{errno}: not in this kernel, or CONFIG_BPF_SYSCALL is off"
        ))),
        Err(errno @ Errno(libc::EINVAL)) => Err(map.feature.missing(format!(
            "{errno}: the kernel does not know map type {}",
            map.code
        ))),
        Err(errno @ Errno(libc::EOPNOTSUPP)) => Err(map.feature.missing(format!(
            "{errno}: the kernel knows map type {} but cannot create it on this architecture",
            map.code
        ))),
        Err(errno @ Errno(libc::EPERM | libc::EACCES)) => Err(map.feature.refused(errno)),
        Err(errno) => Err(map.feature.unexpected(errno.to_string())),
    }
}

/// Kernels before 5.11 charge BPF maps to `RLIMIT_MEMLOCK` (64 KiB by default there) and answer
/// `EPERM` past it; raise it as libbpf does. A failure is left to show up as the map creation's
/// own error: on 5.11+ the limit does not matter.
fn raise_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit(2) reads one `struct rlimit`, which lives across the call.
    let _ignored = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raw const unlimited) };
}
