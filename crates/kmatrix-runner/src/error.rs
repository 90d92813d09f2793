//! Typed errors of the engine.
//!
//! Every error knows its [`ErrorClass`]: whether the user asked for something impossible
//! (usage/configuration, exit status 2) or the environment failed us before tests could run
//! (exit status 3). The CLI maps classes to exit codes; the engine never exits.

use std::path::PathBuf;

/// Which exit status an error leads to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Bad flag, unknown kernel spec, wrong-architecture program: exit status 2.
    Usage,
    /// QEMU missing, download or verification failed, kernel did not boot: exit status 3.
    Environment,
}

/// A kernel spec given on the command line could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// `debian:` followed by something that is not a version line or ABI.
    #[error("kernel spec `{spec}`: {source}")]
    BadDebianVersion {
        /// The spec as given.
        spec: String,
        /// Why the version part is not understood.
        #[source]
        source: kmatrix_debian::ParseQueryError,
    },
    /// `debian:VERSION:ARCH` with an architecture kmatrix does not know.
    #[error("kernel spec `{spec}`: unknown architecture `{arch}` (expected amd64 or arm64)")]
    UnknownArch {
        /// The spec as given.
        spec: String,
        /// The architecture part.
        arch: String,
    },
    /// Neither a known scheme nor an existing file.
    #[error(
        "kernel spec `{spec}`: not a known form (debian:VERSION[:ARCH], a kernel .deb, or a kernel image) and no such file"
    )]
    Unknown {
        /// The spec as given.
        spec: String,
    },
    /// A group of `.deb` archives does not hold exactly one image and at most one debug archive.
    #[error("kernel packages for `{base}`: {problem}: {files}")]
    BadDebGroup {
        /// Package base name the archives were grouped under.
        base: String,
        /// What is wrong with the group.
        problem: String,
        /// The archives in the group.
        files: String,
    },
    /// `--modules` given without a kernel image to go with it.
    #[error("--modules {0} needs a kernel image path (--kernel PATH/bzImage)")]
    ModulesWithoutImage(PathBuf),
}

/// Why one kernel could not be made ready to boot.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Resolving or downloading from the Debian archive failed.
    #[error("{spec}: {source}")]
    Debian {
        /// The kernel spec.
        spec: String,
        /// The archive error.
        #[source]
        source: Box<kmatrix_debian::DebianError>,
    },
    /// Reading the package or the image failed.
    #[error("{}", prefixed(spec, source))]
    Kernel {
        /// The kernel spec.
        spec: String,
        /// The extraction error.
        #[source]
        source: Box<kmatrix_kernel::KernelError>,
    },
    /// A cache or scratch file could not be written or read.
    #[error("{spec}: {action} {path}: {source}")]
    Io {
        /// The kernel spec.
        spec: String,
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The program cannot run on this kernel's architecture.
    #[error("{spec}: {program} is built for {program_arch}, but this kernel is {kernel_arch}")]
    WrongArch {
        /// The kernel spec.
        spec: String,
        /// The program.
        program: PathBuf,
        /// The program's architecture.
        program_arch: String,
        /// The kernel's architecture.
        kernel_arch: String,
    },
    /// The program (or one of its libraries) could not be inspected.
    #[error("{spec}: {source}")]
    Program {
        /// The kernel spec.
        spec: String,
        /// The ELF error.
        #[source]
        source: Box<kmatrix_elf::ElfError>,
    },
    /// No guest init was built for this architecture.
    #[error("{spec}: no guest init for {arch} in this kmatrix build; {hint}")]
    NoGuestInit {
        /// The kernel spec.
        spec: String,
        /// The guest architecture.
        arch: String,
        /// What to install.
        hint: String,
    },
    /// `--offline` and something needed is not at hand.
    #[error("{spec}: --offline: {missing}")]
    Offline {
        /// The kernel spec.
        spec: String,
        /// What is missing, and where it was looked for.
        missing: String,
    },
    /// The lock file could not be updated.
    #[error("{spec}: {source}")]
    Lock {
        /// The kernel spec.
        spec: String,
        /// The lock file error.
        #[source]
        source: crate::lock::LockError,
    },
    /// Writing the initramfs archive failed.
    #[error("{spec}: building the initramfs: {source}")]
    Cpio {
        /// The kernel spec.
        spec: String,
        /// The archive error.
        #[source]
        source: crate::initramfs::InitramfsError,
    },
}

impl PrepareError {
    /// The exit-status class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            PrepareError::WrongArch { .. } | PrepareError::Program { .. } => ErrorClass::Usage,
            PrepareError::Debian { source, .. } if source.is_unknown_kernel() => ErrorClass::Usage,
            _ => ErrorClass::Environment,
        }
    }
}

/// Why QEMU could not be started.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// The emulator binary is not installed.
    #[error("{program} not found in PATH; install QEMU (Debian/Ubuntu: apt-get install {package})")]
    NotFound {
        /// The binary looked for.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// Spawning or talking to the emulator failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `spec: message`, unless the message already names the spec (local package paths).
fn prefixed(spec: &str, source: &dyn std::error::Error) -> String {
    let message = source.to_string();
    if message.contains(spec) {
        message
    } else {
        format!("{spec}: {message}")
    }
}

/// Renders an error and its causes on one line: `outer: cause: root cause`.
///
/// A cause whose text the message already contains is not repeated, so errors that embed their
/// source in their own message and errors that only attach it read the same.
pub fn one_line(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot fetch http://mirror/x")]
    struct Attached(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("debian:6.1: {0}")]
    struct Embedded(#[source] Attached);

    #[test]
    fn causes_are_appended_once() {
        let err = Embedded(Attached(std::io::Error::other("connection refused")));
        assert_eq!(
            one_line(&err),
            "debian:6.1: cannot fetch http://mirror/x: connection refused"
        );
    }
}
