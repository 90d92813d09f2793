//! Content-addressed download cache with atomic, verified writes.
//!
//! Files only ever appear under their final name through `rename` of a fully
//! written, hash-checked and fsynced temporary file in the same directory, so
//! a final name always holds complete, verified content. Temporary files have
//! unique names starting with `.` and ending in `.tmp`; they are never read,
//! are removed on error, and ones abandoned by a killed process are swept
//! after [`STALE_TEMP_AGE`].

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::DebianError;

/// Temporary files untouched for this long belong to dead writers (active
/// downloads write continuously and time out long before this).
pub(crate) const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Lower-case hex encoding.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn cache_err(path: &Path) -> impl FnOnce(io::Error) -> DebianError + '_ {
    move |source| DebianError::Cache {
        path: path.to_path_buf(),
        source,
    }
}

/// Returns `dir/name` if present; otherwise takes an exclusive lock on
/// `dir/name.lock` (so concurrent processes do not download the same file
/// twice: the second one waits, then finds the file), and calls `produce`,
/// which must create `dir/name` (normally via [`store_verified`]).
/// The flag is true when `produce` ran.
pub(crate) fn get_or_create(
    dir: &Path,
    name: &str,
    produce: impl FnOnce() -> Result<(), DebianError>,
) -> Result<(PathBuf, bool), DebianError> {
    let path = dir.join(name);
    if path.is_file() {
        return Ok((path, false));
    }
    fs::create_dir_all(dir).map_err(cache_err(dir))?;
    let lock_path = dir.join(format!("{name}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(cache_err(&lock_path))?;
    lock.lock().map_err(cache_err(&lock_path))?;
    if path.is_file() {
        return Ok((path, false));
    }
    sweep_stale_temps(dir, STALE_TEMP_AGE);
    produce()?;
    if !path.is_file() {
        return Err(DebianError::Cache {
            path,
            source: io::Error::other("download finished without creating the file"),
        });
    }
    Ok((path, true))
    // `lock` is released when dropped here.
}

/// A temporary file that is deleted unless committed.
struct TempFile {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl TempFile {
    fn create(dir: &Path, name: &str) -> Result<TempFile, DebianError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        loop {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        committed: false,
                    });
                }
                // A leftover from a dead process that had our pid: pick another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(DebianError::Cache { path, source }),
            }
        }
    }

    /// fsyncs the data, renames into place and fsyncs the directory.
    fn commit(mut self, dest: &Path) -> Result<(), DebianError> {
        self.file.sync_all().map_err(cache_err(&self.path))?;
        fs::rename(&self.path, dest).map_err(cache_err(dest))?;
        self.committed = true;
        if let Some(dir) = dest.parent() {
            // Makes the rename durable; not fatal where directories can't be synced.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Streams `reader` (the body of `url`) to `dir/name`, checking that it has
/// exactly `expected_size` bytes (if given) and the SHA-256 `expected_sha256`.
/// On any error nothing appears under `dir/name`.
pub(crate) fn store_verified(
    dir: &Path,
    name: &str,
    reader: &mut dyn Read,
    url: &str,
    expected_sha256: &str,
    expected_size: Option<u64>,
) -> Result<PathBuf, DebianError> {
    fs::create_dir_all(dir).map_err(cache_err(dir))?;
    let mut tmp = TempFile::create(dir, name)?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(DebianError::Download {
                    url: url.to_string(),
                    source,
                });
            }
        };
        received += n as u64;
        if let Some(expected) = expected_size
            && received > expected
        {
            // Don't keep streaming an oversized (possibly endless) body.
            return Err(DebianError::SizeMismatch {
                url: url.to_string(),
                expected,
                actual: received,
            });
        }
        hasher.update(&buf[..n]);
        tmp.file
            .write_all(&buf[..n])
            .map_err(cache_err(&tmp.path))?;
    }
    if let Some(expected) = expected_size
        && received != expected
    {
        return Err(DebianError::SizeMismatch {
            url: url.to_string(),
            expected,
            actual: received,
        });
    }
    let actual = hex(&hasher.finalize());
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(DebianError::HashMismatch {
            url: url.to_string(),
            expected: expected_sha256.to_string(),
            actual,
        });
    }
    let dest = dir.join(name);
    tmp.commit(&dest)?;
    Ok(dest)
}

/// Checks that the cached file at `path` still has the SHA-256 `expected`
/// it was verified and stored under; if not, removes it (so the next run
/// downloads it again) and fails with [`DebianError::CacheMismatch`].
pub(crate) fn check_cached(path: &Path, expected: &str) -> Result<(), DebianError> {
    let mut file = File::open(path).map_err(cache_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(cache_err(path)(source)),
        }
    }
    let actual = hex(&hasher.finalize());
    if actual.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    // Best effort: the error below is what matters.
    let _ = fs::remove_file(path);
    Err(DebianError::CacheMismatch {
        path: path.to_path_buf(),
        expected: expected.to_string(),
        actual,
    })
}

/// Atomically writes derived data (not itself hash-listed anywhere) to
/// `dir/name`.
pub(crate) fn store_bytes(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, DebianError> {
    fs::create_dir_all(dir).map_err(cache_err(dir))?;
    let mut tmp = TempFile::create(dir, name)?;
    tmp.file.write_all(data).map_err(cache_err(&tmp.path))?;
    let dest = dir.join(name);
    tmp.commit(&dest)?;
    Ok(dest)
}

/// Best-effort removal of temporary files older than `max_age` in `dir`.
pub(crate) fn sweep_stale_temps(dir: &Path, max_age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok());
        if age.is_some_and(|age| age > max_age) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
