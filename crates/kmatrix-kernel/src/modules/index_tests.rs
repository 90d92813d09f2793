//! Tests of the module index and the kmod files written from it.

use std::fs;
use std::path::Path;

use super::*;
use crate::testutil::{gzip, module_elf, xz, zstd_compress};

fn module(path: &str, name: &str, depends: &[&str], aliases: &[&str]) -> Module {
    Module {
        path: path.to_string(),
        info: ModInfo {
            name: name.to_string(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            depends: depends.iter().map(|s| s.to_string()).collect(),
            softdeps: Vec::new(),
        },
    }
}

fn text(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn sample() -> ModuleIndex {
    let mut crc = module(
        "kernel/lib/libcrc32c.ko.zst",
        "libcrc32c",
        &["crc32c_generic"],
        &[],
    );
    crc.info.softdeps.push("pre: crc32c".to_string());
    ModuleIndex::new(vec![
        module(
            "kernel/net/key/af_key.ko.zst",
            "af_key",
            &["xfrm_algo"],
            &["net-pf-15"],
        ),
        module("kernel/net/xfrm/xfrm_algo.ko.zst", "xfrm_algo", &[], &[]),
        module(
            "kernel/fs/btrfs/btrfs.ko.zst",
            "btrfs",
            &["raid6_pq", "libcrc32c", "xor"],
            &["fs-btrfs", "devname:btrfs-control", "fs-btrfs"],
        ),
        module(
            "kernel/lib/raid6/raid6_pq.ko.zst",
            "raid6_pq",
            &["xor"],
            &[],
        ),
        module("kernel/crypto/xor.ko.zst", "xor", &[], &[]),
        crc,
        module(
            "kernel/crypto/crc32c_generic.ko.zst",
            "crc32c_generic",
            &[],
            &["crypto-crc32c"],
        ),
    ])
}

#[test]
fn modules_dep_is_sorted_and_transitive() {
    let dep = text(|w| sample().write_modules_dep(w));
    let expected = "\
kernel/crypto/crc32c_generic.ko.zst:
kernel/crypto/xor.ko.zst:
kernel/fs/btrfs/btrfs.ko.zst: kernel/lib/libcrc32c.ko.zst kernel/crypto/crc32c_generic.ko.zst kernel/lib/raid6/raid6_pq.ko.zst kernel/crypto/xor.ko.zst
kernel/lib/libcrc32c.ko.zst: kernel/crypto/crc32c_generic.ko.zst
kernel/lib/raid6/raid6_pq.ko.zst: kernel/crypto/xor.ko.zst
kernel/net/key/af_key.ko.zst: kernel/net/xfrm/xfrm_algo.ko.zst
kernel/net/xfrm/xfrm_algo.ko.zst:
";
    assert_eq!(dep, expected);
}

#[test]
fn dependencies_load_from_last_to_first() {
    let idx = sample();
    let deps: Vec<&str> = idx
        .dependencies("btrfs")
        .unwrap()
        .iter()
        .map(|m| m.info.name.as_str())
        .collect();
    // raid6_pq needs xor: xor must come after raid6_pq.
    let pos = |n: &str| deps.iter().position(|d| *d == n).unwrap();
    assert!(pos("raid6_pq") < pos("xor"));
    assert!(pos("libcrc32c") < pos("crc32c_generic"));
    assert_eq!(deps.len(), 4);
    assert!(idx.dependencies("nonexistent").is_none());
    assert_eq!(
        idx.get("af-key").unwrap().path,
        "kernel/net/key/af_key.ko.zst"
    );
}

#[test]
fn modules_alias_and_softdep() {
    let idx = sample();
    let alias = text(|w| idx.write_modules_alias(w));
    assert_eq!(
        alias,
        "alias crypto-crc32c crc32c_generic\n\
         alias fs-btrfs btrfs\n\
         alias devname:btrfs-control btrfs\n\
         alias net-pf-15 af_key\n"
    );
    let soft = text(|w| idx.write_modules_softdep(w));
    assert_eq!(soft, "softdep libcrc32c pre: crc32c\n");
}

#[test]
fn unresolved_dependencies_are_listed() {
    let idx = ModuleIndex::new(vec![module("kernel/a.ko", "a", &["missing"], &[])]);
    assert_eq!(idx.unresolved(), [("kernel/a.ko", "missing")]);
    assert_eq!(text(|w| idx.write_modules_dep(w)), "kernel/a.ko:\n");
    assert!(idx.cyclic().is_empty());
}

#[test]
fn updates_shadow_kernel_modules() {
    let idx = ModuleIndex::new(vec![
        module("kernel/drivers/foo.ko", "foo", &[], &["pci:v1"]),
        module("updates/foo.ko", "foo", &[], &["pci:v2"]),
        module("kernel/bar.ko", "bar", &["foo"], &[]),
    ]);
    assert_eq!(idx.get("foo").unwrap().path, "updates/foo.ko");
    assert!(text(|w| idx.write_modules_dep(w)).contains("kernel/bar.ko: updates/foo.ko\n"));
    assert_eq!(text(|w| idx.write_modules_alias(w)), "alias pci:v2 foo\n");
}

#[test]
fn builds_index_from_a_directory_of_mixed_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let put = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    };
    put(
        "kernel/net/key/af_key.ko.zst",
        &zstd_compress(&module_elf(&[
            "alias=net-pf-15",
            "depends=xfrm_algo",
            "name=af_key",
        ])),
    );
    put(
        "kernel/net/xfrm/xfrm_algo.ko.xz",
        &xz(&module_elf(&["depends=", "name=xfrm_algo"])),
    );
    put(
        "kernel/fs/fuse/cuse.ko.gz",
        &gzip(&module_elf(&["depends=fuse", "alias=char-major-10-203"])),
    );
    put(
        "kernel/fs/fuse/fuse.ko",
        &module_elf(&["name=fuse", "alias=fs-fuse"]),
    );
    put("extra/vendor.ko", &module_elf(&["name=vendor"]));
    put("modules.order", b"kernel/net/key/af_key.ko\n");
    put("kernel/README", b"not a module");

    let idx = build_index(root).unwrap();
    let paths: Vec<&str> = idx.modules().iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "extra/vendor.ko",
            "kernel/fs/fuse/cuse.ko.gz",
            "kernel/fs/fuse/fuse.ko",
            "kernel/net/key/af_key.ko.zst",
            "kernel/net/xfrm/xfrm_algo.ko.xz",
        ]
    );
    assert_eq!(idx.get("cuse").unwrap().info.depends, ["fuse"]);

    idx.write_files(root).unwrap();
    let dep = fs::read_to_string(root.join("modules.dep")).unwrap();
    assert!(dep.contains("kernel/net/key/af_key.ko.zst: kernel/net/xfrm/xfrm_algo.ko.xz\n"));
    assert!(dep.contains("kernel/fs/fuse/cuse.ko.gz: kernel/fs/fuse/fuse.ko\n"));
    let alias = fs::read_to_string(root.join("modules.alias")).unwrap();
    assert!(alias.contains("alias net-pf-15 af_key\n"));
    assert!(alias.contains("alias char-major-10-203 cuse\n"));
    assert_eq!(
        fs::read_to_string(root.join("modules.softdep")).unwrap(),
        ""
    );
}

#[test]
fn build_index_names_the_bad_module() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kernel");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("good.ko"), module_elf(&["name=good"])).unwrap();
    fs::write(dir.join("bad.ko.xz"), b"\xfd7zXZ\0 truncated").unwrap();
    let err = build_index(tmp.path()).unwrap_err();
    assert!(matches!(err, KernelError::ModuleDecompress { .. }), "{err}");
    assert!(err.to_string().contains("bad.ko.xz"), "{err}");
}

#[test]
fn empty_directory_gives_empty_index() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = build_index(tmp.path()).unwrap();
    assert!(idx.modules().is_empty());
    assert_eq!(text(|w| idx.write_modules_dep(w)), "");
    assert!(
        build_index(Path::new("/nonexistent/modules"))
            .unwrap()
            .modules()
            .is_empty()
    );
}
