//! `kmatrix run` on real kernels.

use crate::harness::{KERNEL, cache_dir, finish, fixture, kmatrix, processes_mentioning, run};

#[test]
fn passing_program_passes_and_the_report_has_the_contract_fields() {
    let done = run(&["--kernel", KERNEL, "--", "/bin/true"]);
    assert_eq!(done.code, Some(0), "{done:?}");
    let kernel = done.kernel();
    assert_eq!(kernel["spec"], KERNEL);
    assert!(
        kernel["release"].as_str().unwrap().starts_with("6.1.0-"),
        "{kernel}"
    );
    assert_eq!(kernel["arch"], "x86_64");
    assert_eq!(kernel["accel"], "tcg");
    assert_eq!(kernel["outcome"], "passed");
    assert!(kernel["boot_ms"].as_u64().unwrap() > 0);
    assert_eq!(kernel["programs"][0]["name"], "true");
    assert_eq!(kernel["programs"][0]["outcome"], "passed");
    assert_eq!(kernel["programs"][0]["exit_code"], 0);
}

#[test]
fn failing_program_exits_1_and_names_the_kernel() {
    let done = run(&["--kernel", KERNEL, "--", "/bin/false"]);
    assert_eq!(done.code, Some(1), "{done:?}");
    assert!(
        done.stderr.contains(&format!(
            "kmatrix: {KERNEL}: false FAILED with exit status 1"
        )),
        "{done:?}"
    );
    assert_eq!(done.kernel()["outcome"], "failed");
    assert_eq!(done.kernel()["programs"][0]["exit_code"], 1);
}

#[test]
fn dynamically_linked_host_binary_runs_and_sees_the_guest_kernel() {
    let done = run(&["--kernel", KERNEL, "--", "uname", "-r"]);
    assert_eq!(done.code, Some(0), "{done:?}");
    let release = done.kernel()["release"].as_str().unwrap().to_string();
    assert!(
        done.stdout.contains(&format!("[{KERNEL}] {release}\n")),
        "{done:?}"
    );
    assert_ne!(
        release,
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim()
    );
}

#[test]
fn arguments_with_spaces_quotes_and_non_ascii_arrive_verbatim() {
    let long = "x".repeat(5000);
    let args = [
        "two words",
        "\"double\" and 'single'",
        "h\u{e9}llo w\u{f6}rld \u{1F600}",
        "",
        "--flag=a b",
        "$HOME;|&`",
        &long,
    ];
    let mut command = vec!["--kernel", KERNEL, "--", "/usr/bin/printf", "<%s>\\n"];
    command.extend(args.iter().copied());
    let done = run(&command);
    assert_eq!(done.code, Some(0), "{done:?}");
    let printed: Vec<&str> = done
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("[{KERNEL}] ")))
        .collect();
    let expected: Vec<String> = args.iter().map(|a| format!("<{a}>")).collect();
    assert_eq!(printed, expected);
}

#[test]
fn a_protocol_module_is_loaded_on_demand_by_the_guest_modprobe() {
    let program = fixture("af-key");
    let done = run(&["--kernel", KERNEL, "--", program.to_str().unwrap()]);
    assert_eq!(done.code, Some(0), "{done:?}");
    assert!(
        done.stdout
            .contains(&format!("[{KERNEL}] af_key loaded on demand")),
        "{done:?}"
    );
}

#[test]
fn kernel_panic_is_reported_as_crashed_with_the_console_tail() {
    let done = run(&[
        "--kernel",
        KERNEL,
        "--timeout",
        "240",
        "--",
        "/bin/sh",
        "-c",
        "echo c > /proc/sysrq-trigger",
    ]);
    assert_eq!(done.code, Some(1), "{done:?}");
    let kernel = done.kernel();
    assert_eq!(kernel["outcome"], "crashed", "{done:?}");
    assert_eq!(kernel["programs"][0]["outcome"], "crashed");
    let tail = kernel["problem"]["console_tail"].as_array().unwrap();
    assert!(
        tail.iter().any(|l| l.as_str().unwrap().contains("sysrq")),
        "{tail:?}"
    );
    assert!(done.stderr.contains("kernel panic"), "{done:?}");
}

#[test]
fn program_that_never_exits_times_out_and_leaves_no_qemu_running() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let child = kmatrix()
        .args(["run", "--accel", "tcg", "--timeout", "20", "--json"])
        .arg(&json)
        .args(["--kernel", KERNEL, "--", "/bin/sleep", "100000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = finish(child.wait_with_output().unwrap(), &json);
    assert_eq!(done.code, Some(1), "{done:?}");
    assert_eq!(done.kernel()["outcome"], "timed_out", "{done:?}");
    assert_eq!(done.kernel()["programs"][0]["outcome"], "timed_out");
    let run_dir = format!("-{pid}/");
    assert_eq!(
        processes_mentioning(&run_dir),
        Vec::<u32>::new(),
        "a QEMU of this run is still alive"
    );
}

#[test]
fn corrupt_deb_exits_3_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let deb = dir
        .path()
        .join("linux-image-6.1.0-99-cloud-amd64-unsigned_6.1.999-1_amd64.deb");
    std::fs::write(
        &deb,
        b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\ngarbage",
    )
    .unwrap();
    let done = run(&["--kernel", deb.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(done.code, Some(3), "{done:?}");
    let error = done
        .stderr
        .lines()
        .find(|l| l.starts_with("kmatrix: error:"))
        .expect("an error line");
    assert!(error.contains(deb.to_str().unwrap()), "{error}");
    assert_eq!(done.kernel()["outcome"], "error");
}

#[test]
fn unknown_kernel_specs_exit_2() {
    for spec in ["debian:4.4", "debian:6.1:sparc", "no-such-kernel-file"] {
        let done = run(&["--kernel", spec, "--", "/bin/true"]);
        assert_eq!(done.code, Some(2), "{spec}: {done:?}");
        assert!(
            done.stderr.contains(
                spec.split(':')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(":")
                    .as_str()
            ),
            "{spec}: {done:?}"
        );
    }
}

#[test]
fn program_for_another_architecture_is_refused_before_boot() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("aarch64-true");
    let mut bytes = std::fs::read("/bin/true").unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes()); // e_machine = EM_AARCH64
    std::fs::write(&foreign, bytes).unwrap();
    let done = run(&["--kernel", KERNEL, "--", foreign.to_str().unwrap()]);
    assert_eq!(done.code, Some(2), "{done:?}");
    assert!(
        done.stderr
            .contains("is built for aarch64, but this kernel is x86_64"),
        "{done:?}"
    );
    assert!(
        done.kernel()["boot_ms"].is_null(),
        "no VM should have started"
    );
}

#[test]
fn missing_qemu_exits_3_saying_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = kmatrix()
        .env("PATH", dir.path())
        .args(["run", "--accel", "tcg", "--json"])
        .arg(&json)
        .args(["--kernel", KERNEL, "--", "/bin/true"])
        .output()
        .unwrap();
    let done = finish(output, &json);
    assert_eq!(done.code, Some(3), "{done:?}");
    assert!(
        done.stderr.contains("qemu-system-x86_64 not found"),
        "{done:?}"
    );
    assert!(
        done.stderr.contains("apt-get install qemu-system-x86"),
        "{done:?}"
    );
}

#[test]
fn second_run_uses_the_cached_package_without_downloading() {
    let first = run(&["--kernel", KERNEL, "--", "/bin/true"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let second = run(&["--verbose", "--kernel", KERNEL, "--", "/bin/true"]);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert!(!second.stderr.contains("downloading"), "{second:?}");
    assert!(second.stderr.contains(": cached: "), "{second:?}");
    assert!(!second.stderr.contains("extracted in"), "{second:?}");
    assert!(cache_dir().join("kernels").is_dir());
}

#[test]
fn default_matrix_boots_every_long_term_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = kmatrix()
        .args(["run", "--accel", "tcg", "--json"])
        .arg(&json)
        .args(["--", "uname", "-r"])
        .output()
        .unwrap();
    let done = finish(output, &json);
    assert_eq!(done.code, Some(0), "{done:?}");
    let kernels = done.json.as_ref().unwrap()["kernels"]
        .as_array()
        .unwrap()
        .clone();
    let specs: Vec<&str> = kernels
        .iter()
        .map(|k| k["spec"].as_str().unwrap())
        .collect();
    assert_eq!(specs, ["debian:5.10", "debian:6.1", "debian:6.12"]);
    for (kernel, line) in kernels.iter().zip(["5.10.", "6.1.", "6.12."]) {
        let release = kernel["release"].as_str().unwrap();
        assert!(release.starts_with(line), "{release}");
        assert!(done.stdout.contains(&format!("] {release}\n")), "{done:?}");
    }
}

#[test]
fn unwritable_json_path_is_refused_before_any_vm_starts() {
    let output = kmatrix()
        .args([
            "run",
            "--accel",
            "tcg",
            "--json",
            "/nonexistent-kmatrix-dir/report.json",
            "--kernel",
            KERNEL,
        ])
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("directory /nonexistent-kmatrix-dir does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("booting"), "{stderr}");
    assert!(!std::path::Path::new("/nonexistent-kmatrix-dir").exists());
}

#[test]
fn parallel_run_gives_the_same_results_as_a_sequential_one() {
    let outcomes = |jobs: &str| {
        let done = run(&[
            "--jobs",
            jobs,
            "-k",
            "debian:5.10",
            "-k",
            KERNEL,
            "-k",
            "debian:6.12",
            "--",
            "/bin/uname",
            "-r",
        ]);
        assert_eq!(done.code, Some(0), "{done:?}");
        let kernels = done.json.as_ref().unwrap()["kernels"]
            .as_array()
            .unwrap()
            .clone();
        kernels
            .iter()
            .map(|k| {
                let program = &k["programs"][0];
                (
                    k["spec"].clone(),
                    k["release"].clone(),
                    k["outcome"].clone(),
                    program["outcome"].clone(),
                    program["exit_code"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let sequential = outcomes("1");
    assert_eq!(sequential.len(), 3);
    assert_eq!(outcomes("3"), sequential);
}

#[test]
fn arm64_kernel_boots_and_runs_a_static_arm64_program() {
    let program = crate::harness::aarch64_fixture("whoami-kernel");
    let done = run(&[
        "--kernel",
        "debian:6.1:arm64",
        "--",
        program.to_str().unwrap(),
    ]);
    assert_eq!(done.code, Some(0), "{done:?}");
    let kernel = done.kernel();
    assert_eq!(kernel["arch"], "aarch64");
    let release = kernel["release"].as_str().unwrap();
    assert!(release.ends_with("-cloud-arm64"), "{release}");
    assert!(
        done.stdout
            .contains(&format!("[debian:6.1:arm64] aarch64 {release}\n")),
        "{done:?}"
    );
}

#[test]
fn matrix_prints_the_kernels_and_shards_for_a_ci_matrix() {
    let output = kmatrix()
        .args(["matrix", "--format", "github"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "kernel": ["debian:5.10", "debian:6.1", "debian:6.12"] })
    );
    let output = kmatrix()
        .args([
            "matrix",
            "--shards",
            "2",
            "-k",
            "debian:6.1",
            "-k",
            "debian:6.12",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json, serde_json::json!({ "shard": ["1/2", "2/2"] }));
}

#[test]
fn shard_reports_merge_into_the_unsharded_report() {
    let matrix = ["-k", "debian:5.10", "-k", KERNEL, "-k", "debian:6.12"];
    let essentials = |report: &serde_json::Value| {
        report["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let programs: Vec<_> = k["programs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (
                            p["name"].clone(),
                            p["outcome"].clone(),
                            p["exit_code"].clone(),
                        )
                    })
                    .collect();
                (
                    k["index"].clone(),
                    k["spec"].clone(),
                    k["release"].clone(),
                    k["outcome"].clone(),
                    programs,
                )
            })
            .collect::<Vec<_>>()
    };
    let mut whole_args = matrix.to_vec();
    whole_args.extend(["--", "/bin/uname", "-r"]);
    let whole = run(&whole_args);
    assert_eq!(whole.code, Some(0), "{whole:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut shard_reports = Vec::new();
    for shard in ["2/2", "1/2"] {
        let mut args = matrix.to_vec();
        args.extend(["--shard", shard, "--", "/bin/uname", "-r"]);
        let done = run(&args);
        assert_eq!(done.code, Some(0), "{done:?}");
        let path = dir.path().join(format!("shard-{}.json", &shard[..1]));
        std::fs::write(
            &path,
            serde_json::to_vec(done.json.as_ref().unwrap()).unwrap(),
        )
        .unwrap();
        shard_reports.push(path);
    }
    let merged_json = dir.path().join("merged.json");
    let output = kmatrix()
        .args(["report", "merge", "--json"])
        .arg(&merged_json)
        .args(&shard_reports)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let merged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&merged_json).unwrap()).unwrap();
    assert_eq!(
        essentials(&merged),
        essentials(whole.json.as_ref().unwrap())
    );
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

#[test]
fn the_config_file_sets_matrix_environment_modules_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), "from the host\n").unwrap();
    std::fs::write(
        dir.path().join("kmatrix.toml"),
        format!(
            "kernels = [\"{KERNEL}\"]\naccel = \"tcg\"\nmodules = [\"af_key\"]\n\
             files = [{{ from = \"data.txt\", to = \"/data/x.txt\" }}]\n\n[env]\nKMX_FROM_CONFIG = \"yes\"\n"
        ),
    )
    .unwrap();
    let json = dir.path().join("report.json");
    // Only shell builtins: the guest has the shell and its libraries, not coreutils.
    let script = "echo env=$KMX_FROM_CONFIG; read line < /data/x.txt; echo file=$line; \
                  while read name rest; do [ \"$name\" = af_key ] && echo module=loaded; done < /proc/modules; true";
    let output = kmatrix()
        .current_dir(dir.path())
        .args(["run", "--json"])
        .arg(&json)
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    let done = finish(output, &json);
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(done.kernel()["spec"], KERNEL);
    for line in ["env=yes", "file=from the host", "module=loaded"] {
        assert!(
            done.stdout.contains(&format!("[{KERNEL}] {line}\n")),
            "{line}: {done:?}"
        );
    }
}

#[test]
fn an_unknown_key_in_the_config_file_is_a_usage_error_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kmatrix.toml");
    std::fs::write(&config, "kernel = [\"debian:6.1\"]\n").unwrap();
    let output = kmatrix()
        .current_dir(dir.path())
        .args(["run", "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("kernel") && stderr.contains(config.to_str().unwrap()),
        "{stderr}"
    );
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

#[test]
fn two_concurrent_runs_on_one_empty_cache_both_succeed() {
    let package = cached_package();
    let cache = tempfile::tempdir().unwrap();
    let start = || {
        kmatrix()
            .env("KMATRIX_CACHE_DIR", cache.path())
            .args([
                "run",
                "--accel",
                "tcg",
                "--kernel",
                package.to_str().unwrap(),
                "--",
                "/bin/true",
            ])
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
    let run_once = || {
        kmatrix()
            .env("KMATRIX_CACHE_DIR", cache.path())
            .args([
                "run",
                "--accel",
                "tcg",
                "--kernel",
                package.to_str().unwrap(),
                "--",
                "/bin/true",
            ])
            .output()
            .unwrap()
    };
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
