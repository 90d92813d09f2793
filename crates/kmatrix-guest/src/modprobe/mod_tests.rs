use super::*;

fn parse(args: &[&str]) -> Result<Args, ModprobeError> {
    parse_args(&args.iter().map(OsString::from).collect::<Vec<_>>())
}

#[test]
fn kernel_style_invocation() {
    let args = parse(&["-q", "--", "net-pf-15"]).expect("parse");
    assert_eq!(
        args,
        Args {
            quiet: true,
            verbose: false,
            name: "net-pf-15".into(),
            params: vec![]
        }
    );
}

#[test]
fn params_flags_and_combined_flags() {
    let args = parse(&["-qvb", "loop", "max_loop=8", "-v", "max_part=3"]).expect("parse");
    assert!(args.quiet && args.verbose);
    assert_eq!(args.name, "loop");
    assert_eq!(args.params, ["max_loop=8", "max_part=3"]);
    let args = parse(&["--", "-odd-name", "x=-1"]).expect("parse");
    assert_eq!(
        (args.name.as_str(), args.params.as_slice()),
        ("-odd-name", &["x=-1".to_string()][..])
    );
    assert!(!args.quiet);
}

#[test]
fn bad_command_lines() {
    assert!(matches!(parse(&[]), Err(ModprobeError::Usage(_))));
    assert!(matches!(parse(&["-q", "--"]), Err(ModprobeError::Usage(_))));
    assert!(matches!(parse(&["-r", "x"]), Err(ModprobeError::Usage(_))));
    assert!(matches!(
        parse(&["--remove", "x"]),
        Err(ModprobeError::Usage(_))
    ));
}

#[test]
fn not_found_names_the_module_and_builtin_needs_nothing() {
    let dir = std::env::temp_dir().join(format!("kmatrix-guest-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("modules.dep"), "kernel/a.ko:\n").expect("write");
    std::fs::write(dir.join("modules.builtin"), "kernel/fs/ext4/ext4.ko\n").expect("write");
    std::fs::write(
        dir.join("modules.alias"),
        "alias fs-ext4 ext4\nalias fs-gone gone\n",
    )
    .expect("write");
    let modprobe = Modprobe::open(&dir).expect("open");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        modprobe.load("fs-ext4", &[]).expect("builtin"),
        [Outcome::Builtin("ext4".into())]
    );
    let err = modprobe.load("net-pf-99", &[]).expect_err("missing");
    assert!(matches!(err, ModprobeError::NotFound(..)));
    assert!(
        err.to_string()
            .starts_with("module net-pf-99 not found in "),
        "{err}"
    );
    let err = modprobe.load("fs-gone", &[]).expect_err("missing");
    assert!(err.to_string().contains("alias of gone"), "{err}");
}

#[test]
fn unreadable_module_file_is_reported_with_its_path() {
    let dir = std::env::temp_dir().join(format!("kmatrix-guest-mp2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("modules.dep"), "kernel/zz_missing.ko.xz:\n").expect("write");
    let modprobe = Modprobe::open(&dir).expect("open");
    let _ = std::fs::remove_dir_all(&dir);
    let err = modprobe.load("zz-missing", &[]).expect_err("no file");
    let text = err.to_string();
    assert!(
        text.contains("zz_missing") && text.contains("ENOENT"),
        "{text}"
    );
}
