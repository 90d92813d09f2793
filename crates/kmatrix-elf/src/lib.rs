//! ELF inspection and shared-library closures, computed the way glibc's
//! dynamic loader (ld.so) finds libraries.
//!
//! [`inspect`] reads the facts the loader cares about (class, machine,
//! `PT_INTERP`, `DT_NEEDED`, `DT_RUNPATH`/`DT_RPATH`, `DT_SONAME`).
//! [`LibraryResolver::closure`] lists every file and symlink a dynamically
//! linked program needs, so that the same paths can be recreated inside a
//! guest (for example in an initramfs), symlinks included.
//!
//! ```no_run
//! use std::path::Path;
//! use kmatrix_elf::{ClosureEntry, LibraryResolver};
//!
//! let resolver = LibraryResolver::new("/");
//! let closure = resolver.closure(Path::new("/bin/sh"))?;
//! for entry in &closure.entries {
//!     match entry {
//!         ClosureEntry::File { guest_path, host_path } => {
//!             println!("copy {} -> {}", host_path.display(), guest_path.display())
//!         }
//!         ClosureEntry::Symlink { guest_path, target } => {
//!             println!("link {} -> {}", guest_path.display(), target.display())
//!         }
//!     }
//! }
//! # Ok::<(), kmatrix_elf::ElfError>(())
//! ```

mod arch;
mod dst;
mod error;
mod glob;
mod inspect;
mod ldconf;
mod resolver;
mod rootfs;

#[cfg(test)]
mod resolver_tests;
#[cfg(test)]
mod test_elf;

pub use error::ElfError;
pub use inspect::{ElfInfo, inspect, inspect_bytes};
pub use resolver::{Closure, ClosureEntry, LibraryResolver, LoadedLibrary};
