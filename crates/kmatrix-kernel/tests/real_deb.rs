//! Checks against a real Debian kernel package, when one is at hand.
//!
//! Uses `/tmp/k/img.deb` (linux-image-6.1.0-50-cloud-amd64-unsigned) or the
//! file named by `KMATRIX_TEST_IMAGE_DEB`; without it each test says so and
//! passes.

use std::path::PathBuf;

use kmatrix_kernel::Arch;
use kmatrix_kernel::image::{self, ImageFormat};
use kmatrix_kernel::modules::{build_index, decompress_module, read_modinfo};
use kmatrix_kernel::package::{ExtractOptions, extract_image_deb, extract_system_map};

const RELEASE: &str = "6.1.0-50-cloud-amd64";

fn real_deb() -> Option<PathBuf> {
    let path = std::env::var_os("KMATRIX_TEST_IMAGE_DEB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/k/img.deb"));
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent", path.display());
        None
    }
}

#[test]
fn extracts_the_real_package() {
    let Some(deb) = real_deb() else { return };
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

    assert_eq!(k.release, RELEASE);
    assert_eq!(k.arch, Arch::X86_64);
    assert_eq!(k.image.format, ImageFormat::BzImage);
    assert_eq!(k.image.release(), Some(RELEASE));
    let bytes = std::fs::read(&k.vmlinuz).unwrap();
    assert_eq!(image::detect(&k.vmlinuz, &bytes).unwrap(), k.image);
    assert!(k.config.as_ref().unwrap().is_file());

    let dir = k.modules_dir.clone().unwrap();
    assert_eq!(dir, dest.join("modules").join(RELEASE));
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
    let Some(deb) = real_deb() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("System.map");
    assert!(!extract_system_map(&deb, &dest).unwrap());
    assert!(!dest.exists());
}
