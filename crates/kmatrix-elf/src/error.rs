//! Error type of the crate.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while inspecting ELF files or resolving a
/// shared-library closure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// Reading a file or directory failed.
    #[error("failed to read {path}")]
    Io {
        /// The host path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The file does not start with the ELF magic (a script, text, or data).
    #[error(
        "{path} is not an ELF file (no \\x7fELF magic; scripts and data files have no shared-library closure)"
    )]
    NotElf {
        /// The file.
        path: PathBuf,
    },

    /// The file claims to be ELF but its headers are inconsistent.
    #[error("{path} is a malformed ELF file: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A path given to the resolver does not exist under its root.
    #[error("{path} does not exist under root {root}")]
    NotFound {
        /// The guest path.
        path: PathBuf,
        /// The resolver's root.
        root: PathBuf,
    },

    /// A path that should name a file names a directory or special file.
    #[error("{path} (under root {root}) is not a regular file")]
    NotRegularFile {
        /// The guest path.
        path: PathBuf,
        /// The resolver's root.
        root: PathBuf,
    },

    /// The program's `PT_INTERP` path does not exist under the root.
    #[error("ELF interpreter {interpreter} of {program} does not exist under root {root}")]
    InterpreterNotFound {
        /// The interpreter path from `PT_INTERP`.
        interpreter: PathBuf,
        /// The program that asks for it.
        program: PathBuf,
        /// The resolver's root.
        root: PathBuf,
    },

    /// A `DT_NEEDED` library was found in none of the search directories.
    #[error(
        "library {library} needed by {needed_by} not found; searched {}{}",
        list(searched),
        skipped_note(skipped)
    )]
    LibraryNotFound {
        /// The `DT_NEEDED` name.
        library: String,
        /// The guest path of the object that needs it.
        needed_by: PathBuf,
        /// Candidate paths that were tried, in order.
        searched: Vec<PathBuf>,
        /// Candidates that exist but were skipped (not ELF, or another
        /// class, byte order, or machine than the program).
        skipped: Vec<PathBuf>,
    },

    /// Resolving a path met more than 40 symlinks (the kernel's limit).
    #[error("too many levels of symbolic links resolving {path} under root {root}")]
    SymlinkLoop {
        /// The guest path being resolved.
        path: PathBuf,
        /// The resolver's root.
        root: PathBuf,
    },
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    let names: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

fn skipped_note(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    format!(
        " (skipped as not ELF or for another architecture: {})",
        list(paths)
    )
}

impl ElfError {
    /// An io error on `path`.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ElfError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A malformed-file error on `path`.
    pub(crate) fn malformed(path: &Path, reason: impl Into<String>) -> Self {
        ElfError::Malformed {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
