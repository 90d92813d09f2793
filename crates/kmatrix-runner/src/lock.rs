//! `kmatrix.lock`: what each `debian:` spec resolved to, so that later runs boot exactly the
//! same packages until `kmatrix kernel update`.
//!
//! The file records, per spec, the suite, the archive URL and every package (name, version,
//! architecture, file name, size, SHA-256). A pinned spec is never resolved again: its packages
//! are taken from the cache or downloaded from the recorded URL and checked against the recorded
//! hash, so a changed archive cannot change a pinned run.

use std::path::{Path, PathBuf};

use kmatrix_debian::{DebArch, PackageEntry, ResolvedKernel};
use serde::{Deserialize, Serialize};

/// Format version written to new lock files.
const LOCK_VERSION: u32 = 1;

/// A lock file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Reading or writing failed.
    #[error("lock file {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not a kmatrix lock file.
    #[error("lock file {}: not a kmatrix lock file: {source}", path.display())]
    Parse {
        /// The lock file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// One package as pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: String,
    /// Debian architecture.
    pub architecture: String,
    /// Path relative to the archive URL.
    pub filename: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One spec as pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedKernel {
    /// The spec as written (`debian:6.1`).
    pub spec: String,
    /// Kernel release.
    pub release: String,
    /// Debian kernel ABI.
    pub abi: String,
    /// Suite it was found in.
    pub suite: String,
    /// Archive URL the file names are relative to.
    pub base_url: String,
    /// The image package (or split-layout binary package).
    pub image: LockedPackage,
    /// Split layout: the modules package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<LockedPackage>,
    /// Split layout: the base package (config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<LockedPackage>,
}

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Format version.
    pub version: u32,
    /// Pinned specs, sorted by spec.
    pub kernels: Vec<LockedKernel>,
}

impl Default for LockFile {
    fn default() -> Self {
        LockFile {
            version: LOCK_VERSION,
            kernels: Vec::new(),
        }
    }
}

impl LockFile {
    /// Reads `path`; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<LockFile, LockError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| LockError::Parse {
                path: path.to_path_buf(),
                source,
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(source) => Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|source| LockError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        text.push('\n');
        crate::cache::write_atomic(path, text.as_bytes()).map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The pinned resolution of `spec` for `arch`, if any.
    pub fn get(&self, spec: &str, arch: DebArch) -> Option<ResolvedKernel> {
        let locked = self.kernels.iter().find(|k| k.spec == spec)?;
        let entry = |p: &LockedPackage| PackageEntry {
            package: p.package.clone(),
            version: p.version.clone(),
            architecture: p.architecture.clone(),
            filename: p.filename.clone(),
            size: p.size,
            sha256: p.sha256.clone(),
            source: None,
        };
        Some(ResolvedKernel {
            image: entry(&locked.image),
            modules: locked.modules.as_ref().map(entry),
            base: locked.base.as_ref().map(entry),
            debug: None,
            suite: locked.suite.clone(),
            base_url: locked.base_url.clone(),
            arch,
            abi: locked.abi.clone(),
            release: locked.release.clone(),
        })
    }

    /// Pins `spec` to `resolved`, replacing an earlier pin.
    pub fn set(&mut self, spec: &str, resolved: &ResolvedKernel) {
        let package = |p: &PackageEntry| LockedPackage {
            package: p.package.clone(),
            version: p.version.clone(),
            architecture: p.architecture.clone(),
            filename: p.filename.clone(),
            size: p.size,
            sha256: p.sha256.clone(),
        };
        let locked = LockedKernel {
            spec: spec.to_string(),
            release: resolved.release.clone(),
            abi: resolved.abi.clone(),
            suite: resolved.suite.clone(),
            base_url: resolved.base_url.clone(),
            image: package(&resolved.image),
            modules: resolved.modules.as_ref().map(package),
            base: resolved.base.as_ref().map(package),
        };
        self.kernels.retain(|k| k.spec != spec);
        self.kernels.push(locked);
        self.kernels.sort_by(|a, b| a.spec.cmp(&b.spec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(version: &str, sha: &str) -> ResolvedKernel {
        ResolvedKernel {
            image: PackageEntry {
                package: "linux-image-6.1.0-57-cloud-amd64-unsigned".into(),
                version: version.into(),
                architecture: "amd64".into(),
                filename: "pool/main/l/linux/x.deb".into(),
                size: 123,
                sha256: sha.into(),
                source: None,
            },
            modules: None,
            base: None,
            debug: None,
            suite: "bookworm-security".into(),
            base_url: "http://mirror.example/debian-security".into(),
            arch: DebArch::Amd64,
            abi: "6.1.0-57".into(),
            release: "6.1.0-57-cloud-amd64".into(),
        }
    }

    #[test]
    fn a_pin_round_trips_through_the_file_and_replaces_older_pins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmatrix.lock");
        let mut lock = LockFile::load(&path).unwrap();
        assert!(lock.kernels.is_empty());
        lock.set("debian:6.1", &resolved("6.1.190-1", "aa"));
        lock.set("debian:6.1", &resolved("6.1.192-3", "bb"));
        lock.save(&path).unwrap();
        let again = LockFile::load(&path).unwrap();
        assert_eq!(again.kernels.len(), 1);
        let pinned = again.get("debian:6.1", DebArch::Amd64).unwrap();
        assert_eq!(pinned.image.version, "6.1.192-3");
        assert_eq!(pinned.image.sha256, "bb");
        assert_eq!(pinned.base_url, "http://mirror.example/debian-security");
        assert!(again.get("debian:6.12", DebArch::Amd64).is_none());
    }

    #[test]
    fn a_corrupt_lock_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmatrix.lock");
        std::fs::write(&path, "not json").unwrap();
        let err = LockFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("kmatrix.lock"), "{err}");
    }
}
