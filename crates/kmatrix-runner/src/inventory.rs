//! What the cache holds, and pruning it: `kmatrix cache list` and `kmatrix cache prune`.
//!
//! Extracted kernels record their last use (the modification time of `kernel.meta`, touched
//! on every use); packages and indexes their download. Pruning removes leftovers of interrupted
//! writes at once, and entries unused for longer than a given age.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What kind of cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// An extracted kernel (`kernels/<key>/`).
    Kernel,
    /// A downloaded package (`debs/<sha256>.deb`).
    Package,
    /// A Debian index file (`indexes/`), a recent resolution (`resolved/`) or a KVM verdict
    /// (`kvm-probe/`).
    Index,
    /// Console logs of one run (`logs/<run>/`).
    Logs,
    /// A leftover of an interrupted write (`.tmp-*`): never trusted, always pruned.
    Leftover,
}

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: EntryKind,
    /// Where it is.
    pub path: PathBuf,
    /// Bytes on disk (recursively for directories).
    pub size: u64,
    /// Last use (kernels) or last write.
    pub last_used: SystemTime,
    /// A short description: the kernel release for kernels, the file name otherwise.
    pub label: String,
}

/// Every entry of the cache at `cache_dir`, sorted by kind then path.
pub fn list(cache_dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (dir, kind) in [
        ("kernels", EntryKind::Kernel),
        ("debs", EntryKind::Package),
        ("indexes", EntryKind::Index),
        ("resolved", EntryKind::Index),
        ("kvm-probe", EntryKind::Index),
        ("logs", EntryKind::Logs),
    ] {
        let Ok(read) = std::fs::read_dir(cache_dir.join(dir)) else {
            continue;
        };
        for item in read.flatten() {
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".lock") {
                continue;
            }
            let kind = if name.starts_with(".tmp-") {
                EntryKind::Leftover
            } else {
                kind
            };
            let marker = if kind == EntryKind::Kernel {
                path.join("kernel.meta")
            } else {
                path.clone()
            };
            let last_used = std::fs::metadata(&marker)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let label = match kind {
                EntryKind::Kernel => {
                    kernel_label(&path).unwrap_or_else(|| "incomplete".to_string())
                }
                _ => name,
            };
            entries.push(Entry {
                kind,
                size: disk_size(&path),
                path,
                last_used,
                label,
            });
        }
    }
    entries.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Ok(entries)
}

fn kernel_label(dir: &Path) -> Option<String> {
    let meta = std::fs::read_to_string(dir.join("kernel.meta")).ok()?;
    let field = |name: &str| {
        meta.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(format!("{} {}", field("release")?, field("arch")?))
}

fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|read| read.flatten().map(|e| disk_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes leftovers of interrupted writes, incomplete kernels, and entries not used for longer
/// than `unused_for` (every entry, with `Duration::ZERO`). Returns what was removed.
pub fn prune(cache_dir: &Path, unused_for: Duration) -> std::io::Result<Vec<Entry>> {
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in list(cache_dir)? {
        let age = now
            .duration_since(entry.last_used)
            .unwrap_or(Duration::ZERO);
        let incomplete = entry.kind == EntryKind::Kernel && kernel_label(&entry.path).is_none();
        if entry.kind == EntryKind::Leftover || incomplete || age >= unused_for {
            let result = if entry.path.is_dir() {
                std::fs::remove_dir_all(&entry.path)
            } else {
                std::fs::remove_file(&entry.path)
            };
            match result {
                Ok(()) => removed.push(entry),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(removed)
}

/// Records that the extracted kernel in `dir` was just used.
pub(crate) fn touch_kernel(dir: &Path) {
    // Only a hint for pruning: failing to record it changes nothing else.
    if let Ok(file) = std::fs::File::options()
        .append(true)
        .open(dir.join("kernel.meta"))
    {
        let _ = file.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("kernels/abc");
        std::fs::create_dir_all(&kernel).unwrap();
        std::fs::write(
            kernel.join("kernel.meta"),
            "release=6.1.0-57-cloud-amd64\narch=x86_64\n",
        )
        .unwrap();
        std::fs::write(kernel.join("vmlinuz"), vec![0u8; 1000]).unwrap();
        std::fs::create_dir_all(dir.path().join("kernels/.tmp-1-0-def")).unwrap();
        std::fs::create_dir_all(dir.path().join("kernels/half")).unwrap();
        std::fs::create_dir_all(dir.path().join("debs")).unwrap();
        std::fs::write(dir.path().join("debs/ff.deb"), b"deb").unwrap();
        std::fs::write(dir.path().join("debs/ff.deb.lock"), b"").unwrap();
        dir
    }

    #[test]
    fn list_names_kernels_packages_and_leftovers_with_sizes() {
        let dir = cache();
        let entries = list(dir.path()).unwrap();
        let summary: Vec<(EntryKind, &str)> =
            entries.iter().map(|e| (e.kind, e.label.as_str())).collect();
        assert_eq!(
            summary,
            [
                (EntryKind::Kernel, "6.1.0-57-cloud-amd64 x86_64"),
                (EntryKind::Kernel, "incomplete"),
                (EntryKind::Package, "ff.deb"),
                (EntryKind::Leftover, ".tmp-1-0-def"),
            ]
        );
        assert!(entries[0].size >= 1000);
    }

    #[test]
    fn prune_removes_leftovers_and_incomplete_entries_and_keeps_recent_ones() {
        let dir = cache();
        let removed = prune(dir.path(), Duration::from_secs(3600)).unwrap();
        let kinds: Vec<EntryKind> = removed.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EntryKind::Kernel, EntryKind::Leftover]);
        assert!(dir.path().join("kernels/abc/vmlinuz").exists());
        assert!(!dir.path().join("kernels/half").exists());
        let removed = prune(dir.path(), Duration::ZERO).unwrap();
        assert_eq!(removed.len(), 2);
        assert!(!dir.path().join("kernels/abc").exists());
    }
}
