//! Error type shared by the writer and the reader.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while writing or parsing a newc archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CpioError {
    /// The archive path is empty, contains `..` or a NUL byte, or is too long.
    #[error("invalid archive path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given by the caller.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A symlink target is empty or contains a NUL byte.
    #[error("invalid symlink target {target:?} for archive entry {path:?}")]
    InvalidSymlinkTarget {
        /// The symlink's archive path.
        path: String,
        /// The rejected target.
        target: String,
    },

    /// `mode` carried bits other than permission bits (`0o7777`).
    #[error(
        "invalid mode {mode:#o} for archive entry {path:?}: only permission bits (0o7777) are allowed"
    )]
    InvalidMode {
        /// The entry's archive path.
        path: String,
        /// The rejected mode.
        mode: u32,
    },

    /// The path was already added (as a file, symlink, device, or a directory
    /// re-added as something else).
    #[error("archive entry {path:?} was already added")]
    DuplicatePath {
        /// The duplicated archive path.
        path: String,
    },

    /// A parent of the path was added earlier as something other than a directory.
    #[error("cannot add {path:?}: its parent {parent:?} is not a directory in the archive")]
    ParentNotDirectory {
        /// The entry's archive path.
        path: String,
        /// The parent that is not a directory.
        parent: String,
    },

    /// The data does not fit the 32-bit size field of a newc header.
    #[error("archive entry {path:?} is {len} bytes, more than newc's 4 GiB limit")]
    TooLarge {
        /// The entry's archive path.
        path: String,
        /// Its length in bytes.
        len: u64,
    },

    /// More entries than the 32-bit inode field can number.
    #[error("too many archive entries to number {path:?}")]
    TooManyEntries {
        /// The entry that did not fit.
        path: String,
    },

    /// The reader gave a different number of bytes than announced.
    #[error("data for archive entry {path:?} was {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// The entry's archive path.
        path: String,
        /// The length the caller announced.
        expected: u64,
        /// The length the reader delivered (at least; reading stops one past `expected`).
        actual: u64,
    },

    /// Reading an entry's data from the caller's reader failed.
    #[error("failed to read data for archive entry {path:?}")]
    ReadData {
        /// The entry's archive path.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Opening or inspecting a host file to archive failed.
    #[error("failed to read host file {host_path} for archive entry {path:?}")]
    HostFile {
        /// The entry's archive path.
        path: String,
        /// The host file.
        host_path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Writing to the output failed.
    #[error("failed to write archive entry {path:?}")]
    Write {
        /// The entry being written (`TRAILER!!!` for the trailer).
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// An earlier error left a partial entry in the output, so the archive is unusable.
    #[error("archive writer is unusable after an earlier error while writing {path:?}")]
    Poisoned {
        /// The entry whose write failed.
        path: String,
    },

    /// The bytes given to [`parse_newc`](crate::parse_newc) are not a valid newc archive.
    #[error("malformed newc archive at byte offset {offset}: {reason}")]
    Malformed {
        /// Byte offset of the offending header or field.
        offset: usize,
        /// What is wrong (names the entry when known).
        reason: String,
    },
}
