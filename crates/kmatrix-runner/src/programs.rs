//! The programs to run: found on the host, inspected, and packed with what they need.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kmatrix_elf::{Closure, ClosureEntry, ElfInfo, LibraryResolver};
use kmatrix_kernel::Arch;

use crate::engine::RunError;
use crate::initramfs::RunPart;

/// A program to run in every guest, as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramRequest {
    /// Path, or a bare name looked up in `PATH` as a shell would.
    pub path: PathBuf,
    /// Arguments after `argv[0]`, passed verbatim (plain programs).
    pub args: Vec<OsString>,
    /// Name in reports; defaults to the file name.
    pub name: Option<String>,
    /// For a test binary: its tests, each run in its own process. Empty for a plain program.
    pub tests: Vec<TestRequest>,
    /// Limit for each process (the program, or each test), enforced inside the guest.
    pub timeout: Option<std::time::Duration>,
    /// Exit status that means "skipped" (77 in the automake convention), for plain programs.
    pub skip_exit_code: Option<i32>,
}

/// One test of a test binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    /// Test name, as reported.
    pub name: String,
    /// Arguments for the process that runs just this test (e.g. `--exact NAME`), or `None` to
    /// report it as ignored without running it.
    pub args: Option<Vec<OsString>>,
}

impl ProgramRequest {
    /// A program with arguments.
    pub fn new(
        path: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        ProgramRequest {
            path: path.into(),
            args: args.into_iter().map(Into::into).collect(),
            name: None,
            tests: Vec::new(),
            timeout: None,
            skip_exit_code: None,
        }
    }
}

/// A program found on the host, with everything it needs in the guest.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedProgram {
    /// Name shown in reports: the file name as given.
    pub name: String,
    /// Canonical host path.
    pub host_path: PathBuf,
    /// The program's ELF header facts.
    pub elf: ElfInfo,
}

/// Finds, inspects and resolves the libraries of a program. Fails with a usage error naming
/// the program when it does not exist, is not an ELF executable, or needs a missing library.
pub(crate) fn resolve(request: &ProgramRequest) -> Result<ResolvedProgram, RunError> {
    let found =
        locate(&request.path).ok_or_else(|| RunError::ProgramNotFound(request.path.clone()))?;
    let host_path = found.canonicalize().map_err(|source| RunError::Io {
        action: "reading",
        path: found.clone(),
        source,
    })?;
    if !host_path.is_file() {
        return Err(RunError::ProgramNotAFile(request.path.clone()));
    }
    let elf = kmatrix_elf::inspect(&host_path).map_err(RunError::Program)?;
    let name = request.name.clone().unwrap_or_else(|| {
        request
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| host_path.display().to_string())
    });
    Ok(ResolvedProgram {
        name,
        host_path,
        elf,
    })
}

fn locate(path: &Path) -> Option<PathBuf> {
    if path.components().count() > 1 || path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    if path.is_file() && std::env::var_os("PATH").is_none() {
        return Some(path.to_path_buf());
    }
    crate::qemu::find_in_path(&path.to_string_lossy())
}

/// The architecture name for an ELF `e_machine`.
pub(crate) fn machine_name(machine: u16) -> String {
    match machine {
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        3 => "i386".into(),
        40 => "arm".into(),
        243 => "riscv".into(),
        other => format!("ELF machine {other}"),
    }
}

impl ResolvedProgram {
    /// Whether this program can run on a guest of `arch`.
    pub(crate) fn runs_on(&self, arch: Arch) -> bool {
        self.elf.machine == arch.elf_machine() && self.elf.is_64
    }

    /// The interpreter and shared libraries the program needs (empty when static). Resolved
    /// only once the architecture is known to match, so a foreign binary is refused as such.
    pub(crate) fn closure(&self) -> Result<Closure, kmatrix_elf::ElfError> {
        LibraryResolver::new("/").closure(&self.host_path)
    }

    /// Adds the program and its `closure` to the run part; returns its path in the guest.
    pub(crate) fn add_to(
        &self,
        index: usize,
        closure: &Closure,
        part: &mut RunPart,
    ) -> std::io::Result<String> {
        let guest = RunPart::program_guest_path(index, &self.host_path);
        part.add_host_file(&guest, &self.host_path)?;
        for entry in &closure.entries {
            match entry {
                ClosureEntry::File {
                    guest_path,
                    host_path,
                } => {
                    part.add_host_file(&guest_path.to_string_lossy(), host_path)?;
                }
                ClosureEntry::Symlink { guest_path, target } => {
                    part.add_symlink(guest_path, target)
                }
            }
        }
        Ok(guest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_in_path_like_a_shell_does() {
        let program = resolve(&ProgramRequest::new("uname", ["-a"])).unwrap();
        assert_eq!(program.name, "uname");
        assert!(program.host_path.is_absolute());
        assert!(program.runs_on(crate::spec::host_arch()));
        assert!(
            !program.closure().unwrap().entries.is_empty(),
            "uname is dynamically linked"
        );
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = resolve(&ProgramRequest::new(
            "./no/such/program",
            Vec::<String>::new(),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("./no/such/program"), "{err}");
    }

    #[test]
    fn a_script_is_refused_as_not_elf() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("check.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        let err = resolve(&ProgramRequest::new(&script, Vec::<String>::new())).unwrap_err();
        assert!(err.to_string().contains("check.sh"), "{err}");
    }
}
