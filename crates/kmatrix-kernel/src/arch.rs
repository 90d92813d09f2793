//! The CPU architectures kmatrix boots.

use std::fmt;

/// A CPU architecture of a kernel image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// 64-bit x86 (Debian `amd64`).
    X86_64,
    /// 64-bit Arm (Debian `arm64`).
    Aarch64,
}

impl Arch {
    /// The ELF `e_machine` value of this architecture's binaries and modules.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
        }
    }

    /// The Debian architecture name (`amd64` / `arm64`).
    pub fn deb_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The architecture of a Debian architecture name, if it is one kmatrix boots.
    pub fn from_deb_arch(name: &str) -> Option<Arch> {
        match name {
            "amd64" => Some(Arch::X86_64),
            "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The GNU/`uname -m` name (`x86_64` / `aarch64`), as also shown by `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_machines() {
        assert_eq!(Arch::X86_64.to_string(), "x86_64");
        assert_eq!(Arch::Aarch64.to_string(), "aarch64");
        assert_eq!(Arch::X86_64.elf_machine(), 62);
        assert_eq!(Arch::Aarch64.elf_machine(), 183);
        assert_eq!(Arch::X86_64.deb_arch(), "amd64");
        assert_eq!(Arch::Aarch64.deb_arch(), "arm64");
        assert_eq!(Arch::from_deb_arch("arm64"), Some(Arch::Aarch64));
        assert_eq!(Arch::from_deb_arch("i386"), None);
    }
}
