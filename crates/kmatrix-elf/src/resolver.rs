//! The shared-library closure of a program, found the way glibc's ld.so
//! finds libraries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::inspect::{Ident, inspect, read_ident};
use crate::rootfs::{Kind, Resolved, RootFs};
use crate::{ElfError, ElfInfo, ldconf};

/// One path the guest needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClosureEntry {
    /// A regular file to copy from `host_path` to `guest_path`.
    File {
        /// Absolute path in the guest (symlink-free).
        guest_path: PathBuf,
        /// Where to read it on the host (the guest path under the root).
        host_path: PathBuf,
    },
    /// A symlink to recreate verbatim.
    Symlink {
        /// Absolute path of the link in the guest.
        guest_path: PathBuf,
        /// The link's literal target, relative or absolute.
        target: PathBuf,
    },
}

impl ClosureEntry {
    /// The entry's absolute guest path.
    pub fn guest_path(&self) -> &Path {
        match self {
            ClosureEntry::File { guest_path, .. } | ClosureEntry::Symlink { guest_path, .. } => {
                guest_path
            }
        }
    }
}

/// A library the loader would load, for diagnostics (like a line of `ldd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedLibrary {
    /// The `DT_NEEDED` name (or `PT_INTERP` path for the interpreter).
    pub name: String,
    /// The guest path it is opened at (may go through symlinks).
    pub path: PathBuf,
}

/// Everything a program needs at run time, apart from the program itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Files and symlinks in a deterministic order (discovery order, each
    /// path's symlinks before what they lead to), without duplicate paths.
    pub entries: Vec<ClosureEntry>,
    /// The interpreter and the libraries, in load order.
    pub libraries: Vec<LoadedLibrary>,
}

impl Closure {
    /// Appends `entry` unless an entry with the same guest path is present.
    /// Returns whether it was added.
    pub fn push(&mut self, entry: ClosureEntry) -> bool {
        if self
            .entries
            .iter()
            .any(|e| e.guest_path() == entry.guest_path())
        {
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// True if the program needs nothing (statically linked).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Finds the shared-library closure of programs inside a root directory.
///
/// Search order per `DT_NEEDED` name, as in glibc: `DT_RPATH` of the
/// requesting object and then of the objects that loaded it (only while
/// the requester has no `DT_RUNPATH`), `DT_RUNPATH` of the requester, the
/// directories of `/etc/ld.so.conf` (standing in for ld.so.cache), and the
/// architecture's default directories. `$ORIGIN`, `$LIB` and `$PLATFORM`
/// are expanded; empty search entries (the current directory to ld.so) are
/// ignored and relative ones are taken relative to the root. Candidates of
/// another ELF class, byte order or machine than the program are skipped.
///
/// Not modelled: `LD_LIBRARY_PATH`/`LD_PRELOAD`, `glibc-hwcaps`
/// subdirectories, `DF_1_NODEFLIB`, and the binary ld.so.cache itself
/// (its source, ld.so.conf, is read instead).
#[derive(Debug, Clone)]
pub struct LibraryResolver {
    fs: RootFs,
    ld_so_conf: PathBuf,
    default_dirs: Option<Vec<PathBuf>>,
}

impl LibraryResolver {
    /// A resolver for the tree at `root` (`/` for the host itself). All
    /// paths, including absolute symlink targets, are looked up under it.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LibraryResolver {
            fs: RootFs::new(root.into()),
            ld_so_conf: PathBuf::from("/etc/ld.so.conf"),
            default_dirs: None,
        }
    }

    /// Reads the search directories from `guest_path` instead of `/etc/ld.so.conf`.
    pub fn ld_so_conf(mut self, guest_path: impl Into<PathBuf>) -> Self {
        self.ld_so_conf = guest_path.into();
        self
    }

    /// Replaces the architecture's default directories (searched last).
    pub fn default_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.default_dirs = Some(dirs);
        self
    }

    /// The root directory lookups happen under.
    pub fn root(&self) -> &Path {
        self.fs.root()
    }

    /// The entries that reproduce `guest_path` in the guest: every symlink
    /// met on the way, then the regular file it leads to. Use it to add the
    /// program itself next to its [`closure`](Self::closure).
    pub fn resolve_path(&self, guest_path: &Path) -> Result<Vec<ClosureEntry>, ElfError> {
        let guest = absolute(guest_path);
        let resolved = self.fs.resolve_existing(&guest)?;
        self.require_file(&resolved)?;
        Ok(self.entries_for(&resolved))
    }

    /// Everything `program` (a guest path; relative means relative to the
    /// root) needs at run time: its `PT_INTERP` interpreter at exactly that
    /// path and all `DT_NEEDED` libraries, recursively. The program itself
    /// is not included. A statically linked program yields an empty closure.
    pub fn closure(&self, program: &Path) -> Result<Closure, ElfError> {
        let guest = absolute(program);
        let resolved = self.fs.resolve_existing(&guest)?;
        self.require_file(&resolved)?;
        let info = inspect(&self.fs.host(&resolved.real))?;
        if info.interpreter.is_none() && info.needed.is_empty() {
            return Ok(Closure::default());
        }
        let ident = info.ident();
        let arch = Arch::of(ident);
        let mut walk = Walk {
            resolver: self,
            conf_dirs: ldconf::search_dirs(&self.fs, &self.ld_so_conf)?,
            default_dirs: self
                .default_dirs
                .clone()
                .unwrap_or_else(|| arch.default_dirs()),
            arch,
            ident,
            objects: Vec::new(),
            by_name: HashMap::new(),
            by_real: HashMap::new(),
            closure: Closure::default(),
        };
        // The kernel reports the executable's real path, so $ORIGIN of the
        // program is the directory it really lives in.
        let origin = parent(&resolved.real);
        walk.register(None, guest.clone(), origin, info, &resolved, None);
        if let Some(interp) = walk.objects[0].info.interpreter.clone() {
            walk.add_interpreter(&interp, &guest)?;
        }
        walk.load_needed()?;
        Ok(walk.closure)
    }

    fn require_file(&self, resolved: &Resolved) -> Result<(), ElfError> {
        if resolved.kind != Kind::File {
            return Err(ElfError::NotRegularFile {
                path: resolved.real.clone(),
                root: self.fs.root().to_owned(),
            });
        }
        Ok(())
    }

    fn entries_for(&self, resolved: &Resolved) -> Vec<ClosureEntry> {
        let mut entries: Vec<ClosureEntry> = resolved
            .links
            .iter()
            .map(|(link, target)| ClosureEntry::Symlink {
                guest_path: link.clone(),
                target: target.clone(),
            })
            .collect();
        entries.push(ClosureEntry::File {
            guest_path: resolved.real.clone(),
            host_path: self.fs.host(&resolved.real),
        });
        entries
    }
}

/// An object in the simulated link map.
struct Object {
    /// Guest path it was opened at.
    path: PathBuf,
    /// Value of `$ORIGIN` for it.
    origin: PathBuf,
    info: ElfInfo,
    /// Index of the object whose `DT_NEEDED` caused it to load.
    loader: Option<usize>,
}

/// The result of probing one candidate path.
enum Candidate {
    Missing,
    Incompatible,
    Found(Resolved, ElfInfo),
}

/// State of one `closure` computation: a simulated link map.
struct Walk<'r> {
    resolver: &'r LibraryResolver,
    conf_dirs: Vec<PathBuf>,
    default_dirs: Vec<PathBuf>,
    arch: Arch,
    ident: Ident,
    objects: Vec<Object>,
    /// Names an object is known by (NEEDED names it was loaded for, SONAME),
    /// which is what the loader matches later NEEDED entries against.
    by_name: HashMap<String, usize>,
    /// Objects by real path: the loader recognises a file it already has.
    by_real: HashMap<PathBuf, usize>,
    closure: Closure,
}

impl Walk<'_> {
    /// Adds an object to the link map and its paths to the closure.
    fn register(
        &mut self,
        name: Option<String>,
        path: PathBuf,
        origin: PathBuf,
        info: ElfInfo,
        resolved: &Resolved,
        loader: Option<usize>,
    ) -> usize {
        let index = self.objects.len();
        if let Some(soname) = &info.soname {
            self.by_name.entry(soname.clone()).or_insert(index);
        }
        if let Some(name) = name {
            self.by_name.insert(name, index);
        }
        self.by_real.insert(resolved.real.clone(), index);
        self.objects.push(Object {
            path,
            origin,
            info,
            loader,
        });
        index
    }

    fn add_entries(&mut self, resolved: &Resolved) {
        for entry in self.resolver.entries_for(resolved) {
            self.closure.push(entry);
        }
    }

    /// The interpreter is mapped by the kernel from its exact `PT_INTERP`
    /// path; libraries asking for its SONAME later get this copy.
    fn add_interpreter(&mut self, interp: &Path, program: &Path) -> Result<(), ElfError> {
        let fs = &self.resolver.fs;
        let missing = || ElfError::InterpreterNotFound {
            interpreter: interp.to_owned(),
            program: program.to_owned(),
            root: fs.root().to_owned(),
        };
        let resolved = fs.resolve(interp)?.ok_or_else(missing)?;
        self.resolver.require_file(&resolved)?;
        let info = inspect(&fs.host(&resolved.real))?;
        self.add_entries(&resolved);
        let name = interp.to_string_lossy().into_owned();
        self.closure.libraries.push(LoadedLibrary {
            name: name.clone(),
            path: interp.to_owned(),
        });
        let origin = parent(interp);
        self.register(Some(name), interp.to_owned(), origin, info, &resolved, None);
        Ok(())
    }

    /// Breadth-first over DT_NEEDED, the order in which ld.so loads.
    fn load_needed(&mut self) -> Result<(), ElfError> {
        let mut queue = VecDeque::from([0usize]);
        while let Some(requester) = queue.pop_front() {
            let needed = self.objects[requester].info.needed.clone();
            for name in needed {
                if self.by_name.contains_key(&name) {
                    continue;
                }
                let (path, resolved, info) = self.find(&name, requester)?;
                // The guest must be able to open this very path, even when
                // it leads to a file that is already loaded.
                self.add_entries(&resolved);
                self.closure.libraries.push(LoadedLibrary {
                    name: name.clone(),
                    path: path.clone(),
                });
                if let Some(&known) = self.by_real.get(&resolved.real) {
                    self.by_name.insert(name, known);
                    continue;
                }
                let origin = parent(&path);
                let index =
                    self.register(Some(name), path, origin, info, &resolved, Some(requester));
                queue.push_back(index);
            }
        }
        Ok(())
    }

    /// Finds the file for `name` as needed by object `requester`.
    fn find(&self, name: &str, requester: usize) -> Result<(PathBuf, Resolved, ElfInfo), ElfError> {
        let req = &self.objects[requester];
        let candidates: Vec<PathBuf> = if name.contains('/') {
            // A name with a slash is a path; no search happens.
            self.expand(name, &req.origin)
                .map(|p| absolute(Path::new(&p)))
                .into_iter()
                .collect()
        } else {
            let mut seen = HashSet::new();
            self.search_dirs(requester)
                .into_iter()
                .filter(|d| seen.insert(d.clone()))
                .map(|d| d.join(name))
                .collect()
        };
        let mut skipped = Vec::new();
        for candidate in &candidates {
            match self.probe(candidate)? {
                Candidate::Found(resolved, info) => {
                    return Ok((candidate.clone(), resolved, info));
                }
                Candidate::Incompatible => skipped.push(candidate.clone()),
                Candidate::Missing => {}
            }
        }
        Err(ElfError::LibraryNotFound {
            library: name.to_owned(),
            needed_by: req.path.clone(),
            searched: candidates,
            skipped,
        })
    }

    /// The directories to search for a NEEDED entry of `requester`, in order.
    fn search_dirs(&self, requester: usize) -> Vec<PathBuf> {
        let req = &self.objects[requester];
        let mut dirs = Vec::new();
        if req.info.runpath.is_empty() {
            // DT_RPATH of the requester, then of its loader, and so on up to
            // the program; an object with DT_RUNPATH has its DT_RPATH ignored.
            let mut current = Some(requester);
            while let Some(index) = current {
                let obj = &self.objects[index];
                if obj.info.runpath.is_empty() {
                    dirs.extend(self.expand_list(&obj.info.rpath, &obj.origin));
                }
                current = obj.loader;
            }
        }
        dirs.extend(self.expand_list(&req.info.runpath, &req.origin));
        dirs.extend(self.conf_dirs.iter().cloned());
        dirs.extend(self.default_dirs.iter().cloned());
        dirs
    }

    fn expand_list(&self, list: &[String], origin: &Path) -> Vec<PathBuf> {
        list.iter()
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| self.expand(entry, origin))
            .map(|p| absolute(Path::new(&p)))
            .collect()
    }

    /// Expands dynamic string tokens; `None` drops the entry (an unknown
    /// `$PLATFORM`), as ld.so drops entries it cannot expand.
    fn expand(&self, s: &str, origin: &Path) -> Option<String> {
        crate::dst::expand(s, &origin.to_string_lossy(), &self.arch)
    }

    fn probe(&self, candidate: &Path) -> Result<Candidate, ElfError> {
        let fs = &self.resolver.fs;
        let Some(resolved) = fs.resolve(candidate)? else {
            return Ok(Candidate::Missing);
        };
        if resolved.kind != Kind::File {
            return Ok(Candidate::Missing);
        }
        let host = fs.host(&resolved.real);
        match read_ident(&host)? {
            Some(ident) if ident == self.ident => {
                let info = inspect(&host)?;
                Ok(Candidate::Found(resolved, info))
            }
            _ => Ok(Candidate::Incompatible),
        }
    }
}

/// Makes a guest path absolute (relative paths are relative to the root).
fn absolute(path: &Path) -> PathBuf {
    Path::new("/").join(path)
}

fn parent(path: &Path) -> PathBuf {
    path.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_owned)
}
