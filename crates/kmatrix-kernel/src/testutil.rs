//! Builders for small synthetic inputs used by the unit tests.

use std::io::Write;

/// xz-compresses `data`.
pub(crate) fn xz(data: &[u8]) -> Vec<u8> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// zstd-compresses `data`.
pub(crate) fn zstd_compress(data: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(data, 3).unwrap()
}

/// gzip-compresses `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// An ar archive with the given members, as `dpkg-deb` lays them out.
pub(crate) fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = ar::Builder::new(Vec::new());
    for (name, data) in members {
        let header = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
        b.append(&header, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A `.deb` whose data member is `data_name` holding `data`.
pub(crate) fn deb(data_name: &str, data: &[u8]) -> Vec<u8> {
    let control = xz(&TarBuilder::new()
        .file("./control", b"Package: x\n")
        .finish());
    ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", &control),
        (data_name, data),
    ])
}

/// Builds a tar stream entry by entry.
pub(crate) struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    pub(crate) fn new() -> TarBuilder {
        TarBuilder(tar::Builder::new(Vec::new()))
    }

    pub(crate) fn dir(mut self, path: &str) -> TarBuilder {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub(crate) fn file(mut self, path: &str, data: &[u8]) -> TarBuilder {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }

    /// A file whose stored name is taken verbatim (the builder refuses `..`).
    pub(crate) fn raw_file(mut self, name: &str, data: &[u8]) -> TarBuilder {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    pub(crate) fn symlink(mut self, path: &str, target: &str) -> TarBuilder {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A minimal x86 bzImage: boot sector and setup header with `version` at
/// `kernel_version` (boot protocol 2.15, 64-bit kernel).
pub(crate) fn x86_bzimage(version: &str) -> Vec<u8> {
    let mut b = vec![0u8; 0x1000];
    b[0x1f1] = 4; // setup_sects
    b[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    // kernel_version is relative to 0x200.
    b[0x20e..0x210].copy_from_slice(&(0x400u16 - 0x200).to_le_bytes());
    b[0x236..0x238].copy_from_slice(&1u16.to_le_bytes()); // XLF_KERNEL_64
    b[0x400..0x400 + version.len()].copy_from_slice(version.as_bytes());
    b
}

/// A minimal little-endian arm64 `Image` header followed by filler.
pub(crate) fn arm64_image(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(0x40)];
    b[0..4].copy_from_slice(&[0x4d, 0x5a, 0x40, 0xfa]); // "MZ" + branch, as Debian's
    b[16..24].copy_from_slice(&(len as u64).to_le_bytes()); // image_size
    b[0x38..0x3c].copy_from_slice(b"ARM\x64");
    for (i, byte) in b.iter_mut().enumerate().skip(0x40) {
        *byte = (i % 97) as u8;
    }
    b
}

/// An arm64 EFI zboot image around `payload`, compressed as `compression`.
pub(crate) fn zboot(compression: &str, payload: &[u8]) -> Vec<u8> {
    let offset = 0x200usize;
    let mut b = vec![0u8; offset];
    b[0..2].copy_from_slice(b"MZ");
    b[4..8].copy_from_slice(b"zimg");
    b[8..12].copy_from_slice(&(offset as u32).to_le_bytes());
    b[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b[24..24 + compression.len()].copy_from_slice(compression.as_bytes());
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    b[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
    b.extend_from_slice(payload);
    // Non-gzip payloads carry the decompressed size after the payload.
    b.extend_from_slice(&[0u8; 4]);
    b
}

/// A minimal ELF64 relocatable file whose `.modinfo` section holds
/// `entries` as NUL-terminated strings.
pub(crate) fn module_elf(entries: &[&str]) -> Vec<u8> {
    let mut modinfo = Vec::new();
    for e in entries {
        modinfo.extend_from_slice(e.as_bytes());
        modinfo.push(0);
    }
    let shstrtab = b"\0.modinfo\0.shstrtab\0";
    let modinfo_off = 64usize;
    let shstr_off = modinfo_off + modinfo.len();
    let shoff = (shstr_off + shstrtab.len() + 7) & !7;

    let mut b = vec![0u8; shoff];
    b[0..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // ELFCLASS64
    b[5] = 1; // little endian
    b[6] = 1; // EV_CURRENT
    b[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    b[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
    b[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    b[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    b[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
    b[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
    b[modinfo_off..shstr_off].copy_from_slice(&modinfo);
    b[shstr_off..shstr_off + shstrtab.len()].copy_from_slice(shstrtab);

    let section = |name: u32, ty: u32, off: usize, size: usize| {
        let mut s = [0u8; 64];
        s[0..4].copy_from_slice(&name.to_le_bytes());
        s[4..8].copy_from_slice(&ty.to_le_bytes());
        s[24..32].copy_from_slice(&(off as u64).to_le_bytes());
        s[32..40].copy_from_slice(&(size as u64).to_le_bytes());
        s[48..56].copy_from_slice(&1u64.to_le_bytes()); // sh_addralign
        s
    };
    b.extend_from_slice(&[0u8; 64]);
    b.extend_from_slice(&section(1, 1, modinfo_off, modinfo.len())); // PROGBITS
    b.extend_from_slice(&section(10, 3, shstr_off, shstrtab.len())); // STRTAB
    b
}
