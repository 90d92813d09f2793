//! `kmatrix run` on real kernels.

use crate::harness::{KERNEL, finish, fixture, kmatrix, processes_mentioning, run};

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
        done.stderr
            .contains(&format!("kmatrix: {KERNEL}: false FAILED: exit status 1")),
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
fn a_directory_of_test_programs_runs_each_in_name_order_with_77_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tests");
    std::fs::create_dir(&suite).unwrap();
    std::os::unix::fs::symlink("/bin/true", suite.join("a-passes")).unwrap();
    std::os::unix::fs::symlink(fixture("skip-me"), suite.join("b-skips")).unwrap();
    std::os::unix::fs::symlink("/bin/false", suite.join("c-fails")).unwrap();
    std::fs::write(suite.join("README"), "not executable, not a test").unwrap();
    let done = run(&[
        "--kernel",
        KERNEL,
        "--program-timeout",
        "30",
        "--",
        suite.to_str().unwrap(),
    ]);
    assert_eq!(done.code, Some(1), "{done:?}");
    let programs: Vec<(&str, &str)> = done.kernel()["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        programs,
        [
            ("a-passes", "passed"),
            ("b-skips", "skipped"),
            ("c-fails", "failed")
        ]
    );
}
