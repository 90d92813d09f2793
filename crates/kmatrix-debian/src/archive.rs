//! Network access to the Debian archive: suite indexes and package downloads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;

use crate::cache;
use crate::http::Http;
use crate::index::{self, Pending, Step};
use crate::kernel::{DebArch, KernelQuery};
use crate::keyring::DEFAULT_KEYRING;
use crate::packages::PackageEntry;
use crate::release::{self, Release};
use crate::resolve::{self, ResolvedKernel, SuiteIndex};
use crate::{DebianError, Keyring, Mirror};

/// Suites searched by default, oldest first.
pub const DEFAULT_SUITES: &[&str] = &[
    "bullseye",
    "bullseye-security",
    "bookworm",
    "bookworm-security",
    "bookworm-backports",
    "trixie",
    "trixie-security",
    "forky",
    "sid",
];

/// At most this many suite indexes are downloaded/decompressed at once.
const INDEX_WORKERS: usize = 4;

/// A package file in the local cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Path of the verified `.deb` (`<cache>/debs/<sha256>.deb`).
    pub path: PathBuf,
    /// True if it was downloaded now, false if it was already cached.
    pub downloaded: bool,
}

/// Looks up and downloads Debian cloud kernels, caching under a directory:
/// `indexes/<sha256>.Packages.xz` (verified index files, named by the hash
/// listed in `InRelease`), `indexes/<sha256>.kernels-v2` (the kernel entries
/// extracted from that verified index, to avoid decompressing ~60 MB per
/// run) and `debs/<sha256>.deb`.
///
/// Each `InRelease` must carry a valid signature by a key of the keyring
/// ([`DEFAULT_KEYRING`] unless [`Archive::with_keyring`] names another);
/// the keyring file is read when the first `InRelease` arrives.
///
/// Each suite's `InRelease` is fetched once per `Archive` (the first time a
/// resolve needs that suite and architecture), so a new run notices archive
/// updates while repeated resolves in one run stay cheap.
#[derive(Debug)]
pub struct Archive {
    mirror: Mirror,
    http: Http,
    cache_dir: PathBuf,
    suites: Vec<String>,
    keyring_path: PathBuf,
    /// Loaded on first use, so a client that finds everything cached or
    /// fails to connect never needs the file.
    keyring: OnceLock<Keyring>,
    /// Loaded suites per architecture; `None` = suite absent for that arch.
    loaded: Mutex<HashMap<(String, DebArch), Option<SuiteIndex>>>,
    /// Parsed `InRelease` per suite (shared by architectures); `None` = absent.
    releases: Mutex<HashMap<String, Option<Release>>>,
    /// Held while loading, so concurrent resolves wait for one another
    /// instead of downloading the same indexes twice.
    loading: Mutex<()>,
}

impl Archive {
    /// An archive client for `mirror`, caching under `cache_dir`, searching
    /// [`DEFAULT_SUITES`].
    pub fn new(mirror: Mirror, cache_dir: PathBuf) -> Self {
        Archive {
            mirror,
            http: Http::new(),
            cache_dir,
            suites: DEFAULT_SUITES.iter().map(|s| s.to_string()).collect(),
            keyring_path: PathBuf::from(DEFAULT_KEYRING),
            keyring: OnceLock::new(),
            loaded: Mutex::new(HashMap::new()),
            releases: Mutex::new(HashMap::new()),
            loading: Mutex::new(()),
        }
    }

    /// Replaces the list of suites to search (in preference order for ties).
    pub fn with_suites(mut self, suites: Vec<String>) -> Self {
        self.suites = suites;
        self
    }

    /// Verifies `InRelease` signatures with the OpenPGP keyring file at
    /// `path` (binary or ASCII-armoured) instead of [`DEFAULT_KEYRING`].
    pub fn with_keyring(mut self, path: impl Into<PathBuf>) -> Self {
        self.keyring_path = path.into();
        self.keyring = OnceLock::new();
        self
    }

    /// The keyring file `InRelease` signatures are verified with.
    pub fn keyring_path(&self) -> &Path {
        &self.keyring_path
    }

    /// The keyring, loaded on first call; a failed load is retried next time.
    fn keyring(&self) -> Result<&Keyring, DebianError> {
        if let Some(keyring) = self.keyring.get() {
            return Ok(keyring);
        }
        let keyring = Keyring::load(&self.keyring_path)?;
        Ok(self.keyring.get_or_init(|| keyring))
    }

    /// The mirror in use.
    pub fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    /// The suites searched.
    pub fn suites(&self) -> &[String] {
        &self.suites
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Finds the kernel answering `query` for `arch`: the newest Debian
    /// version across all searched suites (see [`resolve::select`]).
    pub fn resolve(
        &self,
        query: &KernelQuery,
        arch: DebArch,
    ) -> Result<ResolvedKernel, DebianError> {
        resolve::select(query, arch, &self.kernel_indexes(arch)?)
    }

    /// Like [`Archive::resolve`], passing over the packages whose SHA-256 is in `excluded`:
    /// mirrors sometimes list a package in an index but do not serve it (HTTP 404), and the
    /// next newest kernel of the line is then the right answer.
    pub fn resolve_excluding(
        &self,
        query: &KernelQuery,
        arch: DebArch,
        excluded: &[String],
    ) -> Result<ResolvedKernel, DebianError> {
        let mut indexes = self.kernel_indexes(arch)?;
        for index in &mut indexes {
            index
                .entries
                .retain(|entry| !excluded.contains(&entry.sha256));
        }
        resolve::select(query, arch, &indexes)
    }

    /// The kernel entries of every searched suite that exists for `arch`, in
    /// search order. A suite whose `InRelease` is 404 (or that lists no
    /// index for `arch`) is skipped.
    ///
    /// `InRelease` files are fetched one after another over one kept-alive
    /// connection (cheap); only index downloads and decompression, needed on
    /// a cold cache, run on a few (4) threads.
    pub fn kernel_indexes(&self, arch: DebArch) -> Result<Vec<SuiteIndex>, DebianError> {
        let _loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let mut pending = Vec::new();
        for suite in &self.suites {
            if self.loaded_get(suite, arch).is_some() {
                continue;
            }
            let base = self.mirror.uri_for_suite(suite);
            let step = match self.release(base, suite)? {
                None => Step::Absent,
                Some(release) => index::plan(&release, base, suite, arch, &self.cache_dir),
            };
            match step {
                Step::Absent => self.loaded_put(suite, arch, None),
                Step::Ready(index) => self.loaded_put(suite, arch, Some(index)),
                Step::Load(p) => pending.push(p),
            }
        }
        self.load_parallel(pending, arch)?;
        Ok(self
            .suites
            .iter()
            .filter_map(|s| self.loaded_get(s, arch).flatten())
            .collect())
    }

    /// Runs the pending index loads on worker threads and records the results;
    /// returns the error of the earliest failing suite.
    fn load_parallel(&self, pending: Vec<Pending>, arch: DebArch) -> Result<(), DebianError> {
        let workers = INDEX_WORKERS.min(pending.len());
        let queue = Mutex::new(pending.iter().enumerate());
        let results = Mutex::new(Vec::new());
        thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                        let Some((i, job)) = next else { break };
                        let result = job.load(&self.http);
                        results
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((i, result));
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
        results.sort_by_key(|(i, _)| *i);
        let mut first_error = None;
        for (_, result) in results {
            match result {
                Ok(index) => self.loaded_put(&index.suite.clone(), arch, Some(index)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn loaded_get(&self, suite: &str, arch: DebArch) -> Option<Option<SuiteIndex>> {
        let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.get(&(suite.to_string(), arch)).cloned()
    }

    fn loaded_put(&self, suite: &str, arch: DebArch, index: Option<SuiteIndex>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.insert((suite.to_string(), arch), index);
    }

    /// The parsed, signature-verified `InRelease` of `suite`, fetched once
    /// per `Archive`; `None` if the suite is absent.
    fn release(&self, base: &str, suite: &str) -> Result<Option<Release>, DebianError> {
        let mut releases = self.releases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = releases.get(suite) {
            return Ok(known.clone());
        }
        let release = index::fetch_release(&self.http, || self.keyring(), base, suite)?;
        releases.insert(suite.to_string(), release.clone());
        Ok(release)
    }

    /// Downloads `pkg` (relative to `base_url`) into the cache unless already
    /// there, verifying its size and SHA-256 against the index entry.
    pub fn fetch(&self, pkg: &PackageEntry, base_url: &str) -> Result<Fetched, DebianError> {
        if !release::is_sha256_hex(&pkg.sha256) {
            return Err(DebianError::InvalidEntry {
                package: pkg.package.clone(),
                reason: format!("SHA256 {:?} is not 64 hex digits", pkg.sha256),
            });
        }
        let sha = pkg.sha256.to_ascii_lowercase();
        let url = format!(
            "{}/{}",
            base_url.trim_end_matches('/'),
            pkg.filename.trim_start_matches('/')
        );
        let dir = self.cache_dir.join("debs");
        let name = format!("{sha}.deb");
        let (path, downloaded) = cache::get_or_create(&dir, &name, || {
            let mut body = self.http.get_required(&url)?;
            cache::store_verified(&dir, &name, &mut body, &url, &sha, Some(pkg.size)).map(drop)
        })?;
        Ok(Fetched { path, downloaded })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages;
    use std::fs;

    fn sample() -> Vec<PackageEntry> {
        packages::parse(
            "Package: linux-image-6.1.0-50-cloud-amd64-unsigned\nVersion: 6.1.176-1\n\
             Architecture: amd64\nFilename: pool/a.deb\nSize: 3\nSHA256: 00\n\n\
             Package: hello\nVersion: 1\nArchitecture: amd64\nFilename: pool/h.deb\n\
             Size: 3\nSHA256: 00\n",
        )
    }

    #[test]
    fn fetch_rejects_bad_hash_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(
            Mirror::from_url("http://127.0.0.1:9/debian"),
            dir.path().to_path_buf(),
        );
        let mut pkg = sample().remove(0);
        pkg.sha256 = "../../etc/passwd".into();
        let err = archive
            .fetch(&pkg, "http://127.0.0.1:9/debian")
            .unwrap_err();
        assert!(matches!(err, DebianError::InvalidEntry { .. }), "{err}");
    }

    #[test]
    fn fetch_uses_cache_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(
            Mirror::from_url("http://127.0.0.1:9/debian"),
            dir.path().to_path_buf(),
        );
        let mut pkg = sample().remove(0);
        pkg.sha256 = "ab".repeat(32);
        fs::create_dir_all(dir.path().join("debs")).unwrap();
        let cached = dir.path().join(format!("debs/{}.deb", pkg.sha256));
        fs::write(&cached, b"deb").unwrap();
        let got = archive.fetch(&pkg, "http://127.0.0.1:9/debian").unwrap();
        assert_eq!(
            got,
            Fetched {
                path: cached,
                downloaded: false
            }
        );
    }

    #[test]
    fn connection_error_names_url() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(
            Mirror::from_url("http://127.0.0.1:9/debian"),
            dir.path().to_path_buf(),
        )
        .with_suites(vec!["bookworm".into()]);
        let err = archive
            .resolve(&"6.1".parse().unwrap(), DebArch::Amd64)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("http://127.0.0.1:9/debian/dists/bookworm/InRelease"),
            "{err}"
        );
    }
}
