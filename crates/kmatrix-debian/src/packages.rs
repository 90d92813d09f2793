//! Parsing of `Packages` index files (deb822 stanzas, one per binary package).

use std::io::{self, BufRead};

/// The fields of one `Packages` stanza that are needed to download a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageEntry {
    /// Binary package name, e.g. `linux-image-6.1.0-50-cloud-amd64-unsigned`.
    pub package: String,
    /// Debian version, e.g. `6.1.176-1`.
    pub version: String,
    /// Debian architecture, e.g. `amd64`.
    pub architecture: String,
    /// Path of the `.deb` relative to the archive base URI.
    pub filename: String,
    /// Size of the `.deb` in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the `.deb`.
    pub sha256: String,
    /// The raw `Source` field, e.g. `linux-signed-amd64 (6.1.176+1)`, if any.
    pub source: Option<String>,
}

/// Parses a whole `Packages` text. Stanzas lacking any of Package, Version,
/// Architecture, Filename, Size or SHA256 (or with an unparsable Size) are
/// skipped.
pub fn parse(text: &str) -> Vec<PackageEntry> {
    let mut parser = Parser::default();
    let mut out = Vec::new();
    for line in text.lines() {
        parser.line(line, &mut out, &|_| true);
    }
    parser.finish(&mut out, &|_| true);
    out
}

/// Parses a `Packages` stream line by line, keeping only entries whose
/// package name satisfies `keep`. Memory use is proportional to the kept
/// entries, not to the (tens of MB) index.
pub fn parse_reader<R: BufRead>(
    mut reader: R,
    keep: &dyn Fn(&str) -> bool,
) -> io::Result<Vec<PackageEntry>> {
    let mut parser = Parser::default();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // Descriptions may in theory carry non-UTF-8 bytes; the fields we
        // keep are ASCII, so lossy decoding is harmless.
        let line = String::from_utf8_lossy(&buf);
        parser.line(line.trim_end_matches(['\n', '\r']), &mut out, keep);
    }
    parser.finish(&mut out, keep);
    Ok(out)
}

/// Formats entries back into `Packages` stanzas (only the fields kept by
/// [`PackageEntry`]); [`parse`] reads the result back unchanged.
pub fn format(entries: &[PackageEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&std::format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\n",
            e.package,
            e.version,
            e.architecture
        ));
        if let Some(source) = &e.source {
            out.push_str(&std::format!("Source: {source}\n"));
        }
        out.push_str(&std::format!(
            "Filename: {}\nSize: {}\nSHA256: {}\n\n",
            e.filename,
            e.size,
            e.sha256
        ));
    }
    out
}

/// Incremental stanza parser holding only the interesting fields.
#[derive(Default)]
struct Parser {
    package: Option<String>,
    version: Option<String>,
    architecture: Option<String>,
    filename: Option<String>,
    size: Option<String>,
    sha256: Option<String>,
    source: Option<String>,
}

impl Parser {
    fn line(&mut self, line: &str, out: &mut Vec<PackageEntry>, keep: &dyn Fn(&str) -> bool) {
        if line.trim().is_empty() {
            self.finish(out, keep);
            return;
        }
        // Continuation lines (Description body, multi-line Conffiles...) and
        // comments never carry the fields we need.
        if line.starts_with([' ', '\t', '#']) {
            return;
        }
        let Some((name, value)) = line.split_once(':') else {
            return;
        };
        let value = Some(value.trim().to_string());
        match name {
            "Package" => self.package = value,
            "Version" => self.version = value,
            "Architecture" => self.architecture = value,
            "Filename" => self.filename = value,
            "Size" => self.size = value,
            "SHA256" => self.sha256 = value,
            "Source" => self.source = value,
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<PackageEntry>, keep: &dyn Fn(&str) -> bool) {
        let stanza = std::mem::take(self);
        let (
            Some(package),
            Some(version),
            Some(architecture),
            Some(filename),
            Some(size),
            Some(sha256),
        ) = (
            stanza.package,
            stanza.version,
            stanza.architecture,
            stanza.filename,
            stanza.size,
            stanza.sha256,
        )
        else {
            return;
        };
        let Ok(size) = size.parse() else {
            return;
        };
        if keep(&package) {
            out.push(PackageEntry {
                package,
                version,
                architecture,
                filename,
                size,
                sha256: sha256.to_ascii_lowercase(),
                source: stanza.source,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Package: linux-image-6.1.0-50-cloud-amd64-unsigned
Source: linux
Version: 6.1.176-1
Installed-Size: 105111
Architecture: amd64
Depends: kmod, linux-base (>= 4.3~)
Description: Linux 6.1 for x86-64 cloud
 The Linux kernel 6.1 and modules for use on cloud platforms.
 .
 Package: not-a-real-field
 Filename: also/not/real.deb
Section: kernel
Filename: pool/main/l/linux/linux-image-6.1.0-50-cloud-amd64-unsigned_6.1.176-1_amd64.deb
Size: 106264008
MD5sum: 0123456789abcdef0123456789abcdef
SHA256: ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789

Package: broken-no-sha
Version: 1
Architecture: all
Filename: pool/x.deb
Size: 1

Package: bad-size
Version: 1
Architecture: all
Filename: pool/y.deb
Size: lots
SHA256: 00

Package: hello
Version: 2.10-3
Architecture: amd64
Maintainer: Someone <x@example.org>
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 56000
SHA256: 1111111111111111111111111111111111111111111111111111111111111111
";

    #[test]
    fn parses_stanzas_and_skips_incomplete() {
        let got = parse(SAMPLE);
        assert_eq!(got.len(), 2);
        let k = &got[0];
        assert_eq!(k.package, "linux-image-6.1.0-50-cloud-amd64-unsigned");
        assert_eq!(k.version, "6.1.176-1");
        assert_eq!(k.architecture, "amd64");
        assert_eq!(
            k.filename,
            "pool/main/l/linux/linux-image-6.1.0-50-cloud-amd64-unsigned_6.1.176-1_amd64.deb"
        );
        assert_eq!(k.size, 106_264_008);
        assert_eq!(
            k.sha256,
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
        );
        assert_eq!(k.source.as_deref(), Some("linux"));
        assert_eq!(got[1].package, "hello");
        assert_eq!(got[1].source, None);
    }

    #[test]
    fn format_round_trips() {
        let entries = parse(SAMPLE);
        assert_eq!(parse(&format(&entries)), entries);
    }

    #[test]
    fn reader_filters_and_handles_crlf_and_no_trailing_newline() {
        let text = SAMPLE.replace('\n', "\r\n");
        let text = text.trim_end();
        let got = parse_reader(text.as_bytes(), &|p| p.starts_with("hello")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].package, "hello");
        assert_eq!(got[0].size, 56000);
    }
}
