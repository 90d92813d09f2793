//! Landlock: is it running (5.13), and which ABI version does it speak?
//!
//! `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)` returns the ABI version
//! instead of creating a ruleset. `ENOSYS` means the kernel has no Landlock (before 5.13, or
//! built without `CONFIG_SECURITY_LANDLOCK`); `EOPNOTSUPP` means it is built in but was not
//! enabled at boot: Landlock must be in the LSM list (`CONFIG_LSM` or the `lsm=` parameter).

use crate::sys::{self, Errno};
use crate::{Feature, ProbeError};

/// Landlock itself: mainline since 5.13 (commit 265885daf3e5).
pub const LANDLOCK: Feature = Feature::new("Landlock (landlock_create_ruleset(2))", "5.13");

/// `LANDLOCK_CREATE_RULESET_VERSION`.
const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1 << 0;

/// Each Landlock ABI version, as the feature it added and the release that added it.
pub const ABI_RELEASES: [(u32, Feature); 7] = [
    (
        1,
        Feature::new("Landlock ABI 1 (filesystem access control)", "5.13"),
    ),
    (
        2,
        Feature::new("Landlock ABI 2 (LANDLOCK_ACCESS_FS_REFER)", "5.19"),
    ),
    (
        3,
        Feature::new("Landlock ABI 3 (LANDLOCK_ACCESS_FS_TRUNCATE)", "6.2"),
    ),
    (
        4,
        Feature::new(
            "Landlock ABI 4 (LANDLOCK_ACCESS_NET_BIND_TCP/CONNECT_TCP)",
            "6.7",
        ),
    ),
    (
        5,
        Feature::new("Landlock ABI 5 (LANDLOCK_ACCESS_FS_IOCTL_DEV)", "6.10"),
    ),
    (
        6,
        Feature::new(
            "Landlock ABI 6 (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET/SIGNAL)",
            "6.12",
        ),
    ),
    (
        7,
        Feature::new(
            "Landlock ABI 7 (LANDLOCK_RESTRICT_SELF_LOG_* flags)",
            "6.15",
        ),
    ),
];

/// The Landlock ABI version of the running kernel.
pub fn abi_version() -> Result<u32, ProbeError> {
    // SAFETY: with a null attribute pointer, size 0 and LANDLOCK_CREATE_RULESET_VERSION,
    // landlock_create_ruleset(2) reads no memory and creates no descriptor.
    let ret = unsafe {
        libc::syscall(
            sys::SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    match sys::check(ret) {
        Ok(abi) => u32::try_from(abi)
            .map_err(|_| LANDLOCK.unexpected(format!("ABI version {abi} is out of range"))),
        Err(errno @ Errno(libc::ENOSYS)) => Err(LANDLOCK.missing(format!(
            "{errno}: not in this kernel, or CONFIG_SECURITY_LANDLOCK is off"
        ))),
        Err(errno @ Errno(libc::EOPNOTSUPP)) => Err(LANDLOCK.disabled(format!(
            "{errno}: built in but not enabled at boot (landlock is not in the lsm= list)"
        ))),
        Err(errno) => Err(LANDLOCK.unexpected(errno.to_string())),
    }
}

/// The running kernel's ABI version if it is at least `min`; otherwise which ABI is missing and
/// since when.
pub fn require_abi(min: u32) -> Result<u32, ProbeError> {
    let abi = abi_version()?;
    if abi >= min {
        return Ok(abi);
    }
    let feature = ABI_RELEASES
        .iter()
        .find(|(version, _)| *version == min)
        .map_or(
            Feature::new("a newer Landlock ABI", "a later release"),
            |(_, feature)| *feature,
        );
    Err(feature.missing(format!("this kernel's Landlock ABI is {abi}")))
}
