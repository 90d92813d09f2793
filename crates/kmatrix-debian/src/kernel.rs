//! Kernel naming: architectures, user queries, and recognising Debian cloud
//! kernel package names.
//!
//! Two package layouts exist in the archive:
//! * classic (5.10 to 6.12): `linux-image-<ABI>-cloud-<arch>[-unsigned]`
//!   holds `/boot/vmlinuz-<release>` and the modules;
//! * split (7.x, forky/sid): `linux-image-<ABI>-cloud-<arch>` is an empty
//!   dependency package; the image is in `linux-binary[-unsigned]-<ABI>-cloud-<arch>`
//!   (`/usr/lib/modules/<release>/vmlinuz[.unsigned]`), modules in
//!   `linux-modules-<ABI>-cloud-<arch>` and config/System.map in
//!   `linux-base-<ABI>-cloud-<arch>`.
//!
//! Debug symbols are `linux-image-<ABI>-cloud-<arch>-dbg` in both layouts.

use std::fmt;
use std::str::FromStr;

/// A Debian architecture kmatrix can boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DebArch {
    /// x86-64 (`amd64`, alias `x86_64`).
    Amd64,
    /// 64-bit Arm (`arm64`, alias `aarch64`).
    Arm64,
}

impl DebArch {
    /// The Debian name (`amd64` / `arm64`).
    pub fn as_str(self) -> &'static str {
        match self {
            DebArch::Amd64 => "amd64",
            DebArch::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for DebArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An architecture name that is not `amd64`/`x86_64`/`arm64`/`aarch64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported architecture {0:?}: expected amd64 (x86_64) or arm64 (aarch64)")]
pub struct ParseArchError(pub String);

impl FromStr for DebArch {
    type Err = ParseArchError;

    fn from_str(s: &str) -> Result<DebArch, ParseArchError> {
        match s.trim() {
            "amd64" | "x86_64" => Ok(DebArch::Amd64),
            "arm64" | "aarch64" => Ok(DebArch::Arm64),
            other => Err(ParseArchError(other.to_string())),
        }
    }
}

/// Which kernel the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KernelQuery {
    /// The newest kernel of an upstream line, e.g. `6.1`.
    Line {
        /// Major version.
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// An exact Debian kernel ABI, e.g. `6.1.0-56` or `6.12.48+deb13`.
    Abi(String),
}

impl KernelQuery {
    /// True if a package with this ABI answers the query.
    pub fn matches_abi(&self, abi: &str) -> bool {
        match self {
            KernelQuery::Line { major, minor } => abi_line(abi) == Some((*major, *minor)),
            KernelQuery::Abi(want) => want == abi,
        }
    }
}

impl fmt::Display for KernelQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelQuery::Line { major, minor } => write!(f, "{major}.{minor}"),
            KernelQuery::Abi(abi) => f.write_str(abi),
        }
    }
}

/// A kernel query that is neither `MAJOR.MINOR` nor a Debian ABI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid kernel {0:?}: expected a line like \"6.1\" or an ABI like \"6.1.0-56\" or \"6.12.48+deb13\""
)]
pub struct ParseQueryError(pub String);

impl FromStr for KernelQuery {
    type Err = ParseQueryError;

    fn from_str(s: &str) -> Result<KernelQuery, ParseQueryError> {
        let s = s.trim();
        let err = || ParseQueryError(s.to_string());
        if let Some((major, minor)) = s.split_once('.')
            && is_number(major)
            && is_number(minor)
        {
            return Ok(KernelQuery::Line {
                major: major.parse().map_err(|_| err())?,
                minor: minor.parse().map_err(|_| err())?,
            });
        }
        if is_abi(s) {
            return Ok(KernelQuery::Abi(s.to_string()));
        }
        Err(err())
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 9 && s.bytes().all(|c| c.is_ascii_digit())
}

/// True for a Debian kernel ABI: `MAJOR.MINOR.PATCH` followed by an optional
/// suffix starting with `-`, `+` or `.` (e.g. `6.1.0-50`, `6.1.0-0.deb11.48`,
/// `6.12.90+deb12.1`, `7.2.12+deb14`). Rejects metapackage fragments like `6.1`.
pub fn is_abi(s: &str) -> bool {
    let mut parts = s.splitn(3, '.');
    let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &rest[digits..];
    is_number(major)
        && is_number(minor)
        && digits > 0
        && (suffix.is_empty() || suffix.starts_with(['-', '+', '.']))
        && suffix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-' | b'~'))
}

/// The `(major, minor)` line of an ABI, e.g. `(6, 12)` for `6.12.48+deb13`.
pub fn abi_line(abi: &str) -> Option<(u32, u32)> {
    if !is_abi(abi) {
        return None;
    }
    let mut parts = abi.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The role a package plays for one kernel build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// `linux-image-*` (in the split layout, only a dependency package).
    Image { unsigned: bool },
    /// `linux-binary[-unsigned]-*` (split layout image).
    Binary { unsigned: bool },
    /// `linux-modules-*` (split layout).
    Modules,
    /// `linux-base-*` (split layout).
    Base,
    /// `linux-image-*-dbg`.
    Debug,
}

/// Recognises a cloud kernel package for `arch`, returning its role and ABI.
/// Metapackages (`linux-image-cloud-amd64`, `linux-image-6.1-cloud-amd64`)
/// and other flavours (`-amd64`, `-rt-amd64`) give `None`.
pub(crate) fn classify(package: &str, arch: DebArch) -> Option<(Part, &str)> {
    let flavour = match arch {
        DebArch::Amd64 => "-cloud-amd64",
        DebArch::Arm64 => "-cloud-arm64",
    };
    let (part, abi) = if let Some(rest) = package.strip_prefix("linux-image-") {
        let (stem, tail) = rest.rsplit_once(flavour)?;
        let part = match tail {
            "" => Part::Image { unsigned: false },
            "-unsigned" => Part::Image { unsigned: true },
            "-dbg" => Part::Debug,
            _ => return None,
        };
        (part, stem)
    } else {
        let (part, rest) = if let Some(r) = package.strip_prefix("linux-binary-unsigned-") {
            (Part::Binary { unsigned: true }, r)
        } else if let Some(r) = package.strip_prefix("linux-binary-") {
            (Part::Binary { unsigned: false }, r)
        } else if let Some(r) = package.strip_prefix("linux-modules-") {
            (Part::Modules, r)
        } else if let Some(r) = package.strip_prefix("linux-base-") {
            (Part::Base, r)
        } else {
            return None;
        };
        (part, rest.strip_suffix(flavour)?)
    };
    is_abi(abi).then_some((part, abi))
}

/// Cheap pre-filter for index parsing: could `package` be any cloud kernel
/// part (for any architecture)?
pub(crate) fn may_be_kernel_part(package: &str) -> bool {
    [
        "linux-image-",
        "linux-binary-",
        "linux-modules-",
        "linux-base-",
    ]
    .iter()
    .any(|p| package.starts_with(p))
        && package.contains("-cloud-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_arch() {
        assert_eq!("amd64".parse(), Ok(DebArch::Amd64));
        assert_eq!("x86_64".parse(), Ok(DebArch::Amd64));
        assert_eq!("arm64".parse(), Ok(DebArch::Arm64));
        assert_eq!("aarch64".parse(), Ok(DebArch::Arm64));
        assert!("i386".parse::<DebArch>().is_err());
        assert_eq!(DebArch::Arm64.to_string(), "arm64");
    }

    #[test]
    fn parse_query() {
        let q = |s: &str| s.parse::<KernelQuery>();
        assert_eq!(q("6.1"), Ok(KernelQuery::Line { major: 6, minor: 1 }));
        assert_eq!(
            q(" 6.12 "),
            Ok(KernelQuery::Line {
                major: 6,
                minor: 12
            })
        );
        assert_eq!(q("6.1.0-56"), Ok(KernelQuery::Abi("6.1.0-56".into())));
        assert_eq!(
            q("6.12.48+deb13"),
            Ok(KernelQuery::Abi("6.12.48+deb13".into()))
        );
        assert_eq!(
            q("6.1.0-0.deb11.48"),
            Ok(KernelQuery::Abi("6.1.0-0.deb11.48".into()))
        );
        for bad in [
            "",
            "6",
            "6.",
            ".1",
            "latest",
            "6.x",
            "v6.1",
            "6.1.0 -5",
            "6.1.0-5/x",
        ] {
            let err = q(bad).unwrap_err();
            assert!(err.to_string().contains("invalid kernel"), "{bad}");
        }
        assert_eq!(q("6.12").unwrap().to_string(), "6.12");
    }

    #[test]
    fn abi_rules() {
        assert!(is_abi("6.1.0-50"));
        assert!(is_abi("7.2.12+deb14"));
        assert!(is_abi("6.12.74+deb13+1"));
        assert!(!is_abi("6.1"));
        assert!(!is_abi("6.12"));
        assert!(!is_abi("cloud"));
        assert!(!is_abi("6.1.x"));
        assert_eq!(abi_line("6.12.90+deb12.1"), Some((6, 12)));
        assert_eq!(abi_line("5.10.0-30"), Some((5, 10)));
    }

    #[test]
    fn classify_names() {
        use DebArch::{Amd64, Arm64};
        let c = classify;
        assert_eq!(
            c("linux-image-6.1.0-50-cloud-amd64-unsigned", Amd64),
            Some((Part::Image { unsigned: true }, "6.1.0-50"))
        );
        assert_eq!(
            c("linux-image-6.1.0-50-cloud-amd64", Amd64),
            Some((Part::Image { unsigned: false }, "6.1.0-50"))
        );
        assert_eq!(
            c("linux-image-6.12.117+deb13-cloud-arm64-dbg", Arm64),
            Some((Part::Debug, "6.12.117+deb13"))
        );
        assert_eq!(
            c("linux-binary-unsigned-7.2.12+deb14-cloud-amd64", Amd64),
            Some((Part::Binary { unsigned: true }, "7.2.12+deb14"))
        );
        assert_eq!(
            c("linux-binary-7.2.12+deb14-cloud-amd64", Amd64),
            Some((Part::Binary { unsigned: false }, "7.2.12+deb14"))
        );
        assert_eq!(
            c("linux-modules-7.2.12+deb14-cloud-arm64", Arm64),
            Some((Part::Modules, "7.2.12+deb14"))
        );
        assert_eq!(
            c("linux-base-7.2.12+deb14-cloud-arm64", Arm64),
            Some((Part::Base, "7.2.12+deb14"))
        );
        for not in [
            "linux-image-cloud-amd64",
            "linux-image-cloud-amd64-dbg",
            "linux-image-6.1-cloud-amd64",
            "linux-image-6.12-cloud-amd64-dbg",
            "linux-image-6.1.0-50-amd64",
            "linux-image-6.1.0-50-rt-amd64",
            "linux-image-6.1.0-50-cloud-arm64",
            "linux-headers-6.1.0-50-cloud-amd64",
            "linux-base-cloud-amd64",
            "linux-binary-7.2.12+deb14-rt-amd64",
        ] {
            assert_eq!(c(not, Amd64), None, "{not}");
        }
    }
}
