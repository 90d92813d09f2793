//! The cache, pinning and verification: what a second, concurrent, interrupted or offline run does.

use crate::harness::{KERNEL, cache_dir, kmatrix, run};

#[test]
fn second_run_uses_the_cached_package_without_downloading() {
    let first = run(&["--kernel", KERNEL, "--", "/bin/true"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let second = run(&["--verbose", "--kernel", KERNEL, "--", "/bin/true"]);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert!(!second.stderr.contains("downloading"), "{second:?}");
    assert!(second.stderr.contains(": cached: "), "{second:?}");
    assert!(!second.stderr.contains("extracted in"), "{second:?}");
    // Nor does it ask the archive again within the hour.
    assert!(second.stderr.contains(" min ago)"), "{second:?}");
    assert!(cache_dir().join("kernels").is_dir());
}

#[test]
fn offline_with_an_empty_cache_fails_with_exit_3_naming_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let output = kmatrix()
        .env("KMATRIX_CACHE_DIR", dir.path().join("cache"))
        .args([
            "run",
            "--offline",
            "--accel",
            "tcg",
            "--kernel",
            KERNEL,
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "kmatrix: error: {KERNEL}: --offline: no lock file"
        )),
        "{stderr}"
    );
}

#[test]
fn a_lock_file_pins_a_run_to_the_recorded_package() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("kmatrix.lock");
    // Pin an older build of the 6.1 line than the newest one...
    let output = kmatrix()
        .args(["kernel", "update", "--lock"])
        .arg(&lock)
        .arg("debian:6.1.0-50")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&lock)
        .unwrap()
        .replace("\"debian:6.1.0-50\"", &format!("\"{KERNEL}\""));
    std::fs::write(&lock, text).unwrap();
    // ...and a run of `debian:6.1` boots exactly that one, also offline.
    for extra in [&[][..], &["--offline"][..]] {
        let mut args = vec!["--lock", lock.to_str().unwrap(), "--kernel", KERNEL];
        args.extend(extra);
        args.extend(["--", "/bin/uname", "-r"]);
        let done = run(&args);
        assert_eq!(done.code, Some(0), "{done:?}");
        assert_eq!(done.kernel()["release"], "6.1.0-50-cloud-amd64", "{done:?}");
        assert!(done.stderr.contains("pinned"), "{done:?}");
    }
}

/// The cached package of `KERNEL` in the shared cache (downloading it if needed).
fn cached_package() -> std::path::PathBuf {
    let output = kmatrix()
        .args(["kernel", "fetch", KERNEL])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = stderr
        .lines()
        .find_map(|l| l.split(": ").last().filter(|p| p.ends_with(".deb")))
        .unwrap();
    let named = tempfile::Builder::new()
        .prefix("kmatrix-e2e-pkg")
        .tempdir()
        .unwrap()
        .keep();
    // A local package spec is recognised by its Debian file name.
    let link = named.join("linux-image-6.1-cloud-amd64-unsigned_1_amd64.deb");
    std::os::unix::fs::symlink(path, &link).unwrap();
    link
}

/// `kmatrix run` of `/bin/true` on a local package with its own cache.
fn run_true_on(package: &std::path::Path, cache: &std::path::Path) -> std::process::Command {
    let mut command = kmatrix();
    command
        .env("KMATRIX_CACHE_DIR", cache)
        .args(["run", "--accel", "tcg", "--kernel"])
        .arg(package)
        .args(["--", "/bin/true"]);
    command
}

#[test]
fn two_concurrent_runs_on_one_empty_cache_both_succeed() {
    let package = cached_package();
    let cache = tempfile::tempdir().unwrap();
    let start = || {
        run_true_on(&package, cache.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let kernels: Vec<_> = std::fs::read_dir(cache.path().join("kernels"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(
        kernels.len(),
        1,
        "one extracted kernel, no leftovers: {kernels:?}"
    );
}

#[test]
fn an_interrupted_cache_entry_is_never_trusted() {
    let package = cached_package();
    let cache = tempfile::tempdir().unwrap();
    let run_once = || run_true_on(&package, cache.path()).output().unwrap();
    assert!(run_once().status.success());
    let entry = std::fs::read_dir(cache.path().join("kernels"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    // Simulate a write that stopped half way: metadata gone, image truncated; plus a leftover.
    std::fs::remove_file(entry.join("kernel.meta")).unwrap();
    std::fs::write(entry.join("vmlinuz"), b"truncated").unwrap();
    std::fs::create_dir_all(cache.path().join("kernels/.tmp-1-0-leftover")).unwrap();
    let again = run_once();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("extracted in"),
        "the entry was extracted again: {stderr}"
    );
    let pruned = kmatrix()
        .env("KMATRIX_CACHE_DIR", cache.path())
        .args(["cache", "prune"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&pruned.stderr).contains(".tmp-1-0-leftover"));
    assert!(!cache.path().join("kernels/.tmp-1-0-leftover").exists());
}

#[test]
fn an_archive_not_signed_by_the_keyring_is_refused_with_exit_3() {
    // The keyring of keys Debian retired: none of them signs today's InRelease files.
    let keyring = "/usr/share/keyrings/debian-archive-removed-keys.gpg";
    let output = kmatrix()
        .args([
            "run",
            "--accel",
            "tcg",
            "--keyring",
            keyring,
            "--kernel",
            KERNEL,
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("kmatrix: error:"))
        .unwrap();
    assert!(
        error.contains("InRelease has no valid signature by a key in") && error.contains(keyring),
        "{error}"
    );
}
