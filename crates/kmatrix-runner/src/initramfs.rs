//! The initramfs: two concatenated newc archives.
//!
//! * The **kernel part** depends only on the kernel: the module tree (with `modules.dep` and
//!   `modules.alias` generated on the host), `/boot/config` and `/boot/System.map`. It is built
//!   once per kernel and kept in the cache next to the extracted kernel.
//! * The **run part** depends only on what is run: `/init` (the guest init, which is also
//!   `/sbin/modprobe`), the encoded job, and each program with its ELF interpreter and shared
//!   libraries at the paths the host has them.
//!
//! The kernel unpacks concatenated archives in order. The guest tree is laid out merged-/usr
//! (`/lib`, `/lib64`, `/bin`, `/sbin` are symlinks into `/usr`), and every host path is mapped
//! into that layout, so libraries from a merged-/usr host and from a split one land in the same
//! place and the two parts never fight over a path.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kmatrix_cpio::{CpioError, NewcWriter};

/// Top-level directories that are symlinks into `/usr` in the guest.
const MERGED_USR: &[(&str, &str)] = &[
    ("bin", "usr/bin"),
    ("sbin", "usr/sbin"),
    ("lib", "usr/lib"),
    ("lib64", "usr/lib64"),
];

/// Directories whose content the guest hides by mounting over them; programs are never put there.
const MOUNTED_OVER: &[&str] = &["tmp", "run", "dev", "proc", "sys"];

/// Why an initramfs part could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InitramfsError {
    /// The archive writer refused an entry or could not write.
    #[error(transparent)]
    Cpio(#[from] CpioError),
    /// Reading the module tree or writing the output file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What to put in the kernel part.
#[derive(Debug, Clone)]
pub struct KernelPart<'a> {
    /// Kernel release: the modules go to `/lib/modules/<release>/`.
    pub release: &'a str,
    /// Directory holding the module tree (the content of `lib/modules/<release>/`).
    pub modules_dir: Option<&'a Path>,
    /// Generated `modules.dep` and `modules.alias` (file name, content).
    pub module_index: Vec<(&'static str, Vec<u8>)>,
    /// Kernel config, installed as `/boot/config` and `/boot/config-<release>`.
    pub config: Option<&'a Path>,
    /// Symbol map, installed as `/boot/System.map` and `/boot/System.map-<release>`.
    pub system_map: Option<&'a Path>,
}

/// Writes the kernel part to `out`.
pub fn write_kernel_part(part: &KernelPart<'_>, out: &Path) -> Result<(), InitramfsError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| InitramfsError::Io {
            action,
            path,
            source,
        }
    };
    let file = File::create(out).map_err(io("creating", out))?;
    let mut cpio = NewcWriter::new(BufWriter::new(file));
    let base = format!("usr/lib/modules/{}", part.release);
    cpio.add_directory(&base, 0o755)?;
    if let Some(dir) = part.modules_dir {
        for (relative, host) in walk_files(dir).map_err(io("reading", dir))? {
            let name = relative.to_string_lossy();
            // The generated index replaces whatever the package shipped.
            if part.module_index.iter().any(|(index, _)| *index == name) {
                continue;
            }
            cpio.add_file_from_host(&format!("{base}/{name}"), 0o644, &host)?;
        }
    }
    for (name, content) in &part.module_index {
        cpio.add_file(&format!("{base}/{name}"), 0o644, content)?;
    }
    for (source, name) in [(part.config, "config"), (part.system_map, "System.map")] {
        if let Some(source) = source {
            cpio.add_file_from_host(&format!("boot/{name}-{}", part.release), 0o644, source)?;
            cpio.add_symlink(&format!("boot/{name}"), &format!("{name}-{}", part.release))?;
        }
    }
    let mut writer = cpio.finish()?;
    writer.flush().map_err(io("writing", out))?;
    let file = writer.into_inner().map_err(|err| InitramfsError::Io {
        action: "writing",
        path: out.to_path_buf(),
        source: err.into_error(),
    })?;
    file.sync_all().map_err(io("writing", out))
}

/// Every regular file under `dir`, as (path relative to `dir`, host path), sorted.
fn walk_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                out.push((path, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One file of the run part.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunEntry {
    Bytes { mode: u32, data: Vec<u8> },
    Host { mode: u32, path: PathBuf },
    Symlink { target: String },
}

/// Builder for the run part: `/init`, the job, programs and their libraries.
#[derive(Debug, Default)]
pub struct RunPart {
    entries: BTreeMap<String, RunEntry>,
}

impl RunPart {
    /// A run part holding the guest init (also installed as `/sbin/modprobe`).
    pub fn new(init: &[u8]) -> RunPart {
        let mut part = RunPart::default();
        part.entries.insert(
            "init".into(),
            RunEntry::Bytes {
                mode: 0o755,
                data: init.to_vec(),
            },
        );
        part.entries.insert(
            "usr/sbin/modprobe".into(),
            RunEntry::Symlink {
                target: "/init".into(),
            },
        );
        part
    }

    /// Sets the encoded job.
    pub fn set_job(&mut self, job: &[u8]) {
        let job_path = kmatrix_wire::JOB_PATH.trim_start_matches('/').to_string();
        self.entries.insert(
            job_path,
            RunEntry::Bytes {
                mode: 0o644,
                data: job.to_vec(),
            },
        );
    }

    /// Where a program found at `host_path` (canonical) goes in the guest, as an absolute path.
    pub fn program_guest_path(index: usize, host_path: &Path) -> String {
        let normalized = guest_path(host_path);
        let first = normalized.split('/').next().unwrap_or_default();
        if MOUNTED_OVER.contains(&first) {
            let name = host_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}/{index}/{name}", kmatrix_wire::PROGRAMS_DIR)
        } else {
            format!("/{normalized}")
        }
    }

    /// Adds a host file at `guest` (absolute), keeping its permission bits.
    pub fn add_host_file(&mut self, guest: &str, host: &Path) -> std::io::Result<()> {
        let mode = std::fs::metadata(host)?.permissions().mode() & 0o7777;
        self.entries.insert(
            guest_path(Path::new(guest)),
            RunEntry::Host {
                mode,
                path: host.to_path_buf(),
            },
        );
        Ok(())
    }

    /// Adds a symlink at `guest` (absolute) pointing to `target`, unless it is one of the
    /// merged-/usr links the guest has anyway.
    pub fn add_symlink(&mut self, guest: &Path, target: &Path) {
        let path = guest_path(guest);
        if MERGED_USR.iter().any(|(_, dir)| *dir == path) {
            return;
        }
        self.entries.entry(path).or_insert(RunEntry::Symlink {
            target: target.to_string_lossy().into_owned(),
        });
    }

    /// Writes the archive.
    pub fn write(&self, out: &mut impl Write) -> Result<(), CpioError> {
        let mut cpio = NewcWriter::new(out);
        for dir in [
            "dev",
            "proc",
            "sys",
            "tmp",
            "run",
            "root",
            "usr/bin",
            "usr/sbin",
            "usr/lib",
            "usr/lib64",
        ] {
            cpio.add_directory(dir, 0o755)?;
        }
        cpio.add_char_device("dev/console", 0o600, 5, 1)?;
        cpio.add_char_device("dev/null", 0o666, 1, 3)?;
        for (link, target) in MERGED_USR {
            cpio.add_symlink(link, target)?;
        }
        for (path, entry) in &self.entries {
            match entry {
                RunEntry::Bytes { mode, data } => cpio.add_file(path, *mode, data)?,
                RunEntry::Host { mode, path: host } => {
                    cpio.add_file_from_host(path, *mode, host)?
                }
                RunEntry::Symlink { target } => cpio.add_symlink(path, target)?,
            }
        }
        cpio.finish()?;
        Ok(())
    }
}

/// Maps an absolute host path into the guest's merged-/usr layout, without the leading `/`.
fn guest_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let relative = text.trim_start_matches('/');
    for (link, target) in MERGED_USR {
        if let Some(rest) = relative.strip_prefix(link)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return format!("{target}{rest}");
        }
    }
    relative.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmatrix_cpio::parse_newc;

    #[test]
    fn host_paths_map_into_merged_usr() {
        assert_eq!(
            guest_path(Path::new("/lib/x86_64-linux-gnu/libc.so.6")),
            "usr/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(
            guest_path(Path::new("/lib64/ld-linux-x86-64.so.2")),
            "usr/lib64/ld-linux-x86-64.so.2"
        );
        assert_eq!(guest_path(Path::new("/usr/bin/uname")), "usr/bin/uname");
        assert_eq!(guest_path(Path::new("/library/x")), "library/x");
        assert_eq!(guest_path(Path::new("/bin")), "usr/bin");
    }

    #[test]
    fn programs_under_tmp_move_out_of_the_way_of_the_tmpfs() {
        assert_eq!(
            RunPart::program_guest_path(0, Path::new("/usr/bin/uname")),
            "/usr/bin/uname"
        );
        assert_eq!(
            RunPart::program_guest_path(3, Path::new("/tmp/x/check")),
            "/kmatrix/programs/3/check"
        );
        assert_eq!(
            RunPart::program_guest_path(0, Path::new("/bin/true")),
            "/usr/bin/true"
        );
    }

    #[test]
    fn run_part_has_init_modprobe_job_and_merged_usr_links() {
        let mut part = RunPart::new(b"\x7fELF-init");
        part.set_job(b"job-bytes");
        part.add_symlink(Path::new("/lib64"), Path::new("usr/lib64"));
        part.add_symlink(Path::new("/usr/lib/x/libc.so"), Path::new("libc.so.6"));
        let mut out = Vec::new();
        part.write(&mut out).unwrap();
        let entries = parse_newc(&out).unwrap();
        let find = |name: &str| {
            entries
                .iter()
                .find(|e| e.path == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(find("init").data, b"\x7fELF-init");
        assert_eq!(find("init").permissions(), 0o755);
        assert_eq!(find("usr/sbin/modprobe").symlink_target(), Some("/init"));
        assert_eq!(find("kmatrix/job").data, b"job-bytes");
        assert_eq!(find("lib64").symlink_target(), Some("usr/lib64"));
        assert_eq!(
            find("usr/lib/x/libc.so").symlink_target(),
            Some("libc.so.6")
        );
        assert_eq!(entries.iter().filter(|e| e.path == "lib64").count(), 1);
    }

    #[test]
    fn same_inputs_give_the_same_bytes() {
        let build = || {
            let mut part = RunPart::new(b"init");
            part.set_job(b"job");
            part.add_host_file("/usr/bin/true", Path::new("/bin/true"))
                .unwrap();
            let mut out = Vec::new();
            part.write(&mut out).unwrap();
            out
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn kernel_part_places_modules_index_config_and_system_map() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("modules");
        std::fs::create_dir_all(modules.join("kernel/net/key")).unwrap();
        std::fs::write(modules.join("kernel/net/key/af_key.ko.zst"), b"zst").unwrap();
        std::fs::write(modules.join("modules.builtin"), b"kernel/fs/ext4.ko\n").unwrap();
        std::fs::write(modules.join("modules.dep"), b"stale").unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, b"CONFIG_NET_KEY=m\n").unwrap();
        let out = dir.path().join("kernel.cpio");
        let part = KernelPart {
            release: "6.1.0-50-cloud-amd64",
            modules_dir: Some(&modules),
            module_index: vec![("modules.dep", b"kernel/net/key/af_key.ko.zst:\n".to_vec())],
            config: Some(&config),
            system_map: None,
        };
        write_kernel_part(&part, &out).unwrap();
        let entries = parse_newc(&std::fs::read(&out).unwrap()).unwrap();
        let find = |name: &str| {
            entries
                .iter()
                .find(|e| e.path == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let base = "usr/lib/modules/6.1.0-50-cloud-amd64";
        assert_eq!(
            find(&format!("{base}/kernel/net/key/af_key.ko.zst")).data,
            b"zst"
        );
        assert_eq!(
            find(&format!("{base}/modules.dep")).data,
            b"kernel/net/key/af_key.ko.zst:\n"
        );
        assert_eq!(
            find(&format!("{base}/modules.builtin")).data,
            b"kernel/fs/ext4.ko\n"
        );
        assert_eq!(
            find("boot/config").symlink_target(),
            Some("config-6.1.0-50-cloud-amd64")
        );
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.path.ends_with("modules.dep"))
                .count(),
            1
        );
    }
}
