//! # kernel-features: a kmatrix example
//!
//! Probes for Linux kernel features that really differ between the kernels kmatrix boots by
//! default (Debian's 5.10, 6.1 and 6.12). Each probe asks the running kernel directly — a raw
//! syscall, an `io_uring` opcode probe, a BPF map creation — and reports what it found; the tests
//! in `tests/kernel_features.rs` assert that the feature works, so on an older kernel they fail
//! with a message naming what is missing and the release that added it, for example
//! `cachestat(2) missing: ENOSYS (added in Linux 6.5)`.
//!
//! Run on one machine, `cargo test` tells you about one kernel. Run under kmatrix, the same test
//! binary fills a test × kernel matrix:
//!
//! ```text
//! kmatrix test                   # from this directory: every test on 5.10, 6.1 and 6.12
//! cargo test --no-run            # or by hand: prints target/debug/deps/kernel_features-<hash>
//! kmatrix run -- target/debug/deps/kernel_features-<hash>
//! ```
//!
//! ## The probes
//!
//! | test | probes | since | mainline commit |
//! |---|---|---|---|
//! | `io_uring_is_available` | [`io_uring::setup`]: `io_uring_setup(2)` creates a ring | 5.1 | 2b188cc1bb85 "Add io_uring IO interface" |
//! | (all opcode tests) | [`io_uring::Ring::probe`]: `IORING_REGISTER_PROBE` lists the opcodes | 5.6 | 66f4af93da57 "io_uring: add support for probing opcodes" |
//! | `io_uring_supports_socket_opcode` | `IORING_OP_SOCKET` (45) is a supported opcode | 5.19 | 1374e08e2d44 "io_uring: add socket(2) support" |
//! | `io_uring_supports_ftruncate` | `IORING_OP_FTRUNCATE` (55) is a supported opcode | 6.9 | b4bb1900c12e "io_uring: add support for ftruncate" |
//! | `bpf_ring_buffer_map` | [`bpf::create_ring_buffer_map`]: `BPF_MAP_CREATE` of `BPF_MAP_TYPE_RINGBUF` (27) | 5.8 | 457f44363a88 "bpf: Implement BPF ring buffer and verifier support for it" |
//! | `bpf_arena_map` | [`bpf::create_arena_map`]: `BPF_MAP_CREATE` of `BPF_MAP_TYPE_ARENA` (33) | 6.9 | 317460317a02 "bpf: Introduce bpf_arena." |
//! | `futex_waitv_syscall_exists` | [`futex_waitv::probe`]: `futex_waitv(2)` compares a futex word | 5.16 | bf69bad38cf6 "futex: Implement sys_futex_waitv()" |
//! | `landlock_is_enabled` | [`landlock::abi_version`]: `landlock_create_ruleset(2)` answers its ABI version | 5.13 | 265885daf3e5 "landlock: Add syscall implementations" |
//! | `landlock_abi_version_at_least_3` | [`landlock::require_abi`]`(3)`: `LANDLOCK_ACCESS_FS_TRUNCATE` | 6.2 | b9f5ce27c8f8 "landlock: Support file truncation" (merge 299e2b196757) |
//! | `cachestat_syscall_exists` | [`cachestat::probe`]: `cachestat(2)` on a memfd with one page written | 6.5 | cf264e1329fb "cachestat: implement cachestat syscall" |
//! | `mseal_syscall_exists` | [`mseal::probe`]: `mseal(2)` seals a mapping, then `munmap(2)` is refused | 6.10 | 8be7258aad44 "mseal: add mseal syscall" |
//! | `exhaustive_feature_report` (ignored) | every probe above, printed as a report | | |
//!
//! Landlock ABI versions, for reading `landlock_abi_version_at_least_3`: 1 is 5.13, 2 is 5.19,
//! 3 is 6.2, 4 is 6.7, 5 is 6.10, 6 is 6.12, 7 is 6.15 ([`landlock::ABI_RELEASES`]). A kernel can
//! be built with Landlock and still not run it: Landlock must also be in the boot-time LSM list
//! (`CONFIG_LSM` or `lsm=`), else the syscall answers `EOPNOTSUPP` and the probe says so.
//!
//! ## Reading a result
//!
//! A probe that does not find its feature working returns a [`ProbeError`] that tells apart:
//! - [`ProbeErrorKind::Missing`]: the kernel does not have the feature (`ENOSYS` for a syscall,
//!   `EINVAL` for a BPF map type it does not know, an opcode outside its opcode table);
//! - [`ProbeErrorKind::Disabled`]: the kernel has it, but it is switched off (boot parameter,
//!   sysctl);
//! - [`ProbeErrorKind::NeedsRoot`]: `EPERM`/`EACCES` where the feature needs privileges (BPF)
//!   and the tests do not run as root; kmatrix runs them as root in its guests (as root, the
//!   same answer means a security policy refuses it, and is reported as unexpected);
//! - [`ProbeErrorKind::Unexpected`]: anything else, which is a real failure, not an answer.
//!
//! Syscall numbers are x86_64's and aarch64's (see [`sys`]); the crate builds for both.

#[cfg(not(target_os = "linux"))]
compile_error!("kernel-features probes Linux kernel features: build it for a Linux target");

use std::fmt;

pub mod bpf;
pub mod cachestat;
pub mod futex_waitv;
pub mod io_uring;
pub mod landlock;
pub mod mseal;
pub mod sys;

pub use sys::Errno;

/// A kernel feature and the first mainline release that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// What is probed, e.g. `cachestat(2)` or `BPF_MAP_TYPE_RINGBUF`.
    pub name: &'static str,
    /// The first mainline release that has it, e.g. `6.5`.
    pub since: &'static str,
}

impl Feature {
    /// A feature named `name`, in mainline since `since`.
    pub const fn new(name: &'static str, since: &'static str) -> Self {
        Self { name, since }
    }

    /// The kernel does not have this feature; `detail` says how it answered.
    pub fn missing(self, detail: impl Into<String>) -> ProbeError {
        self.error(ProbeErrorKind::Missing(detail.into()))
    }

    /// The kernel has this feature but it is switched off; `detail` says how and where.
    pub fn disabled(self, detail: impl Into<String>) -> ProbeError {
        self.error(ProbeErrorKind::Disabled(detail.into()))
    }

    /// The probe was refused with `errno` (`EPERM`, `EACCES`) where the feature needs
    /// privileges: the probe needs root when not running as root; as root, something else (an
    /// LSM policy, a seccomp filter, a sandbox) refuses it, which is unexpected.
    pub fn refused(self, errno: Errno) -> ProbeError {
        if sys::running_as_root() {
            self.unexpected(format!(
                "{errno} although running as root (a security policy refuses it: an LSM, a \
                 seccomp filter, a sandbox?)"
            ))
        } else {
            self.error(ProbeErrorKind::NeedsRoot(errno))
        }
    }

    /// An answer that is neither "not supported" nor a permission problem.
    pub fn unexpected(self, detail: impl Into<String>) -> ProbeError {
        self.error(ProbeErrorKind::Unexpected(detail.into()))
    }

    fn error(self, kind: ProbeErrorKind) -> ProbeError {
        ProbeError {
            feature: self,
            kind,
        }
    }
}

/// Why a probe did not find its feature working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// The feature that was probed.
    pub feature: Feature,
    /// What the kernel answered.
    pub kind: ProbeErrorKind,
}

/// The ways a probe can come back without its feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeErrorKind {
    /// The kernel does not have the feature; the text says how it answered (e.g. `ENOSYS`).
    Missing(String),
    /// The kernel has the feature but it is switched off (boot parameter, sysctl).
    Disabled(String),
    /// `EPERM` or `EACCES` where the feature needs privileges, when not running as root: the
    /// probe must run as root.
    NeedsRoot(Errno),
    /// Neither "not supported" nor a permission problem: a real failure of the probe.
    Unexpected(String),
}

impl ProbeError {
    /// Whether the kernel answered cleanly that it lacks the feature or has it switched off, as
    /// opposed to refusing the probe or failing in an unforeseen way.
    pub fn is_clean_answer(&self) -> bool {
        matches!(
            self.kind,
            ProbeErrorKind::Missing(_) | ProbeErrorKind::Disabled(_)
        )
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Feature { name, since } = self.feature;
        match &self.kind {
            ProbeErrorKind::Missing(detail) => {
                write!(f, "{name} missing: {detail} (added in Linux {since})")
            }
            ProbeErrorKind::Disabled(detail) => {
                write!(f, "{name} is in this kernel but disabled: {detail}")
            }
            ProbeErrorKind::NeedsRoot(errno) => write!(
                f,
                "{name}: {errno}: this probe needs root (run the tests as root; kmatrix runs \
                 them as root in its guests)"
            ),
            ProbeErrorKind::Unexpected(detail) => write!(f, "{name}: unexpected result: {detail}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// One line of [`report`]: a probe and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    /// The test that asserts this probe (or, for `io_uring_opcode_table`, what the line shows).
    pub test: &'static str,
    /// What the probe found when the feature works, or why it does not.
    pub result: Result<String, ProbeError>,
}

/// Runs every probe and says what each found, in the order of the table above.
pub fn report() -> Vec<ReportLine> {
    fn line<T>(
        test: &'static str,
        result: Result<T, ProbeError>,
        show: impl FnOnce(T) -> String,
    ) -> ReportLine {
        ReportLine {
            test,
            result: result.map(show),
        }
    }
    let opcodes = io_uring::setup().and_then(|ring| ring.probe());
    let opcode = |op: io_uring::Opcode| opcodes.clone().and_then(|table| table.require(op));
    vec![
        line("io_uring_is_available", io_uring::setup(), |_| {
            "ring created".into()
        }),
        line("io_uring_opcode_table", opcodes.clone(), |table| {
            format!(
                "opcodes 0..={}, supported: {:?}",
                table.last_op(),
                table.supported()
            )
        }),
        line(
            "io_uring_supports_socket_opcode",
            opcode(io_uring::OP_SOCKET),
            |()| "supported".into(),
        ),
        line(
            "io_uring_supports_ftruncate",
            opcode(io_uring::OP_FTRUNCATE),
            |()| "supported".into(),
        ),
        line("bpf_ring_buffer_map", bpf::create_ring_buffer_map(), |_| {
            "map created".into()
        }),
        line("bpf_arena_map", bpf::create_arena_map(), |_| {
            "map created".into()
        }),
        line("futex_waitv_syscall_exists", futex_waitv::probe(), |()| {
            "EAGAIN for a mismatched futex word, as expected".into()
        }),
        line("landlock_is_enabled", landlock::abi_version(), |abi| {
            format!("ABI {abi}")
        }),
        line(
            "landlock_abi_version_at_least_3",
            landlock::require_abi(3),
            |abi| format!("ABI {abi}"),
        ),
        line("cachestat_syscall_exists", cachestat::probe(), |stat| {
            format!("{stat:?}")
        }),
        line("mseal_syscall_exists", mseal::probe(), |()| {
            "mapping sealed, munmap refused with EPERM".into()
        }),
    ]
}
