//! Closures of real host programs: on the host root itself, and on a fake
//! root built from copies of host files. Skipped (with a note) on hosts that
//! are not x86-64 Debian-style systems.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use kmatrix_elf::{Closure, ClosureEntry, ElfError, LibraryResolver, inspect};

const INTERP: &str = "/lib64/ld-linux-x86-64.so.2";
const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

fn x86_64_debian_host() -> bool {
    let ok = cfg!(target_arch = "x86_64")
        && Path::new(INTERP).exists()
        && Path::new(LIBC).exists()
        && Path::new("/bin/sh").exists();
    if !ok {
        eprintln!("skipping: not an x86-64 Debian-style host");
    }
    ok
}

/// Resolves `path` in the guest tree the closure describes (directories
/// are implied by their contents) and returns the host file it ends at.
fn guest_lookup(closure: &Closure, path: &Path) -> Option<PathBuf> {
    let by_path: HashMap<&Path, &ClosureEntry> = closure
        .entries
        .iter()
        .map(|e| (e.guest_path(), e))
        .collect();
    let mut pending: Vec<PathBuf> = vec![path.to_owned()];
    let mut current = PathBuf::from("/");
    let mut hops = 0;
    while let Some(rest) = pending.pop() {
        let mut comps = rest.components();
        let Some(first) = comps.next() else { continue };
        let remainder: PathBuf = comps.collect();
        if !remainder.as_os_str().is_empty() {
            pending.push(remainder);
        }
        match first {
            Component::RootDir => current = PathBuf::from("/"),
            Component::ParentDir => {
                current.pop();
            }
            Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(name) => {
                let next = current.join(name);
                match by_path.get(next.as_path()) {
                    Some(ClosureEntry::Symlink { target, .. }) => {
                        hops += 1;
                        assert!(hops < 40, "symlink loop at {}", next.display());
                        pending.push(target.clone());
                    }
                    Some(ClosureEntry::File { host_path, .. }) => {
                        return pending.is_empty().then(|| host_path.clone());
                    }
                    None => current = next,
                }
            }
        }
    }
    None
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.display()))
}

fn check_host_program(program: &str) {
    let resolver = LibraryResolver::new("/");
    let closure = resolver
        .closure(Path::new(program))
        .unwrap_or_else(|e| panic!("closure of {program}: {e}"));

    // The interpreter is reachable at exactly its PT_INTERP path, and it is
    // the same file the host has there.
    let interp_host = guest_lookup(&closure, Path::new(INTERP))
        .unwrap_or_else(|| panic!("{INTERP} not reachable in closure of {program}: {closure:#?}"));
    assert_eq!(canonical(&interp_host), canonical(Path::new(INTERP)));
    // /lib64 itself, or the interpreter in it, is reproduced in the guest.
    assert!(
        closure
            .entries
            .iter()
            .any(|e| e.guest_path().starts_with("/lib64"))
    );

    // libc is reachable where ld.so finds it, and is a real file copy.
    let libc = closure
        .libraries
        .iter()
        .find(|l| l.name == "libc.so.6")
        .unwrap_or_else(|| panic!("no libc.so.6 in {closure:#?}"));
    let libc_host = guest_lookup(&closure, &libc.path)
        .unwrap_or_else(|| panic!("{} not reachable: {closure:#?}", libc.path.display()));
    assert_eq!(canonical(&libc_host), canonical(Path::new(LIBC)));
    // Every File entry is a regular file with no symlink in its guest path.
    for entry in &closure.entries {
        if let ClosureEntry::File {
            guest_path,
            host_path,
        } = entry
        {
            assert_eq!(&canonical(host_path), guest_path);
        }
    }
}

#[test]
fn host_uname_and_sh() {
    if !x86_64_debian_host() {
        return;
    }
    check_host_program("/bin/uname");
    check_host_program("/bin/sh");
    // The program itself can be added with resolve_path.
    let own = LibraryResolver::new("/")
        .resolve_path(Path::new("/bin/sh"))
        .unwrap();
    assert!(matches!(own.last(), Some(ClosureEntry::File { .. })));
}

#[test]
fn host_script_is_not_elf() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let err = inspect(&script).unwrap_err();
    assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
    let err = LibraryResolver::new(dir.path())
        .closure(Path::new("/run.sh"))
        .unwrap_err();
    assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
}

/// Copies `/usr/bin/true`, the interpreter and libc into a merged-/usr
/// fake root whose ld.so.conf names the library directory via an include glob.
#[test]
fn fake_root_from_host_files() {
    if !x86_64_debian_host() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mkdir = |p: &str| fs::create_dir_all(root.join(p)).unwrap();
    mkdir("usr/bin");
    mkdir("usr/lib64");
    mkdir("usr/local/lib/x86_64-linux-gnu");
    mkdir("etc/ld.so.conf.d");
    symlink("usr/bin", root.join("bin")).unwrap();
    symlink("usr/lib", root.join("lib")).unwrap();
    symlink("usr/lib64", root.join("lib64")).unwrap();
    symlink(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root.join("usr/lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    fs::copy("/bin/true", root.join("usr/bin/true")).unwrap();
    // A library directory that holds libc under a versioned name.
    mkdir("opt/glibc");
    fs::copy(LIBC, root.join("opt/glibc/libc-2.x.so")).unwrap();
    symlink("libc-2.x.so", root.join("opt/glibc/libc.so.6")).unwrap();
    mkdir("usr/lib/x86_64-linux-gnu");
    fs::copy(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    fs::write(
        root.join("etc/ld.so.conf"),
        "include /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/ld.so.conf.d/glibc.conf"),
        "# test libc location\n/opt/glibc\n",
    )
    .unwrap();

    let closure = LibraryResolver::new(root)
        .closure(Path::new("/bin/true"))
        .unwrap();
    let lines: Vec<String> = closure
        .entries
        .iter()
        .map(|e| match e {
            ClosureEntry::File { guest_path, .. } => format!("F {}", guest_path.display()),
            ClosureEntry::Symlink { guest_path, target } => {
                format!("L {} -> {}", guest_path.display(), target.display())
            }
        })
        .collect();
    assert_eq!(
        lines,
        [
            "L /lib64 -> usr/lib64",
            "L /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "L /lib -> usr/lib",
            "F /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "L /opt/glibc/libc.so.6 -> libc-2.x.so",
            "F /opt/glibc/libc-2.x.so",
        ]
    );
}
