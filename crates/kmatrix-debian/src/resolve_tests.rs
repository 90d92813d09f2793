use super::*;

fn entry(package: &str, version: &str, arch: &str) -> PackageEntry {
    PackageEntry {
        package: package.to_string(),
        version: version.to_string(),
        architecture: arch.to_string(),
        filename: format!("pool/main/l/linux/{package}_{version}_{arch}.deb"),
        size: 1000,
        sha256: format!("{:064x}", package.len() + version.len()),
        source: Some("linux".to_string()),
    }
}

/// Classic-layout kernel: signed, unsigned and dbg packages.
fn classic(abi: &str, version: &str, arch: &str) -> Vec<PackageEntry> {
    ["", "-unsigned", "-dbg"]
        .iter()
        .map(|suffix| {
            entry(
                &format!("linux-image-{abi}-cloud-{arch}{suffix}"),
                version,
                arch,
            )
        })
        .collect()
}

fn suite(name: &str, base: &str, entries: Vec<Vec<PackageEntry>>) -> SuiteIndex {
    SuiteIndex {
        suite: name.to_string(),
        base_url: base.to_string(),
        entries: entries.into_iter().flatten().collect(),
    }
}

const MAIN: &str = "http://mirror.example.org/debian";
const SEC: &str = "http://mirror.example.org/debian-security";

fn archive() -> Vec<SuiteIndex> {
    vec![
        suite(
            "bullseye",
            MAIN,
            vec![
                classic("5.10.0-30", "5.10.218-1", "amd64"),
                classic("5.10.0-32", "5.10.223-1", "amd64"),
                vec![entry("linux-image-cloud-amd64", "5.10.223-1", "amd64")],
            ],
        ),
        suite(
            "bullseye-security",
            SEC,
            vec![
                classic("6.1.0-0.deb11.52", "6.1.180-1~deb11u1", "amd64"),
                vec![entry(
                    "linux-image-6.1-cloud-amd64",
                    "6.1.180-1~deb11u1",
                    "amd64",
                )],
            ],
        ),
        suite(
            "bookworm",
            MAIN,
            vec![
                classic("6.1.0-47", "6.1.170-3", "amd64"),
                classic("6.1.0-50", "6.1.176-1", "amd64"),
                classic("6.1.0-50", "6.1.176-1", "arm64"),
            ],
        ),
        suite(
            "bookworm-security",
            SEC,
            vec![
                // Older builds only keep the signed image.
                vec![entry(
                    "linux-image-6.1.0-50-cloud-amd64",
                    "6.1.176-1",
                    "amd64",
                )],
                vec![entry(
                    "linux-image-6.1.0-56-cloud-amd64",
                    "6.1.192-2",
                    "amd64",
                )],
                classic("6.1.0-57", "6.1.192-3", "amd64"),
                vec![entry("linux-image-6.1.0-57-rt-amd64", "6.1.192-3", "amd64")],
                vec![entry("linux-image-6.1.0-57-amd64", "6.1.192-3", "amd64")],
            ],
        ),
        suite(
            "forky",
            MAIN,
            vec![vec![
                entry("linux-image-7.2.12+deb14-cloud-amd64", "7.2.12-1", "amd64"),
                entry(
                    "linux-image-7.2.12+deb14-cloud-amd64-dbg",
                    "7.2.12-1",
                    "amd64",
                ),
                entry("linux-binary-7.2.12+deb14-cloud-amd64", "7.2.12-1", "amd64"),
                entry(
                    "linux-binary-unsigned-7.2.12+deb14-cloud-amd64",
                    "7.2.12-1",
                    "amd64",
                ),
                entry(
                    "linux-modules-7.2.12+deb14-cloud-amd64",
                    "7.2.12-1",
                    "amd64",
                ),
                entry("linux-base-7.2.12+deb14-cloud-amd64", "7.2.12-1", "amd64"),
                entry("linux-binary-7.2.12+deb14-rt-amd64", "7.2.12-1", "amd64"),
            ]],
        ),
    ]
}

fn resolve(q: &str, arch: DebArch) -> Result<ResolvedKernel, DebianError> {
    select(&q.parse().unwrap(), arch, &archive())
}

#[test]
fn newest_across_suites() {
    let k = resolve("6.1", DebArch::Amd64).unwrap();
    assert_eq!(k.abi, "6.1.0-57");
    assert_eq!(k.suite, "bookworm-security");
    assert_eq!(k.base_url, SEC);
    assert_eq!(k.release, "6.1.0-57-cloud-amd64");
    assert_eq!(k.image.package, "linux-image-6.1.0-57-cloud-amd64-unsigned");
    assert_eq!(k.version(), "6.1.192-3");
    assert_eq!(
        k.debug.as_ref().unwrap().package,
        "linux-image-6.1.0-57-cloud-amd64-dbg"
    );
    assert_eq!(k.modules, None);
    assert_eq!(k.packages().len(), 1);
}

#[test]
fn exact_abi_prefers_unsigned_at_equal_version() {
    // 6.1.0-50 is in bookworm (signed+unsigned+dbg) and bookworm-security (signed only).
    let k = resolve("6.1.0-50", DebArch::Amd64).unwrap();
    assert_eq!(k.suite, "bookworm");
    assert_eq!(k.image.package, "linux-image-6.1.0-50-cloud-amd64-unsigned");
    assert!(k.debug.is_some());
}

#[test]
fn signed_only_when_no_unsigned() {
    let k = resolve("6.1.0-56", DebArch::Amd64).unwrap();
    assert_eq!(k.image.package, "linux-image-6.1.0-56-cloud-amd64");
    assert_eq!(k.debug, None);
}

#[test]
fn backport_abi_and_arch_filter() {
    let k = resolve("6.1.0-0.deb11.52", DebArch::Amd64).unwrap();
    assert_eq!(k.suite, "bullseye-security");
    let k = resolve("6.1", DebArch::Arm64).unwrap();
    assert_eq!(k.image.package, "linux-image-6.1.0-50-cloud-arm64-unsigned");
    assert_eq!(k.image.architecture, "arm64");
}

#[test]
fn split_layout_uses_binary_modules_base() {
    let k = resolve("7.2", DebArch::Amd64).unwrap();
    assert_eq!(k.suite, "forky");
    assert_eq!(
        k.image.package,
        "linux-binary-unsigned-7.2.12+deb14-cloud-amd64"
    );
    assert_eq!(
        k.modules.as_ref().unwrap().package,
        "linux-modules-7.2.12+deb14-cloud-amd64"
    );
    assert_eq!(
        k.base.as_ref().unwrap().package,
        "linux-base-7.2.12+deb14-cloud-amd64"
    );
    assert_eq!(
        k.debug.as_ref().unwrap().package,
        "linux-image-7.2.12+deb14-cloud-amd64-dbg"
    );
    assert_eq!(k.release, "7.2.12+deb14-cloud-amd64");
    assert_eq!(k.packages().len(), 3);
}

#[test]
fn unknown_line_lists_available_lines() {
    let err = resolve("4.19", DebArch::Amd64).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "no cloud kernel 4.19 for amd64 in bullseye, bullseye-security, bookworm, \
             bookworm-security, forky; available lines: 5.10, 6.1, 7.2"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_abi_lists_abis_of_its_line() {
    let err = resolve("6.1.0-99", DebArch::Amd64).unwrap_err();
    let DebianError::UnknownKernel { available_abis, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        available_abis,
        &[
            "6.1.0-0.deb11.52",
            "6.1.0-47",
            "6.1.0-50",
            "6.1.0-56",
            "6.1.0-57"
        ]
    );
    let msg = err.to_string();
    assert!(msg.contains("ABIs of that line: 6.1.0-0.deb11.52"), "{msg}");
}

#[test]
fn no_suites_is_an_error_too() {
    let err = select(&"6.1".parse().unwrap(), DebArch::Amd64, &[]).unwrap_err();
    assert!(err.to_string().contains("no suites found"), "{err}");
}
