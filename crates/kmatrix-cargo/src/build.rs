//! Building test binaries with `cargo test --no-run` and collecting their paths.

use std::ffi::{OsStr, OsString};
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use cargo_metadata::{Artifact, Message, TargetKind};

use crate::error::CargoError;
use crate::package::package_name;

/// What to build. The cargo selection flags in [`args`](Self::args) are passed through as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The cargo program, usually `$CARGO` or `cargo`.
    pub cargo: PathBuf,
    /// The directory cargo runs in.
    pub cwd: PathBuf,
    /// Selection flags for `cargo test`, e.g. `-p my-crate --features x --target TRIPLE`.
    pub args: Vec<OsString>,
    /// `--profile NAME`; `None` builds with cargo's default profile for `cargo test`.
    pub profile: Option<String>,
}

/// One test executable that cargo built.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestBinary {
    /// The package name.
    pub package: String,
    /// The target kind: `lib`, `proc-macro`, `bin`, `test`, `bench` or `example`.
    pub kind: String,
    /// The target name.
    pub target: String,
    /// The executable.
    pub path: PathBuf,
    /// The profile that produced it: `dev` for cargo's default, else the name asked for.
    pub profile: String,
}

impl TestBinary {
    /// A short, unambiguous name: `pkg` for the library, `pkg::name` for an integration test,
    /// and `pkg::kind/name` for the other kinds (e.g. `pkg::bin/tool`).
    pub fn display_name(&self) -> String {
        match self.kind.as_str() {
            "lib" | "proc-macro" => self.package.clone(),
            "test" => format!("{}::{}", self.package, self.target),
            kind => format!("{}::{}/{}", self.package, kind, self.target),
        }
    }
}

/// Runs `cargo test --no-run --message-format=json-render-diagnostics [--profile P] ARGS` and
/// returns the test executables it built, sorted by package, kind and target.
///
/// Cargo's standard error is inherited, so its progress and rendered diagnostics reach the
/// user exactly as cargo shows them; only its JSON standard output is consumed here.
pub fn build_tests(request: &BuildRequest) -> Result<Vec<TestBinary>, CargoError> {
    let args = cargo_args(request);
    let command = render_command(request.cargo.as_os_str(), &args);
    let profile = effective_profile(request.profile.as_deref(), &request.args);
    let mut child = Command::new(&request.cargo)
        .args(&args)
        .current_dir(&request.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| CargoError::Spawn {
            program: request.cargo.clone(),
            source,
        })?;

    let collected = match read_messages(&mut child, &profile) {
        Ok(collected) => collected,
        Err(source) => {
            // Don't leave cargo running (or a zombie) behind an error we already report.
            let _ = child.kill();
            let _ = child.wait();
            return Err(CargoError::Io { command, source });
        }
    };
    let status = child.wait().map_err(|source| CargoError::Io {
        command: command.clone(),
        source,
    })?;
    if !status.success() || collected.finished == Some(false) {
        return Err(CargoError::BuildFailed { command, status });
    }

    let mut binaries = collected.binaries;
    binaries.sort();
    binaries.dedup_by(|a, b| a.path == b.path);
    Ok(binaries)
}

/// What was gathered from cargo's message stream.
struct Collected {
    binaries: Vec<TestBinary>,
    /// The `build-finished` verdict, if cargo sent one (cargo before 1.44 does not).
    finished: Option<bool>,
}

fn read_messages(child: &mut Child, profile: &str) -> std::io::Result<Collected> {
    let mut collected = Collected {
        binaries: Vec::new(),
        finished: None,
    };
    let Some(stdout) = child.stdout.take() else {
        return Ok(collected);
    };
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message? {
            Message::CompilerArtifact(artifact) => {
                if let Some(binary) = test_binary(&artifact, profile) {
                    collected.binaries.push(binary);
                }
            }
            Message::BuildFinished(finished) => collected.finished = Some(finished.success),
            // Stray text on cargo's stdout is not ours to drop; show it where cargo's output goes.
            Message::TextLine(line) => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            _ => {}
        }
    }
    Ok(collected)
}

/// The test executable described by `artifact`, if it is one.
fn test_binary(artifact: &Artifact, profile: &str) -> Option<TestBinary> {
    if !artifact.profile.test {
        return None;
    }
    let path = artifact.executable.as_ref()?;
    Some(TestBinary {
        package: package_name(&artifact.package_id.repr),
        target: artifact.target.name.clone(),
        kind: kind_name(&artifact.target.kind),
        path: path.clone().into_std_path_buf(),
        profile: profile.to_owned(),
    })
}

/// Collapses cargo's kind list to one word; every library crate type counts as `lib`.
fn kind_name(kinds: &[TargetKind]) -> String {
    let is_lib = |kind: &TargetKind| {
        matches!(
            kind,
            TargetKind::Lib
                | TargetKind::RLib
                | TargetKind::DyLib
                | TargetKind::CDyLib
                | TargetKind::StaticLib
        )
    };
    if kinds.iter().any(is_lib) {
        "lib".to_owned()
    } else {
        kinds
            .first()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string)
    }
}

fn cargo_args(request: &BuildRequest) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    if let Some(profile) = &request.profile {
        args.push("--profile".into());
        args.push(profile.into());
    }
    args.extend(request.args.iter().cloned());
    args
}

/// The profile name cargo builds with, given `--profile` and the pass-through args (which may
/// say `--release` or `--profile NAME` themselves). Cargo's artifact messages don't name it.
pub(crate) fn effective_profile(profile: Option<&str>, args: &[OsString]) -> String {
    let mut found = profile.map(str::to_owned);
    let mut iter = args.iter().map(|arg| arg.to_string_lossy());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "--release" || arg == "-r" {
            found = Some("release".to_owned());
        } else if arg == "--profile" {
            found = iter.next().map(|name| name.into_owned());
        } else if let Some(name) = arg.strip_prefix("--profile=") {
            found = Some(name.to_owned());
        }
    }
    found.unwrap_or_else(|| "dev".to_owned())
}

/// A command line as a user could paste it, for error messages.
fn render_command(program: &OsStr, args: &[OsString]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(OsString::as_os_str))
        .map(|word| {
            let word = word.to_string_lossy();
            if word.is_empty() || word.contains(char::is_whitespace) {
                format!("'{word}'")
            } else {
                word.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn profile_defaults_to_dev() {
        assert_eq!(effective_profile(None, &os(&["-p", "x"])), "dev");
    }

    #[test]
    fn profile_from_request_or_args() {
        assert_eq!(effective_profile(Some("ci"), &[]), "ci");
        assert_eq!(effective_profile(None, &os(&["--release"])), "release");
        assert_eq!(effective_profile(None, &os(&["-r"])), "release");
        assert_eq!(
            effective_profile(None, &os(&["--profile", "bench"])),
            "bench"
        );
        assert_eq!(effective_profile(None, &os(&["--profile=fast"])), "fast");
        assert_eq!(effective_profile(None, &os(&["--", "--release"])), "dev");
    }

    #[test]
    fn display_names() {
        let binary = |kind: &str, target: &str| TestBinary {
            package: "my-crate".into(),
            kind: kind.into(),
            target: target.into(),
            path: PathBuf::new(),
            profile: "dev".into(),
        };
        assert_eq!(binary("lib", "my_crate").display_name(), "my-crate");
        assert_eq!(binary("proc-macro", "m").display_name(), "my-crate");
        assert_eq!(
            binary("test", "integration").display_name(),
            "my-crate::integration"
        );
        assert_eq!(binary("bin", "tool").display_name(), "my-crate::bin/tool");
        assert_eq!(
            binary("bench", "speed").display_name(),
            "my-crate::bench/speed"
        );
    }

    #[test]
    fn kinds_collapse_library_crate_types() {
        assert_eq!(kind_name(&[TargetKind::CDyLib, TargetKind::RLib]), "lib");
        assert_eq!(kind_name(&[TargetKind::ProcMacro]), "proc-macro");
        assert_eq!(kind_name(&[TargetKind::Test]), "test");
        assert_eq!(kind_name(&[TargetKind::Bin]), "bin");
    }

    #[test]
    fn renders_commands_quoting_spaces() {
        let args = os(&["test", "--features", "a b"]);
        assert_eq!(
            render_command(OsStr::new("cargo"), &args),
            "cargo test --features 'a b'"
        );
    }
}
