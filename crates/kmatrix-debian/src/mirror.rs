//! Choosing the Debian archive URIs (main and security) to download from.

use std::path::Path;

use crate::DebianError;
use crate::sources::{self, AptSource};

/// Debian release codenames and aliases recognised as the Debian archive.
const DEBIAN_CODENAMES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "experimental",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

/// Suffixes of non-security Debian suites that live in the main archive.
const MAIN_SUFFIXES: &[&str] = &[
    "",
    "-updates",
    "-backports",
    "-backports-sloppy",
    "-proposed-updates",
];

/// The Debian archive locations used to look up and download kernels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Base URI of the main archive, without trailing slash
    /// (e.g. `http://mirror.example.org/debian`).
    pub main: String,
    /// Base URI of the security archive, if known. When `None`, `-security`
    /// suites are looked up under [`Mirror::main`].
    pub security: Option<String>,
}

impl Mirror {
    /// Finds the Debian archive in the APT sources under `root` (`/` for the
    /// running system).
    ///
    /// The main archive is the first enabled `deb` entry with a `main`
    /// component whose suites include a Debian codename (optionally with
    /// `-updates`/`-backports`); the security archive is the entry with a
    /// `<codename>-security` suite. Third-party repositories are skipped.
    /// Entries whose URI ends in `/debian` (or `/debian-security`) win over
    /// other matches. Without a security entry, the security URI is derived
    /// from the main one as in [`Mirror::from_url`].
    pub fn from_system(root: &Path) -> Result<Mirror, DebianError> {
        let files = sources::source_files(root)?;
        let mut entries = Vec::new();
        for file in &files {
            entries.extend(sources::read_file(file)?);
        }
        match Self::from_sources(&entries) {
            Some(mirror) => Ok(mirror),
            None => Err(DebianError::NoDebianSource { files }),
        }
    }

    /// Picks the mirror from already parsed source entries; `None` when no
    /// entry points at the Debian main archive.
    pub fn from_sources(entries: &[AptSource]) -> Option<Mirror> {
        let active: Vec<&AptSource> = entries
            .iter()
            .filter(|s| s.is_active_binary() && s.components.iter().any(|c| c == "main"))
            .collect();
        let main = pick(&active, is_debian_main_suite, "/debian")?;
        let security = pick(&active, is_debian_security_suite, "/debian-security")
            .or_else(|| derive_security(&main));
        Some(Mirror { main, security })
    }

    /// A mirror given explicitly (`--mirror` / `KMATRIX_MIRROR`). The security
    /// archive is assumed to sit next to it: a URL ending in `/debian` maps to
    /// the same URL ending in `/debian-security`; otherwise there is no
    /// separate security archive and `-security` suites are looked up on `url`.
    pub fn from_url(url: &str) -> Mirror {
        let main = normalize(url);
        let security = derive_security(&main);
        Mirror { main, security }
    }

    /// The base URI that serves `suite`.
    pub fn uri_for_suite(&self, suite: &str) -> &str {
        match &self.security {
            Some(sec) if suite.ends_with("-security") => sec,
            _ => &self.main,
        }
    }
}

fn normalize(uri: &str) -> String {
    uri.trim().trim_end_matches('/').to_string()
}

fn derive_security(main: &str) -> Option<String> {
    main.strip_suffix("/debian")
        .map(|prefix| format!("{prefix}/debian-security"))
}

/// First URI of the entries having a matching suite, preferring URIs whose
/// path ends with `preferred_suffix`.
fn pick(
    entries: &[&AptSource],
    suite_matches: fn(&str) -> bool,
    preferred_suffix: &str,
) -> Option<String> {
    let uris: Vec<String> = entries
        .iter()
        .filter(|s| s.suites.iter().any(|suite| suite_matches(suite)))
        .flat_map(|s| s.uris.iter().map(|u| normalize(u)))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect();
    uris.iter()
        .find(|u| u.ends_with(preferred_suffix))
        .or(uris.first())
        .cloned()
}

/// True for Debian suites served by the main archive, e.g. `bookworm`,
/// `bookworm-updates`, `trixie-backports`, `sid`.
pub fn is_debian_main_suite(suite: &str) -> bool {
    DEBIAN_CODENAMES.iter().any(|code| {
        suite
            .strip_prefix(code)
            .is_some_and(|rest| MAIN_SUFFIXES.contains(&rest))
    })
}

/// True for Debian security suites, e.g. `bookworm-security`.
pub fn is_debian_security_suite(suite: &str) -> bool {
    suite
        .strip_suffix("-security")
        .is_some_and(|code| DEBIAN_CODENAMES.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn suite_classification() {
        assert!(is_debian_main_suite("bookworm"));
        assert!(is_debian_main_suite("bookworm-updates"));
        assert!(is_debian_main_suite("trixie-backports"));
        assert!(is_debian_main_suite("sid"));
        assert!(!is_debian_main_suite("bookworm-security"));
        assert!(!is_debian_main_suite("nodistro"));
        assert!(!is_debian_main_suite("bookworm-pgdg"));
        assert!(is_debian_security_suite("bookworm-security"));
        assert!(!is_debian_security_suite("bookworm"));
        assert!(!is_debian_security_suite("focal-security"));
    }

    #[test]
    fn from_url_derives_security() {
        let m = Mirror::from_url("http://mirror.example.org/debian/");
        assert_eq!(m.main, "http://mirror.example.org/debian");
        assert_eq!(
            m.security.as_deref(),
            Some("http://mirror.example.org/debian-security")
        );
        assert_eq!(
            m.uri_for_suite("bookworm-security"),
            "http://mirror.example.org/debian-security"
        );
        assert_eq!(
            m.uri_for_suite("bookworm"),
            "http://mirror.example.org/debian"
        );

        let local = Mirror::from_url("http://mirror.local/archive");
        assert_eq!(local.security, None);
        assert_eq!(
            local.uri_for_suite("trixie-security"),
            "http://mirror.local/archive"
        );
    }

    fn write(root: &Path, name: &str, text: &str) {
        let dir = root.join("etc/apt/sources.list.d");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn from_system_skips_third_party_and_disabled() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "a-docker.list",
            "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n",
        );
        write(
            root.path(),
            "b-nodesource.sources",
            "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n",
        );
        write(
            root.path(),
            "c-off.sources",
            "Types: deb\nURIs: http://off.example/debian\nSuites: trixie\nComponents: main\nEnabled: no\n",
        );
        write(
            root.path(),
            "debian.sources",
            "Types: deb\n# c\nURIs: http://mirror.example.org/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\n\nTypes: deb\nURIs: http://mirror.example.org/debian-security\n\
             Suites: bookworm-security\nComponents: main\n",
        );
        write(
            root.path(),
            "google.list.disabled-by-farm",
            "deb http://wrong.example/debian bookworm main\n",
        );
        let m = Mirror::from_system(root.path()).unwrap();
        assert_eq!(m.main, "http://mirror.example.org/debian");
        assert_eq!(
            m.security.as_deref(),
            Some("http://mirror.example.org/debian-security")
        );
    }

    #[test]
    fn from_system_one_line_without_security() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc/apt")).unwrap();
        fs::write(
            root.path().join("etc/apt/sources.list"),
            "deb http://ftp.example.net/debian/ trixie main\n",
        )
        .unwrap();
        let m = Mirror::from_system(root.path()).unwrap();
        assert_eq!(m.main, "http://ftp.example.net/debian");
        assert_eq!(
            m.security.as_deref(),
            Some("http://ftp.example.net/debian-security")
        );
    }

    #[test]
    fn from_system_error_names_files() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "nodesource.sources",
            "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n",
        );
        let err = Mirror::from_system(root.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nodesource.sources"), "{msg}");
    }
}
