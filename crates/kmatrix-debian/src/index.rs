//! Loading one suite's package index: signed `InRelease` → verified
//! `Packages` file → kernel entries, with the on-disk cache in between.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cache;
use crate::http::Http;
use crate::kernel::{self, DebArch};
use crate::packages::{self, PackageEntry};
use crate::release::{self, IndexFile, Release};
use crate::resolve::SuiteIndex;
use crate::{DebianError, Keyring};

/// Bumped whenever the derived kernel-subset format or filter changes, so
/// stale derived files are not reused.
const DERIVED_SUFFIX: &str = "kernels-v2";

/// First-line prefix of a derived file, followed by the SHA-256 of the rest.
const SEAL_PREFIX: &str = "kmatrix-kernels sha256=";

/// Index compressions we can read, in order of preference.
const COMPRESSIONS: &[(&str, Compression)] = &[
    (".xz", Compression::Xz),
    (".gz", Compression::Gz),
    ("", Compression::None),
];

#[derive(Debug, Clone, Copy)]
pub(crate) enum Compression {
    Xz,
    Gz,
    None,
}

/// Fetches `<base>/dists/<suite>/InRelease`, verifies its signature with
/// the keyring (obtained from `keyring` only once a file has arrived) and
/// parses the signed text; `None` if the suite is absent (404).
pub(crate) fn fetch_release<'k>(
    http: &Http,
    keyring: impl FnOnce() -> Result<&'k Keyring, DebianError>,
    base: &str,
    suite: &str,
) -> Result<Option<Release>, DebianError> {
    let url = format!("{base}/dists/{suite}/InRelease");
    let Some(text) = http.get_text(&url)? else {
        return Ok(None);
    };
    // Nothing from the file is trusted before the signature is checked, and
    // only the signed text is parsed, never what surrounds it.
    let signed = keyring()?.verify_inrelease(&text, &url)?;
    let release = release::parse_release(&signed);
    if release.sha256.is_empty() {
        return Err(DebianError::BadRelease { url });
    }
    Ok(Some(release))
}

/// The derived-file text for `body`: a first line with its SHA-256, so a
/// damaged or edited file is noticed (and rebuilt from the verified index).
fn seal(body: &str) -> String {
    format!("{SEAL_PREFIX}{}\n{body}", cache::hex(&Sha256::digest(body)))
}

/// The body of a derived file, if its checksum line matches.
fn unseal(text: &str) -> Option<&str> {
    let (first, body) = text.split_once('\n')?;
    let sum = first.strip_prefix(SEAL_PREFIX)?;
    (sum == cache::hex(&Sha256::digest(body))).then_some(body)
}

/// What remains to be done to load one suite for one architecture.
pub(crate) enum Step {
    /// The suite lists no index for the architecture.
    Absent,
    /// Loaded from the local cache.
    Ready(SuiteIndex),
    /// The index must be downloaded and/or decompressed.
    Load(Pending),
}

/// A suite index still to be loaded by [`Pending::load`].
pub(crate) struct Pending {
    suite: String,
    base: String,
    acquire_by_hash: bool,
    file: IndexFile,
    compression: Compression,
    dir: PathBuf,
}

/// Decides how to get the kernel entries of `suite` for `arch`; cheap (only
/// reads the small derived cache file), so it can run sequentially.
pub(crate) fn plan(
    release: &Release,
    base: &str,
    suite: &str,
    arch: DebArch,
    cache_dir: &Path,
) -> Step {
    let stem = format!("main/binary-{arch}/Packages");
    let Some((file, compression)) = COMPRESSIONS
        .iter()
        .find_map(|(ext, c)| release.file(&format!("{stem}{ext}")).map(|f| (f, *c)))
    else {
        return Step::Absent;
    };
    let dir = cache_dir.join("indexes");
    // Derived from a file verified under this hash; written atomically.
    let derived = dir.join(format!("{}.{DERIVED_SUFFIX}", file.sha256));
    if let Ok(text) = fs::read_to_string(&derived)
        && let Some(body) = unseal(&text)
    {
        return Step::Ready(SuiteIndex {
            suite: suite.to_string(),
            base_url: base.to_string(),
            entries: packages::parse(body),
        });
    }
    Step::Load(Pending {
        suite: suite.to_string(),
        base: base.to_string(),
        acquire_by_hash: release.acquire_by_hash,
        file: file.clone(),
        compression,
        dir,
    })
}

impl Pending {
    /// Downloads (unless cached) and verifies the index, extracts the kernel
    /// entries and caches them.
    pub(crate) fn load(&self, http: &Http) -> Result<SuiteIndex, DebianError> {
        let sha = &self.file.sha256;
        let ext = self
            .file
            .path
            .rsplit_once("Packages")
            .map_or("", |(_, e)| e);
        let name = format!("{sha}.Packages{ext}");
        let (path, downloaded) =
            cache::get_or_create(&self.dir, &name, || self.download(http, &name))?;
        if !downloaded {
            // Trust a cached index only while it still has the verified hash
            // it is named by; check before decompressing anything.
            cache::check_cached(&path, sha)?;
        }
        let entries = read_index(&path, self.compression)?;
        let derived = format!("{sha}.{DERIVED_SUFFIX}");
        cache::store_bytes(
            &self.dir,
            &derived,
            seal(&packages::format(&entries)).as_bytes(),
        )?;
        Ok(SuiteIndex {
            suite: self.suite.clone(),
            base_url: self.base.clone(),
            entries,
        })
    }

    fn download(&self, http: &Http, name: &str) -> Result<(), DebianError> {
        let Pending {
            suite, base, file, ..
        } = self;
        let plain = format!("{base}/dists/{suite}/{}", file.path);
        // by-hash URLs cannot change under us while the mirror updates.
        let by_hash = self.acquire_by_hash.then(|| {
            let folder = file.path.rsplit_once('/').map_or("", |(d, _)| d);
            format!(
                "{base}/dists/{suite}/{folder}/by-hash/SHA256/{}",
                file.sha256
            )
        });
        let (url, mut body) = match by_hash {
            Some(url) => match http.get(&url)? {
                Some(body) => (url, body),
                None => (plain.clone(), http.get_required(&plain)?),
            },
            None => (plain.clone(), http.get_required(&plain)?),
        };
        cache::store_verified(
            &self.dir,
            name,
            &mut body,
            &url,
            &file.sha256,
            Some(file.size),
        )
        .map(drop)
    }
}

/// Decompresses and parses a cached index, keeping cloud kernel entries.
fn read_index(path: &Path, compression: Compression) -> Result<Vec<PackageEntry>, DebianError> {
    let file = File::open(path).map_err(|source| DebianError::Cache {
        path: path.to_path_buf(),
        source,
    })?;
    let file = BufReader::new(file);
    let reader: Box<dyn Read> = match compression {
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        Compression::Gz => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::None => Box::new(file),
    };
    packages::parse_reader(
        BufReader::with_capacity(256 * 1024, reader),
        &kernel::may_be_kernel_part,
    )
    .map_err(|source| DebianError::Decompress {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample_text() -> String {
        packages::format(&packages::parse(
            "Package: linux-image-6.1.0-50-cloud-amd64-unsigned\nVersion: 6.1.176-1\n\
             Architecture: amd64\nFilename: pool/a.deb\nSize: 3\nSHA256: 00\n\n\
             Package: hello\nVersion: 1\nArchitecture: amd64\nFilename: pool/h.deb\n\
             Size: 3\nSHA256: 00\n",
        ))
    }

    #[test]
    fn read_index_all_compressions() {
        let dir = tempfile::tempdir().unwrap();
        let text = sample_text();
        let plain = dir.path().join("p");
        fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("p.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        let xz = dir.path().join("p.xz");
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        enc.write_all(text.as_bytes()).unwrap();
        fs::write(&xz, enc.finish().unwrap()).unwrap();
        for (path, c) in [
            (&plain, Compression::None),
            (&gz, Compression::Gz),
            (&xz, Compression::Xz),
        ] {
            let got = read_index(path, c).unwrap();
            assert_eq!(got.len(), 1, "{c:?}");
            assert_eq!(got[0].package, "linux-image-6.1.0-50-cloud-amd64-unsigned");
        }
        let err = read_index(&plain, Compression::Xz).unwrap_err();
        assert!(matches!(err, DebianError::Decompress { .. }), "{err}");
    }

    fn release_for(path: &str, sha: &str) -> Release {
        release::parse_release(&format!("SHA256:\n {sha} 10 {path}\n"))
    }

    #[test]
    fn plan_prefers_xz_and_uses_derived_cache() {
        let cache = tempfile::tempdir().unwrap();
        let sha = "ab".repeat(32);
        let rel = release::parse_release(&format!(
            "Acquire-By-Hash: yes\nSHA256:\n {sha} 10 main/binary-amd64/Packages.xz\n \
             {} 20 main/binary-amd64/Packages.gz\n",
            "cd".repeat(32)
        ));
        let Step::Load(p) = plan(&rel, "http://m/debian", "sid", DebArch::Amd64, cache.path())
        else {
            panic!("expected a load step");
        };
        assert!(matches!(p.compression, Compression::Xz));
        assert!(p.acquire_by_hash);
        assert!(matches!(
            plan(&rel, "http://m/debian", "sid", DebArch::Arm64, cache.path()),
            Step::Absent
        ));

        // Once the derived file exists, no download is needed.
        let dir = cache.path().join("indexes");
        fs::create_dir_all(&dir).unwrap();
        let derived = dir.join(format!("{sha}.{DERIVED_SUFFIX}"));
        // An unsealed (or edited) derived file is not used.
        fs::write(&derived, sample_text()).unwrap();
        assert!(matches!(
            plan(&rel, "http://m/debian", "sid", DebArch::Amd64, cache.path()),
            Step::Load(_)
        ));
        fs::write(&derived, seal(&sample_text())).unwrap();
        let Step::Ready(index) = plan(&rel, "http://m/debian", "sid", DebArch::Amd64, cache.path())
        else {
            panic!("expected the cached index");
        };
        assert_eq!(index.suite, "sid");
        assert_eq!(index.base_url, "http://m/debian");
        assert_eq!(index.entries.len(), 2);
    }

    #[test]
    fn plan_falls_back_to_gz() {
        let cache = tempfile::tempdir().unwrap();
        let rel = release_for("main/binary-arm64/Packages.gz", &"ef".repeat(32));
        let Step::Load(p) = plan(&rel, "http://m", "x", DebArch::Arm64, cache.path()) else {
            panic!("expected a load step");
        };
        assert!(matches!(p.compression, Compression::Gz));
    }
}
