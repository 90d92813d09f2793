//! Builds tiny synthetic little-endian ELF files for tests: just a header,
//! program headers (PT_LOAD, PT_INTERP, PT_DYNAMIC), an interpreter string,
//! a dynamic string table and a dynamic section. Nothing runnable.

/// Builder for a synthetic ELF image.
pub(crate) struct TestElf {
    is_64: bool,
    machine: u16,
    interp: Option<String>,
    needed: Vec<String>,
    runpath: Option<String>,
    rpath: Option<String>,
    soname: Option<String>,
    dynamic: bool,
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
/// Load address, so that DT_STRTAB is a real virtual address.
const BASE: u64 = 0x40_0000;

impl TestElf {
    /// A shared object of the given class and machine with an (empty) dynamic section.
    pub(crate) fn new(is_64: bool, machine: u16) -> Self {
        TestElf {
            is_64,
            machine,
            interp: None,
            needed: Vec::new(),
            runpath: None,
            rpath: None,
            soname: None,
            dynamic: true,
        }
    }

    /// An x86-64 object, the common case in tests.
    pub(crate) fn x86_64() -> Self {
        Self::new(true, 62)
    }

    /// A statically linked file: no PT_DYNAMIC, no PT_INTERP.
    pub(crate) fn static_exe(mut self) -> Self {
        self.dynamic = false;
        self
    }

    pub(crate) fn interp(mut self, path: &str) -> Self {
        self.interp = Some(path.to_owned());
        self
    }

    pub(crate) fn needed(mut self, name: &str) -> Self {
        self.needed.push(name.to_owned());
        self
    }

    pub(crate) fn runpath(mut self, value: &str) -> Self {
        self.runpath = Some(value.to_owned());
        self
    }

    pub(crate) fn rpath(mut self, value: &str) -> Self {
        self.rpath = Some(value.to_owned());
        self
    }

    pub(crate) fn soname(mut self, name: &str) -> Self {
        self.soname = Some(name.to_owned());
        self
    }

    /// Lays the file out and encodes it.
    pub(crate) fn build(&self) -> Vec<u8> {
        let word = if self.is_64 { 8 } else { 4 };
        let ehsize = if self.is_64 { 64 } else { 52 };
        let phentsize = if self.is_64 { 56 } else { 32 };

        // Dynamic string table and the entries pointing into it.
        let mut strtab = vec![0u8];
        let mut entries = Vec::new();
        let mut add_str = |tag: u64, s: &str, entries: &mut Vec<(u64, u64)>| {
            entries.push((tag, strtab.len() as u64));
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
        };
        for n in &self.needed {
            add_str(DT_NEEDED, n, &mut entries);
        }
        for (tag, value) in [
            (DT_SONAME, &self.soname),
            (DT_RPATH, &self.rpath),
            (DT_RUNPATH, &self.runpath),
        ] {
            if let Some(v) = value {
                add_str(tag, v, &mut entries);
            }
        }

        let phnum = 1 + usize::from(self.interp.is_some()) + usize::from(self.dynamic);
        let interp_off = ehsize + phnum * phentsize;
        let interp_bytes = self
            .interp
            .as_ref()
            .map(|s| format!("{s}\0").into_bytes())
            .unwrap_or_default();
        let strtab_off = interp_off + interp_bytes.len();
        let dyn_off = (strtab_off + strtab.len()).next_multiple_of(8);
        entries.push((DT_STRTAB, BASE + strtab_off as u64));
        entries.push((DT_STRSZ, strtab.len() as u64));
        entries.push((DT_NULL, 0));
        let dyn_len = if self.dynamic {
            entries.len() * 2 * word
        } else {
            0
        };
        let total = dyn_off + dyn_len;

        let mut out = Out {
            buf: Vec::new(),
            is_64: self.is_64,
        };
        // e_ident: magic, class, LSB data, version, SysV ABI.
        out.buf.extend_from_slice(b"\x7fELF");
        out.buf
            .extend_from_slice(&[if self.is_64 { 2 } else { 1 }, 1, 1, 0]);
        out.buf.resize(16, 0);
        out.u16(3); // ET_DYN
        out.u16(self.machine);
        out.u32(1); // e_version
        out.word(0); // e_entry
        out.word(ehsize as u64); // e_phoff
        out.word(0); // e_shoff
        out.u32(0); // e_flags
        out.u16(ehsize as u16);
        out.u16(phentsize as u16);
        out.u16(phnum as u16);
        out.u16(0); // e_shentsize
        out.u16(0); // e_shnum
        out.u16(0); // e_shstrndx
        assert_eq!(out.buf.len(), ehsize);

        out.phdr(PT_LOAD, 0, total as u64, 0x1000);
        if !interp_bytes.is_empty() {
            out.phdr(PT_INTERP, interp_off as u64, interp_bytes.len() as u64, 1);
        }
        if self.dynamic {
            out.phdr(PT_DYNAMIC, dyn_off as u64, dyn_len as u64, 8);
        }
        out.buf.extend_from_slice(&interp_bytes);
        out.buf.extend_from_slice(&strtab);
        out.buf.resize(dyn_off, 0);
        if self.dynamic {
            for (tag, val) in entries {
                out.word(tag);
                out.word(val);
            }
        }
        assert_eq!(out.buf.len(), total);
        out.buf
    }
}

struct Out {
    buf: Vec<u8>,
    is_64: bool,
}

impl Out {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn word(&mut self, v: u64) {
        if self.is_64 {
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else {
            self.u32(v as u32);
        }
    }
    fn phdr(&mut self, p_type: u32, offset: u64, size: u64, align: u64) {
        let flags = 4; // PF_R
        self.u32(p_type);
        if self.is_64 {
            self.u32(flags);
        }
        self.word(offset); // p_offset
        self.word(BASE + offset); // p_vaddr
        self.word(BASE + offset); // p_paddr
        self.word(size); // p_filesz
        self.word(size); // p_memsz
        if !self.is_64 {
            self.u32(flags);
        }
        self.word(align);
    }
}
