//! The deterministic newc writer.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::CpioError;
use crate::format::{
    HEADER_LEN, Header, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, TRAILER, pad_len,
};
use crate::path::{ancestors, normalize};

/// The finished archive is zero-padded to a multiple of this, like GNU cpio
/// does; it keeps concatenated archives aligned.
pub const ARCHIVE_ALIGN: u64 = 512;

/// Mode bits we let callers set: permissions plus setuid/setgid/sticky.
const PERMISSION_MASK: u32 = 0o7777;

/// Mode directories get when they are created implicitly as parents.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// What an archive path was added as; only directories may be added twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    Other,
}

/// Where an entry's data comes from.
enum Body<'a> {
    Bytes(&'a [u8]),
    Reader(u64, &'a mut dyn Read),
}

impl Body<'_> {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Reader(len, _) => *len,
        }
    }
}

/// Writes a newc ("070701") cpio archive with reproducible bytes.
///
/// Paths may be given with or without a leading `/`; they are stored
/// without it. `mode` arguments are permission bits only (at most `0o7777`);
/// the writer adds the file type. Parent directories that were not added
/// explicitly are created with mode `0o755` just before the first entry
/// below them. Call [`finish`](Self::finish) to write the trailer.
///
/// If writing to the output fails midway through an entry, the writer is
/// poisoned: every later call returns [`CpioError::Poisoned`].
pub struct NewcWriter<W: Write> {
    out: W,
    offset: u64,
    next_ino: u32,
    added: HashMap<String, Kind>,
    poisoned: Option<String>,
}

impl<W: Write> NewcWriter<W> {
    /// Starts an empty archive that will be written to `out`.
    pub fn new(out: W) -> Self {
        NewcWriter {
            out,
            offset: 0,
            next_ino: 1,
            added: HashMap::new(),
            poisoned: None,
        }
    }

    /// Number of bytes written to the output so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Adds a directory. Adding a directory that already exists (explicitly
    /// or as an implicit parent) is a no-op and keeps the first mode.
    pub fn add_directory(&mut self, path: &str, mode: u32) -> Result<(), CpioError> {
        self.check_poisoned()?;
        let name = normalize(path)?;
        check_mode(&name, mode)?;
        match self.added.get(&name) {
            Some(Kind::Directory) => return Ok(()),
            Some(Kind::Other) => return Err(CpioError::DuplicatePath { path: name }),
            None => {}
        }
        self.ensure_parents(&name)?;
        self.emit(&name, S_IFDIR | mode, 0, 0, Body::Bytes(&[]))?;
        self.added.insert(name, Kind::Directory);
        Ok(())
    }

    /// Adds a regular file with the given contents.
    pub fn add_file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), CpioError> {
        self.add_leaf(path, S_IFREG, mode, 0, 0, Body::Bytes(data))
    }

    /// Adds a regular file of exactly `len` bytes streamed from `reader`.
    ///
    /// Fails with [`CpioError::SizeMismatch`] (and poisons the writer, as the
    /// header is already out) if the reader yields fewer or more bytes.
    pub fn add_file_from_reader(
        &mut self,
        path: &str,
        mode: u32,
        len: u64,
        reader: &mut impl Read,
    ) -> Result<(), CpioError> {
        self.add_leaf(path, S_IFREG, mode, 0, 0, Body::Reader(len, reader))
    }

    /// Adds a regular file whose contents are streamed from `host_path`.
    pub fn add_file_from_host(
        &mut self,
        path: &str,
        mode: u32,
        host_path: &Path,
    ) -> Result<(), CpioError> {
        let host_err = |source| CpioError::HostFile {
            path: path.to_owned(),
            host_path: host_path.to_owned(),
            source,
        };
        let mut file = File::open(host_path).map_err(host_err)?;
        let len = file.metadata().map_err(host_err)?.len();
        self.add_file_from_reader(path, mode, len, &mut file)
            .map_err(|e| match e {
                CpioError::ReadData { source, .. } => host_err(source),
                other => other,
            })
    }

    /// Adds a symbolic link pointing at `target` (stored verbatim; it may be
    /// relative or absolute). Links get mode `0o777`.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), CpioError> {
        if target.is_empty() || target.contains('\0') {
            return Err(CpioError::InvalidSymlinkTarget {
                path: path.to_owned(),
                target: target.to_owned(),
            });
        }
        self.add_leaf(path, S_IFLNK, 0o777, 0, 0, Body::Bytes(target.as_bytes()))
    }

    /// Adds a character device node with the given device numbers.
    pub fn add_char_device(
        &mut self,
        path: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), CpioError> {
        self.add_leaf(path, S_IFCHR, mode, major, minor, Body::Bytes(&[]))
    }

    /// Writes the `TRAILER!!!` entry, pads the archive with zeros to a
    /// multiple of [`ARCHIVE_ALIGN`] bytes, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, CpioError> {
        self.check_poisoned()?;
        let header = Header {
            nlink: 1,
            namesize: name_size(TRAILER),
            ..Header::default()
        };
        self.write_header_and_name(TRAILER, &header)?;
        let pad = pad_len(self.offset, ARCHIVE_ALIGN);
        self.write_zeros(TRAILER, pad)?;
        let trailer = TRAILER.to_owned();
        self.out.flush().map_err(|source| CpioError::Write {
            path: trailer,
            source,
        })?;
        Ok(self.out)
    }

    /// Shared path of every non-directory entry.
    fn add_leaf(
        &mut self,
        path: &str,
        file_type: u32,
        mode: u32,
        rdev_major: u32,
        rdev_minor: u32,
        body: Body<'_>,
    ) -> Result<(), CpioError> {
        self.check_poisoned()?;
        let name = normalize(path)?;
        check_mode(&name, mode)?;
        if body.len() > u64::from(u32::MAX) {
            return Err(CpioError::TooLarge {
                path: name,
                len: body.len(),
            });
        }
        if self.added.contains_key(&name) {
            return Err(CpioError::DuplicatePath { path: name });
        }
        self.ensure_parents(&name)?;
        self.emit(&name, file_type | mode, rdev_major, rdev_minor, body)?;
        self.added.insert(name, Kind::Other);
        Ok(())
    }

    /// Emits every missing ancestor of `name` as a directory, after checking
    /// that none of the existing ones is a non-directory.
    fn ensure_parents(&mut self, name: &str) -> Result<(), CpioError> {
        for parent in ancestors(name) {
            if self.added.get(parent) == Some(&Kind::Other) {
                return Err(CpioError::ParentNotDirectory {
                    path: name.to_owned(),
                    parent: parent.to_owned(),
                });
            }
        }
        for parent in ancestors(name) {
            if !self.added.contains_key(parent) {
                self.emit(parent, S_IFDIR | IMPLICIT_DIR_MODE, 0, 0, Body::Bytes(&[]))?;
                self.added.insert(parent.to_owned(), Kind::Directory);
            }
        }
        Ok(())
    }

    /// Writes one complete entry: header, name, padding, data, padding.
    fn emit(
        &mut self,
        name: &str,
        mode: u32,
        rdev_major: u32,
        rdev_minor: u32,
        body: Body<'_>,
    ) -> Result<(), CpioError> {
        let ino = self.next_ino;
        self.next_ino = ino
            .checked_add(1)
            .ok_or_else(|| CpioError::TooManyEntries {
                path: name.to_owned(),
            })?;
        let len = body.len();
        let header = Header {
            ino,
            mode,
            // Directories conventionally have two links; anything else has
            // one, so the kernel never takes it for a hard link.
            nlink: if mode & S_IFMT == S_IFDIR { 2 } else { 1 },
            // Checked by the callers against u32::MAX.
            filesize: u32::try_from(len).map_err(|_| CpioError::TooLarge {
                path: name.to_owned(),
                len,
            })?,
            rdevmajor: rdev_major,
            rdevminor: rdev_minor,
            namesize: name_size(name),
            ..Header::default()
        };
        self.write_header_and_name(name, &header)?;
        match body {
            Body::Bytes(data) => self.write_bytes(name, data)?,
            Body::Reader(len, reader) => self.copy_exact(name, len, reader)?,
        }
        self.write_zeros(name, pad_len(self.offset, 4))
    }

    fn write_header_and_name(&mut self, name: &str, header: &Header) -> Result<(), CpioError> {
        self.write_bytes(name, &header.encode())?;
        self.write_bytes(name, name.as_bytes())?;
        self.write_bytes(name, &[0])?;
        debug_assert_eq!(
            self.offset % 4,
            (HEADER_LEN as u64 + u64::from(header.namesize)) % 4
        );
        self.write_zeros(name, pad_len(self.offset, 4))
    }

    /// Streams exactly `len` bytes from `reader`, then makes sure it is exhausted.
    fn copy_exact(&mut self, name: &str, len: u64, reader: &mut dyn Read) -> Result<(), CpioError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut copied = 0u64;
        loop {
            // One byte past `len` is requested to detect an over-long reader.
            let want = (len - copied + 1).min(buf.len() as u64) as usize;
            let n = match reader.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.poisoned = Some(name.to_owned());
                    return Err(CpioError::ReadData {
                        path: name.to_owned(),
                        source,
                    });
                }
            };
            let total = copied + n as u64;
            if n == 0 || total > len {
                if total == len {
                    return Ok(());
                }
                self.poisoned = Some(name.to_owned());
                return Err(CpioError::SizeMismatch {
                    path: name.to_owned(),
                    expected: len,
                    actual: total,
                });
            }
            self.write_bytes(name, &buf[..n])?;
            copied = total;
        }
    }

    fn write_zeros(&mut self, name: &str, count: u64) -> Result<(), CpioError> {
        const ZEROS: [u8; 512] = [0; 512];
        let mut left = count;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            self.write_bytes(name, &ZEROS[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    fn write_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), CpioError> {
        if let Err(source) = self.out.write_all(bytes) {
            self.poisoned = Some(name.to_owned());
            return Err(CpioError::Write {
                path: name.to_owned(),
                source,
            });
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn check_poisoned(&self) -> Result<(), CpioError> {
        match &self.poisoned {
            Some(path) => Err(CpioError::Poisoned { path: path.clone() }),
            None => Ok(()),
        }
    }
}

fn check_mode(name: &str, mode: u32) -> Result<(), CpioError> {
    if mode & !PERMISSION_MASK != 0 {
        return Err(CpioError::InvalidMode {
            path: name.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The header's name size counts the trailing NUL. `normalize` caps names
/// at PATH_MAX, so this cannot truncate.
fn name_size(name: &str) -> u32 {
    (name.len() + 1) as u32
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
