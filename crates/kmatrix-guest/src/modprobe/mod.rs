//! A small modprobe: resolves a name or alias through the module directory's index and loads
//! the module with its dependencies. Run by the kernel as `/sbin/modprobe -q -- NAME` and
//! by init in-process.

mod glob;
mod index;
mod load;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kmatrix_wire::Level;

use crate::sys::{self, Errno};
pub use index::{ModuleIndex, Target};
use load::{Inserted, ReadError};

/// Why modprobe failed.
#[derive(Debug, thiserror::Error)]
pub enum ModprobeError {
    /// Bad command line.
    #[error("{0} (usage: modprobe [-q] [-v] [-b] [--] MODULE [PARAM=VALUE...])")]
    Usage(String),
    /// The kernel release could not be determined.
    #[error("cannot determine the kernel release: {0}")]
    Release(Errno),
    /// An index file could not be read.
    #[error("cannot read {}: {}", .0.display(), sys::describe(.1))]
    Index(PathBuf, std::io::Error),
    /// Nothing of that name or alias.
    #[error("module {0} not found in {1}")]
    NotFound(String, String),
    /// A module file could not be read or decompressed.
    #[error("module {module}: {}: {error}", path.display())]
    Read {
        /// The module.
        module: String,
        /// Its file.
        path: PathBuf,
        /// What went wrong.
        error: ReadError,
    },
    /// The kernel refused the module.
    #[error("module {module}: init_module failed: {errno}")]
    Insert {
        /// The module.
        module: String,
        /// The kernel's answer.
        errno: Errno,
    },
}

/// The parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `-q`: say nothing when the module is not found.
    pub quiet: bool,
    /// `-v`: say what is loaded.
    pub verbose: bool,
    /// The module name or alias.
    pub name: String,
    /// `param=value` words for the module.
    pub params: Vec<String>,
}

/// Parses modprobe's arguments (without argv[0]). Options may come before or after the
/// name until `--`.
pub fn parse_args(args: &[OsString]) -> Result<Args, ModprobeError> {
    let mut parsed = Args::default();
    let mut words = Vec::new();
    let mut options_done = false;
    for arg in args {
        let arg = arg
            .to_str()
            .ok_or_else(|| ModprobeError::Usage(format!("argument {arg:?} is not UTF-8")))?;
        if options_done || !arg.starts_with('-') || arg == "-" {
            words.push(arg.to_string());
            continue;
        }
        match arg {
            "--" => options_done = true,
            "--quiet" => parsed.quiet = true,
            "--verbose" => parsed.verbose = true,
            "--use-blacklist" => {}
            long if long.starts_with("--") => {
                return Err(ModprobeError::Usage(format!("unknown option {long}")));
            }
            short => {
                for flag in short.chars().skip(1) {
                    match flag {
                        'q' => parsed.quiet = true,
                        'v' => parsed.verbose = true,
                        'b' => {}
                        other => {
                            return Err(ModprobeError::Usage(format!("unknown option -{other}")));
                        }
                    }
                }
            }
        }
    }
    let mut words = words.into_iter();
    parsed.name = words
        .next()
        .ok_or_else(|| ModprobeError::Usage("no module given".into()))?;
    parsed.params = words.collect();
    Ok(parsed)
}

/// What one load did, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This module was inserted now.
    Inserted(String),
    /// It was loaded before.
    AlreadyLoaded(String),
    /// It is built into the kernel.
    Builtin(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Inserted(name) => write!(f, "loaded {name}"),
            Outcome::AlreadyLoaded(name) => write!(f, "{name} already loaded"),
            Outcome::Builtin(name) => write!(f, "{name} is built in"),
        }
    }
}

/// A module directory, ready to load from.
pub struct Modprobe {
    dir: PathBuf,
    index: ModuleIndex,
}

impl Modprobe {
    /// Opens `/lib/modules/<running release>`.
    pub fn open_running() -> Result<Modprobe, ModprobeError> {
        let release = sys::kernel_release().map_err(ModprobeError::Release)?;
        Modprobe::open(&Path::new("/lib/modules").join(release))
    }

    /// Opens a module directory, reading its index.
    pub fn open(dir: &Path) -> Result<Modprobe, ModprobeError> {
        let index = ModuleIndex::load(dir).map_err(|(path, e)| ModprobeError::Index(path, e))?;
        Ok(Modprobe {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// Loads every module `name` stands for, each after its dependencies; `params` go to the
    /// named modules, not to their dependencies. Carries on past a failing module of an
    /// alias and returns the first error.
    pub fn load(&self, name: &str, params: &[String]) -> Result<Vec<Outcome>, ModprobeError> {
        let targets = self.index.resolve(name);
        if targets.is_empty() {
            let mut looked_in = format!("{}/modules.{{dep,alias,builtin}}", self.dir.display());
            let dangling = self.index.dangling_aliases(name);
            if !dangling.is_empty() {
                looked_in.push_str(&format!(
                    " (alias of {}, which are not installed)",
                    dangling.join(", ")
                ));
            }
            return Err(ModprobeError::NotFound(name.to_string(), looked_in));
        }
        let params = params.join(" ");
        let mut done = Vec::new();
        let mut first_error = None;
        for target in targets {
            let load_order = match target {
                Target::Builtin(module) => {
                    done.push(Outcome::Builtin(module));
                    continue;
                }
                Target::Module { load_order, .. } => load_order,
            };
            let last = load_order.len().saturating_sub(1);
            for (i, file) in load_order.iter().enumerate() {
                let params = if i == last { params.as_str() } else { "" };
                match insert_file(&file.name, &file.path, params) {
                    Ok(loaded) => done.push(loaded),
                    Err(e) => {
                        first_error.get_or_insert(e);
                        break;
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

fn insert_file(name: &str, path: &Path, params: &str) -> Result<Outcome, ModprobeError> {
    if params.is_empty() && load::is_loaded(name) {
        return Ok(Outcome::AlreadyLoaded(name.to_string()));
    }
    let image = load::read_module(path).map_err(|error| ModprobeError::Read {
        module: name.to_string(),
        path: path.to_path_buf(),
        error,
    })?;
    match load::insert(&image, params) {
        Ok(Inserted::Loaded) => Ok(Outcome::Inserted(name.to_string())),
        Ok(Inserted::AlreadyLoaded) => Ok(Outcome::AlreadyLoaded(name.to_string())),
        Err(errno) => Err(ModprobeError::Insert {
            module: name.to_string(),
            errno,
        }),
    }
}

/// The `modprobe` command: returns the exit status.
pub fn main(args: &[OsString]) -> i32 {
    let (quiet, result) = match parse_args(args) {
        Ok(args) => (
            args.quiet,
            Modprobe::open_running()
                .and_then(|m| m.load(&args.name, &args.params))
                .map(|loaded| {
                    if args.verbose {
                        for l in loaded {
                            eprintln!("modprobe: {l}");
                        }
                    }
                }),
        ),
        Err(e) => (false, Err(e)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !(quiet && matches!(e, ModprobeError::NotFound(..))) {
                eprintln!("modprobe: {e}");
                sys::kmsg("kmatrix-modprobe", Level::Error, &e.to_string());
            }
            1
        }
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
