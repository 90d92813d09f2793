//! Kernel specs: what the user asks to boot.
//!
//! Parsing is pure (no network, no extraction): it only classifies the strings given with
//! `--kernel` and groups `.deb` archives, so usage errors surface before any work starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use kmatrix_debian::{DebArch, KernelQuery};
use kmatrix_kernel::Arch;

use crate::error::SpecError;

/// The kernels used when no `--kernel` is given: the long-term lines Debian ships.
pub const DEFAULT_MATRIX: &[&str] = &["debian:5.10", "debian:6.1", "debian:6.12"];

/// One kernel to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    /// The spec as the user wrote it (paths joined with `+` for a package group).
    pub display: String,
    /// Where the kernel comes from.
    pub source: KernelSource,
}

/// Where a kernel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// A cloud kernel package from the Debian archive.
    Debian {
        /// Version line or exact ABI.
        query: KernelQuery,
        /// Architecture.
        arch: Arch,
    },
    /// Local kernel image package, with an optional debug-symbols package.
    Packages {
        /// The `linux-image-*` archive.
        image: PathBuf,
        /// The `-dbg`/`-dbgsym` archive, if given.
        debug: Option<PathBuf>,
    },
    /// A bare kernel image (`bzImage`, `Image`, `vmlinuz`).
    Image {
        /// The image file.
        path: PathBuf,
        /// Module tree (`lib/modules/<release>`), if given.
        modules: Option<PathBuf>,
    },
}

impl fmt::Display for KernelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl KernelSpec {
    /// A short name safe for file names (log files, scratch directories).
    pub fn slug(&self) -> String {
        let name = match &self.source {
            KernelSource::Packages { image, .. } | KernelSource::Image { path: image, .. } => image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.display.clone()),
            KernelSource::Debian { .. } => self.display.clone(),
        };
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// Parses every `--kernel` value at once, grouping `.deb` archives by package base name.
///
/// `modules` (from `--modules DIR`) applies to the single bare kernel image given.
pub fn parse_specs(specs: &[String], modules: Option<&Path>) -> Result<Vec<KernelSpec>, SpecError> {
    let mut parsed = Vec::new();
    let mut debs: BTreeMap<String, (usize, Vec<PathBuf>)> = BTreeMap::new();
    let mut images = 0;
    for spec in specs {
        if let Some(rest) = spec.strip_prefix("debian:") {
            parsed.push(Some(parse_debian(spec, rest)?));
            continue;
        }
        let path = PathBuf::from(spec);
        if path.extension().is_some_and(|ext| ext == "deb") && path.is_file() {
            let base = deb_base_name(&path);
            match debs.get_mut(&base) {
                Some((_, group)) => group.push(path),
                None => {
                    debs.insert(base, (parsed.len(), vec![path]));
                    parsed.push(None);
                }
            }
            continue;
        }
        if path.is_file() {
            images += 1;
            parsed.push(Some(KernelSpec {
                display: spec.clone(),
                source: KernelSource::Image {
                    path,
                    modules: modules.map(Path::to_path_buf),
                },
            }));
            continue;
        }
        return Err(SpecError::Unknown { spec: spec.clone() });
    }
    if let Some(dir) = modules
        && images != 1
    {
        return Err(SpecError::ModulesWithoutImage(dir.to_path_buf()));
    }
    for (base, (slot, files)) in debs {
        parsed[slot] = Some(deb_group(&base, files)?);
    }
    Ok(parsed.into_iter().flatten().collect())
}

fn parse_debian(spec: &str, rest: &str) -> Result<KernelSpec, SpecError> {
    let (version, arch) = match rest.split_once(':') {
        Some((version, arch)) => (version, Some(arch)),
        None => (rest, None),
    };
    let query = version
        .parse::<KernelQuery>()
        .map_err(|source| SpecError::BadDebianVersion {
            spec: spec.to_string(),
            source,
        })?;
    let arch = match arch {
        None => host_arch(),
        Some(name) => match name.parse::<DebArch>().ok() {
            Some(DebArch::Amd64) => Arch::X86_64,
            Some(DebArch::Arm64) => Arch::Aarch64,
            None => {
                return Err(SpecError::UnknownArch {
                    spec: spec.to_string(),
                    arch: name.to_string(),
                });
            }
        },
    };
    Ok(KernelSpec {
        display: spec.to_string(),
        source: KernelSource::Debian { query, arch },
    })
}

/// The architecture kmatrix itself runs on: the default guest architecture.
pub fn host_arch() -> Arch {
    if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    }
}

/// `linux-image-6.1.0-50-cloud-amd64-unsigned_6.1.176-1_amd64.deb` → `linux-image-6.1.0-50-cloud-amd64`.
fn deb_base_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let package = name
        .split('_')
        .next()
        .unwrap_or(&name)
        .trim_end_matches(".deb");
    strip_debug_suffix(package)
        .trim_end_matches("-unsigned")
        .to_string()
}

fn strip_debug_suffix(package: &str) -> &str {
    package
        .strip_suffix("-dbgsym")
        .or_else(|| package.strip_suffix("-dbg"))
        .unwrap_or(package)
}

fn is_debug_archive(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let package = name
        .split('_')
        .next()
        .unwrap_or(&name)
        .trim_end_matches(".deb");
    strip_debug_suffix(package) != package
}

fn deb_group(base: &str, files: Vec<PathBuf>) -> Result<KernelSpec, SpecError> {
    let list = || {
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (debug, images): (Vec<_>, Vec<_>) = files.iter().partition(|p| is_debug_archive(p));
    let problem = match (images.len(), debug.len()) {
        (1, 0 | 1) => None,
        (_, 2..) => Some("more than one debug-symbols archive"),
        (0, _) => Some("no kernel image archive, only debug symbols"),
        _ => Some("more than one kernel image archive"),
    };
    if let Some(problem) = problem {
        return Err(SpecError::BadDebGroup {
            base: base.to_string(),
            problem: problem.to_string(),
            files: list(),
        });
    }
    let image = images[0].clone();
    let debug = debug.first().map(|p| (*p).clone());
    let display = match &debug {
        Some(debug) => format!("{}+{}", image.display(), debug.display()),
        None => image.display().to_string(),
    };
    Ok(KernelSpec {
        display,
        source: KernelSource::Packages { image, debug },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, b"x").unwrap();
        path.display().to_string()
    }

    #[test]
    fn debian_specs_parse_line_abi_and_arch() {
        let specs = parse_specs(
            &[
                "debian:6.1".into(),
                "debian:6.1.0-56".into(),
                "debian:6.12:arm64".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(specs.len(), 3);
        assert!(matches!(
            &specs[0].source,
            KernelSource::Debian {
                query: KernelQuery::Line { major: 6, minor: 1 },
                ..
            }
        ));
        assert!(
            matches!(&specs[1].source, KernelSource::Debian { query: KernelQuery::Abi(abi), .. } if abi == "6.1.0-56")
        );
        assert!(matches!(
            &specs[2].source,
            KernelSource::Debian {
                arch: Arch::Aarch64,
                ..
            }
        ));
    }

    #[test]
    fn unknown_arch_and_garbage_are_usage_errors() {
        let err = parse_specs(&["debian:6.1:sparc".into()], None).unwrap_err();
        assert!(
            err.to_string().contains("unknown architecture `sparc`"),
            "{err}"
        );
        let err = parse_specs(&["debian:banana".into()], None).unwrap_err();
        assert!(err.to_string().contains("debian:banana"), "{err}");
        let err = parse_specs(&["nosuch:thing".into()], None).unwrap_err();
        assert!(matches!(err, SpecError::Unknown { .. }), "{err}");
    }

    #[test]
    fn debs_group_by_base_name_with_unsigned_and_dbg_suffixes() {
        let dir = tempfile::tempdir().unwrap();
        let image = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64-unsigned_6.1.176-1_amd64.deb",
        );
        let dbg = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64-dbg_6.1.176-1_amd64.deb",
        );
        let other = touch(
            dir.path(),
            "linux-image-6.12.57+deb13-cloud-amd64_6.12.57-1_amd64.deb",
        );
        let specs = parse_specs(&[dbg.clone(), other.clone(), image.clone()], None).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(
            specs[0].source,
            KernelSource::Packages {
                image: image.into(),
                debug: Some(dbg.into())
            }
        );
        assert_eq!(
            specs[1].source,
            KernelSource::Packages {
                image: other.into(),
                debug: None
            }
        );
    }

    #[test]
    fn two_images_or_two_debug_archives_in_a_group_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64-unsigned_6.1.176-1_amd64.deb",
        );
        let b = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb",
        );
        let err = parse_specs(&[a, b], None).unwrap_err();
        assert!(
            err.to_string()
                .contains("more than one kernel image archive"),
            "{err}"
        );
        let d1 = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64-dbg_6.1.176-1_amd64.deb",
        );
        let d2 = touch(
            dir.path(),
            "linux-image-6.1.0-50-cloud-amd64-dbgsym_6.1.176-1_amd64.deb",
        );
        let err = parse_specs(&[d1.clone(), d2], None).unwrap_err();
        assert!(err.to_string().contains("debug-symbols"), "{err}");
        let err = parse_specs(&[d1], None).unwrap_err();
        assert!(err.to_string().contains("no kernel image archive"), "{err}");
    }

    #[test]
    fn modules_dir_needs_exactly_one_image() {
        let dir = tempfile::tempdir().unwrap();
        let err = parse_specs(&["debian:6.1".into()], Some(dir.path())).unwrap_err();
        assert!(matches!(err, SpecError::ModulesWithoutImage(_)));
        let image = touch(dir.path(), "bzImage");
        let specs = parse_specs(std::slice::from_ref(&image), Some(dir.path())).unwrap();
        assert_eq!(
            specs[0].source,
            KernelSource::Image {
                path: image.into(),
                modules: Some(dir.path().into())
            }
        );
    }
}

/// One slice of a matrix: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards in all.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        match parsed {
            Some((index, count)) if count >= 1 && (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            _ => Err(format!(
                "--shard {text}: expected K/N with 1 <= K <= N, e.g. 2/3"
            )),
        }
    }
}

impl Shard {
    /// The contiguous block of matrix positions this shard runs, out of `len` kernels. Shards
    /// are disjoint, cover the matrix, and keep its order, so merging their reports in shard
    /// order (or by kernel index) gives the unsharded report.
    pub fn range(self, len: usize) -> std::ops::Range<usize> {
        (self.index - 1) * len / self.count..self.index * len / self.count
    }
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_cover_the_matrix_and_keep_its_order() {
        for len in 0..12 {
            for count in 1..6 {
                let mut covered = Vec::new();
                for index in 1..=count {
                    covered.extend(Shard { index, count }.range(len));
                }
                assert_eq!(
                    covered,
                    (0..len).collect::<Vec<_>>(),
                    "len {len}, {count} shards"
                );
            }
        }
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
