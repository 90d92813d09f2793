//! Kernel module metadata and the kmod text indexes built from it.
//!
//! [`read_modinfo`] parses a module's ELF `.modinfo` section;
//! [`build_index`] reads every module of a modules directory and
//! [`ModuleIndex`] writes `modules.dep`, `modules.alias` and
//! `modules.softdep` the way `depmod` does.

mod depfile;
mod index;
#[cfg(test)]
mod index_tests;

use std::borrow::Cow;
use std::path::Path;

use object::{Object, ObjectSection};

use crate::KernelError;
use crate::decompress::Codec;

pub(crate) use index::in_search_dirs;
pub use index::{Module, ModuleIndex, build_index};

/// What a module's `.modinfo` section says about loading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// The module name with `-` normalized to `_` (from `name=`, else the file name).
    pub name: String,
    /// `alias=` patterns (device IDs, `net-pf-15`, `fs-ext4`, …), in section order.
    pub aliases: Vec<String>,
    /// Modules this one needs loaded first (`depends=`), names normalized.
    pub depends: Vec<String>,
    /// `softdep=` values as written, e.g. `pre: crc32c`.
    pub softdeps: Vec<String>,
}

/// Largest decompressed module accepted; the biggest Debian modules are ~10 MB.
const MAX_MODULE_SIZE: u64 = 512 << 20;

/// Reads the `.modinfo` section of the (uncompressed) ELF module `ko`;
/// `path` names it in errors and supplies the name if `name=` is absent.
pub fn read_modinfo(path: &Path, ko: &[u8]) -> Result<ModInfo, KernelError> {
    let elf_error = |source| KernelError::ModuleElf {
        path: path.to_path_buf(),
        source,
    };
    let file = object::File::parse(ko).map_err(elf_error)?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or_else(|| KernelError::NoModinfo {
            path: path.to_path_buf(),
        })?;
    let data = section.data().map_err(elf_error)?;
    let mut info = parse_modinfo(data);
    if info.name.is_empty() {
        info.name = name_from_path(path).unwrap_or_default();
    }
    Ok(info)
}

/// Parses NUL-separated `key=value` strings.
fn parse_modinfo(data: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    // Entries are NUL-terminated and may be padded with extra NULs.
    for field in data.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let field = String::from_utf8_lossy(field);
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        match key {
            "name" => info.name = normalize_name(value),
            "alias" => info.aliases.push(value.to_string()),
            "depends" => info.depends.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(normalize_name),
            ),
            "softdep" => info.softdeps.push(value.to_string()),
            _ => {}
        }
    }
    info
}

/// A module name as kmod compares them: `-` replaced by `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a file such as `kernel/fs/fuse/cuse.ko.xz` → `cuse`.
pub fn name_from_path(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = &file[..file.find(".ko")?];
    (!stem.is_empty()).then(|| normalize_name(stem))
}

/// The compression of a module file, from its name.
fn module_codec(path: &Path) -> Option<Codec> {
    let file = path.file_name()?.to_str()?;
    let at = file.rfind(".ko")?;
    Codec::from_suffix(&file[at + 3..]).filter(|c| *c != Codec::Lzma)
}

/// Returns the ELF bytes of a module file, decompressing by extension:
/// `.ko` (returned as is), `.ko.xz`, `.ko.zst`, `.ko.gz`.
pub fn decompress_module(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, KernelError> {
    match module_codec(path) {
        Some(Codec::None) => Ok(bytes),
        _ => elf_bytes(path, &bytes).map(Cow::into_owned),
    }
}

/// Like [`decompress_module`], borrowing `bytes` when they are not compressed.
pub(crate) fn elf_bytes<'a>(path: &Path, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, KernelError> {
    match module_codec(path) {
        None => Err(KernelError::UnknownModuleExtension {
            path: path.to_path_buf(),
        }),
        Some(Codec::None) => Ok(Cow::Borrowed(bytes)),
        Some(codec) => codec
            .decode_all(bytes, MAX_MODULE_SIZE)
            .map(Cow::Owned)
            .map_err(|source| KernelError::ModuleDecompress {
                path: path.to_path_buf(),
                source,
            }),
    }
}

/// True if `path` has a module file name (`*.ko`, `*.ko.xz`, `*.ko.zst`, `*.ko.gz`).
pub fn is_module_file(path: &Path) -> bool {
    module_codec(path).is_some() && name_from_path(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, module_elf, xz, zstd_compress};

    const AF_KEY: &[&str] = &[
        "alias=net-pf-15",
        "license=GPL",
        "depends=xfrm_algo",
        "intree=Y",
        "name=af_key",
    ];

    #[test]
    fn reads_modinfo_from_elf() {
        let info = read_modinfo(Path::new("af_key.ko"), &module_elf(AF_KEY)).unwrap();
        assert_eq!(
            info,
            ModInfo {
                name: "af_key".into(),
                aliases: vec!["net-pf-15".into()],
                depends: vec!["xfrm_algo".into()],
                softdeps: vec![],
            }
        );
    }

    #[test]
    fn name_falls_back_to_file_name_and_depends_split() {
        let elf = module_elf(&[
            "depends=",
            "alias=fs-fuse",
            "alias=char-major-10-229",
            "softdep=pre: crc32c",
        ]);
        let info = read_modinfo(Path::new("kernel/fs/fuse/my-fuse.ko.zst"), &elf).unwrap();
        assert_eq!(info.name, "my_fuse");
        assert!(info.depends.is_empty());
        assert_eq!(info.aliases, ["fs-fuse", "char-major-10-229"]);
        assert_eq!(info.softdeps, ["pre: crc32c"]);

        let elf = module_elf(&["depends=a-b,c,,d_e", "name=x-y"]);
        let info = read_modinfo(Path::new("x.ko"), &elf).unwrap();
        assert_eq!(info.name, "x_y");
        assert_eq!(info.depends, ["a_b", "c", "d_e"]);
    }

    #[test]
    fn modinfo_errors_name_the_file() {
        let err = read_modinfo(Path::new("/m/bad.ko"), b"not an elf").unwrap_err();
        assert!(matches!(err, KernelError::ModuleElf { .. }), "{err}");
        assert!(err.to_string().contains("/m/bad.ko"));

        // An ELF without .modinfo: rename the section.
        let mut elf = module_elf(&["name=x"]);
        let at = elf.windows(8).position(|w| w == b".modinfo").unwrap();
        elf[at + 1] = b'X';
        let err = read_modinfo(Path::new("/m/none.ko"), &elf).unwrap_err();
        assert!(matches!(err, KernelError::NoModinfo { .. }), "{err}");
    }

    #[test]
    fn decompresses_by_extension() {
        let elf = module_elf(AF_KEY);
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(decompress_module(&p("a.ko"), elf.clone()).unwrap(), elf);
        assert_eq!(decompress_module(&p("a.ko.xz"), xz(&elf)).unwrap(), elf);
        assert_eq!(
            decompress_module(&p("a.ko.zst"), zstd_compress(&elf)).unwrap(),
            elf
        );
        assert_eq!(decompress_module(&p("a.ko.gz"), gzip(&elf)).unwrap(), elf);

        let err = decompress_module(&p("/x/a.ko.bz2"), elf.clone()).unwrap_err();
        assert!(
            matches!(err, KernelError::UnknownModuleExtension { .. }),
            "{err}"
        );
        let packed = xz(&elf);
        let err =
            decompress_module(&p("/x/a.ko.xz"), packed[..packed.len() - 10].to_vec()).unwrap_err();
        assert!(matches!(err, KernelError::ModuleDecompress { .. }), "{err}");
        assert!(err.to_string().contains("/x/a.ko.xz"), "{err}");
    }

    #[test]
    fn module_file_names() {
        assert!(is_module_file(Path::new("kernel/a/b.ko")));
        assert!(is_module_file(Path::new("b.ko.zst")));
        assert!(!is_module_file(Path::new("modules.order")));
        assert!(!is_module_file(Path::new(".ko")));
        assert!(!is_module_file(Path::new("b.ko.lzma")));
        assert_eq!(
            name_from_path(Path::new("k/intel-uncore.ko.xz")).as_deref(),
            Some("intel_uncore")
        );
    }
}
