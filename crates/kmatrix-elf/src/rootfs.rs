//! Path resolution inside a root directory, recording every symlink on the
//! way so the guest can get the very same path structure.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::ElfError;

/// Linux gives up after this many symlinks in one lookup (MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// A directory tree treated like a chroot: absolute symlink targets are
/// taken relative to `root`, and `..` never leaves it.
#[derive(Debug, Clone)]
pub(crate) struct RootFs {
    root: PathBuf,
}

/// The outcome of resolving a guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Symlinks met, in order: (guest path of the link, its literal target).
    pub links: Vec<(PathBuf, PathBuf)>,
    /// The symlink-free guest path finally reached.
    pub real: PathBuf,
    /// What `real` is.
    pub kind: Kind,
}

/// File type of a resolved path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Directory,
    Other,
}

impl RootFs {
    pub(crate) fn new(root: PathBuf) -> Self {
        RootFs { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of a guest path (which should be symlink-free to mean
    /// what the guest means).
    pub(crate) fn host(&self, guest: &Path) -> PathBuf {
        let relative: PathBuf = guest
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.root.join(relative)
    }

    /// Follows `guest` (absolute, or relative to the root) component by
    /// component. `Ok(None)` if it does not exist (or a non-directory sits
    /// in the middle of it).
    pub(crate) fn resolve(&self, guest: &Path) -> Result<Option<Resolved>, ElfError> {
        let mut pending: VecDeque<OsString> = parts(guest).collect();
        let mut real = PathBuf::from("/");
        let mut kind = Kind::Directory;
        let mut links = Vec::new();
        while let Some(part) = pending.pop_front() {
            if kind != Kind::Directory {
                return Ok(None);
            }
            if part == ".." {
                // `real` holds no symlinks, so a lexical pop is exact.
                real.pop();
                continue;
            }
            let candidate = real.join(&part);
            let host = self.host(&candidate);
            let meta = match fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(ElfError::io(&host, e)),
            };
            if meta.file_type().is_symlink() {
                if links.len() >= MAX_SYMLINKS {
                    return Err(ElfError::SymlinkLoop {
                        path: guest.to_owned(),
                        root: self.root.clone(),
                    });
                }
                let target = fs::read_link(&host).map_err(|e| ElfError::io(&host, e))?;
                if target.is_absolute() {
                    real = PathBuf::from("/");
                }
                for (i, p) in parts(&target).enumerate() {
                    pending.insert(i, p);
                }
                links.push((candidate, target));
                continue;
            }
            kind = if meta.is_dir() {
                Kind::Directory
            } else if meta.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            real = candidate;
        }
        Ok(Some(Resolved { links, real, kind }))
    }

    /// Like [`resolve`](Self::resolve), but a missing path is an error.
    pub(crate) fn resolve_existing(&self, guest: &Path) -> Result<Resolved, ElfError> {
        self.resolve(guest)?.ok_or_else(|| ElfError::NotFound {
            path: guest.to_owned(),
            root: self.root.clone(),
        })
    }

    /// Reads a whole file given by guest path. `Ok(None)` if it is missing.
    pub(crate) fn read_to_string(&self, guest: &Path) -> Result<Option<String>, ElfError> {
        let Some(resolved) = self.resolve(guest)? else {
            return Ok(None);
        };
        if resolved.kind != Kind::File {
            return Ok(None);
        }
        let host = self.host(&resolved.real);
        fs::read_to_string(&host)
            .map(Some)
            .map_err(|e| ElfError::io(&host, e))
    }

    /// Names in a guest directory, sorted bytewise. Empty if it is missing.
    pub(crate) fn list_dir(&self, guest: &Path) -> Result<Vec<OsString>, ElfError> {
        let Some(resolved) = self.resolve(guest)? else {
            return Ok(Vec::new());
        };
        if resolved.kind != Kind::Directory {
            return Ok(Vec::new());
        }
        let host = self.host(&resolved.real);
        let mut names = Vec::new();
        for entry in fs::read_dir(&host).map_err(|e| ElfError::io(&host, e))? {
            names.push(entry.map_err(|e| ElfError::io(&host, e))?.file_name());
        }
        names.sort();
        Ok(names)
    }
}

/// Normal and `..` components of a path; `/` and `.` are dropped.
fn parts(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_owned()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fixture() -> (tempfile::TempDir, RootFs) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::create_dir_all(root.join("usr/lib64")).unwrap();
        fs::write(root.join("usr/lib/x86_64-linux-gnu/libz.so.1.3"), b"z").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("usr/lib64", root.join("lib64")).unwrap();
        symlink(
            "libz.so.1.3",
            root.join("usr/lib/x86_64-linux-gnu/libz.so.1"),
        )
        .unwrap();
        symlink(
            "/lib/x86_64-linux-gnu/libz.so.1",
            root.join("usr/lib64/libz.so.1"),
        )
        .unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("/loop1", root.join("loop2")).unwrap();
        symlink("../../../..", root.join("usr/lib/up")).unwrap();
        let fs = RootFs::new(root.to_owned());
        (dir, fs)
    }

    #[test]
    fn follows_relative_and_absolute_links_inside_root() {
        let (_dir, fs) = fixture();
        let r = fs.resolve(Path::new("/lib64/libz.so.1")).unwrap().unwrap();
        let links: Vec<(&str, &str)> = r
            .links
            .iter()
            .map(|(l, t)| (l.to_str().unwrap(), t.to_str().unwrap()))
            .collect();
        assert_eq!(
            links,
            [
                ("/lib64", "usr/lib64"),
                ("/usr/lib64/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
                ("/lib", "usr/lib"),
                ("/usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.3"),
            ]
        );
        assert_eq!(r.real, Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1.3"));
        assert_eq!(r.kind, Kind::File);
    }

    #[test]
    fn dotdot_cannot_escape_the_root() {
        let (_dir, fs) = fixture();
        let r = fs.resolve(Path::new("/lib/up/../usr")).unwrap().unwrap();
        assert_eq!(r.real, Path::new("/usr"));
        assert_eq!(r.kind, Kind::Directory);
    }

    #[test]
    fn missing_and_not_directory_are_none() {
        let (_dir, fs) = fixture();
        assert_eq!(fs.resolve(Path::new("/nope/x")).unwrap(), None);
        assert_eq!(
            fs.resolve(Path::new("/lib/x86_64-linux-gnu/libz.so.1/x"))
                .unwrap(),
            None
        );
        let err = fs.resolve_existing(Path::new("/nope")).unwrap_err();
        assert!(matches!(err, ElfError::NotFound { .. }), "{err}");
    }

    #[test]
    fn symlink_loops_are_errors() {
        let (_dir, fs) = fixture();
        let err = fs.resolve(Path::new("/loop1/x")).unwrap_err();
        assert!(matches!(err, ElfError::SymlinkLoop { .. }), "{err}");
        assert!(err.to_string().contains("/loop1/x"), "{err}");
    }

    #[test]
    fn lists_directories_sorted() {
        let (_dir, fs) = fixture();
        let names = fs.list_dir(Path::new("/lib/x86_64-linux-gnu")).unwrap();
        assert_eq!(names, ["libz.so.1", "libz.so.1.3"]);
        assert!(fs.list_dir(Path::new("/missing")).unwrap().is_empty());
    }
}
