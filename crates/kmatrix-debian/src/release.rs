//! Parsing of a suite's `InRelease` (clearsigned `Release`) file.
//!
//! These functions do not verify signatures. The archive client verifies
//! each fetched `InRelease` with [`Keyring::verify_inrelease`], which
//! returns the signed text, and parses only that with [`parse_release`].
//! [`parse_inrelease`] merely strips the armour, for trusted local files.
//!
//! [`Keyring::verify_inrelease`]: crate::Keyring::verify_inrelease

/// One file listed in the `SHA256:` section of a `Release` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// Path relative to `dists/<suite>/`, e.g. `main/binary-amd64/Packages.xz`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// The parts of a `Release` file this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `Acquire-By-Hash: yes`: index files can be fetched from `by-hash/SHA256/<hash>`.
    pub acquire_by_hash: bool,
    /// Entries of the `SHA256:` section.
    pub sha256: Vec<IndexFile>,
}

impl Release {
    /// The listed index file at `path`, if any.
    pub fn file(&self, path: &str) -> Option<&IndexFile> {
        self.sha256.iter().find(|f| f.path == path)
    }
}

/// Extracts the signed text from a clearsigned message (undoing dash
/// escaping). Text that is not clearsigned is returned as is, so a plain
/// `Release` file parses too. Returns `None` for a truncated armour.
pub fn strip_clearsign(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if !text
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
    {
        return Some(text.to_string());
    }
    // Skip up to and including the armour header block (ends at a blank line).
    lines
        .by_ref()
        .find(|l| l.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"))?;
    lines.by_ref().find(|l| l.trim().is_empty())?;
    let mut body = String::new();
    for line in lines {
        if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
            return Some(body);
        }
        body.push_str(line.strip_prefix("- ").unwrap_or(line));
        body.push('\n');
    }
    None
}

/// Parses the text of a `Release` file (already stripped of any signature).
pub fn parse_release(text: &str) -> Release {
    let mut release = Release::default();
    let mut in_sha256 = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if in_sha256 && let Some(file) = parse_index_line(line) {
                release.sha256.push(file);
            }
            continue;
        }
        in_sha256 = false;
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name {
            "SHA256" => in_sha256 = true,
            "Acquire-By-Hash" => release.acquire_by_hash = value.trim() == "yes",
            _ => {}
        }
    }
    release
}

/// Parses the signed text of an `InRelease` file *without checking the
/// signature*; `None` if the armour is broken or no SHA256 section is present.
pub fn parse_inrelease(text: &str) -> Option<Release> {
    let release = parse_release(&strip_clearsign(text)?);
    (!release.sha256.is_empty()).then_some(release)
}

fn parse_index_line(line: &str) -> Option<IndexFile> {
    let mut parts = line.split_whitespace();
    let sha256 = parts.next()?.to_ascii_lowercase();
    let size = parts.next()?.parse().ok()?;
    let path = parts.next()?.to_string();
    is_sha256_hex(&sha256).then_some(IndexFile { path, size, sha256 })
}

/// True for a 64-character hex string (a SHA-256 digest).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "9fce808c4021bd062afe41d5164f1156e82f1879f7c55964613e4f39b15038d2";
    const H2: &str = "3ee7e248a1323f66e6bbac87d686442bdc650d66f6a4ffc087a485d49d4c1493";

    fn inrelease() -> String {
        format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\n\
             Codename: forky\nAcquire-By-Hash: yes\nMD5Sum:\n \
             6d41c06349a3da92b8a135bfde1838f9  1834765 contrib/Contents-all\nSHA256:\n \
             {H1} 59660780 main/binary-amd64/Packages\n \
             {H2} 10093888 main/binary-amd64/Packages.xz\n\
             - -dash escaped: line\n\
             -----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAd\n=PJnt\n-----END PGP SIGNATURE-----\n"
        )
    }

    #[test]
    fn parses_clearsigned_release() {
        let r = parse_inrelease(&inrelease()).unwrap();
        assert!(r.acquire_by_hash);
        assert_eq!(r.sha256.len(), 2);
        let xz = r.file("main/binary-amd64/Packages.xz").unwrap();
        assert_eq!(xz.size, 10_093_888);
        assert_eq!(xz.sha256, H2);
        assert!(r.file("main/binary-arm64/Packages.xz").is_none());
        assert!(r.file("contrib/Contents-all").is_none());
    }

    #[test]
    fn undoes_dash_escaping_and_rejects_truncation() {
        let body = strip_clearsign(&inrelease()).unwrap();
        assert!(body.contains("\n-dash escaped: line\n"));
        assert!(!body.contains("SIGNATURE"));
        let truncated = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSHA256:\n";
        assert!(strip_clearsign(truncated).is_none());
    }

    #[test]
    fn plain_release_and_garbage() {
        let plain = format!("Suite: x\nSHA256:\n {H1} 12 main/binary-arm64/Packages.gz\n");
        let r = parse_inrelease(&plain).unwrap();
        assert!(!r.acquire_by_hash);
        assert_eq!(r.file("main/binary-arm64/Packages.gz").unwrap().size, 12);
        assert!(parse_inrelease("<html>not found</html>").is_none());
    }
}
