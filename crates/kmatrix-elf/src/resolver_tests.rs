//! Resolver tests on fake roots populated with synthetic ELF files.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::test_elf::TestElf;
use crate::{Closure, ClosureEntry, ElfError, LibraryResolver};

const INTERP: &str = "/lib64/ld-linux-x86-64.so.2";
const MULTIARCH: &str = "/usr/lib/x86_64-linux-gnu";

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Self {
        Root {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, guest: &str) -> PathBuf {
        self.path().join(guest.trim_start_matches('/'))
    }

    fn file(&self, guest: &str, bytes: &[u8]) {
        let host = self.host(guest);
        fs::create_dir_all(host.parent().unwrap()).unwrap();
        fs::write(host, bytes).unwrap();
    }

    fn elf(&self, guest: &str, elf: TestElf) {
        self.file(guest, &elf.build());
    }

    fn link(&self, guest: &str, target: &str) {
        let host = self.host(guest);
        fs::create_dir_all(host.parent().unwrap()).unwrap();
        symlink(target, host).unwrap();
    }

    fn resolver(&self) -> LibraryResolver {
        LibraryResolver::new(self.path())
    }

    /// Debian's merged-/usr layout with an interpreter and libc.
    fn merged_usr() -> Self {
        let root = Root::new();
        fs::create_dir_all(root.host("/usr/bin")).unwrap();
        root.link("/bin", "usr/bin");
        root.link("/lib", "usr/lib");
        root.link("/lib64", "usr/lib64");
        root.link(
            "/usr/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        );
        root.elf(
            &format!("{MULTIARCH}/ld-linux-x86-64.so.2"),
            TestElf::x86_64().soname("ld-linux-x86-64.so.2"),
        );
        root.elf(
            &format!("{MULTIARCH}/libc.so.6"),
            TestElf::x86_64()
                .soname("libc.so.6")
                .needed("ld-linux-x86-64.so.2"),
        );
        root
    }

    /// A program at `guest` needing `libs`.
    fn program(&self, guest: &str, libs: &[&str]) {
        let mut elf = TestElf::x86_64().interp(INTERP);
        for lib in libs {
            elf = elf.needed(lib);
        }
        self.elf(guest, elf);
    }
}

/// "L link -> target" / "F path" lines; also checks host paths.
fn summary(root: &Root, closure: &Closure) -> Vec<String> {
    closure
        .entries
        .iter()
        .map(|e| match e {
            ClosureEntry::File {
                guest_path,
                host_path,
            } => {
                assert_eq!(host_path, &root.host(guest_path.to_str().unwrap()));
                format!("F {}", guest_path.display())
            }
            ClosureEntry::Symlink { guest_path, target } => {
                format!("L {} -> {}", guest_path.display(), target.display())
            }
        })
        .collect()
}

#[test]
fn merged_usr_closure_reproduces_every_symlink() {
    let root = Root::merged_usr();
    root.program("/usr/bin/prog", &["libfoo.so.1", "libc.so.6"]);
    root.elf(
        &format!("{MULTIARCH}/libfoo.so.1.2.3"),
        TestElf::x86_64()
            .soname("libfoo.so.1")
            .needed("libc.so.6")
            .needed("libbar.so.2"),
    );
    root.link(&format!("{MULTIARCH}/libfoo.so.1"), "libfoo.so.1.2.3");
    root.elf(&format!("{MULTIARCH}/libbar.so.2"), TestElf::x86_64());

    let resolver = root.resolver();
    let closure = resolver.closure(Path::new("/bin/prog")).unwrap();
    assert_eq!(
        summary(&root, &closure),
        [
            "L /lib64 -> usr/lib64",
            "L /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "L /lib -> usr/lib",
            "F /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "L /usr/lib/x86_64-linux-gnu/libfoo.so.1 -> libfoo.so.1.2.3",
            "F /usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3",
            "F /usr/lib/x86_64-linux-gnu/libc.so.6",
            "F /usr/lib/x86_64-linux-gnu/libbar.so.2",
        ]
    );
    let libs: Vec<(&str, &str)> = closure
        .libraries
        .iter()
        .map(|l| (l.name.as_str(), l.path.to_str().unwrap()))
        .collect();
    assert_eq!(
        libs,
        [
            (INTERP, INTERP),
            ("libfoo.so.1", "/lib/x86_64-linux-gnu/libfoo.so.1"),
            ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
            ("libbar.so.2", "/lib/x86_64-linux-gnu/libbar.so.2"),
        ]
    );
    // Same calls, same answer.
    assert_eq!(resolver.closure(Path::new("bin/prog")).unwrap(), closure);

    let own = resolver.resolve_path(Path::new("/bin/prog")).unwrap();
    assert_eq!(
        own,
        [
            ClosureEntry::Symlink {
                guest_path: "/bin".into(),
                target: "usr/bin".into()
            },
            ClosureEntry::File {
                guest_path: "/usr/bin/prog".into(),
                host_path: root.host("/usr/bin/prog")
            },
        ]
    );
}

#[test]
fn interpreter_soname_satisfies_needed_without_search() {
    let root = Root::new();
    root.elf(
        "/opt/ld.so",
        TestElf::x86_64().soname("ld-linux-x86-64.so.2"),
    );
    root.elf(
        "/usr/lib/libc.so.6",
        TestElf::x86_64().needed("ld-linux-x86-64.so.2"),
    );
    root.elf(
        "/prog",
        TestElf::x86_64().interp("/opt/ld.so").needed("libc.so.6"),
    );
    let closure = root.resolver().closure(Path::new("/prog")).unwrap();
    assert_eq!(
        summary(&root, &closure),
        ["F /opt/ld.so", "F /usr/lib/libc.so.6"]
    );
}

#[test]
fn incompatible_candidates_are_skipped() {
    let root = Root::merged_usr();
    root.file(
        "/etc/ld.so.conf",
        b"/opt/class32\n/opt/aarch64\n/opt/script\n",
    );
    root.elf("/opt/class32/libz.so.1", TestElf::new(false, 62));
    root.elf("/opt/aarch64/libz.so.1", TestElf::new(true, 183));
    root.file("/opt/script/libz.so.1", b"/* GNU ld script */\n");
    root.elf(&format!("{MULTIARCH}/libz.so.1"), TestElf::x86_64());
    root.program("/usr/bin/prog", &["libz.so.1"]);

    let closure = root.resolver().closure(Path::new("/usr/bin/prog")).unwrap();
    let files: Vec<&Path> = closure.entries.iter().map(|e| e.guest_path()).collect();
    assert!(files.contains(&Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1")));
    assert!(!files.iter().any(|f| f.starts_with("/opt")), "{files:?}");

    // With no compatible copy at all, the error lists the skipped ones.
    fs::remove_file(root.host(&format!("{MULTIARCH}/libz.so.1"))).unwrap();
    let err = root
        .resolver()
        .closure(Path::new("/usr/bin/prog"))
        .unwrap_err();
    let ElfError::LibraryNotFound { skipped, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(skipped.len(), 3, "{err}");
    assert!(err.to_string().contains("/opt/aarch64/libz.so.1"), "{err}");
}

#[test]
fn missing_library_names_library_and_requester() {
    let root = Root::merged_usr();
    root.program("/usr/bin/prog", &["libc.so.6", "libgone.so.7"]);
    let err = root
        .resolver()
        .closure(Path::new("/usr/bin/prog"))
        .unwrap_err();
    match &err {
        ElfError::LibraryNotFound {
            library,
            needed_by,
            searched,
            ..
        } => {
            assert_eq!(library, "libgone.so.7");
            assert_eq!(needed_by, Path::new("/usr/bin/prog"));
            assert_eq!(
                searched.first().map(PathBuf::as_path),
                Some(Path::new("/lib/x86_64-linux-gnu/libgone.so.7"))
            );
        }
        other => panic!("unexpected error: {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("libgone.so.7") && msg.contains("/usr/bin/prog"),
        "{msg}"
    );
}

#[test]
fn bad_programs_give_typed_errors() {
    let root = Root::new();
    root.file("/bin/script", b"#!/bin/sh\necho hi\n");
    root.elf(
        "/bin/noloader",
        TestElf::x86_64().interp("/lib/ld-missing.so"),
    );
    fs::create_dir_all(root.host("/dir")).unwrap();
    let r = root.resolver();

    let err = r.closure(Path::new("/bin/script")).unwrap_err();
    assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
    assert!(err.to_string().contains("script"), "{err}");
    let err = r.closure(Path::new("/bin/absent")).unwrap_err();
    assert!(matches!(err, ElfError::NotFound { .. }), "{err}");
    let err = r.closure(Path::new("/dir")).unwrap_err();
    assert!(matches!(err, ElfError::NotRegularFile { .. }), "{err}");
    let err = r.closure(Path::new("/bin/noloader")).unwrap_err();
    assert!(matches!(err, ElfError::InterpreterNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/lib/ld-missing.so"), "{err}");
}

#[test]
fn static_program_has_empty_closure() {
    let root = Root::new();
    root.elf("/init", TestElf::x86_64().static_exe());
    root.elf("/nodeps", TestElf::x86_64());
    let r = root.resolver();
    assert!(r.closure(Path::new("/init")).unwrap().is_empty());
    assert!(r.closure(Path::new("/nodeps")).unwrap().is_empty());
}

#[test]
fn runpath_with_origin_uses_the_real_program_directory() {
    let root = Root::merged_usr();
    root.link("/usr/local/bin/app", "/opt/app/bin/app");
    root.elf(
        "/opt/app/bin/app",
        TestElf::x86_64()
            .interp(INTERP)
            .needed("libapp.so.1")
            .runpath("$ORIGIN/../lib"),
    );
    root.link("/opt/app/lib/libapp.so.1", "libapp.so.1.0");
    root.elf(
        "/opt/app/lib/libapp.so.1.0",
        TestElf::x86_64()
            .needed("libplug.so")
            .needed("libc.so.6")
            .runpath("${ORIGIN}/plugins"),
    );
    root.elf("/opt/app/lib/plugins/libplug.so", TestElf::x86_64());

    let closure = root
        .resolver()
        .closure(Path::new("/usr/local/bin/app"))
        .unwrap();
    let lines = summary(&root, &closure);
    assert_eq!(
        lines[4..],
        [
            "L /opt/app/lib/libapp.so.1 -> libapp.so.1.0",
            "F /opt/app/lib/libapp.so.1.0",
            "F /opt/app/lib/plugins/libplug.so",
            "F /usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
    );
    assert_eq!(
        closure.libraries[1].path,
        Path::new("/opt/app/bin/../lib/libapp.so.1")
    );

    // DT_RUNPATH only serves the object's own NEEDED entries.
    root.elf(
        "/opt/app/lib/plugins/libplug.so",
        TestElf::x86_64().needed("libhelper.so"),
    );
    root.elf("/opt/app/lib/libhelper.so", TestElf::x86_64());
    let err = root
        .resolver()
        .closure(Path::new("/usr/local/bin/app"))
        .unwrap_err();
    assert!(
        matches!(&err, ElfError::LibraryNotFound { library, .. } if library == "libhelper.so"),
        "{err}"
    );
}

#[test]
fn rpath_is_inherited_by_dependencies_unless_runpath_is_set() {
    let root = Root::merged_usr();
    root.elf(
        &format!("{MULTIARCH}/liba.so"),
        TestElf::x86_64().needed("libb.so"),
    );
    root.elf(&format!("{MULTIARCH}/libb.so"), TestElf::x86_64());
    root.elf("/opt/rp/libb.so", TestElf::x86_64());
    let libb_path = |closure: &Closure| {
        closure
            .libraries
            .iter()
            .find(|l| l.name == "libb.so")
            .map(|l| l.path.clone())
            .unwrap()
    };

    // liba has no RPATH/RUNPATH, so the program's RPATH applies to its needs.
    root.elf(
        "/usr/bin/p1",
        TestElf::x86_64()
            .interp(INTERP)
            .needed("liba.so")
            .rpath("/opt/rp"),
    );
    let c = root.resolver().closure(Path::new("/usr/bin/p1")).unwrap();
    assert_eq!(libb_path(&c), Path::new("/opt/rp/libb.so"));

    // A RUNPATH on the program disables its RPATH entirely.
    root.elf(
        "/usr/bin/p2",
        TestElf::x86_64()
            .interp(INTERP)
            .needed("liba.so")
            .rpath("/opt/rp")
            .runpath("/opt/none"),
    );
    let c = root.resolver().closure(Path::new("/usr/bin/p2")).unwrap();
    assert_eq!(libb_path(&c), Path::new("/lib/x86_64-linux-gnu/libb.so"));

    // A RUNPATH on the requesting library stops the inherited RPATH too.
    root.elf(
        &format!("{MULTIARCH}/liba2.so"),
        TestElf::x86_64().needed("libb.so").runpath("/opt/none"),
    );
    root.elf(
        "/usr/bin/p3",
        TestElf::x86_64()
            .interp(INTERP)
            .needed("liba2.so")
            .rpath("/opt/rp"),
    );
    let c = root.resolver().closure(Path::new("/usr/bin/p3")).unwrap();
    assert_eq!(libb_path(&c), Path::new("/lib/x86_64-linux-gnu/libb.so"));
}

#[test]
fn ld_so_conf_includes_come_before_default_dirs() {
    let root = Root::merged_usr();
    root.file(
        "/etc/ld.so.conf",
        b"# test\ninclude /etc/ld.so.conf.d/*.conf\nhwcap 1 x\n",
    );
    root.file("/etc/ld.so.conf.d/b.conf", b"/opt/b\n");
    root.file("/etc/ld.so.conf.d/a.conf", b"/opt/a/\n");
    root.file("/etc/ld.so.conf.d/c.conf.disabled", b"/opt/c\n");
    for dir in ["/opt/a", "/opt/b", "/opt/c", MULTIARCH] {
        root.elf(&format!("{dir}/libq.so.1"), TestElf::x86_64());
    }
    root.elf("/opt/c/libonlyc.so", TestElf::x86_64());
    root.program("/usr/bin/prog", &["libq.so.1"]);

    let c = root.resolver().closure(Path::new("/usr/bin/prog")).unwrap();
    assert_eq!(c.libraries[1].path, Path::new("/opt/a/libq.so.1"));

    root.program("/usr/bin/prog2", &["libonlyc.so"]);
    assert!(
        root.resolver()
            .closure(Path::new("/usr/bin/prog2"))
            .is_err()
    );
    // An explicit configuration file replaces /etc/ld.so.conf.
    root.file("/etc/alt.conf", b"/opt/c\n");
    let r = root.resolver().ld_so_conf("/etc/alt.conf");
    assert!(r.closure(Path::new("/usr/bin/prog2")).is_ok());
}

#[test]
fn needed_paths_and_aliases() {
    let root = Root::merged_usr();
    root.elf("/opt/direct/libd.so", TestElf::x86_64());
    root.elf("/usr/bin/libe.so", TestElf::x86_64().soname("libe.so.1"));
    root.link(&format!("{MULTIARCH}/libe.so.1"), "/usr/bin/libe.so");
    root.program(
        "/usr/bin/prog",
        &["/opt/direct/libd.so", "$ORIGIN/libe.so", "libe.so.1"],
    );
    let c = root.resolver().closure(Path::new("/usr/bin/prog")).unwrap();
    let lines = summary(&root, &c);
    assert!(
        lines.contains(&"F /opt/direct/libd.so".to_owned()),
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.as_str() == "F /usr/bin/libe.so")
            .count(),
        1
    );
    // libe.so.1 matches the SONAME of the already-loaded $ORIGIN/libe.so.
    assert_eq!(c.libraries.len(), 3);
}

#[test]
fn symlink_loop_in_search_is_an_error() {
    let root = Root::merged_usr();
    root.link(&format!("{MULTIARCH}/libloop.so"), "libloop2.so");
    root.link(&format!("{MULTIARCH}/libloop2.so"), "libloop.so");
    root.program("/usr/bin/prog", &["libloop.so"]);
    let err = root
        .resolver()
        .closure(Path::new("/usr/bin/prog"))
        .unwrap_err();
    assert!(matches!(err, ElfError::SymlinkLoop { .. }), "{err}");
}

#[test]
fn default_dirs_can_be_replaced() {
    let root = Root::merged_usr();
    root.elf("/custom/libk.so", TestElf::x86_64());
    root.program("/usr/bin/prog", &["libk.so"]);
    let r = root
        .resolver()
        .default_dirs(vec![PathBuf::from(MULTIARCH), PathBuf::from("/custom")]);
    let c = r.closure(Path::new("/usr/bin/prog")).unwrap();
    assert_eq!(c.libraries[1].path, Path::new("/custom/libk.so"));
}
