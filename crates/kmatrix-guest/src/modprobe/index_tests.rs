use std::path::{Path, PathBuf};

use super::{ModuleFile, ModuleIndex, Target, module_name};

const DIR: &str = "/lib/modules/6.1.0-50-cloud-amd64";

const DEP: &str = "\
kernel/fs/overlayfs/overlay.ko:
kernel/net/key/af_key.ko.xz: kernel/net/xfrm/xfrm_algo.ko.xz
kernel/net/ipv4/esp4.ko.zst: kernel/net/xfrm/xfrm_algo.ko.xz kernel/crypto/authenc.ko
kernel/net/xfrm/xfrm_algo.ko.xz:
kernel/crypto/authenc.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/arch/x86/crypto/crc32-pclmul.ko:
kernel/drivers/block/virtio_blk.ko:
/abs/extra/outside.ko:
";

const ALIAS: &str = "\
# Aliases extracted from modules themselves.
alias fs-overlay overlay
alias net-pf-15 af_key
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_net
alias virtio:d00000001v* virtio_net
alias virtio:d00000002v* virtio_blk
alias virtio:d0000000[12]v* both_virtio_test
alias crypto-crc32 crc32_pclmul
alias crypto-crc32-pclmul crc32-pclmul
alias fs-ext4 ext4
alias fs-vanished vanished
";

const BUILTIN: &str = "\
kernel/fs/ext4/ext4.ko
kernel/drivers/tty/serial/8250/8250.ko
kernel/crypto/sha256_generic.ko
";

fn index() -> ModuleIndex {
    ModuleIndex::parse(Path::new(DIR), DEP, ALIAS, BUILTIN)
}

fn file(name: &str, rel: &str) -> ModuleFile {
    ModuleFile {
        name: name.into(),
        path: PathBuf::from(DIR).join(rel),
    }
}

#[test]
fn module_names_come_from_basenames() {
    assert_eq!(
        module_name(Path::new("a/b/af_key.ko.xz")).as_deref(),
        Some("af_key")
    );
    assert_eq!(
        module_name(Path::new("crc32-pclmul.ko")).as_deref(),
        Some("crc32_pclmul")
    );
    assert_eq!(module_name(Path::new("x.ko.zst")).as_deref(), Some("x"));
    assert_eq!(module_name(Path::new("not_a_module.txt")), None);
}

#[test]
fn name_resolves_to_module_with_ordered_dependencies() {
    assert_eq!(
        index().resolve("virtio_net"),
        [Target::Module {
            name: "virtio_net".into(),
            load_order: vec![
                file("failover", "kernel/net/core/failover.ko"),
                file("net_failover", "kernel/drivers/net/net_failover.ko"),
                file("virtio_net", "kernel/drivers/net/virtio_net.ko"),
            ],
        }]
    );
    assert_eq!(
        index().resolve("esp4"),
        [Target::Module {
            name: "esp4".into(),
            load_order: vec![
                file("authenc", "kernel/crypto/authenc.ko"),
                file("xfrm_algo", "kernel/net/xfrm/xfrm_algo.ko.xz"),
                file("esp4", "kernel/net/ipv4/esp4.ko.zst"),
            ],
        }]
    );
}

#[test]
fn names_are_normalised_and_absolute_paths_kept() {
    let expected = [Target::Module {
        name: "crc32_pclmul".into(),
        load_order: vec![file(
            "crc32_pclmul",
            "kernel/arch/x86/crypto/crc32-pclmul.ko",
        )],
    }];
    assert_eq!(index().resolve("crc32-pclmul"), expected);
    assert_eq!(index().resolve("crc32_pclmul"), expected);
    assert_eq!(
        index().resolve("outside"),
        [Target::Module {
            name: "outside".into(),
            load_order: vec![ModuleFile {
                name: "outside".into(),
                path: "/abs/extra/outside.ko".into()
            }],
        }]
    );
}

#[test]
fn aliases_resolve_with_dash_underscore_normalisation() {
    let af_key = Target::Module {
        name: "af_key".into(),
        load_order: vec![
            file("xfrm_algo", "kernel/net/xfrm/xfrm_algo.ko.xz"),
            file("af_key", "kernel/net/key/af_key.ko.xz"),
        ],
    };
    assert_eq!(index().resolve("net-pf-15"), std::slice::from_ref(&af_key));
    assert_eq!(index().resolve("net_pf_15"), [af_key]);
    assert!(matches!(
        index().resolve("fs-overlay").as_slice(),
        [Target::Module { name, .. }] if name == "overlay"
    ));
    assert!(matches!(
        index().resolve("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00").as_slice(),
        [Target::Module { name, .. }] if name == "virtio_net"
    ));
}

#[test]
fn alias_matching_several_modules_gives_each_once() {
    let names: Vec<String> = index()
        .resolve("virtio:d00000002v00001AF4")
        .into_iter()
        .map(|t| match t {
            Target::Module { name, .. } | Target::Builtin(name) => name,
        })
        .collect();
    // both_virtio_test is not in modules.dep, so it cannot be loaded.
    assert_eq!(names, ["virtio_blk"]);
    assert_eq!(
        index().dangling_aliases("virtio:d00000002v00001AF4"),
        ["both_virtio_test"]
    );
    assert_eq!(index().resolve("crypto-crc32").len(), 1);
}

#[test]
fn builtin_modules_and_aliases_to_them_need_nothing() {
    assert_eq!(index().resolve("ext4"), [Target::Builtin("ext4".into())]);
    assert_eq!(index().resolve("fs-ext4"), [Target::Builtin("ext4".into())]);
    assert_eq!(
        index().resolve("sha256-generic"),
        [Target::Builtin("sha256_generic".into())]
    );
}

#[test]
fn unknown_names_resolve_to_nothing() {
    assert!(index().resolve("no_such_module").is_empty());
    assert!(index().resolve("fs-vanished").is_empty());
    assert_eq!(index().dangling_aliases("fs-vanished"), ["vanished"]);
    assert!(
        ModuleIndex::parse(Path::new(DIR), "", "", "")
            .resolve("x")
            .is_empty()
    );
}

#[test]
fn load_requires_modules_dep_only() {
    let dir = std::env::temp_dir().join(format!("kmatrix-guest-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    assert!(ModuleIndex::load(&dir).is_err());
    std::fs::write(dir.join("modules.dep"), "kernel/a.ko:\n").expect("write");
    let index = ModuleIndex::load(&dir).expect("load");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        index.resolve("a"),
        [Target::Module {
            name: "a".into(),
            load_order: vec![ModuleFile {
                name: "a".into(),
                path: dir.join("kernel/a.ko")
            }],
        }]
    );
}
