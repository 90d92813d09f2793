//! Kernel sources: from a [`KernelSpec`] to a bootable kernel and the kernel part of the
//! initramfs, through the cache.
//!
//! * `debian:` specs are resolved in the Debian archive, downloaded (verified) into the cache;
//! * packages (downloaded or local) are extracted once, keyed by the package's SHA-256, into
//!   `kernels/<key>/`, together with the generated module index and the kernel part of the
//!   initramfs; the directory is filled under a temporary name and renamed whole, under a lock;
//! * bare images are used in place, their kernel part built in the run's scratch directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kmatrix_debian::{Archive, DebArch, DebianError};
use kmatrix_kernel::Arch;
use kmatrix_kernel::modules::ModuleIndex;
use kmatrix_kernel::package::{ExtractOptions, extract_debs, extract_system_map};

use std::sync::Mutex;

use crate::cache::{DirLock, fill_dir_atomic, sha256_file};
use crate::error::PrepareError;
use crate::events::{Event, EventSink, FetchSource, KernelId};
use crate::initramfs::{KernelPart, write_kernel_part};
use crate::lock::{LockError, LockFile};
use crate::spec::{KernelSource, KernelSpec};

/// Where Debian packages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// The Debian mirror named in this machine's apt sources.
    System,
    /// An explicit archive URL (`--mirror`, `KMATRIX_MIRROR`).
    Url(String),
}

/// A kernel ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedKernel {
    /// Kernel release (`uname -r`).
    pub release: String,
    /// Architecture, read from the image header.
    pub arch: Arch,
    /// The image QEMU boots (an arm64 EFI zboot image is already unwrapped).
    pub vmlinuz: PathBuf,
    /// The kernel part of the initramfs.
    pub kernel_cpio: PathBuf,
}

/// State shared by the kernels of one run: the cache, the lock file and, once needed, the
/// Debian archive.
#[derive(Debug)]
pub struct PrepareContext {
    cache_dir: PathBuf,
    mirror: Mirror,
    archive: std::sync::OnceLock<Archive>,
    lock: Option<(PathBuf, Mutex<LockFile>)>,
    offline: bool,
    refresh: bool,
    keyring: Option<PathBuf>,
}

/// How long a resolution of a `debian:` spec is reused without asking the archive again.
pub const RESOLUTION_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

const META_FILE: &str = "kernel.meta";

impl PrepareContext {
    /// A context over `cache_dir`; the archive is only contacted for `debian:` specs.
    pub fn new(cache_dir: PathBuf, mirror: Mirror) -> Self {
        PrepareContext {
            cache_dir,
            mirror,
            archive: std::sync::OnceLock::new(),
            lock: None,
            offline: false,
            refresh: false,
            keyring: None,
        }
    }

    /// Pins `debian:` specs in the lock file at `path` (read now; updated as specs are resolved).
    pub fn with_lock(mut self, path: PathBuf) -> Result<Self, LockError> {
        let lock = LockFile::load(&path)?;
        self.lock = Some((path, Mutex::new(lock)));
        Ok(self)
    }

    /// Verifies the archive's InRelease files against this keyring instead of the system's.
    pub fn with_keyring(mut self, keyring: Option<PathBuf>) -> Self {
        self.keyring = keyring;
        self
    }

    /// Resolve unpinned specs in the archive now, even if they were resolved within the last
    /// [`RESOLUTION_TTL`].
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Never touch the network: kernels come from the lock file and the cache only.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// The packages of a `debian:` spec: pinned ones from the lock file, otherwise resolved
    /// (newest first, passing over packages the mirror lists but does not serve) and pinned.
    fn debian_packages(
        &self,
        id: &KernelId,
        name: &str,
        query: &kmatrix_debian::KernelQuery,
        arch: Arch,
        sink: &dyn EventSink,
    ) -> Result<(kmatrix_debian::ResolvedKernel, Vec<PathBuf>), PrepareError> {
        let debian = |source| PrepareError::Debian {
            spec: name.to_string(),
            source: Box::new(source),
        };
        let offline = |missing: String| PrepareError::Offline {
            spec: name.to_string(),
            missing,
        };
        let pinned = self.lock.as_ref().and_then(|(_, lock)| {
            lock.lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(name, deb_arch(arch))
        });
        if let Some(resolved) = pinned {
            sink.event(Event::Resolved {
                kernel: id.clone(),
                package: resolved.image.package.clone(),
                version: resolved.image.version.clone(),
                suite: format!("{}, pinned", resolved.suite),
            });
            if self.offline {
                let missing: Vec<String> = resolved
                    .packages()
                    .into_iter()
                    .filter(|p| !self.cached_deb(p).is_file())
                    .map(|p| format!("{} {} (sha256 {})", p.package, p.version, p.sha256))
                    .collect();
                if !missing.is_empty() {
                    return Err(offline(format!(
                        "not in the cache {}: {}",
                        self.cache_dir.display(),
                        missing.join(", ")
                    )));
                }
            }
            let archive = self.archive().map_err(debian)?;
            let debs = fetch_all(archive, &resolved, id, sink).map_err(debian)?;
            return Ok((resolved, debs));
        }
        if !self.offline
            && !self.refresh
            && let Some((resolved, age)) = self.recent_resolution(name, arch)
        {
            sink.event(Event::Resolved {
                kernel: id.clone(),
                package: resolved.image.package.clone(),
                version: resolved.image.version.clone(),
                suite: format!(
                    "{}, resolved {} min ago",
                    resolved.suite,
                    age.as_secs() / 60
                ),
            });
            // A package that vanished since is no reason to fail: resolve afresh below.
            let archive = self.archive().map_err(debian)?;
            if let Ok(debs) = fetch_all(archive, &resolved, id, sink) {
                self.pin(name, &resolved)?;
                return Ok((resolved, debs));
            }
        }
        if self.offline {
            let why = match &self.lock {
                Some((path, _)) if !path.exists() => {
                    format!("lock file {} does not exist", path.display())
                }
                Some((path, _)) => format!("not pinned in {}", path.display()),
                None => {
                    "no lock file to take it from (use --lock FILE, or run once online)".to_string()
                }
            };
            return Err(offline(why));
        }
        let archive = self.archive().map_err(debian)?;
        let mut excluded = Vec::new();
        let (resolved, debs) = loop {
            let resolved = archive
                .resolve_excluding(query, deb_arch(arch), &excluded)
                .map_err(debian)?;
            sink.event(Event::Resolved {
                kernel: id.clone(),
                package: resolved.image.package.clone(),
                version: resolved.image.version.clone(),
                suite: resolved.suite.clone(),
            });
            match fetch_all(archive, &resolved, id, sink) {
                Ok(debs) => break (resolved, debs),
                Err(err) if err.is_not_served() && excluded.len() < MAX_MISSING_PACKAGES => {
                    let text = format!(
                        "{}; trying the next newest kernel",
                        crate::error::one_line(&err)
                    );
                    sink.event(Event::Notice {
                        kernel: id.clone(),
                        text,
                    });
                    excluded.push(resolved.image.sha256.clone());
                }
                Err(err) => return Err(debian(err)),
            }
        };
        self.remember_resolution(name, arch, &resolved);
        self.pin(name, &resolved)?;
        Ok((resolved, debs))
    }

    /// Records `resolved` in the lock file, when there is one.
    fn pin(
        &self,
        name: &str,
        resolved: &kmatrix_debian::ResolvedKernel,
    ) -> Result<(), PrepareError> {
        if let Some((path, lock)) = &self.lock {
            let mut lock = lock.lock().unwrap_or_else(|p| p.into_inner());
            if lock.get(name, resolved.arch).as_ref() != Some(resolved) {
                lock.set(name, resolved);
                lock.save(path).map_err(|source| PrepareError::Lock {
                    spec: name.to_string(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Where the last resolution of `name` on this mirror is kept.
    fn resolution_path(&self, name: &str, arch: Arch) -> PathBuf {
        let identity = format!("{name}|{arch}|{:?}|{:?}", self.mirror, self.keyring);
        self.cache_dir.join("resolved").join(format!(
            "{}.json",
            crate::cache::short_hash(identity.as_bytes())
        ))
    }

    /// The resolution of `name` made less than [`RESOLUTION_TTL`] ago, and its age. Refreshing
    /// every suite's signed index costs 0.2–0.6 s per run (docs/PERFORMANCE.md); within the
    /// hour the answer is the same, and `--refresh` asks again at once.
    fn recent_resolution(
        &self,
        name: &str,
        arch: Arch,
    ) -> Option<(kmatrix_debian::ResolvedKernel, std::time::Duration)> {
        let path = self.resolution_path(name, arch);
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()?
            .elapsed()
            .ok()?;
        if age > RESOLUTION_TTL {
            return None;
        }
        let resolved = LockFile::load(&path).ok()?.get(name, deb_arch(arch))?;
        Some((resolved, age))
    }

    fn remember_resolution(
        &self,
        name: &str,
        arch: Arch,
        resolved: &kmatrix_debian::ResolvedKernel,
    ) {
        let mut record = LockFile::default();
        record.set(name, resolved);
        // Only a shortcut for the next run: failing to store it changes nothing.
        let _ = record.save(&self.resolution_path(name, arch));
    }

    /// Drops `spec`'s pin and resolves it again (downloading its packages, so a pin is only
    /// written for packages the mirror really serves). `None` for local kernels.
    pub fn repin(
        &self,
        id: &KernelId,
        spec: &KernelSpec,
        sink: &dyn EventSink,
    ) -> Result<Option<kmatrix_debian::ResolvedKernel>, PrepareError> {
        let KernelSource::Debian { query, arch } = &spec.source else {
            return Ok(None);
        };
        if let Some((_, lock)) = &self.lock {
            lock.lock()
                .unwrap_or_else(|p| p.into_inner())
                .kernels
                .retain(|k| k.spec != spec.display);
        }
        let (resolved, _) = self.debian_packages(id, &spec.display, query, *arch, sink)?;
        Ok(Some(resolved))
    }

    fn cached_deb(&self, package: &kmatrix_debian::PackageEntry) -> PathBuf {
        self.cache_dir
            .join("debs")
            .join(format!("{}.deb", package.sha256))
    }

    /// The Debian archive client, created on first use.
    pub fn archive(&self) -> Result<&Archive, DebianError> {
        if let Some(archive) = self.archive.get() {
            return Ok(archive);
        }
        let mirror = match &self.mirror {
            Mirror::System => kmatrix_debian::Mirror::from_system(Path::new("/"))?,
            Mirror::Url(url) => kmatrix_debian::Mirror::from_url(url),
        };
        // Two threads may both build one; the first stored wins and both are equivalent.
        Ok(self.archive.get_or_init(|| {
            let archive = Archive::new(mirror, self.cache_dir.clone());
            match &self.keyring {
                Some(keyring) => archive.with_keyring(keyring.clone()),
                None => archive,
            }
        }))
    }

    /// Resolves a `debian:` spec (and downloads its package when `fetch`); `None` for local kernels.
    pub fn resolve_debian(
        &self,
        spec: &KernelSpec,
        fetch: bool,
    ) -> Result<
        Option<(
            kmatrix_debian::ResolvedKernel,
            Option<kmatrix_debian::Fetched>,
        )>,
        PrepareError,
    > {
        let KernelSource::Debian { query, arch } = &spec.source else {
            return Ok(None);
        };
        let debian = |source| PrepareError::Debian {
            spec: spec.display.clone(),
            source: Box::new(source),
        };
        let archive = self.archive().map_err(debian)?;
        let resolved = archive.resolve(query, deb_arch(*arch)).map_err(debian)?;
        let fetched = if fetch {
            Some(
                archive
                    .fetch(&resolved.image, &resolved.base_url)
                    .map_err(debian)?,
            )
        } else {
            None
        };
        Ok(Some((resolved, fetched)))
    }

    /// Makes `spec` ready to boot, reporting progress to `sink`.
    pub fn prepare(
        &self,
        id: &KernelId,
        spec: &KernelSpec,
        scratch: &Path,
        sink: &dyn EventSink,
    ) -> Result<PreparedKernel, PrepareError> {
        let name = spec.display.clone();
        match &spec.source {
            KernelSource::Debian { query, arch } => {
                let (resolved, debs) = self.debian_packages(id, &name, query, *arch, sink)?;
                self.extract_cached(id, &name, &resolved.image.sha256, &debs, None, sink)
            }
            KernelSource::Packages { image, debug } => {
                let io = |path: &Path, source| PrepareError::Io {
                    spec: name.clone(),
                    action: "reading",
                    path: path.to_path_buf(),
                    source,
                };
                let mut key = sha256_file(image).map_err(|e| io(image, e))?;
                if let Some(debug) = debug {
                    key = format!("{key}-{}", sha256_file(debug).map_err(|e| io(debug, e))?);
                }
                self.extract_cached(
                    id,
                    &name,
                    &crate::cache::short_hash(key.as_bytes()),
                    std::slice::from_ref(image),
                    debug.as_deref(),
                    sink,
                )
            }
            KernelSource::Image { path, modules } => {
                prepare_image(&name, path, modules.as_deref(), scratch, id.index)
            }
        }
    }

    fn extract_cached(
        &self,
        id: &KernelId,
        spec: &str,
        key: &str,
        debs: &[PathBuf],
        debug: Option<&Path>,
        sink: &dyn EventSink,
    ) -> Result<PreparedKernel, PrepareError> {
        let kernels = self.cache_dir.join("kernels");
        let dir = kernels.join(key);
        let io = |action, path: &Path, source| PrepareError::Io {
            spec: spec.to_string(),
            action,
            path: path.to_path_buf(),
            source,
        };
        if let Some(prepared) = read_meta(&dir) {
            crate::inventory::touch_kernel(&dir);
            return Ok(prepared);
        }
        let _lock = DirLock::acquire(&kernels, key).map_err(|e| io("locking", &kernels, e))?;
        if let Some(prepared) = read_meta(&dir) {
            return Ok(prepared);
        }
        // An entry without its metadata was not written by kmatrix's atomic rename (e.g. a
        // copy interrupted by hand): never trust it, replace it. We hold the entry's lock.
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| io("removing incomplete cache entry", &dir, e))?;
        }
        let started = Instant::now();
        fill_dir_atomic(&dir, |temp| {
            std::fs::create_dir_all(temp).map_err(|e| io("creating", temp, e))?;
            let kernel_error = |source| PrepareError::Kernel {
                spec: spec.to_string(),
                source: Box::new(source),
            };
            let extracted = extract_debs(
                debs,
                temp,
                &ExtractOptions {
                    compress_modules: true,
                },
            )
            .map_err(kernel_error)?;
            // QEMU boots a raw arm64 Image, not its EFI zboot wrapper.
            if matches!(
                extracted.image.format,
                kmatrix_kernel::image::ImageFormat::Arm64ZbootEfi { .. }
            ) {
                let wrapped = std::fs::read(&extracted.vmlinuz)
                    .map_err(|e| io("reading", &extracted.vmlinuz, e))?;
                let raw = kmatrix_kernel::image::unwrap_zboot(&extracted.vmlinuz, &wrapped)
                    .map_err(kernel_error)?;
                std::fs::write(&extracted.vmlinuz, raw)
                    .map_err(|e| io("writing", &extracted.vmlinuz, e))?;
            }
            let system_map = temp.join("System.map");
            let has_map = match debug {
                Some(debug) => extract_system_map(debug, &system_map).map_err(kernel_error)?,
                None => false,
            };
            let index = index_files(spec, &extracted.index, temp)?;
            let part = KernelPart {
                release: &extracted.release,
                modules_dir: extracted.modules_dir.as_deref(),
                module_index: index,
                config: extracted.config.as_deref(),
                system_map: has_map.then_some(system_map.as_path()),
            };
            let cpio = temp.join("kernel.cpio");
            write_kernel_part(&part, &cpio).map_err(|source| PrepareError::Cpio {
                spec: spec.to_string(),
                source,
            })?;
            let meta = format!("release={}\narch={}\n", extracted.release, extracted.arch);
            std::fs::write(temp.join(META_FILE), meta).map_err(|e| io("writing", temp, e))?;
            Ok(())
        })
        .map_err(|err| match err {
            PrepareError::Io {
                action,
                path,
                source,
                ..
            } => PrepareError::Io {
                spec: spec.to_string(),
                action,
                path,
                source,
            },
            other => other,
        })?;
        sink.event(Event::Extracted {
            kernel: id.clone(),
            elapsed: started.elapsed(),
        });
        read_meta(&dir).ok_or_else(|| {
            io(
                "reading",
                &dir.join(META_FILE),
                std::io::Error::other("incomplete cache entry"),
            )
        })
    }
}

fn deb_arch(arch: Arch) -> DebArch {
    match arch {
        Arch::X86_64 => DebArch::Amd64,
        Arch::Aarch64 => DebArch::Arm64,
    }
}

/// Reads a complete cache entry; `None` when absent or incomplete.
fn read_meta(dir: &Path) -> Option<PreparedKernel> {
    let text = std::fs::read_to_string(dir.join(META_FILE)).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    let arch = match field("arch")?.as_str() {
        "x86_64" => Arch::X86_64,
        "aarch64" => Arch::Aarch64,
        _ => return None,
    };
    let prepared = PreparedKernel {
        release: field("release")?,
        arch,
        vmlinuz: dir.join("vmlinuz"),
        kernel_cpio: dir.join("kernel.cpio"),
    };
    (prepared.vmlinuz.is_file() && prepared.kernel_cpio.is_file()).then_some(prepared)
}

/// At most this many listed-but-missing packages are passed over before giving up.
const MAX_MISSING_PACKAGES: usize = 4;

/// Downloads (or finds in the cache) every package of a resolved kernel.
fn fetch_all(
    archive: &Archive,
    resolved: &kmatrix_debian::ResolvedKernel,
    id: &KernelId,
    sink: &dyn EventSink,
) -> Result<Vec<PathBuf>, DebianError> {
    let mut paths = Vec::new();
    for package in resolved.packages() {
        let cached = archive
            .cache_dir()
            .join("debs")
            .join(format!("{}.deb", package.sha256));
        if !cached.is_file() {
            sink.event(Event::Downloading {
                kernel: id.clone(),
                url: format!(
                    "{}/{}",
                    resolved.base_url.trim_end_matches('/'),
                    package.filename
                ),
                size: package.size,
            });
        }
        let fetched = archive.fetch(package, &resolved.base_url)?;
        sink.event(Event::Fetched {
            kernel: id.clone(),
            path: fetched.path.clone(),
            source: if fetched.downloaded {
                FetchSource::Downloaded
            } else {
                FetchSource::Cached
            },
        });
        paths.push(fetched.path);
    }
    Ok(paths)
}

/// Generates `modules.dep` and `modules.alias` for a module tree.
fn module_index(
    spec: &str,
    modules_dir: Option<&Path>,
) -> Result<Vec<(&'static str, Vec<u8>)>, PrepareError> {
    let Some(dir) = modules_dir else {
        return Ok(Vec::new());
    };
    let index =
        kmatrix_kernel::modules::build_index(dir).map_err(|source| PrepareError::Kernel {
            spec: spec.to_string(),
            source: Box::new(source),
        })?;
    index_files(spec, &index, dir)
}

/// The text of `modules.dep` and `modules.alias` for `index`.
fn index_files(
    spec: &str,
    index: &ModuleIndex,
    dir: &Path,
) -> Result<Vec<(&'static str, Vec<u8>)>, PrepareError> {
    let io = |source| PrepareError::Io {
        spec: spec.to_string(),
        action: "indexing modules in",
        path: dir.to_path_buf(),
        source,
    };
    let mut dep = Vec::new();
    index.write_modules_dep(&mut dep).map_err(io)?;
    let mut alias = Vec::new();
    index.write_modules_alias(&mut alias).map_err(io)?;
    Ok(vec![("modules.dep", dep), ("modules.alias", alias)])
}

/// A bare kernel image, with an optional module tree.
fn prepare_image(
    spec: &str,
    path: &Path,
    modules: Option<&Path>,
    scratch: &Path,
    index: usize,
) -> Result<PreparedKernel, PrepareError> {
    let io = |action, p: &Path, source| PrepareError::Io {
        spec: spec.to_string(),
        action,
        path: p.to_path_buf(),
        source,
    };
    let kernel_error = |source| PrepareError::Kernel {
        spec: spec.to_string(),
        source: Box::new(source),
    };
    let bytes = std::fs::read(path).map_err(|e| io("reading", path, e))?;
    let info = kmatrix_kernel::image::detect(path, &bytes).map_err(kernel_error)?;
    let mut vmlinuz = path.to_path_buf();
    if matches!(
        info.format,
        kmatrix_kernel::image::ImageFormat::Arm64ZbootEfi { .. }
    ) {
        let raw = kmatrix_kernel::image::unwrap_zboot(path, &bytes).map_err(kernel_error)?;
        vmlinuz = scratch.join(format!("{index:02}-Image"));
        std::fs::write(&vmlinuz, raw).map_err(|e| io("writing", &vmlinuz, e))?;
    }
    let release = info
        .release()
        .map(str::to_string)
        .or_else(|| {
            modules
                .and_then(|m| m.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let module_index = module_index(spec, modules)?;
    let kernel_cpio = scratch.join(format!("{index:02}-kernel.cpio"));
    let part = KernelPart {
        release: &release,
        modules_dir: modules,
        module_index,
        config: None,
        system_map: None,
    };
    write_kernel_part(&part, &kernel_cpio).map_err(|source| PrepareError::Cpio {
        spec: spec.to_string(),
        source,
    })?;
    Ok(PreparedKernel {
        release,
        arch: info.arch,
        vmlinuz,
        kernel_cpio,
    })
}
