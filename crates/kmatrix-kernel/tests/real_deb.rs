//! Checks against a real Debian kernel package: the newest 6.1 cloud kernel
//! for amd64, fetched (once, verified, cached under the target directory)
//! from the Debian mirror in this machine's apt sources. Never skipped.

use std::path::PathBuf;

use kmatrix_kernel::Arch;
use kmatrix_kernel::image::{self, ImageFormat};
use kmatrix_kernel::modules::{build_index, decompress_module, read_modinfo};
use kmatrix_kernel::package::{ExtractOptions, extract_image_deb, extract_system_map};

/// The package and the kernel release it holds.
fn real_deb() -> (PathBuf, String) {
    use kmatrix_debian::{Archive, DebArch, KernelQuery, Mirror};
    static FETCHED: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    FETCHED
        .get_or_init(|| {
            let mirror = Mirror::from_system(std::path::Path::new("/")).expect("a Debian mirror");
            let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kmatrix-kernel-cache");
            let archive = Archive::new(mirror, cache);
            let query = KernelQuery::Line { major: 6, minor: 1 };
            let resolved = archive
                .resolve(&query, DebArch::Amd64)
                .expect("6.1 resolves");
            let fetched = archive
                .fetch(&resolved.image, &resolved.base_url)
                .expect("6.1 downloads");
            (fetched.path, resolved.release)
        })
        .clone()
}

#[test]
fn extracts_the_real_package() {
    let (deb, release) = real_deb();
    let release = release.as_str();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("kernel");
    let k = extract_image_deb(
        &deb,
        &dest,
        &ExtractOptions {
            compress_modules: true,
        },
    )
    .unwrap();

    assert_eq!(k.release, release);
    assert_eq!(k.arch, Arch::X86_64);
    assert_eq!(k.image.format, ImageFormat::BzImage);
    assert_eq!(k.image.release(), Some(release));
    let bytes = std::fs::read(&k.vmlinuz).unwrap();
    assert_eq!(image::detect(&k.vmlinuz, &bytes).unwrap(), k.image);
    assert!(k.config.as_ref().unwrap().is_file());

    let dir = k.modules_dir.clone().unwrap();
    assert_eq!(dir, dest.join("modules").join(release));
    assert!(dir.join("modules.builtin").is_file());
    assert!(dir.join("modules.order").is_file());
    let af_key = dir.join("kernel/net/key/af_key.ko.zst");
    assert!(af_key.is_file());
    assert!(!dir.join("kernel/net/key/af_key.ko").exists());
    assert!(k.stats.modules > 1000);
    assert!(k.stats.module_bytes_out < k.stats.module_bytes_in / 2);

    let elf = decompress_module(&af_key, std::fs::read(&af_key).unwrap()).unwrap();
    let info = read_modinfo(&af_key, &elf).unwrap();
    assert_eq!(info.name, "af_key");
    assert_eq!(info.aliases, ["net-pf-15"]);
    assert_eq!(info.depends, ["xfrm_algo"]);

    // The index read during extraction and one built from disk agree.
    let index = build_index(&dir).unwrap();
    assert_eq!(index.modules(), k.index.modules());
    assert!(index.unresolved().is_empty(), "{:?}", index.unresolved());

    let mut dep = Vec::new();
    index.write_modules_dep(&mut dep).unwrap();
    let dep = String::from_utf8(dep).unwrap();
    assert!(
        dep.lines()
            .any(|l| l == "kernel/net/key/af_key.ko.zst: kernel/net/xfrm/xfrm_algo.ko.zst"),
        "no af_key line in modules.dep"
    );
    let mut alias = Vec::new();
    k.index.write_modules_alias(&mut alias).unwrap();
    let alias = String::from_utf8(alias).unwrap();
    assert!(alias.lines().any(|l| l == "alias net-pf-15 af_key"));
}

#[test]
fn image_package_has_only_a_placeholder_system_map() {
    let (deb, _) = real_deb();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("System.map");
    assert!(!extract_system_map(&deb, &dest).unwrap());
    assert!(!dest.exists());
}
