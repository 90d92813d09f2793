//! Kernel images and modules from stock Debian kernel packages.
//!
//! * [`image`] recognises a `vmlinuz` by its boot header (x86 bzImage,
//!   arm64 `Image`, arm64 EFI zboot) and unwraps zboot images;
//! * [`package`] streams a kernel `.deb` (ar → compressed `data.tar` → tar)
//!   and writes only the kernel image, its config and its modules tree;
//! * [`modules`] reads each module's `.modinfo` and writes the kmod text
//!   indexes (`modules.dep`, `modules.alias`, `modules.softdep`).
//!
//! Nothing here runs external tools: the archive formats, the compressors
//! and ELF parsing are all done in-process.

mod arch;
pub(crate) mod decompress;
mod error;
pub mod image;
pub mod modules;
pub mod package;

#[cfg(test)]
pub(crate) mod testutil;

pub use arch::Arch;
pub use error::KernelError;
