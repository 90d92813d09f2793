//! The error type of this crate.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading kernel packages, images and modules.
///
/// Every message names the file involved and, inside a package, the archive
/// member (and tar entry) that was being read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A file could not be opened or read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A file or directory could not be created or written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The package does not start with the ar archive magic `!<arch>\n`.
    #[error("{} is not a Debian package (no ar archive header)", .deb.display())]
    NotArArchive {
        /// The package file.
        deb: PathBuf,
    },

    /// The ar archive structure of the package is damaged.
    #[error("{} has a corrupt ar archive structure", .deb.display())]
    CorruptArchive {
        /// The package file.
        deb: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The package has no `data.tar*` member.
    #[error("{} has no data.tar member", .deb.display())]
    NoDataTar {
        /// The package file.
        deb: PathBuf,
    },

    /// The `data.tar*` member uses a compression this crate does not read.
    #[error("{} member {member}: unsupported compression", .deb.display())]
    UnsupportedDataCompression {
        /// The package file.
        deb: PathBuf,
        /// The ar member name, e.g. `data.tar.bz2`.
        member: String,
    },

    /// The compressed `data.tar*` stream is corrupt or truncated.
    #[error("{} member {member}: corrupt or truncated compressed stream", .deb.display())]
    Decompress {
        /// The package file.
        deb: PathBuf,
        /// The ar member name.
        member: String,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },

    /// The tar stream inside the package is malformed.
    #[error("{} member {member}: corrupt tar archive", .deb.display())]
    CorruptTar {
        /// The package file.
        deb: PathBuf,
        /// The ar member name.
        member: String,
        /// The tar reader's error.
        #[source]
        source: io::Error,
    },

    /// A tar entry has an absolute path or a `..` component.
    #[error("{} member {member}: refusing unsafe tar path {entry:?}", .deb.display())]
    UnsafeTarPath {
        /// The package file.
        deb: PathBuf,
        /// The ar member name.
        member: String,
        /// The entry path as stored.
        entry: String,
    },

    /// The packages hold files of two different kernel releases.
    #[error(
        "{} member {member}: entry {entry:?} belongs to kernel release {found:?}, expected {expected:?}",
        .deb.display()
    )]
    ReleaseMismatch {
        /// The package file.
        deb: PathBuf,
        /// The ar member name.
        member: String,
        /// The entry path.
        entry: String,
        /// The release seen first.
        expected: String,
        /// The release of this entry.
        found: String,
    },

    /// The packages hold more than one kernel image.
    #[error("{} member {member}: second kernel image {entry:?}", .deb.display())]
    DuplicateVmlinuz {
        /// The package file.
        deb: PathBuf,
        /// The ar member name.
        member: String,
        /// The entry path of the second image.
        entry: String,
    },

    /// None of the packages holds a `vmlinuz`.
    #[error("no vmlinuz in {}", display_paths(.debs))]
    NoVmlinuz {
        /// The package files searched.
        debs: Vec<PathBuf>,
    },

    /// The file has none of the known kernel image headers.
    #[error("{} is not a kernel image (no x86 HdrS, arm64 Image or EFI zboot header)", .path.display())]
    NotAKernelImage {
        /// The file.
        path: PathBuf,
    },

    /// The file is a kernel image, but not one kmatrix can boot.
    #[error("{}: unsupported kernel image: {reason}", .path.display())]
    UnsupportedImage {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        reason: String,
    },

    /// An EFI zboot header points outside the file or is otherwise malformed.
    #[error("{}: malformed EFI zboot image: {reason}", .path.display())]
    MalformedZboot {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An EFI zboot payload uses a compression this crate does not read.
    #[error("{}: unsupported EFI zboot payload compression {compression:?}", .path.display())]
    UnsupportedZbootCompression {
        /// The file.
        path: PathBuf,
        /// The compression name from the header.
        compression: String,
    },

    /// An EFI zboot payload failed to decompress.
    #[error("{}: corrupt {compression} payload in EFI zboot image", .path.display())]
    ZbootDecompress {
        /// The file.
        path: PathBuf,
        /// The compression name from the header.
        compression: String,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },

    /// A module file name does not end in `.ko`, `.ko.xz`, `.ko.zst` or `.ko.gz`.
    #[error("{}: not a kernel module file name (.ko, .ko.xz, .ko.zst, .ko.gz)", .path.display())]
    UnknownModuleExtension {
        /// The file.
        path: PathBuf,
    },

    /// A compressed module failed to decompress.
    #[error("{}: corrupt compressed kernel module", .path.display())]
    ModuleDecompress {
        /// The file.
        path: PathBuf,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },

    /// A module is not a valid ELF file.
    #[error("{}: invalid ELF kernel module", .path.display())]
    ModuleElf {
        /// The file.
        path: PathBuf,
        /// The ELF parser's error.
        #[source]
        source: object::read::Error,
    },

    /// A module has no `.modinfo` section.
    #[error("{}: kernel module has no .modinfo section", .path.display())]
    NoModinfo {
        /// The file.
        path: PathBuf,
    },

    /// A worker thread panicked.
    #[error("a worker thread panicked while processing {}", .path.display())]
    WorkerPanicked {
        /// The package or directory being processed.
        path: PathBuf,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

impl KernelError {
    /// Shorthand for [`KernelError::Read`].
    pub(crate) fn read(path: &Path, source: io::Error) -> KernelError {
        KernelError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Shorthand for [`KernelError::Write`].
    pub(crate) fn write(path: &Path, source: io::Error) -> KernelError {
        KernelError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
