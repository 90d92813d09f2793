//! Extracting the kernel image, config and modules from Debian kernel packages.
//!
//! The package is streamed once (ar → `data.tar.{xz,zst,gz}` → tar); files
//! that are not needed are skipped without being written. Handled layouts:
//! `boot/vmlinuz-<r>` with `lib/modules/<r>/` (bookworm) or
//! `usr/lib/modules/<r>/` (trixie), and the split 7.x packages with
//! everything under `usr/lib/modules/<r>/` (`vmlinuz`, `config`, modules).

mod deb;
mod route;
mod store;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::decompress::cpu_threads;
use crate::image::{self, ImageInfo};
use crate::modules::{ModuleIndex, in_search_dirs, is_module_file};
use crate::{Arch, KernelError};
use deb::{DataEntry, EntryKind, Flow, VisitError, walk_deb, walk_reader};
use route::{Route, is_system_map, route};
use store::{Dirs, Job, Pool, copy_to_file, read_all, with_pool};

/// How to extract a kernel package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Store uncompressed `.ko` modules as `.ko.zst` (zstd level 3) to keep
    /// the initramfs small. Modules the package already compresses
    /// (`.ko.xz`, `.ko.zst`, `.ko.gz`) are kept as they are.
    pub compress_modules: bool,
}

/// Counts from an extraction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Module files (`*.ko*`) written.
    pub modules: usize,
    /// Their total size as stored in the package (after tar, before our compression).
    pub module_bytes_in: u64,
    /// Their total size as written.
    pub module_bytes_out: u64,
}

/// The files of an extracted kernel.
#[derive(Debug, Clone)]
pub struct ExtractedKernel {
    /// The kernel release, e.g. `6.1.0-50-cloud-amd64`.
    pub release: String,
    /// `dest/vmlinuz`, the image exactly as packaged.
    pub vmlinuz: PathBuf,
    /// `dest/config`, if the packages hold the kernel config.
    pub config: Option<PathBuf>,
    /// `dest/modules/<release>`, if the packages hold modules.
    pub modules_dir: Option<PathBuf>,
    /// The architecture from the image header.
    pub arch: Arch,
    /// Everything the image header says.
    pub image: ImageInfo,
    /// Module counts and sizes.
    pub stats: ExtractStats,
    /// The index of the modules as written (paths relative to
    /// `modules_dir`), read while extracting since every module passes
    /// through memory anyway: the same as
    /// [`build_index`](crate::modules::build_index)`(modules_dir)`, without
    /// a second pass. Empty without modules.
    pub index: ModuleIndex,
}

/// Extracts a kernel package (`linux-image-*`) into `dest`, which is created
/// if missing and should be empty. After an error `dest` may hold part of
/// the files: extract into a staging directory and rename it on success.
///
/// Writes `dest/vmlinuz`, `dest/config` and `dest/modules/<release>/…`
/// (every file under `lib/modules/<release>/` or `usr/lib/modules/<release>/`
/// except device trees). Fails if the package holds no `vmlinuz`.
pub fn extract_image_deb(
    deb: &Path,
    dest: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractedKernel, KernelError> {
    extract_debs(&[deb], dest, opts)
}

/// Like [`extract_image_deb`], over several packages of one kernel, for the
/// split layout of Debian 7.x kernels (`linux-binary-*` with the image,
/// `linux-modules-*`, `linux-base-*` with the config). Fails if the packages
/// hold files of different releases or more than one image.
pub fn extract_debs<P: AsRef<Path>>(
    debs: &[P],
    dest: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractedKernel, KernelError> {
    fs::create_dir_all(dest).map_err(|e| KernelError::write(dest, e))?;
    let mut x = Extraction {
        dest,
        compress: opts.compress_modules,
        release: None,
        image: None,
        config: false,
        modules: false,
        dirs: Dirs::default(),
        stats: ExtractStats::default(),
    };
    // Modules are indexed, compressed and written on the workers while this
    // thread decompresses the package.
    let workers = cpu_threads().min(4);
    let ((), pooled) = with_pool(workers, dest, |pool| {
        for deb in debs {
            let deb = deb.as_ref();
            let flow = walk_deb(deb, true, &mut |entry, reader| {
                x.visit(deb, entry, reader, pool)
            })?;
            if flow == Flow::Stop {
                break; // a worker failed; with_pool reports it
            }
        }
        Ok(())
    })?;
    x.stats.module_bytes_out += pooled.written;

    let (Some(release), Some(image)) = (x.release, x.image) else {
        return Err(KernelError::NoVmlinuz {
            debs: debs.iter().map(|d| d.as_ref().to_path_buf()).collect(),
        });
    };
    Ok(ExtractedKernel {
        vmlinuz: dest.join("vmlinuz"),
        config: x.config.then(|| dest.join("config")),
        modules_dir: x.modules.then(|| dest.join("modules").join(&release)),
        release,
        arch: image.arch,
        image,
        stats: x.stats,
        index: ModuleIndex::new(pooled.modules),
    })
}

/// The state of one extraction across its packages.
struct Extraction<'a> {
    dest: &'a Path,
    compress: bool,
    release: Option<String>,
    image: Option<ImageInfo>,
    config: bool,
    modules: bool,
    dirs: Dirs,
    stats: ExtractStats,
}

impl Extraction<'_> {
    fn visit(
        &mut self,
        deb: &Path,
        entry: &DataEntry<'_>,
        reader: &mut dyn Read,
        pool: &Pool<'_>,
    ) -> Result<Flow, VisitError> {
        if entry.kind != EntryKind::File {
            return Ok(Flow::Continue);
        }
        match route(entry.path) {
            Route::Skip => {}
            Route::Vmlinuz { release } => {
                self.check_release(deb, entry, release)?;
                if self.image.is_some() {
                    return Err(KernelError::DuplicateVmlinuz {
                        deb: deb.to_path_buf(),
                        member: entry.member.to_string(),
                        entry: entry.path.to_string(),
                    }
                    .into());
                }
                let bytes = read_all(reader, entry.size)?;
                let origin = PathBuf::from(format!(
                    "{} ({} {})",
                    deb.display(),
                    entry.member,
                    entry.path
                ));
                let info = image::detect(&origin, &bytes)?;
                let dest = self.dest.join("vmlinuz");
                fs::write(&dest, &bytes).map_err(|e| KernelError::write(&dest, e))?;
                self.image = Some(info);
            }
            Route::Config { release } => {
                self.check_release(deb, entry, release)?;
                copy_to_file(reader, &self.dest.join("config"))?;
                self.config = true;
            }
            Route::Module { release, rel } => {
                self.check_release(deb, entry, release)?;
                let mut dest = self.dest.join("modules").join(release).join(rel);
                self.dirs.parent_of(&dest)?;
                self.modules = true;
                if !is_module_file(Path::new(rel)) {
                    copy_to_file(reader, &dest)?;
                    return Ok(Flow::Continue);
                }
                self.stats.modules += 1;
                self.stats.module_bytes_in += entry.size;
                let data = read_all(reader, entry.size)?;
                let compress = self.compress && rel.ends_with(".ko");
                let mut written = rel.to_string();
                if compress {
                    dest.as_mut_os_string().push(".zst");
                    written.push_str(".zst");
                }
                let index_as = in_search_dirs(rel).then_some(written);
                if !pool.submit(Job {
                    dest,
                    data,
                    compress,
                    index_as,
                }) {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// All files must belong to the release seen first.
    fn check_release(
        &mut self,
        deb: &Path,
        entry: &DataEntry<'_>,
        release: &str,
    ) -> Result<(), KernelError> {
        match &self.release {
            None => self.release = Some(release.to_string()),
            Some(expected) if expected != release => {
                return Err(KernelError::ReleaseMismatch {
                    deb: deb.to_path_buf(),
                    member: entry.member.to_string(),
                    entry: entry.path.to_string(),
                    expected: expected.clone(),
                    found: release.to_string(),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Copies the first real `System.map` of a debug package (`linux-image-*-dbg`)
/// to `dest_file`, and stops reading the package right there. Returns false
/// if the package has none. Placeholders (the few-byte `System.map` of the
/// image packages) are passed over.
pub fn extract_system_map(dbg_deb: &Path, dest_file: &Path) -> Result<bool, KernelError> {
    let file = fs::File::open(dbg_deb).map_err(|e| KernelError::read(dbg_deb, e))?;
    system_map_from_reader(dbg_deb, file, dest_file)
}

/// [`extract_system_map`] over any reader; `deb` names it in errors.
fn system_map_from_reader(
    deb: &Path,
    input: impl Read,
    dest_file: &Path,
) -> Result<bool, KernelError> {
    // Written beside the destination and renamed, so a failure leaves no partial map.
    let mut partial = dest_file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut dirs = Dirs::default();
    let flow = walk_reader(deb, input, false, &mut |entry, reader| {
        if entry.kind != EntryKind::File || !is_system_map(entry.path) {
            return Ok(Flow::Continue);
        }
        dirs.parent_of(dest_file)?;
        if entry.size < PLACEHOLDER_MAX {
            let data = read_all(reader, entry.size)?;
            if is_placeholder(&data) {
                return Ok(Flow::Continue);
            }
            fs::write(&partial, &data).map_err(|e| KernelError::write(&partial, e))?;
        } else {
            copy_to_file(reader, &partial)?;
        }
        fs::rename(&partial, dest_file).map_err(|e| KernelError::write(dest_file, e))?;
        Ok(Flow::Stop)
    });
    if flow.is_err() {
        // Best effort: the error being returned matters more than this one.
        let _ = fs::remove_file(&partial);
    }
    Ok(flow? == Flow::Stop)
}

/// Image packages ship a ~100-byte `System.map` that only points to the -dbg package.
const PLACEHOLDER_MAX: u64 = 4096;

fn is_placeholder(data: &[u8]) -> bool {
    const NOTE: &[u8] = b"The real System.map is in";
    data.windows(NOTE.len()).any(|w| w == NOTE)
}
