//! Extraction tests on synthetic packages.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::image::ImageFormat;
use crate::testutil::{
    TarBuilder, ar_archive, arm64_image, deb, gzip, module_elf, x86_bzimage, xz, zstd_compress,
};

const R: &str = "6.1.0-50-cloud-amd64";
const VERSION: &str = "6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP";

fn af_key() -> Vec<u8> {
    module_elf(&["alias=net-pf-15", "depends=xfrm_algo", "name=af_key"])
}

fn xfrm_algo() -> Vec<u8> {
    module_elf(&["depends=", "name=xfrm_algo"])
}

/// A data.tar shaped like bookworm's linux-image-*-cloud-amd64-unsigned.
fn bookworm_tar() -> Vec<u8> {
    TarBuilder::new()
        .dir("./")
        .dir("./boot/")
        .file(
            &format!("./boot/System.map-{R}"),
            b"ffffffffffffffff B The real System.map is in ...",
        )
        .file(&format!("./boot/config-{R}"), b"CONFIG_64BIT=y\n")
        .file(&format!("./boot/vmlinuz-{R}"), &x86_bzimage(VERSION))
        .dir(&format!("./lib/modules/{R}/kernel/net/key/"))
        .file(
            &format!("./lib/modules/{R}/kernel/net/key/af_key.ko"),
            &af_key(),
        )
        .file(
            &format!("./lib/modules/{R}/kernel/net/xfrm/xfrm_algo.ko"),
            &xfrm_algo(),
        )
        .file(
            &format!("./lib/modules/{R}/modules.order"),
            b"kernel/net/key/af_key.ko\n",
        )
        .file(
            &format!("./lib/modules/{R}/modules.builtin"),
            b"kernel/fs/ext4/ext4.ko\n",
        )
        .symlink(
            &format!("./lib/modules/{R}/build"),
            "/usr/src/linux-headers",
        )
        .file("./usr/share/doc/linux-image/changelog.Debian.gz", b"junk")
        .finish()
}

fn write_deb(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn compress() -> ExtractOptions {
    ExtractOptions {
        compress_modules: true,
    }
}

#[test]
fn extracts_bookworm_layout_compressing_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let d = write_deb(
        tmp.path(),
        "img.deb",
        &deb("data.tar.xz", &xz(&bookworm_tar())),
    );
    let dest = tmp.path().join("out");
    let k = extract_image_deb(&d, &dest, &compress()).unwrap();

    assert_eq!(k.release, R);
    assert_eq!(k.arch, Arch::X86_64);
    assert_eq!(k.image.format, ImageFormat::BzImage);
    assert_eq!(k.image.release(), Some(R));
    assert_eq!(fs::read(&k.vmlinuz).unwrap(), x86_bzimage(VERSION));
    assert_eq!(fs::read(k.config.unwrap()).unwrap(), b"CONFIG_64BIT=y\n");
    let mods = k.modules_dir.unwrap();
    assert_eq!(mods, dest.join("modules").join(R));
    let z = fs::read(mods.join("kernel/net/key/af_key.ko.zst")).unwrap();
    assert_eq!(zstd::decode_all(&z[..]).unwrap(), af_key());
    assert!(!mods.join("kernel/net/key/af_key.ko").exists());
    assert!(mods.join("kernel/net/xfrm/xfrm_algo.ko.zst").exists());
    assert_eq!(
        fs::read(mods.join("modules.order")).unwrap(),
        b"kernel/net/key/af_key.ko\n"
    );
    assert!(mods.join("modules.builtin").exists());
    assert!(!mods.join("build").exists());
    assert!(!dest.join("usr").exists() && !dest.join("boot").exists());

    let deps = k.index.dependencies("af_key").unwrap();
    assert_eq!(deps[0].path, "kernel/net/xfrm/xfrm_algo.ko.zst");
    assert_eq!(k.index.get("af_key").unwrap().info.aliases, ["net-pf-15"]);
    assert_eq!(k.index.modules().len(), 2);

    assert_eq!(k.stats.modules, 2);
    assert_eq!(
        k.stats.module_bytes_in,
        (af_key().len() + xfrm_algo().len()) as u64
    );
    let out = z.len()
        + fs::read(mods.join("kernel/net/xfrm/xfrm_algo.ko.zst"))
            .unwrap()
            .len();
    assert_eq!(k.stats.module_bytes_out, out as u64);
}

#[test]
fn keeps_modules_uncompressed_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = write_deb(
        tmp.path(),
        "img.deb",
        &deb("data.tar.xz", &xz(&bookworm_tar())),
    );
    let k = extract_image_deb(&d, &tmp.path().join("out"), &ExtractOptions::default()).unwrap();
    let mods = k.modules_dir.unwrap();
    assert_eq!(
        fs::read(mods.join("kernel/net/key/af_key.ko")).unwrap(),
        af_key()
    );
    assert_eq!(k.stats.module_bytes_in, k.stats.module_bytes_out);
}

#[test]
fn reads_zst_gz_and_plain_data_members_with_usr_lib_modules() {
    let ko_xz = xz(&af_key());
    let tar = TarBuilder::new()
        .file(&format!("./boot/vmlinuz-{R}"), &x86_bzimage(VERSION))
        .file(
            &format!("./usr/lib/modules/{R}/kernel/net/key/af_key.ko.xz"),
            &ko_xz,
        )
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    for (member, data) in [
        ("data.tar.zst", zstd_compress(&tar)),
        ("data.tar.gz", gzip(&tar)),
        ("data.tar", tar.clone()),
    ] {
        let d = write_deb(tmp.path(), &format!("{member}.deb"), &deb(member, &data));
        let dest = tmp.path().join(member);
        let k = extract_image_deb(&d, &dest, &compress()).unwrap();
        // Already-compressed modules are kept as they are.
        let m = k.modules_dir.unwrap().join("kernel/net/key/af_key.ko.xz");
        assert_eq!(fs::read(m).unwrap(), ko_xz, "{member}");
        let indexed = &k.index.get("af_key").unwrap().path;
        assert_eq!(indexed, "kernel/net/key/af_key.ko.xz");
        assert_eq!(k.config, None);
    }
}

#[test]
fn merges_split_packages_of_one_release() {
    let r = "7.2.13+deb14-cloud-arm64";
    let base = format!("./usr/lib/modules/{r}");
    let binary = TarBuilder::new()
        .file(&format!("{base}/vmlinuz"), &arm64_image(8192))
        .finish();
    let modules = TarBuilder::new()
        .file(
            &format!("{base}/kernel/net/key/af_key.ko.xz"),
            &xz(&af_key()),
        )
        .finish();
    let basepkg = TarBuilder::new()
        .file(&format!("{base}/config"), b"CONFIG_ARM64=y\n")
        .file(&format!("{base}/System.map"), b"placeholder")
        .file(&format!("{base}/dtb/arm/juno.dtb"), b"dtb")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let debs = [
        write_deb(tmp.path(), "binary.deb", &deb("data.tar.xz", &xz(&binary))),
        write_deb(
            tmp.path(),
            "modules.deb",
            &deb("data.tar.xz", &xz(&modules)),
        ),
        write_deb(tmp.path(), "base.deb", &deb("data.tar.xz", &xz(&basepkg))),
    ];
    let dest = tmp.path().join("out");
    let k = extract_debs(&debs, &dest, &compress()).unwrap();
    assert_eq!(k.release, r);
    assert_eq!(k.arch, Arch::Aarch64);
    assert_eq!(k.image.format, ImageFormat::Arm64Image);
    assert_eq!(fs::read(&k.vmlinuz).unwrap(), arm64_image(8192));
    assert!(k.config.is_some());
    let mods = k.modules_dir.unwrap();
    assert!(mods.join("kernel/net/key/af_key.ko.xz").exists());
    assert!(!mods.join("System.map").exists() && !mods.join("dtb").exists());
    assert!(!mods.join("vmlinuz").exists() && !mods.join("config").exists());
}

fn expect_err(deb_bytes: &[u8]) -> (PathBuf, KernelError) {
    let tmp = tempfile::tempdir().unwrap();
    let d = write_deb(tmp.path(), "broken-pkg.deb", deb_bytes);
    let err = extract_image_deb(&d, &tmp.path().join("out"), &compress()).unwrap_err();
    assert!(
        err.to_string().contains("broken-pkg.deb"),
        "message does not name the deb: {err}"
    );
    (d, err)
}

#[test]
fn not_an_ar_archive() {
    let (_, err) = expect_err(b"PK\x03\x04 this is a zip file, not a deb");
    assert!(matches!(err, KernelError::NotArArchive { .. }), "{err}");
    let (_, err) = expect_err(b"");
    assert!(matches!(err, KernelError::NotArArchive { .. }), "{err}");
}

#[test]
fn missing_data_member() {
    let (_, err) = expect_err(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", b"x"),
    ]));
    assert!(matches!(err, KernelError::NoDataTar { .. }), "{err}");
}

#[test]
fn corrupt_ar_structure() {
    let mut bytes = deb("data.tar.xz", &xz(&bookworm_tar()));
    bytes[8 + 48..8 + 58].copy_from_slice(b"notnumber ");
    let (_, err) = expect_err(&bytes);
    assert!(matches!(err, KernelError::CorruptArchive { .. }), "{err}");
}

#[test]
fn unsupported_data_compression() {
    let (_, err) = expect_err(&deb("data.tar.bz2", b"BZh91AY&SY"));
    assert!(
        matches!(&err, KernelError::UnsupportedDataCompression { member, .. } if member == "data.tar.bz2"),
        "{err}"
    );
}

#[test]
fn truncated_xz_member() {
    let packed = xz(&bookworm_tar());
    let (_, err) = expect_err(&deb("data.tar.xz", &packed[..packed.len() / 2]));
    assert!(matches!(err, KernelError::Decompress { .. }), "{err}");
    assert!(err.to_string().contains("data.tar.xz"), "{err}");
}

#[test]
fn truncated_package_file() {
    let bytes = deb("data.tar.xz", &xz(&bookworm_tar()));
    let (_, err) = expect_err(&bytes[..bytes.len() - 100]);
    assert!(matches!(err, KernelError::Decompress { .. }), "{err}");
}

#[test]
fn corrupt_xz_checksum_is_detected() {
    let mut packed = xz(&bookworm_tar());
    let n = packed.len();
    // Flip a byte in the middle of the compressed data.
    packed[n / 2] ^= 0x55;
    let (_, err) = expect_err(&deb("data.tar.xz", &packed));
    assert!(matches!(err, KernelError::Decompress { .. }), "{err}");
}

#[test]
fn corrupt_plain_tar() {
    let mut tar = bookworm_tar();
    tar[148..156].copy_from_slice(b"garbage!"); // the first header's checksum
    let (_, err) = expect_err(&deb("data.tar", &tar));
    assert!(matches!(err, KernelError::CorruptTar { .. }), "{err}");
}

#[test]
fn refuses_unsafe_paths() {
    for name in ["../../etc/passwd", "/etc/passwd", "./lib/modules/../../x"] {
        let tar = TarBuilder::new().raw_file(name, b"x").finish();
        let (_, err) = expect_err(&deb("data.tar.xz", &xz(&tar)));
        assert!(
            matches!(&err, KernelError::UnsafeTarPath { entry, .. } if entry == name),
            "{err}"
        );
    }
}

#[test]
fn package_without_vmlinuz() {
    let tar = TarBuilder::new()
        .file(&format!("./lib/modules/{R}/modules.order"), b"")
        .finish();
    let (_, err) = expect_err(&deb("data.tar.xz", &xz(&tar)));
    assert!(matches!(err, KernelError::NoVmlinuz { .. }), "{err}");
}

#[test]
fn vmlinuz_that_is_not_a_kernel() {
    let tar = TarBuilder::new()
        .file(&format!("./boot/vmlinuz-{R}"), b"#!/bin/sh\n")
        .finish();
    let (_, err) = expect_err(&deb("data.tar.xz", &xz(&tar)));
    assert!(matches!(err, KernelError::NotAKernelImage { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("boot/vmlinuz-{R}")),
        "{err}"
    );
}

#[test]
fn corrupt_module_is_reported_by_file() {
    let tar = TarBuilder::new()
        .file(&format!("./boot/vmlinuz-{R}"), &x86_bzimage(VERSION))
        .file(
            &format!("./lib/modules/{R}/kernel/junk.ko"),
            b"not an ELF file",
        )
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let d = write_deb(tmp.path(), "img.deb", &deb("data.tar.xz", &xz(&tar)));
    let err = extract_image_deb(&d, &tmp.path().join("out"), &compress()).unwrap_err();
    assert!(matches!(err, KernelError::ModuleElf { .. }), "{err}");
    assert!(err.to_string().contains("kernel/junk.ko.zst"), "{err}");
}

#[test]
fn mixed_releases_are_refused() {
    let tar = TarBuilder::new()
        .file(&format!("./boot/vmlinuz-{R}"), &x86_bzimage(VERSION))
        .file("./lib/modules/6.1.0-49-cloud-amd64/modules.order", b"")
        .finish();
    let (_, err) = expect_err(&deb("data.tar.xz", &xz(&tar)));
    assert!(matches!(err, KernelError::ReleaseMismatch { .. }), "{err}");
}

#[test]
fn two_images_are_refused() {
    let tar = TarBuilder::new()
        .file(&format!("./boot/vmlinuz-{R}"), &x86_bzimage(VERSION))
        .file(
            &format!("./usr/lib/modules/{R}/vmlinuz"),
            &x86_bzimage(VERSION),
        )
        .finish();
    let (_, err) = expect_err(&deb("data.tar.xz", &xz(&tar)));
    assert!(matches!(err, KernelError::DuplicateVmlinuz { .. }), "{err}");
}

/// Counts the bytes read through it.
struct Counting<R>(R, Arc<AtomicU64>);

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn dbg_tar(map_path: &str, map: &[u8], tail: usize) -> Vec<u8> {
    // Pseudo-random filler standing in for the hundreds of MB of debug modules.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let filler: Vec<u8> = (0..tail)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    TarBuilder::new()
        .file(
            &format!("./boot/System.map-{R}"),
            b"ffffffffffffffff B The real System.map is in x",
        )
        .file(map_path, map)
        .file("./usr/lib/debug/lib/modules/x/kernel/big.ko", &filler)
        .finish()
}

#[test]
fn system_map_stops_reading_once_found() {
    let map = b"ffffffff81000000 T _stext\n".repeat(300);
    let tar = dbg_tar(
        &format!("./usr/lib/debug/boot/System.map-{R}"),
        &map,
        4 << 20,
    );
    let bytes = deb("data.tar", &tar);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("maps").join("System.map");
    let count = Arc::new(AtomicU64::new(0));
    let found = system_map_from_reader(
        Path::new("dbg.deb"),
        Counting(&bytes[..], count.clone()),
        &dest,
    )
    .unwrap();
    assert!(found);
    assert_eq!(fs::read(&dest).unwrap(), map);
    let read = count.load(Ordering::Relaxed);
    assert!(read < (1 << 20), "read {read} of {} bytes", bytes.len());
    assert!(!tmp.path().join("maps").join("System.map.partial").exists());
}

#[test]
fn system_map_in_split_layout_and_absent() {
    let map = b"ffffffff81000000 T _stext\n".repeat(300);
    let tar = dbg_tar("./usr/lib/debug/lib/modules/7.2.13/System.map", &map, 1000);
    let tmp = tempfile::tempdir().unwrap();
    let d = write_deb(tmp.path(), "dbg.deb", &deb("data.tar.xz", &xz(&tar)));
    let dest = tmp.path().join("System.map");
    assert!(extract_system_map(&d, &dest).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), map);

    let none = TarBuilder::new().file("./usr/share/doc/x", b"x").finish();
    let d = write_deb(tmp.path(), "nodbg.deb", &deb("data.tar.xz", &xz(&none)));
    assert!(!extract_system_map(&d, &tmp.path().join("none.map")).unwrap());
    assert!(!tmp.path().join("none.map").exists());

    let err = extract_system_map(&tmp.path().join("absent.deb"), &dest).unwrap_err();
    assert!(matches!(err, KernelError::Read { .. }), "{err}");
    assert!(err.to_string().contains("absent.deb"), "{err}");
}
