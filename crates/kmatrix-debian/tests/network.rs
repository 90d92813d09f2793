//! Tests against the real Debian archive configured on this machine.
//! They never skip: CI has the network. The cache lives under the
//! target directory so only the first run downloads the indexes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kmatrix_debian::{Archive, DebArch, KernelQuery, Mirror};

/// One archive shared by all tests: it memoizes indexes, and a burst of
/// parallel first connections (each with its own DNS lookup) is avoided.
fn archive() -> Option<&'static Archive> {
    static ARCHIVE: OnceLock<Archive> = OnceLock::new();
    Some(ARCHIVE.get_or_init(new_archive))
}

fn new_archive() -> Archive {
    let mirror = Mirror::from_system(Path::new("/")).expect("a Debian mirror in the apt sources");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kmatrix-debian-cache");
    Archive::new(mirror, cache)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn resolves_6_1_amd64() {
    let Some(archive) = archive() else { return };
    let k = archive
        .resolve(&"6.1".parse().unwrap(), DebArch::Amd64)
        .unwrap();
    eprintln!("{k:#?}");
    assert!(k.abi.starts_with("6.1.0-"), "{}", k.abi);
    assert!(
        k.image.package.starts_with("linux-image-6.1.0-")
            && k.image.package.contains("-cloud-amd64"),
        "{}",
        k.image.package
    );
    assert_eq!(k.release, format!("{}-cloud-amd64", k.abi));
    assert!(is_hex64(&k.image.sha256));
    assert!(k.image.size > 10_000_000);
    assert!(k.version().starts_with("6.1."));
    assert!(k.suite.starts_with("bookworm") || k.suite.starts_with("bullseye"));
    if let Some(dbg) = &k.debug {
        assert_eq!(dbg.package, format!("linux-image-{}-dbg", k.release));
        assert_eq!(dbg.version, k.image.version);
    }
}

#[test]
fn fetches_small_split_layout_package() {
    let Some(archive) = archive() else { return };
    let query = KernelQuery::Line { major: 7, minor: 2 };
    let k = match archive.resolve(&query, DebArch::Amd64) {
        Ok(k) => k,
        // The 7.x line may move on; the resolve test above covers the basics.
        Err(e) => return eprintln!("skipping: {e}"),
    };
    let base = k
        .base
        .as_ref()
        .expect("split layout has a linux-base package");
    let first = archive.fetch(base, &k.base_url).unwrap();
    assert_eq!(
        first.path.file_name().unwrap().to_string_lossy(),
        format!("{}.deb", base.sha256)
    );
    assert_eq!(std::fs::metadata(&first.path).unwrap().len(), base.size);
    let again = archive.fetch(base, &k.base_url).unwrap();
    assert!(!again.downloaded);
}

/// Prints what every line resolves to; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn print_all_lines() {
    let Some(archive) = archive() else { return };
    for arch in [DebArch::Amd64, DebArch::Arm64] {
        for line in ["5.10", "6.1", "6.12", "7.2", "4.19"] {
            match archive.resolve(&line.parse().unwrap(), arch) {
                Ok(k) => println!(
                    "{arch} {line}: {} {} [{}] modules={:?} dbg={:?}",
                    k.image.package,
                    k.version(),
                    k.suite,
                    k.modules.as_ref().map(|m| &m.package),
                    k.debug.as_ref().map(|d| &d.package),
                ),
                Err(e) => println!("{arch} {line}: {e}"),
            }
        }
    }
}
