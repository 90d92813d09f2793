//! `io_uring`: is it there (5.1), and which opcodes does this kernel support?
//!
//! The opcodes come from `IORING_REGISTER_PROBE` (5.6, commit 66f4af93da57): the kernel fills one
//! entry per opcode it knows, flagged `IO_URING_OP_SUPPORTED` when it can run it. An opcode past
//! the kernel's last one is one it has never heard of.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// `io_uring_setup(2)`: mainline since 5.1 (commit 2b188cc1bb85).
pub const IO_URING_SETUP: Feature = Feature::new("io_uring_setup(2)", "5.1");
/// `IORING_REGISTER_PROBE`: mainline since 5.6 (commit 66f4af93da57).
pub const REGISTER_PROBE: Feature = Feature::new("IORING_REGISTER_PROBE", "5.6");

/// An `io_uring` opcode (`enum io_uring_op` in `include/uapi/linux/io_uring.h`) and the release
/// that added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    /// Its value in `enum io_uring_op`.
    pub code: u8,
    /// Its name and first release.
    pub feature: Feature,
}

/// `IORING_OP_SOCKET`: 5.19 (commit 1374e08e2d44).
pub const OP_SOCKET: Opcode = Opcode {
    code: 45,
    feature: Feature::new("IORING_OP_SOCKET", "5.19"),
};
/// `IORING_OP_FIXED_FD_INSTALL`: 6.8.
pub const OP_FIXED_FD_INSTALL: Opcode = Opcode {
    code: 54,
    feature: Feature::new("IORING_OP_FIXED_FD_INSTALL", "6.8"),
};
/// `IORING_OP_FTRUNCATE`: 6.9 (commit b4bb1900c12e).
pub const OP_FTRUNCATE: Opcode = Opcode {
    code: 55,
    feature: Feature::new("IORING_OP_FTRUNCATE", "6.9"),
};
/// `IORING_OP_BIND`: 6.11.
pub const OP_BIND: Opcode = Opcode {
    code: 56,
    feature: Feature::new("IORING_OP_BIND", "6.11"),
};
/// `IORING_OP_LISTEN`: 6.11.
pub const OP_LISTEN: Opcode = Opcode {
    code: 57,
    feature: Feature::new("IORING_OP_LISTEN", "6.11"),
};

/// `IORING_REGISTER_PROBE`, the `io_uring_register(2)` opcode.
const IORING_REGISTER_PROBE: libc::c_uint = 8;
/// `IO_URING_OP_SUPPORTED`, in `io_uring_probe_op::flags`.
const IO_URING_OP_SUPPORTED: u16 = 1 << 0;
/// Entries offered to `IORING_REGISTER_PROBE`: every value a `u8` opcode can take. The kernel
/// fills as many as it knows opcodes and says how many in `ops_len`.
const PROBE_OPS: usize = 256;

/// `struct io_sqring_offsets` / `struct io_cqring_offsets`: the same size and, for a zeroed
/// input, the same meaning; the kernel fills them in.
#[repr(C)]
#[derive(Default)]
struct RingOffsets {
    fields: [u32; 8],
    user_addr: u64,
}

/// `struct io_uring_params`, 120 bytes. Zeroed, it asks for a plain ring.
#[repr(C)]
#[derive(Default)]
struct IoUringParams {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: RingOffsets,
    cq_off: RingOffsets,
}

const _: () = assert!(size_of::<IoUringParams>() == 120);

/// `struct io_uring_probe_op`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProbeOp {
    op: u8,
    resv: u8,
    flags: u16,
    resv2: u32,
}

/// `struct io_uring_probe` with room for [`PROBE_OPS`] entries. The kernel insists that it is
/// all zeroes on the way in.
#[repr(C)]
struct ProbeBuffer {
    last_op: u8,
    ops_len: u8,
    resv: u16,
    resv2: [u32; 3],
    ops: [ProbeOp; PROBE_OPS],
}

const _: () = assert!(size_of::<ProbeBuffer>() == 16 + 8 * PROBE_OPS);

/// An `io_uring` instance, closed on drop. Created with one entry and never submitted to: it is
/// only there to be asked questions.
#[derive(Debug)]
pub struct Ring {
    fd: OwnedFd,
}

/// Creates a ring with `io_uring_setup(2)`.
///
/// `ENOSYS` means the kernel has no `io_uring` (before 5.1, or built without
/// `CONFIG_IO_URING`); `EPERM` with the `kernel.io_uring_disabled` sysctl set (6.6+) means it is
/// switched off.
pub fn setup() -> Result<Ring, ProbeError> {
    let mut params = IoUringParams::default();
    // SAFETY: io_uring_setup(2) reads and writes one `struct io_uring_params`, which `params` is
    // (layout checked above) and which lives across the call.
    let ret = unsafe { libc::syscall(sys::SYS_IO_URING_SETUP, 1 as libc::c_uint, &raw mut params) };
    match sys::check(ret) {
        Ok(fd) => {
            let fd = RawFd::try_from(fd).map_err(|_| {
                IO_URING_SETUP.unexpected(format!("io_uring_setup returned {fd}, not a descriptor"))
            })?;
            // SAFETY: io_uring_setup just returned this descriptor; nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(Ring { fd })
        }
        Err(errno @ Errno(libc::ENOSYS)) => Err(IO_URING_SETUP.missing(format!(
            "{errno}: not in this kernel, or CONFIG_IO_URING is off"
        ))),
        Err(errno @ Errno(libc::EPERM)) => match io_uring_disabled_sysctl() {
            Some(value) if value != "0" => Err(IO_URING_SETUP.disabled(format!(
                "{errno}: sysctl kernel.io_uring_disabled = {value}"
            ))),
            _ => Err(IO_URING_SETUP.unexpected(format!(
                "{errno} although kernel.io_uring_disabled is not set (a seccomp filter or an \
                 LSM policy denies io_uring?)"
            ))),
        },
        Err(errno) => Err(IO_URING_SETUP.unexpected(errno.to_string())),
    }
}

/// The value of `/proc/sys/kernel/io_uring_disabled` (6.6+), if the kernel has that sysctl.
fn io_uring_disabled_sysctl() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .map(|s| s.trim().to_owned())
}

impl Ring {
    /// Asks the kernel which opcodes it supports (`IORING_REGISTER_PROBE`, 5.6).
    pub fn probe(&self) -> Result<OpcodeTable, ProbeError> {
        let mut buffer = ProbeBuffer {
            last_op: 0,
            ops_len: 0,
            resv: 0,
            resv2: [0; 3],
            ops: [ProbeOp::default(); PROBE_OPS],
        };
        // SAFETY: IORING_REGISTER_PROBE writes a `struct io_uring_probe` followed by at most
        // `nr_args` (PROBE_OPS) `struct io_uring_probe_op`s, which is exactly `buffer`'s layout
        // and size; `buffer` lives across the call and the descriptor is ours.
        let ret = unsafe {
            libc::syscall(
                sys::SYS_IO_URING_REGISTER,
                self.fd.as_raw_fd(),
                IORING_REGISTER_PROBE,
                &raw mut buffer,
                PROBE_OPS as libc::c_uint,
            )
        };
        match sys::check(ret) {
            Ok(_) => {}
            Err(errno @ Errno(libc::EINVAL)) => {
                return Err(REGISTER_PROBE.missing(format!("{errno} from io_uring_register")));
            }
            Err(errno) => return Err(REGISTER_PROBE.unexpected(errno.to_string())),
        }
        let known = usize::from(buffer.ops_len).min(PROBE_OPS);
        let mut supported = [false; PROBE_OPS];
        for entry in &buffer.ops[..known] {
            supported[usize::from(entry.op)] = entry.flags & IO_URING_OP_SUPPORTED != 0;
        }
        Ok(OpcodeTable {
            last_op: buffer.last_op,
            known,
            supported,
        })
    }
}

/// What `IORING_REGISTER_PROBE` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpcodeTable {
    last_op: u8,
    known: usize,
    supported: [bool; PROBE_OPS],
}

impl OpcodeTable {
    /// The highest opcode this kernel knows (`IORING_OP_LAST - 1`).
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// How many opcode entries the kernel filled in.
    pub fn known(&self) -> usize {
        self.known
    }

    /// Whether the kernel can run opcode `code`.
    pub fn supports(&self, code: u8) -> bool {
        self.supported[usize::from(code)]
    }

    /// Every opcode the kernel can run, in order.
    pub fn supported(&self) -> Vec<u8> {
        (0..=u8::MAX).filter(|&code| self.supports(code)).collect()
    }

    /// `Ok` if the kernel can run `op`; otherwise says whether it has never heard of it or
    /// knows it but reports it unsupported (built without what it needs).
    pub fn require(&self, op: Opcode) -> Result<(), ProbeError> {
        if self.supports(op.code) {
            Ok(())
        } else if op.code > self.last_op {
            Err(op.feature.missing(format!(
                "opcode {} is past this kernel's last io_uring opcode, {}",
                op.code, self.last_op
            )))
        } else {
            Err(op.feature.disabled(format!(
                "the kernel knows opcode {} but reports it unsupported (built without the \
                 subsystem it needs?)",
                op.code
            )))
        }
    }
}

/// Sets up a ring, probes its opcodes and requires `op`: the whole check in one call.
pub fn require_opcode(op: Opcode) -> Result<(), ProbeError> {
    setup()?.probe()?.require(op)
}
