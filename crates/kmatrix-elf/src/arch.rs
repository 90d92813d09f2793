//! Per-architecture facts of Debian's glibc loader: default (trusted)
//! directories and the values of `$LIB` and `$PLATFORM`.

use std::path::PathBuf;

use object::elf;

use crate::inspect::Ident;

/// What the loader of one Debian architecture assumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arch {
    /// Debian multiarch triplet, e.g. `x86_64-linux-gnu`.
    triplet: Option<&'static str>,
    /// `AT_PLATFORM` string the kernel passes, e.g. `x86_64`.
    platform: Option<&'static str>,
    /// Whether /lib64 and /usr/lib64 are default directories too.
    lib64: bool,
}

impl Arch {
    pub(crate) fn of(ident: Ident) -> Arch {
        let (triplet, platform, lib64) = match (
            elf::Machine(ident.machine),
            ident.is_64,
            ident.little_endian,
        ) {
            (elf::EM_X86_64, true, true) => (Some("x86_64-linux-gnu"), Some("x86_64"), true),
            (elf::EM_X86_64, false, true) => (Some("x86_64-linux-gnux32"), Some("x86_64"), false),
            (elf::EM_AARCH64, true, true) => (Some("aarch64-linux-gnu"), Some("aarch64"), false),
            (elf::EM_386, false, true) => (Some("i386-linux-gnu"), Some("i686"), false),
            (elf::EM_ARM, false, true) => (Some("arm-linux-gnueabihf"), Some("v7l"), false),
            (elf::EM_RISCV, true, true) => (Some("riscv64-linux-gnu"), None, false),
            (elf::EM_PPC64, true, true) => (Some("powerpc64le-linux-gnu"), Some("ppc64le"), false),
            (elf::EM_S390, true, false) => (Some("s390x-linux-gnu"), Some("s390x"), false),
            (elf::EM_LOONGARCH, true, true) => (Some("loongarch64-linux-gnu"), None, false),
            _ => (None, None, false),
        };
        Arch {
            triplet,
            platform,
            lib64,
        }
    }

    /// The loader's built-in directories, searched after ld.so.conf's.
    pub(crate) fn default_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(t) = self.triplet {
            dirs.push(PathBuf::from(format!("/lib/{t}")));
            dirs.push(PathBuf::from(format!("/usr/lib/{t}")));
        }
        if self.lib64 {
            dirs.push(PathBuf::from("/lib64"));
            dirs.push(PathBuf::from("/usr/lib64"));
        }
        dirs.push(PathBuf::from("/lib"));
        dirs.push(PathBuf::from("/usr/lib"));
        dirs
    }

    /// Value of `$LIB` (Debian installs libraries in multiarch directories).
    pub(crate) fn lib(&self) -> String {
        match self.triplet {
            Some(t) => format!("lib/{t}"),
            None => "lib".to_owned(),
        }
    }

    /// Value of `$PLATFORM`, if known for this architecture.
    pub(crate) fn platform(&self) -> Option<&'static str> {
        self.platform
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(machine: u16, is_64: bool) -> Ident {
        Ident {
            machine,
            is_64,
            little_endian: true,
        }
    }

    #[test]
    fn x86_64_defaults() {
        let arch = Arch::of(ident(62, true));
        let dirs: Vec<String> = arch
            .default_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib64",
                "/usr/lib64",
                "/lib",
                "/usr/lib"
            ]
        );
        assert_eq!(arch.lib(), "lib/x86_64-linux-gnu");
        assert_eq!(arch.platform(), Some("x86_64"));
    }

    #[test]
    fn aarch64_and_unknown_defaults() {
        let dirs = Arch::of(ident(183, true)).default_dirs();
        assert_eq!(dirs[0], PathBuf::from("/lib/aarch64-linux-gnu"));
        assert_eq!(dirs[1], PathBuf::from("/usr/lib/aarch64-linux-gnu"));
        assert_eq!(dirs.len(), 4);
        let unknown = Arch::of(ident(0x9999, true));
        assert_eq!(unknown.default_dirs().len(), 2);
        assert_eq!(unknown.lib(), "lib");
        assert_eq!(unknown.platform(), None);
    }
}
