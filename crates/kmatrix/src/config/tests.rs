//! Unit tests of `kmatrix.toml` handling.
use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn load_text(text: &str) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), FILE_NAME, text);
    let result = load(&path);
    (dir, result)
}

fn error_text(text: &str) -> (String, String) {
    let (dir, result) = load_text(text);
    let path = dir.path().join(FILE_NAME).display().to_string();
    (result.unwrap_err().to_string(), path)
}

#[test]
fn full_example_parses() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "testdata/a.bin", "data");
    let path = write(
        dir.path(),
        FILE_NAME,
        r#"
# kmatrix.toml at the workspace root
kernels = ["debian:5.10", "debian:6.1", "debian:6.12:arm64"]
memory = 1024
cpus = 2
timeout = 300
test-timeout = 60
jobs = 2
accel = "auto"
mirror = "http://deb.debian.org/debian"
modules = ["af_key", "overlay"]
files = [{ from = "testdata/a.bin", to = "/data/a.bin" }]

[env]
RUST_LOG = "debug"
"#,
    );
    let config = load(&path).unwrap();
    let root = std::path::absolute(dir.path()).unwrap();
    assert_eq!(
        config,
        Config {
            kernels: Some(vec![
                "debian:5.10".into(),
                "debian:6.1".into(),
                "debian:6.12:arm64".into()
            ]),
            memory: Some(1024),
            cpus: Some(2),
            timeout: Some(300),
            test_timeout: Some(60),
            jobs: Some(2),
            accel: Some(Accel::Auto),
            mirror: Some("http://deb.debian.org/debian".into()),
            modules: vec!["af_key".into(), "overlay".into()],
            files: vec![ExtraFile {
                from: root.join("testdata/a.bin"),
                to: "/data/a.bin".into(),
            }],
            env: BTreeMap::from([("RUST_LOG".into(), "debug".into())]),
        }
    );
}

#[test]
fn empty_file_is_all_defaults() {
    let (_dir, result) = load_text("# nothing\n");
    assert_eq!(result.unwrap(), Config::default());
}

#[test]
fn unknown_key_names_key_file_and_line() {
    let (message, path) = error_text("memory = 512\nkernel = [\"debian:6.1\"]\n");
    assert!(message.contains("kernel"), "{message}");
    assert!(message.contains(&path), "{message}");
    assert!(message.contains(":2:1:"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn wrong_type_is_an_error() {
    let (message, path) = error_text("cpus = 2\nmemory = \"lots\"\n");
    assert!(message.contains(&path), "{message}");
    assert!(message.contains(":2:"), "{message}");
    assert!(message.contains("u32"), "{message}");
    assert!(message.contains("`memory = \"lots\"`"), "{message}");
}

#[test]
fn accel_typo_is_an_error() {
    let (message, path) = error_text("accel = \"kmv\"\n");
    assert!(message.contains(&path), "{message}");
    assert!(message.contains("kmv"), "{message}");
    assert!(message.contains("tcg"), "{message}");
}

#[test]
fn numbers_out_of_range_are_errors() {
    for (text, wanted) in [
        ("memory = 64", "at least 128"),
        ("cpus = 0", "at least 1"),
        ("timeout = 0", "at least 1"),
        ("test-timeout = 0", "at least 1"),
        ("jobs = 0", "at least 1"),
        ("cpus = -1", "-1"),
    ] {
        let (message, path) = error_text(text);
        assert!(message.contains(&path), "{text}: {message}");
        assert!(message.contains(":1:"), "{text}: {message}");
        assert!(message.contains(wanted), "{text}: {message}");
    }
    let (_dir, result) = load_text("memory = 128\n");
    assert_eq!(result.unwrap().memory, Some(128));
}

#[test]
fn empty_kernel_list_is_an_error() {
    let (message, _) = error_text("kernels = []\n");
    assert!(message.contains("non-empty list"), "{message}");
}

#[test]
fn files_resolve_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "proj/testdata/a.bin", "data");
    let path = write(
        dir.path(),
        "proj/kmatrix.toml",
        "files = [{ from = \"testdata/a.bin\", to = \"/data/a.bin\" }]\n",
    );
    let config = load(&path).unwrap();
    let wanted = std::path::absolute(dir.path().join("proj/testdata/a.bin")).unwrap();
    assert_eq!(config.files[0].from, wanted);
    assert!(config.files[0].from.is_file());
}

#[test]
fn files_absolute_from_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "elsewhere/b.bin", "data");
    let text = format!(
        "files = [{{ from = {:?}, to = \"/b\" }}]\n",
        data.to_str().unwrap()
    );
    let path = write(dir.path(), "proj/kmatrix.toml", &text);
    assert_eq!(load(&path).unwrap().files[0].from, data);
}

#[test]
fn files_missing_from_is_an_error() {
    let (message, path) =
        error_text("files = [{ from = \"missing.bin\", to = \"/data/a.bin\" }]\n");
    assert!(message.contains(&path), "{message}");
    assert!(message.contains("files[0].from"), "{message}");
    assert!(message.contains("missing.bin does not exist"), "{message}");
}

#[test]
fn files_relative_to_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.bin", "data");
    let path = write(
        dir.path(),
        FILE_NAME,
        "files = [{ from = \"a.bin\", to = \"/a\" }, { from = \"a.bin\", to = \"data/a.bin\" }]\n",
    );
    let message = load(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("files[1].to"), "{message}");
    assert!(message.contains("absolute"), "{message}");
}

#[test]
fn files_unknown_field_is_an_error() {
    let (message, _) = error_text("files = [{ from = \"a\", to = \"/a\", mode = 0o755 }]\n");
    assert!(message.contains("mode"), "{message}");
}

#[test]
fn bad_env_name_and_module_are_errors() {
    let (message, _) = error_text("[env]\n\"A=B\" = \"x\"\n");
    assert!(message.contains("env.\"A=B\""), "{message}");
    let (message, _) = error_text("modules = [\"af key\"]\n");
    assert!(message.contains("modules[0]"), "{message}");
}

#[test]
fn kernel_paths_resolve_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "proj/kmatrix.toml",
        "kernels = [\"debian:6.1\", \"build/bzImage\", \"/boot/vmlinuz\"]\n",
    );
    let kernels = load(&path).unwrap().kernels.unwrap();
    let image = std::path::absolute(dir.path().join("proj/build/bzImage")).unwrap();
    assert_eq!(kernels[0], "debian:6.1");
    assert_eq!(Path::new(&kernels[1]), image);
    assert_eq!(kernels[2], "/boot/vmlinuz");
}

#[test]
fn discovery_from_a_nested_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), FILE_NAME, "cpus = 4\n");
    let nested = dir.path().join("a/b/c");
    std::fs::create_dir_all(&nested).unwrap();
    let found = discover(&nested).unwrap();
    assert_eq!(found, std::path::absolute(&path).unwrap());
    let (found, config) = load_discovered(&nested, None).unwrap().unwrap();
    assert_eq!(found, std::path::absolute(&path).unwrap());
    assert_eq!(config.cpus, Some(4));
    // The nearest file wins.
    let inner = write(&dir.path().join("a/b"), FILE_NAME, "cpus = 8\n");
    assert_eq!(
        discover(&nested).unwrap(),
        std::path::absolute(inner).unwrap()
    );
}

#[test]
fn no_file_discovered_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    if discover(dir.path()).is_none() {
        assert!(load_discovered(dir.path(), None).unwrap().is_none());
    }
}

#[test]
fn explicit_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), FILE_NAME, "cpus = 4\n");
    let missing = dir.path().join("other.toml");
    let err = load_discovered(dir.path(), Some(&missing)).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("config file {} does not exist", missing.display())
    );
}

#[test]
fn explicit_file_wins_over_discovered() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), FILE_NAME, "cpus = 4\n");
    let other = write(dir.path(), "ci.toml", "cpus = 1\n");
    let (path, config) = load_discovered(dir.path(), Some(&other)).unwrap().unwrap();
    assert_eq!(path, other);
    assert_eq!(config.cpus, Some(1));
}

#[test]
fn command_line_overrides_the_file() {
    assert_eq!(merge_option(Some(1), Some(2)), Some(1));
    assert_eq!(merge_option(None, Some(2)), Some(2));
    assert_eq!(merge_option::<u32>(None, None), None);

    let config = Config {
        kernels: Some(vec!["debian:6.1".into()]),
        env: BTreeMap::from([("A".into(), "file".into()), ("B".into(), "file".into())]),
        ..Config::default()
    };
    assert_eq!(config.kernels_or(&["debian:6.12".into()]), ["debian:6.12"]);
    assert_eq!(config.kernels_or(&[]), ["debian:6.1"]);
    assert!(Config::default().kernels_or(&[]).is_empty());

    let env = config.env_with(&[("B".into(), "cli".into()), ("C".into(), "cli".into())]);
    assert_eq!(
        env,
        [
            ("A".into(), "file".into()),
            ("B".into(), "cli".into()),
            ("C".into(), "cli".into())
        ]
    );
}
