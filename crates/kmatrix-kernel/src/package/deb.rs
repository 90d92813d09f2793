//! Streaming the `data.tar*` member of a `.deb`: ar → decompressor → tar.
//!
//! Nothing is buffered beyond the decompressor's window: each tar entry is
//! offered to a visitor, which reads it or lets it be skipped.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path};
use std::rc::Rc;

use crate::KernelError;
use crate::decompress::{Codec, ErrorSlot, Watch, buffered, cpu_threads};

/// What kind of tar entry is being visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A link, device or anything else.
    Other,
}

/// A tar entry of the data member, as offered to a visitor.
#[derive(Debug)]
pub(crate) struct DataEntry<'a> {
    /// The ar member name, e.g. `data.tar.xz`.
    pub(crate) member: &'a str,
    /// The path with any leading `./` removed, `/`-separated.
    pub(crate) path: &'a str,
    /// The entry type.
    pub(crate) kind: EntryKind,
    /// The size from the tar header.
    pub(crate) size: u64,
}

/// Whether to go on reading the archive after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next entry.
    Continue,
    /// Stop here without reading the rest of the stream.
    Stop,
}

/// A visitor's failure.
#[derive(Debug)]
pub(crate) enum VisitError {
    /// Reading the entry failed; the walker works out which layer failed.
    Read(io::Error),
    /// Anything else, already described.
    Fail(KernelError),
}

impl From<KernelError> for VisitError {
    fn from(e: KernelError) -> VisitError {
        VisitError::Fail(e)
    }
}

/// The visitor called for each entry of the data member.
pub(crate) type Visitor<'v> =
    dyn FnMut(&DataEntry<'_>, &mut dyn Read) -> Result<Flow, VisitError> + 'v;

/// Opens `deb` and walks its data member; see [`walk_reader`].
pub(crate) fn walk_deb(
    deb: &Path,
    finish: bool,
    visit: &mut Visitor<'_>,
) -> Result<Flow, KernelError> {
    let file = File::open(deb).map_err(|e| KernelError::read(deb, e))?;
    walk_reader(deb, file, finish, visit)
}

/// Walks the data member of the package read from `input`; `deb` names it in
/// errors. With `finish`, the compressed stream is read to its end after the
/// last tar entry so that its final checksum is verified.
pub(crate) fn walk_reader(
    deb: &Path,
    input: impl Read,
    finish: bool,
    visit: &mut Visitor<'_>,
) -> Result<Flow, KernelError> {
    let raw_slot = ErrorSlot::default();
    let gate = Rc::new(Cell::new(false));
    let mut input = Gate {
        inner: Watch::new(input, &raw_slot),
        closed: gate.clone(),
    };
    let mut magic = [0u8; 8];
    match input.read_exact(&mut magic) {
        Ok(()) if &magic == b"!<arch>\n" => {}
        Err(e) if e.kind() != io::ErrorKind::UnexpectedEof => {
            return Err(KernelError::read(deb, raw_slot.take().unwrap_or(e)));
        }
        _ => {
            return Err(KernelError::NotArArchive {
                deb: deb.to_path_buf(),
            });
        }
    }
    // The ar reader wants to see the magic itself.
    let mut archive = ar::Archive::new(io::Cursor::new(magic).chain(input));
    loop {
        let mut entry = match archive.next_entry() {
            None => {
                return Err(KernelError::NoDataTar {
                    deb: deb.to_path_buf(),
                });
            }
            Some(Err(e)) => {
                return Err(match raw_slot.take() {
                    Some(source) => KernelError::read(deb, source),
                    None => KernelError::CorruptArchive {
                        deb: deb.to_path_buf(),
                        source: e,
                    },
                });
            }
            Some(Ok(entry)) => entry,
        };
        // GNU ar terminates names with '/', dpkg does not.
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_string();
        let Some(suffix) = name.strip_prefix("data.tar") else {
            continue;
        };
        let Some(codec) = Codec::from_suffix(suffix) else {
            return Err(KernelError::UnsupportedDataCompression {
                deb: deb.to_path_buf(),
                member: name,
            });
        };
        let member = Member {
            deb,
            name: &name,
            raw_slot: &raw_slot,
            codec_slot: ErrorSlot::default(),
        };
        let result = member.walk(codec, &mut entry, finish, visit);
        // Dropping an ar entry reads it to its end; after an early stop that
        // would read the rest of a (possibly huge) package for nothing.
        gate.set(true);
        return result;
    }
}

/// A reader that reports end of file once `closed` is set.
struct Gate<R> {
    inner: R,
    closed: Rc<Cell<bool>>,
}

impl<R: Read> Read for Gate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.closed.get() {
            Ok(0)
        } else {
            self.inner.read(buf)
        }
    }
}

/// The data member being walked, for error reporting.
struct Member<'a> {
    deb: &'a Path,
    name: &'a str,
    raw_slot: &'a ErrorSlot,
    codec_slot: ErrorSlot,
}

impl Member<'_> {
    fn walk(
        &self,
        codec: Codec,
        entry: impl Read,
        finish: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<Flow, KernelError> {
        let threads = u32::try_from(cpu_threads()).unwrap_or(1);
        let decoded = codec
            .reader(buffered(entry), threads)
            .map_err(|e| self.decompress_error(e))?;
        let mut tar = tar::Archive::new(Watch::new(decoded, &self.codec_slot));
        let entries = tar.entries().map_err(|e| self.classify(e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.classify(e))?;
            let raw_path = entry.path().map_err(|e| self.classify(e))?.into_owned();
            let Some(path) = normalize(&raw_path) else {
                return Err(KernelError::UnsafeTarPath {
                    deb: self.deb.to_path_buf(),
                    member: self.name.to_string(),
                    entry: raw_path.to_string_lossy().into_owned(),
                });
            };
            if path.is_empty() {
                continue;
            }
            let ty = entry.header().entry_type();
            let kind = if ty.is_file() {
                EntryKind::File
            } else if ty.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::Other
            };
            let de = DataEntry {
                member: self.name,
                path: &path,
                kind,
                size: entry.size(),
            };
            match visit(&de, &mut entry) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return Ok(Flow::Stop),
                Err(VisitError::Read(e)) => return Err(self.classify(e)),
                Err(VisitError::Fail(e)) => return Err(e),
            }
        }
        if finish {
            io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(|e| self.classify(e))?;
        }
        Ok(Flow::Continue)
    }

    /// Attributes an error surfacing through the tar reader to the layer
    /// that caused it: the package file, the decompressor, or tar itself.
    fn classify(&self, e: io::Error) -> KernelError {
        if let Some(source) = self.raw_slot.take() {
            KernelError::read(self.deb, source)
        } else if let Some(source) = self.codec_slot.take() {
            self.decompress_error(source)
        } else {
            KernelError::CorruptTar {
                deb: self.deb.to_path_buf(),
                member: self.name.to_string(),
                source: e,
            }
        }
    }

    fn decompress_error(&self, source: io::Error) -> KernelError {
        KernelError::Decompress {
            deb: self.deb.to_path_buf(),
            member: self.name.to_string(),
            source,
        }
    }
}

/// `./boot/x` → `boot/x`; `None` for absolute paths or `..` components.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        assert_eq!(
            normalize(Path::new("./boot/vmlinuz-1")).as_deref(),
            Some("boot/vmlinuz-1")
        );
        assert_eq!(normalize(Path::new("./")).as_deref(), Some(""));
        assert_eq!(normalize(Path::new("a//b/./c")).as_deref(), Some("a/b/c"));
        assert_eq!(normalize(Path::new("/etc/passwd")), None);
        assert_eq!(normalize(Path::new("./lib/../../x")), None);
    }
}
