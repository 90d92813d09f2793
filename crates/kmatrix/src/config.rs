//! The configuration file `kmatrix.toml`: project defaults for `kmatrix run` and `kmatrix test`.
//!
//! The file is optional and so is every key in it. It is found by [`discover`] (the nearest
//! `kmatrix.toml` in the current directory or its ancestors) or named with `--config FILE`
//! ([`load_discovered`]). Unknown keys, wrong types and out-of-range values are errors that name
//! the file, the line and the key.
//!
//! ```toml
//! kernels = ["debian:5.10", "debian:6.1", "debian:6.12:arm64"]
//! memory = 1024          # MiB per guest (at least 128)
//! cpus = 2
//! timeout = 300          # seconds per VM
//! test-timeout = 60      # seconds per test (kmatrix test)
//! jobs = 2
//! accel = "auto"         # auto | kvm | tcg
//! mirror = "http://deb.debian.org/debian"
//! modules = ["af_key", "overlay"]
//! files = [{ from = "testdata/a.bin", to = "/data/a.bin" }]
//!
//! [env]
//! RUST_LOG = "debug"
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The file name [`discover`] looks for.
pub const FILE_NAME: &str = "kmatrix.toml";

/// The settings of a `kmatrix.toml`, every one optional.
///
/// Precedence: a command-line flag overrides the file, and the file overrides kmatrix's built-in
/// default. `None` (or an empty list or map) means "not set in the file". The helpers
/// [`merge_option`], [`Config::kernels_or`] and [`Config::env_with`] apply this rule.
///
/// After [`load`], relative paths in the file (`files[].from`, kernel image and `.deb` specs in
/// `kernels`) are resolved against the directory that holds the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The kernel matrix (`--kernel`), instead of the built-in default.
    #[serde(default, deserialize_with = "non_empty_list")]
    pub kernels: Option<Vec<String>>,
    /// Guest memory in MiB (`--memory`), at least 128.
    #[serde(default, deserialize_with = "at_least::<_, _, 128>")]
    pub memory: Option<u32>,
    /// Guest CPUs (`--cpus`).
    #[serde(default, deserialize_with = "at_least::<_, _, 1>")]
    pub cpus: Option<u32>,
    /// Limit for each VM in seconds (`--timeout`).
    #[serde(default, deserialize_with = "at_least::<_, _, 1>")]
    pub timeout: Option<u64>,
    /// Limit for each test in seconds (`kmatrix test --test-timeout`).
    #[serde(default, deserialize_with = "at_least::<_, _, 1>")]
    pub test_timeout: Option<u64>,
    /// Kernels run at the same time (`--jobs`).
    #[serde(default, deserialize_with = "at_least::<_, _, 1>")]
    pub jobs: Option<usize>,
    /// Accelerator (`--accel`).
    pub accel: Option<Accel>,
    /// Debian archive URL (`--mirror`).
    pub mirror: Option<String>,
    /// Kernel modules to load in the guest before the programs or tests run.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Extra host files copied into the guest.
    #[serde(default)]
    pub files: Vec<ExtraFile>,
    /// Extra environment for the programs and tests (`--env` adds to it and wins on a clash).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A host file copied into the guest: one entry of `files`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraFile {
    /// The host file; after [`load`], an existing path (a relative one in the file is taken
    /// relative to the file's directory).
    pub from: PathBuf,
    /// Where it goes in the guest: an absolute path.
    pub to: PathBuf,
}

/// The `accel` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM when it really works, else TCG.
    Auto,
    /// KVM, or fail.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl From<Accel> for kmatrix_runner::AccelChoice {
    fn from(accel: Accel) -> Self {
        match accel {
            Accel::Auto => Self::Auto,
            Accel::Kvm => Self::Kvm,
            Accel::Tcg => Self::Tcg,
        }
    }
}

/// Why a configuration file could not be used. Every message names the file.
#[derive(Debug)]
pub enum ConfigError {
    /// `--config FILE` names a file that does not exist.
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not valid TOML or does not fit the schema (unknown key, wrong type, bad value).
    Parse {
        /// The file.
        path: PathBuf,
        /// Line and column (1-based) of the offending text, when known.
        position: Option<(usize, usize)>,
        /// What is wrong, as the TOML parser says it (it names the key).
        message: String,
    },
    /// A value is well-formed but unusable (e.g. `files[0].from` does not exist).
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key or entry, e.g. `files[0].from` or `env.FOO`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotFound { path } => {
                write!(f, "config file {} does not exist", path.display())
            }
            ConfigError::Read { path, .. } => write!(f, "reading {}", path.display()),
            ConfigError::Parse {
                path,
                position: Some((line, column)),
                message,
            } => write!(f, "{}:{line}:{column}: {message}", path.display()),
            ConfigError::Parse {
                path,
                position: None,
                message,
            } => write!(f, "{}: {message}", path.display()),
            ConfigError::Invalid { path, key, message } => {
                write!(f, "{}: {key}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The command-line value if given, else the file's: `cli.or(file)`. The built-in default
/// applies when both are `None`.
pub fn merge_option<T>(cli: Option<T>, file: Option<T>) -> Option<T> {
    cli.or(file)
}

impl Config {
    /// The kernel matrix: the `--kernel` specs if any, else the file's `kernels`, else an empty
    /// list, which means the built-in default matrix.
    pub fn kernels_or(&self, cli: &[String]) -> Vec<String> {
        if !cli.is_empty() {
            return cli.to_vec();
        }
        self.kernels.clone().unwrap_or_default()
    }

    /// The guest environment: the file's `[env]`, then the `--env` pairs; a name given on the
    /// command line replaces the file's value for that name.
    pub fn env_with(&self, cli: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = self
            .env
            .iter()
            .filter(|(name, _)| !cli.iter().any(|(cli_name, _)| cli_name == name.as_str()))
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        env.extend(cli.iter().cloned());
        env
    }
}

/// The nearest `kmatrix.toml` in `start` or one of its ancestors, up to the filesystem root.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// The configuration to use: `explicit` (`--config FILE`, which must exist) if given, else the
/// one [`discover`]ed from `start`, else `None`. Returns the file's path with its contents.
pub fn load_discovered(
    start: &Path,
    explicit: Option<&Path>,
) -> Result<Option<(PathBuf, Config)>, ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => match discover(start) {
            Some(path) => path,
            None => return Ok(None),
        },
    };
    let config = load(&path)?;
    Ok(Some((path, config)))
}

/// Reads, parses and checks one configuration file; relative paths in it are resolved against
/// its directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            ConfigError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut config: Config = toml::from_str(&text).map_err(|err| {
        let mut message = err.message().trim().to_string();
        let position = err.span().map(|span| {
            let (line, column, content) = locate(&text, span.start);
            // The offending line names the key, which toml's message may not.
            if !content.is_empty() {
                message.push_str(&format!(" (in `{content}`)"));
            }
            (line, column)
        });
        ConfigError::Parse {
            path: path.to_path_buf(),
            position,
            message,
        }
    })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = absolute.parent().unwrap_or(Path::new("."));
    config.resolve(path, dir)?;
    Ok(config)
}

impl Config {
    /// Resolves relative paths against `dir` and checks what serde cannot.
    fn resolve(&mut self, path: &Path, dir: &Path) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        for spec in self.kernels.iter_mut().flatten() {
            let relative = Path::new(spec.as_str());
            if !spec.starts_with("debian:")
                && relative.is_relative()
                && let Some(resolved) = dir.join(relative).to_str()
            {
                *spec = resolved.to_string();
            }
        }
        for (index, module) in self.modules.iter().enumerate() {
            if module.is_empty() || module.contains(|c: char| c.is_whitespace() || c == '/') {
                return Err(invalid(
                    format!("modules[{index}]"),
                    format!("{module:?} is not a kernel module name"),
                ));
            }
        }
        for (index, file) in self.files.iter_mut().enumerate() {
            if !file.to.is_absolute() || file.to.file_name().is_none() {
                return Err(invalid(
                    format!("files[{index}].to"),
                    format!(
                        "{} must be an absolute file path in the guest",
                        file.to.display()
                    ),
                ));
            }
            let from = dir.join(&file.from);
            if !from.exists() {
                return Err(invalid(
                    format!("files[{index}].from"),
                    format!("{} does not exist", from.display()),
                ));
            }
            file.from = from;
        }
        for name in self.env.keys() {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(invalid(
                    format!("env.{name:?}"),
                    "an environment variable name must be non-empty, without '=' or NUL"
                        .to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`, and that line, trimmed
/// and shortened to 60 characters.
fn locate(text: &str, offset: usize) -> (usize, usize, String) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    let content = text[line_start..].lines().next().unwrap_or("").trim();
    let mut shown: String = content.chars().take(60).collect();
    if shown.len() < content.len() {
        shown.push_str("...");
    }
    (line, column, shown)
}

/// Deserializes a number that must be at least `MIN`; toml adds the key's position to the error.
fn at_least<'de, D, T, const MIN: u8>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + From<u8> + fmt::Display,
{
    let value = T::deserialize(deserializer)?;
    if value < T::from(MIN) {
        return Err(serde::de::Error::custom(format!(
            "{value} is too small: use at least {MIN}"
        )));
    }
    Ok(Some(value))
}

/// Deserializes a list of strings that must not be empty (nor hold empty strings).
fn non_empty_list<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let list = Vec::<String>::deserialize(deserializer)?;
    if list.is_empty() || list.iter().any(String::is_empty) {
        return Err(serde::de::Error::custom(
            "expected a non-empty list of non-empty strings (omit the key for the default)",
        ));
    }
    Ok(Some(list))
}

#[cfg(test)]
mod tests;
