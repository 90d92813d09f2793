//! `kmatrix.toml`.

use crate::harness::{KERNEL, finish, kmatrix};

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

/// `kmatrix run -- /bin/true` in a directory whose `kmatrix.toml` is `text`: exit status,
/// stderr and the file's path.
fn run_with_config(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kmatrix.toml");
    std::fs::write(&config, text).unwrap();
    let output = kmatrix()
        .current_dir(dir.path())
        .args(["run", "--", "/bin/true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (
        output.status.code(),
        stderr,
        config.to_str().unwrap().to_string(),
    )
}

#[test]
fn an_unknown_key_in_the_config_file_is_a_usage_error_naming_key_and_file() {
    let (code, stderr, config) = run_with_config("kernel = [\"debian:6.1\"]\n");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("kernel") && stderr.contains(&config),
        "{stderr}"
    );
}

#[test]
fn a_bad_kernel_spec_in_the_config_file_names_the_file() {
    let (code, stderr, config) = run_with_config("kernels = [\"debian:banana\"]\n");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(&config) && stderr.contains("debian:banana"),
        "{stderr}"
    );
}
