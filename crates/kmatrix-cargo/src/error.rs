//! The error type shared by building and listing.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Why building test binaries or listing their tests failed.
#[derive(Debug, thiserror::Error)]
pub enum CargoError {
    /// A program (cargo or a test binary) could not be started.
    #[error("could not run {}", program.display())]
    Spawn {
        /// The program that could not be started.
        program: PathBuf,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// Reading a program's output, or waiting for it to exit, failed.
    #[error("could not read the output of `{command}`")]
    Io {
        /// The command line whose output was being read.
        command: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Cargo reported that the build failed (its diagnostics went to the terminal).
    #[error("`{command}` failed ({status})")]
    BuildFailed {
        /// The cargo command line that failed.
        command: String,
        /// How cargo exited.
        status: ExitStatus,
    },
    /// The binary did not answer `--list` like a libtest harness does (for instance a
    /// `harness = false` target), so it should be run as one plain program.
    #[error("{} is not a libtest test binary: `--list` did not list tests", binary.display())]
    NotLibtest {
        /// The binary that was asked to list its tests.
        binary: PathBuf,
        /// What the binary wrote to its standard error, for diagnostics.
        stderr: String,
    },
}
