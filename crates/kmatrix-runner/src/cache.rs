//! The per-user cache directory and the rules for writing into it.
//!
//! Layout (all under [`default_cache_dir`] or `--cache-dir`):
//!
//! ```text
//! debs/<sha256>.deb            downloaded packages, named by their verified hash
//! indexes/                     Debian Packages indexes, named by their hash
//! kernels/<key>/               extracted kernels: vmlinuz, config, System.map, modules/, kernel.cpio
//! kvm-probe/<key>              whether KVM works with this emulator and host kernel
//! logs/<run>/<kernel>.log      console logs of recent runs
//! ```
//!
//! Nothing is ever written in place: files are written to a unique temporary name in the same
//! directory, synced, then renamed; directories are filled under a temporary name and renamed
//! whole. An interrupted write therefore leaves at most a temporary entry that is never trusted.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// `$XDG_CACHE_HOME/kmatrix`, else `~/.cache/kmatrix`, else a directory under the temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kmatrix");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("kmatrix");
    }
    std::env::temp_dir().join("kmatrix-cache")
}

/// A name no other writer (thread or process) will pick.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".tmp-{}-{n}-{name}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let temp = temp_sibling(path);
    let result = (|| {
        let mut file = File::create(&temp)?;
        fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Fills a directory atomically: `fill` writes into a temporary sibling, which is then renamed
/// to `dir`. If another process got there first, its result is kept and ours discarded.
pub fn fill_dir_atomic<T>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<T, crate::error::PrepareError>,
) -> Result<T, crate::error::PrepareError> {
    let temp = temp_sibling(dir);
    let result = fill(&temp).and_then(|value| {
        sync_dir(&temp)
            .and_then(|()| match fs::rename(&temp, dir) {
                Ok(()) => Ok(()),
                // Another process finished the same entry first: theirs is as good as ours.
                Err(_) if dir.is_dir() => {
                    let _ = fs::remove_dir_all(&temp);
                    Ok(())
                }
                Err(err) => Err(err),
            })
            .map(|()| value)
            .map_err(|source| crate::error::PrepareError::Io {
                spec: String::new(),
                action: "storing",
                path: dir.to_path_buf(),
                source,
            })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Holds an exclusive lock on `<dir>/.lock` while alive, so that two kmatrix processes don't
/// prepare the same cache entry at once (the second waits and then finds it done).
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Blocks until the lock for `key` in `dir` is held.
    pub fn acquire(dir: &Path, key: &str) -> io::Result<DirLock> {
        fs::create_dir_all(dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".{key}.lock")))?;
        file.lock()?;
        Ok(DirLock { _file: file })
    }
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    io::copy(&mut file, &mut HashWriter(&mut hasher))?;
    Ok(hex(&hasher.finalize()))
}

/// First 16 hex digits of the SHA-256 of `bytes`: a compact cache key.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex(&digest[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_atomic_write_leaves_neither_target_nor_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("entry");
        let err = write_atomic_with(&target, |file| {
            file.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn atomic_write_replaces_whole_content() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/entry");
        write_atomic(&target, b"first version, long").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
    }

    #[test]
    fn failed_directory_fill_is_not_left_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("kernel");
        let result: Result<(), _> = fill_dir_atomic(&target, |temp| {
            fs::create_dir_all(temp).unwrap();
            fs::write(temp.join("vmlinuz"), b"partial").unwrap();
            Err(crate::error::PrepareError::Io {
                spec: "test".into(),
                action: "extracting",
                path: temp.to_path_buf(),
                source: io::Error::other("disk full"),
            })
        });
        assert!(result.is_err());
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
