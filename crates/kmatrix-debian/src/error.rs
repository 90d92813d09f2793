//! The error type of this crate.

use std::io;
use std::path::PathBuf;

use crate::kernel::DebArch;

/// Everything that can go wrong while locating, resolving or downloading
/// Debian kernels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebianError {
    /// An APT source file or directory could not be read.
    #[error("cannot read APT sources {}", path.display())]
    ReadSources {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// No APT source entry points at the Debian archive.
    #[error(
        "no Debian archive entry (a bookworm/trixie/... suite with component main) in {}; \
         pass a mirror URL explicitly",
        describe_files(files)
    )]
    NoDebianSource {
        /// The source files that were read.
        files: Vec<PathBuf>,
    },
    /// The server answered with an unexpected HTTP status.
    #[error("HTTP status {status} from {url}")]
    HttpStatus {
        /// The requested URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request could not be made (DNS, connection, timeout, protocol).
    #[error("cannot fetch {url}")]
    Connection {
        /// The requested URL.
        url: String,
        /// The underlying HTTP client error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The response body could not be read completely.
    #[error("download of {url} failed")]
    Download {
        /// The requested URL.
        url: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// An `InRelease` file had no usable `SHA256` section.
    #[error("{url} is not a valid InRelease file (no SHA256 index list)")]
    BadRelease {
        /// The URL of the `InRelease` file.
        url: String,
    },
    /// The OpenPGP keyring file could not be read.
    #[error(
        "cannot read OpenPGP keyring {} (install debian-archive-keyring or name another keyring)",
        path.display()
    )]
    ReadKeyring {
        /// The keyring file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The OpenPGP keyring file holds no usable public key.
    #[error("{} is not a usable OpenPGP keyring: {reason}", path.display())]
    InvalidKeyring {
        /// The keyring file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An `InRelease` file carries no OpenPGP signature.
    #[error("{url} is not signed (no OpenPGP signature); refusing to trust it")]
    UnsignedRelease {
        /// The URL of the `InRelease` file.
        url: String,
    },
    /// No signature of an `InRelease` file verifies with a key of the keyring.
    #[error(
        "{url} has no valid signature by a key in {}: {reason}",
        keyring.display()
    )]
    BadSignature {
        /// The URL of the `InRelease` file.
        url: String,
        /// The keyring file the signatures were checked against.
        keyring: PathBuf,
        /// Why each signature was rejected.
        reason: String,
    },
    /// A download's size differs from the size listed in the index.
    #[error("size mismatch for {url}: expected {expected} bytes, received {actual}")]
    SizeMismatch {
        /// The downloaded URL.
        url: String,
        /// Size listed in the index.
        expected: u64,
        /// Bytes received (may stop early when more than expected arrive).
        actual: u64,
    },
    /// A download's SHA-256 differs from the hash listed in the index.
    #[error("SHA-256 mismatch for {url}: expected {expected}, got {actual}")]
    HashMismatch {
        /// The downloaded URL.
        url: String,
        /// Hash listed in the index.
        expected: String,
        /// Hash of the received data.
        actual: String,
    },
    /// A cached, once verified file no longer has the SHA-256 it is stored
    /// under (changed after download); it has been removed.
    #[error(
        "cached file {} was modified after download: SHA-256 is {actual}, expected {expected}; \
         removed it, run again to download it afresh",
        path.display()
    )]
    CacheMismatch {
        /// The cached file.
        path: PathBuf,
        /// The SHA-256 it was verified and stored under.
        expected: String,
        /// Its SHA-256 now.
        actual: String,
    },
    /// Reading or writing the download cache failed.
    #[error("cache I/O error on {}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A cached, verified index file could not be decompressed or parsed.
    #[error("cannot decompress package index {}", path.display())]
    Decompress {
        /// The cached index file.
        path: PathBuf,
        /// The underlying decoder error.
        #[source]
        source: io::Error,
    },
    /// A package index entry is unusable (e.g. its SHA256 is not 64 hex digits).
    #[error("package index entry {package} is invalid: {reason}")]
    InvalidEntry {
        /// The package name.
        package: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No cloud kernel matches the query in the searched suites.
    #[error(
        "no cloud kernel {query} for {arch} in {}; available lines: {}{}",
        join_or(searched, "no suites found"),
        join_or(available_lines, "none"),
        describe_abis(available_abis)
    )]
    UnknownKernel {
        /// The query as given (`6.1`, `6.1.0-56`, ...).
        query: String,
        /// The architecture searched.
        arch: DebArch,
        /// Suites that exist and were searched.
        searched: Vec<String>,
        /// Kernel lines (`major.minor`) available for `arch`.
        available_lines: Vec<String>,
        /// For ABI queries: ABIs of the same line that do exist.
        available_abis: Vec<String>,
    },
}

fn describe_files(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return "no APT source files (etc/apt/sources.list, etc/apt/sources.list.d/*)".into();
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(", ")
}

fn join_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.join(", ")
    }
}

fn describe_abis(abis: &[String]) -> String {
    if abis.is_empty() {
        String::new()
    } else {
        format!("; ABIs of that line: {}", abis.join(", "))
    }
}

impl DebianError {
    /// The mirror answered 404 for a file its own index lists.
    pub fn is_not_served(&self) -> bool {
        matches!(self, DebianError::HttpStatus { status: 404, .. })
    }

    /// The archive's authenticity could not be established: an unsigned
    /// `InRelease`, one without a valid signature by a key of the keyring,
    /// or a cached index modified after it was verified. The message names
    /// the file.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            DebianError::UnsignedRelease { .. }
                | DebianError::BadSignature { .. }
                | DebianError::CacheMismatch { .. }
        )
    }

    /// No kernel matches the query: the user's spec is wrong, not the network.
    pub fn is_unknown_kernel(&self) -> bool {
        matches!(self, DebianError::UnknownKernel { .. })
    }
}
