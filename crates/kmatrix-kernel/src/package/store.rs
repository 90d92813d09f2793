//! Writing extracted files, with zstd compression of modules on worker threads.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread;

use super::deb::VisitError;
use crate::KernelError;
use crate::modules::{Module, elf_bytes, read_modinfo};

/// zstd level for modules: fast to compress and to decompress at boot.
const ZSTD_LEVEL: i32 = 3;

/// One module file to write.
pub(crate) struct Job {
    /// Where to write it (with `.zst` appended already if `compress`).
    pub(crate) dest: PathBuf,
    /// The file as packaged.
    pub(crate) data: Vec<u8>,
    /// zstd-compress `data` before writing.
    pub(crate) compress: bool,
    /// Read its `.modinfo` and index it under this path (relative to the
    /// modules directory, as written).
    pub(crate) index_as: Option<String>,
}

/// What the workers produced.
#[derive(Debug, Default)]
pub(crate) struct PoolOutput {
    /// Bytes written by the workers.
    pub(crate) written: u64,
    /// Modules indexed, in no particular order.
    pub(crate) modules: Vec<Module>,
}

/// Hands module files to the worker threads.
pub(crate) struct Pool<'s> {
    tx: Option<SyncSender<Job>>,
    failed: &'s AtomicBool,
}

impl Pool<'_> {
    /// Queues a job. Returns false once a worker has failed (or without
    /// workers); the caller should stop, and the worker's error is reported
    /// by [`with_pool`].
    pub(crate) fn submit(&self, job: Job) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }
}

/// State shared by the workers.
struct Shared {
    rx: Mutex<Receiver<Job>>,
    failed: AtomicBool,
    failure: Mutex<Option<KernelError>>,
    written: AtomicU64,
    modules: Mutex<Vec<Module>>,
}

/// Runs `body` with a pool of `workers` threads that compress, index and
/// write module files, then waits for all queued jobs. A worker's error takes
/// precedence over `body`'s result, because `body` stops early when a worker
/// fails.
pub(crate) fn with_pool<T>(
    workers: usize,
    context: &Path,
    body: impl FnOnce(&Pool<'_>) -> Result<T, KernelError>,
) -> Result<(T, PoolOutput), KernelError> {
    let (tx, rx) = mpsc::sync_channel::<Job>(workers.max(1) * 2);
    let shared = Shared {
        rx: Mutex::new(rx),
        failed: AtomicBool::new(false),
        failure: Mutex::new(None),
        written: AtomicU64::new(0),
        modules: Mutex::new(Vec::new()),
    };

    let (result, panicked) = thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| worker(&shared))).collect();
        let pool = Pool {
            tx: (workers > 0).then_some(tx),
            failed: &shared.failed,
        };
        let result = body(&pool);
        drop(pool); // closes the channel so idle workers exit
        // Join every worker (no short-circuit): each must finish before we return.
        let mut panicked = false;
        for h in handles {
            panicked |= h.join().is_err();
        }
        (result, panicked)
    });
    if let Some(e) = shared
        .failure
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(e);
    }
    if panicked {
        return Err(KernelError::WorkerPanicked {
            path: context.to_path_buf(),
        });
    }
    let output = PoolOutput {
        written: shared.written.into_inner(),
        modules: shared
            .modules
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
    };
    result.map(|v| (v, output))
}

fn worker(shared: &Shared) {
    let mut compressor = None;
    loop {
        let job = shared
            .rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else { break };
        // After a failure keep draining so the producer never blocks.
        if shared.failed.load(Ordering::Relaxed) {
            continue;
        }
        let dest = job.dest.clone();
        // A panicking worker would leave the producer blocked on a full
        // channel; turn it into an error and keep draining instead.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_job(job, &mut compressor)))
            .unwrap_or(Err(KernelError::WorkerPanicked { path: dest }));
        match outcome {
            Ok((n, module)) => {
                shared.written.fetch_add(n, Ordering::Relaxed);
                if let Some(m) = module {
                    shared
                        .modules
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(m);
                }
            }
            Err(e) => {
                shared.failed.store(true, Ordering::Relaxed);
                shared
                    .failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(e);
            }
        }
    }
}

/// Indexes, compresses and writes one file; returns the bytes written.
fn run_job(
    job: Job,
    compressor: &mut Option<zstd::bulk::Compressor<'static>>,
) -> Result<(u64, Option<Module>), KernelError> {
    let module = match job.index_as {
        Some(rel) => {
            // The packaged name (before `.zst`) tells how `data` is compressed.
            let packaged = if job.compress {
                job.dest.with_extension("")
            } else {
                job.dest.clone()
            };
            let elf = elf_bytes(&packaged, &job.data)?;
            Some(Module {
                path: rel,
                info: read_modinfo(&job.dest, &elf)?,
            })
        }
        None => None,
    };
    let out = if job.compress {
        let c = match compressor {
            Some(c) => c,
            None => compressor.insert(
                zstd::bulk::Compressor::new(ZSTD_LEVEL)
                    .map_err(|e| KernelError::write(&job.dest, e))?,
            ),
        };
        c.compress(&job.data)
            .map_err(|e| KernelError::write(&job.dest, e))?
    } else {
        job.data
    };
    fs::write(&job.dest, &out).map_err(|e| KernelError::write(&job.dest, e))?;
    Ok((out.len() as u64, module))
}

/// Creates directories once each, remembering which exist.
#[derive(Default)]
pub(crate) struct Dirs(std::collections::HashSet<PathBuf>);

impl Dirs {
    /// Makes sure the parent directory of `file` exists.
    pub(crate) fn parent_of(&mut self, file: &Path) -> Result<(), KernelError> {
        let Some(parent) = file.parent() else {
            return Ok(());
        };
        if !self.0.contains(parent) {
            fs::create_dir_all(parent).map_err(|e| KernelError::write(parent, e))?;
            self.0.insert(parent.to_path_buf());
        }
        Ok(())
    }
}

/// Reads an entry of `size` bytes completely.
pub(crate) fn read_all(reader: &mut dyn Read, size: u64) -> Result<Vec<u8>, VisitError> {
    // The header's size is only a hint: cap the preallocation.
    let mut buf = Vec::with_capacity(size.min(256 << 20) as usize);
    reader.read_to_end(&mut buf).map_err(VisitError::Read)?;
    Ok(buf)
}

/// Streams an entry into a new file at `dest`, returning the bytes copied.
/// Read and write errors are kept apart so each is reported against the
/// right file.
pub(crate) fn copy_to_file(reader: &mut dyn Read, dest: &Path) -> Result<u64, VisitError> {
    let mut file = File::create(dest).map_err(|e| KernelError::write(dest, e))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(VisitError::Read(e)),
        };
        file.write_all(&buf[..n])
            .map_err(|e| KernelError::write(dest, e))?;
        total += n as u64;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_compresses_indexes_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let elf = crate::testutil::module_elf(&["name=m", "alias=x"]);
        let ((), out) = with_pool(2, dir.path(), |pool| {
            for i in 0..5 {
                let dest = dir.path().join(format!("m{i}.ko.zst"));
                let index_as = Some(format!("kernel/m{i}.ko.zst"));
                assert!(pool.submit(Job {
                    dest,
                    data: elf.clone(),
                    compress: true,
                    index_as
                }));
            }
            let dest = dir.path().join("plain.ko");
            assert!(pool.submit(Job {
                dest,
                data: elf.clone(),
                compress: false,
                index_as: None
            }));
            Ok(())
        })
        .unwrap();
        let mut total = elf.len() as u64;
        for i in 0..5 {
            let z = fs::read(dir.path().join(format!("m{i}.ko.zst"))).unwrap();
            total += z.len() as u64;
            assert_eq!(zstd::decode_all(&z[..]).unwrap(), elf);
        }
        assert_eq!(fs::read(dir.path().join("plain.ko")).unwrap(), elf);
        assert_eq!(out.written, total);
        let mut paths: Vec<_> = out.modules.iter().map(|m| m.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "kernel/m0.ko.zst",
                "kernel/m1.ko.zst",
                "kernel/m2.ko.zst",
                "kernel/m3.ko.zst",
                "kernel/m4.ko.zst"
            ]
        );
        assert_eq!(out.modules[0].info.aliases, ["x"]);
    }

    #[test]
    fn worker_error_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("missing-dir").join("x.ko.zst");
        let err = with_pool(1, dir.path(), |pool| {
            pool.submit(Job {
                dest: bad.clone(),
                data: vec![1, 2, 3],
                compress: true,
                index_as: None,
            });
            Ok(())
        })
        .unwrap_err();
        assert!(
            matches!(&err, KernelError::Write { path, .. } if *path == bad),
            "{err}"
        );

        let junk = dir.path().join("junk.ko.zst");
        let err = with_pool(1, dir.path(), |pool| {
            let index_as = Some("kernel/junk.ko.zst".to_string());
            pool.submit(Job {
                dest: junk.clone(),
                data: b"junk".to_vec(),
                compress: true,
                index_as,
            });
            Ok(())
        })
        .unwrap_err();
        assert!(
            matches!(&err, KernelError::ModuleElf { path, .. } if *path == junk),
            "{err}"
        );
    }
}
