//! Writing extracted files, with zstd compression of modules on worker threads.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread;

use super::deb::VisitError;
use crate::KernelError;

/// zstd level for modules: fast to compress and to decompress at boot.
const ZSTD_LEVEL: i32 = 3;

/// One module to compress and write.
struct Job {
    dest: PathBuf,
    data: Vec<u8>,
}

/// Hands modules to the compression workers.
pub(crate) struct Pool<'s> {
    tx: Option<SyncSender<Job>>,
    failed: &'s AtomicBool,
}

impl Pool<'_> {
    /// Queues `data` to be zstd-compressed into `dest`. Returns false once a
    /// worker has failed; the caller should stop, and the worker's error is
    /// reported by [`with_pool`].
    pub(crate) fn submit(&self, dest: PathBuf, data: Vec<u8>) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        match &self.tx {
            Some(tx) => tx.send(Job { dest, data }).is_ok(),
            None => false,
        }
    }
}

/// Runs `body` with a pool of `workers` compression threads, then waits for
/// all queued modules to be written. Returns `body`'s value and the number of
/// compressed bytes written. A worker's error takes precedence over `body`'s
/// result, because `body` stops early when a worker fails.
pub(crate) fn with_pool<T>(
    workers: usize,
    context: &Path,
    body: impl FnOnce(&Pool<'_>) -> Result<T, KernelError>,
) -> Result<(T, u64), KernelError> {
    let (tx, rx) = mpsc::sync_channel::<Job>(workers.max(1) * 2);
    let rx = Mutex::new(rx);
    let failed = AtomicBool::new(false);
    let failure: Mutex<Option<KernelError>> = Mutex::new(None);
    let written = AtomicU64::new(0);

    thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| s.spawn(|| worker(&rx, &failed, &failure, &written)))
            .collect();
        let pool = Pool {
            tx: (workers > 0).then_some(tx),
            failed: &failed,
        };
        let result = body(&pool);
        drop(pool); // closes the channel so idle workers exit
        let panicked = handles
            .into_iter()
            .fold(false, |p, h| h.join().is_err() || p);
        let worker_error = failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match worker_error {
            Some(e) => Err(e),
            None if panicked => Err(KernelError::WorkerPanicked {
                path: context.to_path_buf(),
            }),
            None => result.map(|v| (v, written.load(Ordering::Relaxed))),
        }
    })
}

fn worker(
    rx: &Mutex<Receiver<Job>>,
    failed: &AtomicBool,
    failure: &Mutex<Option<KernelError>>,
    written: &AtomicU64,
) {
    let fail = |e: KernelError| {
        failed.store(true, Ordering::Relaxed);
        failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
    };
    let mut compressor = match zstd::bulk::Compressor::new(ZSTD_LEVEL) {
        Ok(c) => Some(c),
        Err(e) => {
            fail(KernelError::write(Path::new("zstd compressor"), e));
            None
        }
    };
    loop {
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { break };
        // After a failure keep draining so the producer never blocks.
        let Some(c) = compressor
            .as_mut()
            .filter(|_| !failed.load(Ordering::Relaxed))
        else {
            continue;
        };
        match c
            .compress(&job.data)
            .and_then(|z| fs::write(&job.dest, &z).map(|()| z.len()))
        {
            Ok(n) => {
                written.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => fail(KernelError::write(&job.dest, e)),
        }
    }
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
    fn pool_compresses_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
        let ((), written) = with_pool(2, dir.path(), |pool| {
            for i in 0..5 {
                assert!(pool.submit(dir.path().join(format!("m{i}.ko.zst")), data.clone()));
            }
            Ok(())
        })
        .unwrap();
        let mut total = 0;
        for i in 0..5 {
            let z = fs::read(dir.path().join(format!("m{i}.ko.zst"))).unwrap();
            total += z.len() as u64;
            assert_eq!(zstd::decode_all(&z[..]).unwrap(), data);
        }
        assert_eq!(written, total);
    }

    #[test]
    fn worker_error_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("missing-dir").join("x.ko.zst");
        let err = with_pool(1, dir.path(), |pool| {
            pool.submit(bad.clone(), vec![1, 2, 3]);
            Ok(())
        })
        .unwrap_err();
        assert!(
            matches!(&err, KernelError::Write { path, .. } if *path == bad),
            "{err}"
        );
    }
}
