//! Parsing of APT source lists: deb822 `*.sources` and one-line `*.list`.
//!
//! Only the fields needed to locate an archive are kept. Parsing is lenient:
//! lines or stanzas that cannot be understood are skipped, as APT would
//! refuse them anyway and they must not stop us from finding the mirror.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::DebianError;

/// One APT source entry (a deb822 stanza or a one-line `deb` line).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AptSource {
    /// Entry types, e.g. `deb` and/or `deb-src`.
    pub types: Vec<String>,
    /// Archive base URIs, e.g. `http://mirror.example.org/debian`.
    pub uris: Vec<String>,
    /// Suites (distributions), e.g. `bookworm`, `bookworm-security`.
    pub suites: Vec<String>,
    /// Components, e.g. `main`.
    pub components: Vec<String>,
    /// False for deb822 stanzas with `Enabled: no` (or `enabled=no` option).
    pub enabled: bool,
}

impl AptSource {
    /// True when this entry provides binary packages (`deb`) and is enabled.
    pub fn is_active_binary(&self) -> bool {
        self.enabled && self.types.iter().any(|t| t == "deb")
    }
}

/// Parses deb822-style source text (the `*.sources` format).
///
/// Comment lines (`#`) may appear anywhere, including inside a stanza;
/// stanzas are separated by blank lines. Stanzas without URIs or suites are
/// dropped.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            flush_stanza(&mut fields, &mut out);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of the previous field (e.g. an inline Signed-By key).
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    flush_stanza(&mut fields, &mut out);
    out
}

fn flush_stanza(fields: &mut Vec<(String, String)>, out: &mut Vec<AptSource>) {
    if fields.is_empty() {
        return;
    }
    let mut src = AptSource {
        enabled: true,
        ..AptSource::default()
    };
    for (name, value) in fields.drain(..) {
        let words = || value.split_whitespace().map(str::to_string).collect();
        match name.as_str() {
            "types" => src.types = words(),
            "uris" => src.uris = words(),
            "suites" => src.suites = words(),
            "components" => src.components = words(),
            "enabled" => src.enabled = !is_no(&value),
            _ => {}
        }
    }
    if !src.uris.is_empty() && !src.suites.is_empty() {
        out.push(src);
    }
}

fn is_no(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "0"
    )
}

/// Parses one-line-style source text (the `sources.list` / `*.list` format):
/// `deb [opt=val ...] URI SUITE [COMPONENT...]`.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<AptSource> {
    // `#` starts a comment anywhere on the line.
    let line = line.split('#').next().unwrap_or_default().trim();
    let (kind, rest) = line.split_once(char::is_whitespace)?;
    if kind != "deb" && kind != "deb-src" {
        return None;
    }
    let mut rest = rest.trim_start();
    let mut enabled = true;
    if let Some(after) = rest.strip_prefix('[') {
        let (options, tail) = after.split_once(']')?;
        for opt in options.split_whitespace() {
            if let Some((key, value)) = opt.split_once('=')
                && key.eq_ignore_ascii_case("enabled")
            {
                enabled = !is_no(value);
            }
        }
        rest = tail;
    }
    let mut words = rest.split_whitespace().map(str::to_string);
    let uri = words.next()?;
    let suite = words.next()?;
    Some(AptSource {
        types: vec![kind.to_string()],
        uris: vec![uri],
        suites: vec![suite],
        components: words.collect(),
        enabled,
    })
}

/// Lists the source files APT would read under `root`, in APT's order:
/// `etc/apt/sources.list`, then `etc/apt/sources.list.d/*.{list,sources}`
/// sorted by name. Files with other suffixes (e.g. `.list.disabled`) are
/// ignored; missing files and directories are not an error.
pub fn source_files(root: &Path) -> Result<Vec<PathBuf>, DebianError> {
    let apt = root.join("etc/apt");
    let mut files = Vec::new();
    let main = apt.join("sources.list");
    if main.is_file() {
        files.push(main);
    }
    let dir = apt.join("sources.list.d");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(source) => return Err(DebianError::ReadSources { path: dir, source }),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DebianError::ReadSources {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        let is_source = path
            .extension()
            .is_some_and(|ext| ext == "list" || ext == "sources");
        if is_source && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    files.extend(found);
    Ok(files)
}

/// Parses one source file, choosing the format by its suffix.
pub fn read_file(path: &Path) -> Result<Vec<AptSource>, DebianError> {
    let text = fs::read_to_string(path).map_err(|source| DebianError::ReadSources {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(if path.extension().is_some_and(|ext| ext == "sources") {
        parse_deb822(&text)
    } else {
        parse_one_line(&text)
    })
}

/// Reads every APT source entry configured under `root` (use `/` for the
/// running system), in APT's file order.
pub fn read_dir(root: &Path) -> Result<Vec<AptSource>, DebianError> {
    let mut out = Vec::new();
    for file in source_files(root)? {
        out.extend(read_file(&file)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_SOURCES: &str = "\
Types: deb
# http://snapshot.example.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.example.org/archive/debian-security/20250520T000000Z
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn deb822_with_comments_inside_stanzas() {
        let got = parse_deb822(DEBIAN_SOURCES);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].types, ["deb"]);
        assert_eq!(got[0].uris, ["http://mirror.example.org/debian"]);
        assert_eq!(got[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(got[0].components, ["main"]);
        assert!(got[0].enabled);
        assert_eq!(got[1].uris, ["http://mirror.example.org/debian-security"]);
        assert_eq!(got[1].suites, ["bookworm-security"]);
    }

    #[test]
    fn deb822_disabled_multiline_and_case() {
        let text = "\
# leading comment

types: deb deb-src
uris: http://example.org/debian
suites: trixie
components: main contrib
enabled: no

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBFxyz
 -----END PGP PUBLIC KEY BLOCK-----
Architectures: amd64
";
        let got = parse_deb822(text);
        assert_eq!(got.len(), 2);
        assert!(!got[0].enabled);
        assert_eq!(got[0].types, ["deb", "deb-src"]);
        assert_eq!(got[0].components, ["main", "contrib"]);
        assert!(got[1].enabled);
        assert_eq!(got[1].suites, ["nodistro"]);
        assert_eq!(got[1].components, ["main"]);
    }

    #[test]
    fn one_line_with_options_and_comments() {
        let text = "\
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.org/debian bookworm main contrib # trailing
deb-src http://mirror.example.org/debian bookworm main
deb [ enabled=no ] http://off.example/debian trixie main
deb http://security.example.org/debian-security bookworm-security main

garbage line
deb [unterminated http://x bookworm main
";
        let got = parse_one_line(text);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].uris, ["http://mirror.example.org/debian"]);
        assert_eq!(got[0].suites, ["bookworm"]);
        assert_eq!(got[0].components, ["main", "contrib"]);
        assert!(got[0].is_active_binary());
        assert_eq!(got[1].types, ["deb-src"]);
        assert!(!got[1].is_active_binary());
        assert!(!got[2].enabled);
        assert_eq!(got[3].suites, ["bookworm-security"]);
    }

    #[test]
    fn source_files_respects_suffixes_and_order() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("etc/apt/sources.list.d");
        fs::create_dir_all(&d).unwrap();
        fs::write(root.path().join("etc/apt/sources.list"), "").unwrap();
        fs::write(d.join("z.sources"), DEBIAN_SOURCES).unwrap();
        fs::write(
            d.join("a.list"),
            "deb http://a.example/debian bookworm main\n",
        )
        .unwrap();
        fs::write(d.join("g.list.disabled-by-farm"), "deb http://x/ y main\n").unwrap();
        let files = source_files(root.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["sources.list", "a.list", "z.sources"]);
        let all = read_dir(root.path()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].uris, ["http://a.example/debian"]);
    }

    #[test]
    fn missing_apt_dir_is_empty() {
        let root = tempfile::tempdir().unwrap();
        assert!(read_dir(root.path()).unwrap().is_empty());
    }
}
