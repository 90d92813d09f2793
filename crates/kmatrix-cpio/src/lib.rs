//! Deterministic writer (and a small reader) for "newc" cpio archives, the
//! format the Linux kernel unpacks as an initramfs.
//!
//! Every entry gets mtime 0, uid/gid 0 and a sequential inode number, so the
//! same sequence of calls always produces the same bytes. Missing parent
//! directories are created on the fly.
//!
//! ```
//! use kmatrix_cpio::{NewcWriter, parse_newc};
//!
//! let mut w = NewcWriter::new(Vec::new());
//! w.add_file("/bin/hello", 0o755, b"#!/bin/sh\necho hi\n")?;
//! w.add_symlink("/sbin", "bin")?;
//! w.add_char_device("/dev/console", 0o600, 5, 1)?;
//! let archive = w.finish()?;
//!
//! let entries = parse_newc(&archive)?;
//! let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
//! assert_eq!(paths, ["bin", "bin/hello", "sbin", "dev", "dev/console"]);
//! # Ok::<(), kmatrix_cpio::CpioError>(())
//! ```
//!
//! The format is described in the kernel's
//! `Documentation/driver-api/early-userspace/buffer-format.rst`.

mod error;
mod format;
mod path;
mod reader;
mod writer;

pub use error::CpioError;
pub use format::{S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
pub use reader::{Entry, EntryKind, parse_newc};
pub use writer::{ARCHIVE_ALIGN, NewcWriter};
