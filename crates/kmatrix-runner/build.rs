//! Builds the guest init (`kmatrix-guest`) as a static binary for each guest architecture this
//! host can produce, so that `kmatrix` ships its own PID 1 and needs no Rust toolchain at run time.
//!
//! * The host's own architecture is always built: `-C target-feature=+crt-static` on the host
//!   triple gives a static binary with nothing but the toolchain that is building kmatrix.
//! * Other architectures (aarch64) are built from their `*-linux-musl` target when that target is
//!   installed (`rustup target add aarch64-unknown-linux-musl`; `rust-lld` links it); otherwise
//!   kmatrix reports at run time what to install.
//!
//! The nested cargo uses its own target directory, so it never waits on the outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

struct GuestTarget {
    arch: &'static str,
    triple: String,
    linker: Option<&'static str>,
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let host_target = env::var("TARGET").expect("cargo sets TARGET");
    for dir in ["crates/kmatrix-guest", "crates/kmatrix-wire"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=KMATRIX_GUEST_SKIP_CROSS");

    let targets = guest_targets(&host_target);
    let mut generated = String::new();
    for arch in ["x86_64", "aarch64"] {
        let target = targets.iter().find(|t| t.arch == arch);
        let built = target.and_then(|t| build_guest(&workspace, &out_dir, t));
        let konst = format!("GUEST_INIT_{}", arch.to_uppercase());
        match built {
            Some(path) => generated.push_str(&format!(
                "/// Static guest init for {arch}.\npub const {konst}: Option<&[u8]> = Some(include_bytes!({path:?}));\n"
            )),
            None => generated.push_str(&format!(
                "/// Static guest init for {arch}: not built on this host.\npub const {konst}: Option<&[u8]> = None;\n"
            )),
        }
    }
    std::fs::write(out_dir.join("guest_init.rs"), generated).expect("write guest_init.rs");
}

fn guest_targets(host_target: &str) -> Vec<GuestTarget> {
    let host_arch = host_target.split('-').next().unwrap_or_default();
    let mut targets = Vec::new();
    for arch in ["x86_64", "aarch64"] {
        if arch == host_arch {
            targets.push(GuestTarget {
                arch,
                triple: host_target.to_string(),
                linker: None,
            });
        } else if env::var_os("KMATRIX_GUEST_SKIP_CROSS").is_none() {
            let triple = format!("{arch}-unknown-linux-musl");
            if target_installed(&triple) {
                targets.push(GuestTarget {
                    arch,
                    triple,
                    linker: Some("rust-lld"),
                });
            } else {
                println!(
                    "cargo:warning=no {arch} guest init: the Rust target {triple} is not installed \
                     (rustup target add {triple}); {arch} kernels will be refused"
                );
            }
        }
    }
    targets
}

fn target_installed(triple: &str) -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(output) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(triple)
        .join("lib")
        .is_dir()
}

fn build_guest(workspace: &Path, out_dir: &Path, target: &GuestTarget) -> Option<PathBuf> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out_dir.join("guest-target");
    let mut rustflags: Vec<String> = ["-C", "target-feature=+crt-static", "-C", "strip=symbols"]
        .map(String::from)
        .to_vec();
    if let Some(linker) = target.linker {
        rustflags.push("-C".into());
        rustflags.push(format!("linker={linker}"));
    }
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "kmatrix-guest",
            "--target",
            &target.triple,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\u{1f}"));
    // The outer build's settings must not leak into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(var);
    }
    command.stdout(std::process::Stdio::null());
    let status = command.status();
    match status {
        Ok(status) if status.success() => Some(
            target_dir
                .join(&target.triple)
                .join("release")
                .join("kmatrix-init"),
        ),
        Ok(status) => {
            if target.linker.is_none() {
                panic!(
                    "building the guest init for {} failed ({status})",
                    target.triple
                );
            }
            println!(
                "cargo:warning=building the {} guest init failed ({status}); {} kernels will be refused",
                target.triple, target.arch
            );
            None
        }
        Err(err) => panic!("cannot run cargo to build the guest init: {err}"),
    }
}
