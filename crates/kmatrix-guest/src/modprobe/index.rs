//! `modules.dep`, `modules.alias` and `modules.builtin` (kmod's text formats), and name
//! resolution over them.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use super::glob::{glob_match, normalize_alias, normalize_name};

/// A module file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Normalised module name (`-` → `_`).
    pub name: String,
    /// Absolute path of the `.ko`, `.ko.xz` or `.ko.zst`.
    pub path: PathBuf,
}

/// What a requested name or alias stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Built into the kernel: nothing to load.
    Builtin(String),
    /// A loadable module: `load_order` lists its dependencies, the ones to load first first,
    /// and ends with the module itself.
    Module {
        /// Normalised module name.
        name: String,
        /// Files to load, in order.
        load_order: Vec<ModuleFile>,
    },
}

/// The parsed index of one module directory.
#[derive(Debug, Default)]
pub struct ModuleIndex {
    /// Module name → its file and its dependencies' files, as `modules.dep` lists them.
    modules: HashMap<String, (PathBuf, Vec<PathBuf>)>,
    /// (normalised pattern, normalised module name), in file order.
    aliases: Vec<(String, String)>,
    builtin: HashSet<String>,
}

impl ModuleIndex {
    /// Reads the index files of `dir`; `modules.dep` is required, the others optional.
    pub fn load(dir: &Path) -> Result<ModuleIndex, (PathBuf, io::Error)> {
        let read = |name: &str, required: bool| {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err((path, e)),
            }
        };
        Ok(ModuleIndex::parse(
            dir,
            &read("modules.dep", true)?,
            &read("modules.alias", false)?,
            &read("modules.builtin", false)?,
        ))
    }

    /// Parses the three files' contents; relative paths are taken from `dir`.
    pub fn parse(dir: &Path, dep: &str, alias: &str, builtin: &str) -> ModuleIndex {
        let mut index = ModuleIndex::default();
        for line in lines(dep) {
            let Some((module, deps)) = line.split_once(':') else {
                continue;
            };
            let module = dir.join(module.trim());
            let deps = deps.split_whitespace().map(|d| dir.join(d)).collect();
            if let Some(name) = module_name(&module) {
                index.modules.entry(name).or_insert((module, deps));
            }
        }
        for line in lines(alias) {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(pattern), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                index
                    .aliases
                    .push((normalize_alias(pattern), normalize_name(module)));
            }
        }
        index.builtin = lines(builtin)
            .filter_map(|line| module_name(Path::new(line)))
            .collect();
        index
    }

    /// Resolves a module name or alias as modprobe does: a module of that name, else a
    /// built-in one, else every module whose alias pattern matches. Empty if nothing does.
    pub fn resolve(&self, request: &str) -> Vec<Target> {
        let name = normalize_name(request);
        if let Some(target) = self.by_name(&name) {
            return vec![target];
        }
        let alias = normalize_alias(request);
        let mut seen = HashSet::new();
        self.aliases
            .iter()
            .filter(|(pattern, _)| glob_match(pattern.as_bytes(), alias.as_bytes()))
            .filter(|(_, module)| seen.insert(module.as_str()))
            .filter_map(|(_, module)| self.by_name(module))
            .collect()
    }

    /// Names of alias targets that are neither in `modules.dep` nor built in.
    pub fn dangling_aliases(&self, request: &str) -> Vec<String> {
        let alias = normalize_alias(request);
        self.aliases
            .iter()
            .filter(|(pattern, _)| glob_match(pattern.as_bytes(), alias.as_bytes()))
            .filter(|(_, module)| self.by_name(module).is_none())
            .map(|(_, module)| module.clone())
            .collect()
    }

    fn by_name(&self, name: &str) -> Option<Target> {
        if let Some((path, deps)) = self.modules.get(name) {
            // modules.dep lists the closure so that the last entry depends on none of the
            // others: load from last to first, then the module.
            let load_order = deps
                .iter()
                .rev()
                .chain(std::iter::once(path))
                .filter_map(|path| {
                    module_name(path).map(|name| ModuleFile {
                        name,
                        path: path.clone(),
                    })
                })
                .collect();
            return Some(Target::Module {
                name: name.to_string(),
                load_order,
            });
        }
        self.builtin
            .contains(name)
            .then(|| Target::Builtin(name.to_string()))
    }
}

/// Non-empty, non-comment lines, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The normalised module name of a module file path: its basename without `.ko[.xz|.zst|.gz]`.
pub fn module_name(path: &Path) -> Option<String> {
    let base = path.file_name()?.to_str()?;
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|ext| base.strip_suffix(ext))?;
    Some(normalize_name(stem))
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
