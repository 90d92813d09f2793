//! The module index of a modules directory and the kmod files written from it.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::depfile::{Resolved, resolve};
use super::{ModInfo, decompress_module, is_module_file, normalize_name, read_modinfo};
use crate::KernelError;
use crate::decompress::cpu_threads;

/// Top-level directories searched for modules, in `depmod`'s default
/// priority order: a module name found in several wins from the first.
const SEARCH_DIRS: [&str; 3] = ["updates", "kernel", "extra"];

/// One module of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Path relative to the modules directory, `/`-separated,
    /// e.g. `kernel/net/key/af_key.ko.zst`.
    pub path: String,
    /// Its `.modinfo`.
    pub info: ModInfo,
}

/// All modules of a modules directory with their resolved dependencies.
#[derive(Debug, Clone)]
pub struct ModuleIndex {
    /// Sorted by path.
    modules: Vec<Module>,
    by_name: HashMap<String, usize>,
    resolved: Resolved,
}

/// Reads every module under `modules_dir` (`kernel/`, `updates/`, `extra/`;
/// `.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`), decompressing in memory, on
/// several threads.
pub fn build_index(modules_dir: &Path) -> Result<ModuleIndex, KernelError> {
    let mut files = Vec::new();
    for top in SEARCH_DIRS {
        let dir = modules_dir.join(top);
        if dir.is_dir() {
            collect(&dir, top, &mut files)?;
        }
    }

    let next = AtomicUsize::new(0);
    let threads = cpu_threads().min(8).min(files.len()).max(1);
    let read_one = |rel: &str| -> Result<Module, KernelError> {
        let path = modules_dir.join(rel);
        let bytes = fs::read(&path).map_err(|e| KernelError::read(&path, e))?;
        let elf = decompress_module(&path, bytes)?;
        Ok(Module {
            path: rel.to_string(),
            info: read_modinfo(&path, &elf)?,
        })
    };
    let per_thread = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(rel) = files.get(i) else { break };
                        done.push((i, read_one(rel)));
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });

    let mut slots: Vec<Option<Result<Module, KernelError>>> = files.iter().map(|_| None).collect();
    for done in per_thread {
        let done = done.map_err(|_| KernelError::WorkerPanicked {
            path: modules_dir.to_path_buf(),
        })?;
        for (i, r) in done {
            slots[i] = Some(r);
        }
    }
    // Report the first failing file in path order, whichever thread met it.
    let mut modules = Vec::with_capacity(slots.len());
    for slot in slots.into_iter().flatten() {
        modules.push(slot?);
    }
    Ok(ModuleIndex::new(modules))
}

/// Collects module files under `dir` as paths relative to the modules directory.
fn collect(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), KernelError> {
    let entries = fs::read_dir(dir).map_err(|e| KernelError::read(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| KernelError::read(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = format!("{rel}/{name}");
        let ty = entry
            .file_type()
            .map_err(|e| KernelError::read(&entry.path(), e))?;
        if ty.is_dir() {
            collect(&entry.path(), &child, out)?;
        } else if is_module_file(Path::new(&name)) {
            out.push(child);
        }
    }
    Ok(())
}

impl ModuleIndex {
    /// Indexes `modules` (paths relative to the modules directory) and
    /// resolves their dependencies.
    pub fn new(mut modules: Vec<Module>) -> ModuleIndex {
        modules.sort_by(|a, b| a.path.cmp(&b.path));
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, m) in modules.iter().enumerate() {
            let better = |j: usize| priority(&m.path) < priority(&modules[j].path);
            match by_name.get(&m.info.name) {
                Some(&j) if !better(j) => {}
                _ => {
                    by_name.insert(m.info.name.clone(), i);
                }
            }
        }
        let direct: Vec<Vec<String>> = modules.iter().map(|m| m.info.depends.clone()).collect();
        let resolved = resolve(&direct, &by_name);
        ModuleIndex {
            modules,
            by_name,
            resolved,
        }
    }

    /// All modules, sorted by path.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// The module loaded for `name` (`-` and `_` are equivalent).
    pub fn get(&self, name: &str) -> Option<&Module> {
        self.by_name
            .get(&normalize_name(name))
            .map(|&i| &self.modules[i])
    }

    /// The transitive dependencies of module `name` in `modules.dep` order:
    /// load them from last to first, then the module itself.
    pub fn dependencies(&self, name: &str) -> Option<Vec<&Module>> {
        let i = *self.by_name.get(&normalize_name(name))?;
        Some(
            self.resolved.deps[i]
                .iter()
                .map(|&d| &self.modules[d])
                .collect(),
        )
    }

    /// `(module path, dependency name)` for each `depends=` entry naming no module.
    pub fn unresolved(&self) -> Vec<(&str, &str)> {
        let u = &self.resolved.unresolved;
        u.iter()
            .map(|(i, name)| (self.modules[*i].path.as_str(), name.as_str()))
            .collect()
    }

    /// Paths of modules that are part of, or depend on, a dependency cycle.
    pub fn cyclic(&self) -> Vec<&str> {
        self.resolved
            .cyclic
            .iter()
            .map(|&i| self.modules[i].path.as_str())
            .collect()
    }

    /// Writes `modules.dep`: `path: dep dep …` per module, in path order.
    pub fn write_modules_dep(&self, w: &mut impl Write) -> io::Result<()> {
        for (m, deps) in self.modules.iter().zip(&self.resolved.deps) {
            write!(w, "{}:", m.path)?;
            for &d in deps {
                write!(w, " {}", self.modules[d].path)?;
            }
            writeln!(w)?;
        }
        Ok(())
    }

    /// Writes `modules.alias`: `alias <pattern> <module>` per alias, modules
    /// in path order and each module's aliases in `.modinfo` order,
    /// duplicates dropped.
    pub fn write_modules_alias(&self, w: &mut impl Write) -> io::Result<()> {
        self.write_per_module(
            w,
            |m| &m.info.aliases,
            |w, a, name| writeln!(w, "alias {a} {name}"),
        )
    }

    /// Writes `modules.softdep`: `softdep <module> pre: … post: …` per `softdep=`.
    pub fn write_modules_softdep(&self, w: &mut impl Write) -> io::Result<()> {
        self.write_per_module(
            w,
            |m| &m.info.softdeps,
            |w, s, name| writeln!(w, "softdep {name} {s}"),
        )
    }

    fn write_per_module<W: Write>(
        &self,
        w: &mut W,
        values: impl Fn(&Module) -> &Vec<String>,
        line: impl Fn(&mut W, &str, &str) -> io::Result<()>,
    ) -> io::Result<()> {
        for (i, m) in self.modules.iter().enumerate() {
            // A shadowed module (same name, lower priority) is never loaded.
            if self.by_name.get(&m.info.name) != Some(&i) {
                continue;
            }
            let mut seen = HashSet::new();
            for v in values(m).iter().filter(|v| seen.insert(v.as_str())) {
                line(w, v, &m.info.name)?;
            }
        }
        Ok(())
    }

    /// Writes `modules.dep`, `modules.alias` and `modules.softdep` into `dir`.
    pub fn write_files(&self, dir: &Path) -> Result<(), KernelError> {
        write_file(&dir.join("modules.dep"), |w| self.write_modules_dep(w))?;
        write_file(&dir.join("modules.alias"), |w| self.write_modules_alias(w))?;
        write_file(&dir.join("modules.softdep"), |w| {
            self.write_modules_softdep(w)
        })
    }
}

/// True if `rel` (relative to the modules directory) is where modules are searched.
pub(crate) fn in_search_dirs(rel: &str) -> bool {
    priority(rel) < SEARCH_DIRS.len()
}

/// Lower is preferred: position of the top directory in [`SEARCH_DIRS`].
fn priority(path: &str) -> usize {
    let top = path.split('/').next().unwrap_or("");
    SEARCH_DIRS
        .iter()
        .position(|d| *d == top)
        .unwrap_or(SEARCH_DIRS.len())
}

fn write_file(
    path: &PathBuf,
    body: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> Result<(), KernelError> {
    let file = fs::File::create(path).map_err(|e| KernelError::write(path, e))?;
    let mut w = BufWriter::new(file);
    body(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| KernelError::write(path, e))
}
