//! Reading the loader-relevant facts out of an ELF file.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::Endianness;
use object::elf::{self, FileHeader32, FileHeader64};
use object::read::StringTable;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};

use crate::ElfError;

/// What the dynamic loader needs to know about an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine`, e.g. 62 (`EM_X86_64`) or 183 (`EM_AARCH64`).
    pub machine: u16,
    /// `ELFCLASS64` rather than `ELFCLASS32`.
    pub is_64: bool,
    /// Little-endian (`ELFDATA2LSB`) rather than big-endian.
    pub little_endian: bool,
    /// The `PT_INTERP` path, for dynamically linked programs.
    pub interpreter: Option<PathBuf>,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` split at `:`, unexpanded.
    pub runpath: Vec<String>,
    /// `DT_RPATH` split at `:`, unexpanded.
    pub rpath: Vec<String>,
    /// `DT_SONAME`, if any.
    pub soname: Option<String>,
}

impl ElfInfo {
    /// The identity the loader compares candidate libraries against.
    pub(crate) fn ident(&self) -> Ident {
        Ident {
            machine: self.machine,
            is_64: self.is_64,
            little_endian: self.little_endian,
        }
    }
}

/// Class, byte order and machine: a library must match the program in all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    pub machine: u16,
    pub is_64: bool,
    pub little_endian: bool,
}

/// Reads `path` and inspects it; see [`inspect_bytes`].
pub fn inspect(path: &Path) -> Result<ElfInfo, ElfError> {
    let bytes = std::fs::read(path).map_err(|e| ElfError::io(path, e))?;
    inspect_bytes(path, &bytes)
}

/// Inspects an in-memory ELF image. `path_for_messages` only appears in errors.
///
/// Returns [`ElfError::NotElf`] if the bytes do not start with the ELF magic.
/// Like the loader, it reads `PT_INTERP` and `PT_DYNAMIC` from the program
/// headers (not the section table), so stripped files work.
pub fn inspect_bytes(path_for_messages: &Path, bytes: &[u8]) -> Result<ElfInfo, ElfError> {
    with_aligned(bytes, |data| {
        if data.get(..4) != Some(&elf::ELFMAG[..]) {
            return Err(ElfError::NotElf {
                path: path_for_messages.to_owned(),
            });
        }
        match data.get(4).copied().map(elf::FileClass) {
            Some(elf::ELFCLASS64) => parse::<FileHeader64<Endianness>>(path_for_messages, data),
            Some(elf::ELFCLASS32) => parse::<FileHeader32<Endianness>>(path_for_messages, data),
            other => Err(ElfError::malformed(
                path_for_messages,
                format!("unknown ELF class {other:?}"),
            )),
        }
    })
}

/// Reads just the ELF header of `path`. `Ok(None)` if it is not ELF at all.
pub(crate) fn read_ident(path: &Path) -> Result<Option<Ident>, ElfError> {
    let mut head = Vec::with_capacity(64);
    File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| ElfError::io(path, e))?;
    with_aligned(&head, |data| {
        if data.get(..4) != Some(&elf::ELFMAG[..]) {
            return Ok(None);
        }
        match data.get(4).copied().map(elf::FileClass) {
            Some(elf::ELFCLASS64) => header_ident::<FileHeader64<Endianness>>(data),
            Some(elf::ELFCLASS32) => header_ident::<FileHeader32<Endianness>>(data),
            _ => Ok(None),
        }
        .map_err(|e| ElfError::malformed(path, e.to_string()))
    })
}

fn header_ident<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
) -> object::read::Result<Option<Ident>> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    Ok(Some(Ident {
        machine: header.e_machine(endian).0,
        is_64: header.is_type_64(),
        little_endian: header.is_little_endian(),
    }))
}

fn parse<Elf: FileHeader<Endian = Endianness>>(
    path: &Path,
    data: &[u8],
) -> Result<ElfInfo, ElfError> {
    let bad = |e: object::read::Error| ElfError::malformed(path, e.to_string());
    let header = Elf::parse(data).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let phdrs = header.program_headers(endian, data).map_err(bad)?;

    let mut info = ElfInfo {
        machine: header.e_machine(endian).0,
        is_64: header.is_type_64(),
        little_endian: header.is_little_endian(),
        interpreter: None,
        needed: Vec::new(),
        runpath: Vec::new(),
        rpath: Vec::new(),
        soname: None,
    };
    let mut dynamic = None;
    for phdr in phdrs {
        if let Some(interp) = phdr.interpreter(endian, data).map_err(bad)? {
            info.interpreter = Some(PathBuf::from(OsStr::from_bytes(interp)));
        }
        if let Some(dyns) = phdr.dynamic(endian, data).map_err(bad)? {
            dynamic = Some(dyns);
        }
    }
    let Some(dyns) = dynamic else {
        return Ok(info);
    };

    let strings = dynamic_strings::<Elf>(path, endian, data, phdrs, dyns)?;
    let string = |d: &Elf::Dyn| -> Result<String, ElfError> {
        let offset = u32::try_from(d.d_val(endian).into())
            .map_err(|_| ElfError::malformed(path, "dynamic string offset out of range"))?;
        let raw = strings
            .get(offset)
            .map_err(|()| ElfError::malformed(path, "dynamic string offset out of range"))?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| ElfError::malformed(path, "dynamic string is not UTF-8"))
    };
    for d in dyns {
        let tag = d.d_tag(endian);
        if tag == elf::DT_NULL {
            break;
        } else if tag == elf::DT_NEEDED {
            info.needed.push(string(d)?);
        } else if tag == elf::DT_RUNPATH {
            info.runpath
                .extend(string(d)?.split(':').map(str::to_owned));
        } else if tag == elf::DT_RPATH {
            info.rpath.extend(string(d)?.split(':').map(str::to_owned));
        } else if tag == elf::DT_SONAME {
            info.soname = Some(string(d)?);
        }
    }
    Ok(info)
}

/// Finds the dynamic string table via `DT_STRTAB`/`DT_STRSZ`, translating
/// the virtual address through the `PT_LOAD` segments as the loader would.
fn dynamic_strings<'data, Elf: FileHeader<Endian = Endianness>>(
    path: &Path,
    endian: Endianness,
    data: &'data [u8],
    phdrs: &[Elf::ProgramHeader],
    dyns: &[Elf::Dyn],
) -> Result<StringTable<'data>, ElfError> {
    let mut addr = None;
    let mut size = None;
    for d in dyns {
        let tag = d.d_tag(endian);
        if tag == elf::DT_NULL {
            break;
        } else if tag == elf::DT_STRTAB {
            addr = Some(d.d_val(endian).into());
        } else if tag == elf::DT_STRSZ {
            size = Some(d.d_val(endian).into());
        }
    }
    let (Some(addr), Some(size)) = (addr, size) else {
        // No string-valued entries can be read without a string table.
        return Ok(StringTable::default());
    };
    let offset = phdrs
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .find_map(|p| {
            let vaddr: u64 = p.p_vaddr(endian).into();
            let filesz: u64 = p.p_filesz(endian).into();
            let delta = addr.checked_sub(vaddr)?;
            (delta < filesz).then(|| Into::<u64>::into(p.p_offset(endian)) + delta)
        })
        .ok_or_else(|| {
            ElfError::malformed(
                path,
                format!("DT_STRTAB {addr:#x} is in no PT_LOAD segment"),
            )
        })?;
    let end = offset
        .checked_add(size)
        .filter(|&end| end <= data.len() as u64)
        .ok_or_else(|| {
            ElfError::malformed(path, "dynamic string table extends past end of file")
        })?;
    Ok(StringTable::new(data, offset, end))
}

/// object's ELF structures need 8-byte alignment; a `&[u8]` from a caller
/// need not have it, so misaligned input is copied into an aligned buffer.
fn with_aligned<T>(bytes: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    // The widest field type (u64) sets the alignment.
    const ALIGN: usize = 8;
    if bytes.as_ptr().align_offset(ALIGN) == 0 {
        return f(bytes);
    }
    let mut buf: Vec<u8> = Vec::with_capacity(bytes.len() + ALIGN);
    // The capacity covers the padding, so the data never moves after this.
    let pad = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
    buf.resize(pad, 0);
    buf.extend_from_slice(bytes);
    f(&buf[pad..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_elf::TestElf;

    #[test]
    fn reads_synthetic_64_and_32_bit_files() {
        for is_64 in [true, false] {
            let bytes = TestElf::new(is_64, 62)
                .interp("/lib/ld.so")
                .needed("liba.so.1")
                .needed("libb.so.2")
                .runpath("$ORIGIN/../lib:/opt")
                .rpath("/rp")
                .soname("libself.so.3")
                .build();
            let info = inspect_bytes(Path::new("mem"), &bytes).unwrap();
            assert_eq!(
                info,
                ElfInfo {
                    machine: 62,
                    is_64,
                    little_endian: true,
                    interpreter: Some(PathBuf::from("/lib/ld.so")),
                    needed: vec!["liba.so.1".into(), "libb.so.2".into()],
                    runpath: vec!["$ORIGIN/../lib".into(), "/opt".into()],
                    rpath: vec!["/rp".into()],
                    soname: Some("libself.so.3".into()),
                }
            );
        }
    }

    #[test]
    fn misaligned_input_is_handled() {
        let bytes = TestElf::new(true, 183).needed("libc.so.6").build();
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        let info = inspect_bytes(Path::new("mem"), &shifted[1..]).unwrap();
        assert_eq!(info.machine, 183);
        assert_eq!(info.needed, ["libc.so.6"]);
    }

    #[test]
    fn non_elf_and_garbage() {
        let err = inspect_bytes(Path::new("/x/script.sh"), b"#!/bin/sh\necho\n").unwrap_err();
        assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
        assert!(err.to_string().contains("/x/script.sh"), "{err}");
        assert!(matches!(
            inspect_bytes(Path::new("e"), b""),
            Err(ElfError::NotElf { .. })
        ));
        let err = inspect_bytes(Path::new("/x/trunc"), b"\x7fELF\x02\x01\x01").unwrap_err();
        assert!(matches!(err, ElfError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("/x/trunc"), "{err}");
    }

    #[test]
    fn io_error_names_the_path() {
        let err = inspect(Path::new("/nonexistent/kmatrix/file")).unwrap_err();
        assert!(matches!(err, ElfError::Io { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/kmatrix/file"));
    }

    #[test]
    fn reads_host_binaries() {
        let Ok(info) = inspect(Path::new("/bin/sh")) else {
            return;
        };
        assert!(info.interpreter.is_some());
        assert!(info.needed.iter().any(|n| n.starts_with("libc.so")));
    }
}
