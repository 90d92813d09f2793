//! `kmatrix kernel resolve|fetch|list`.

use anyhow::anyhow;
use kmatrix_runner::ErrorClass;
use kmatrix_runner::exit_code;
use kmatrix_runner::prepare::PrepareContext;

use super::{CliError, cache_dir, mirror, specs_or_default};
use crate::args::{CacheArgs, KernelArgs, UpdateArgs};

/// `kernel resolve` (and `kernel fetch` when `fetch`).
pub fn kernel_resolve(args: KernelArgs, fetch: bool) -> Result<i32, CliError> {
    let specs = specs_or_default(&args.specs, None)?;
    let context = PrepareContext::new(cache_dir(&args.source.cache), mirror(&args.source));
    let mut worst = exit_code::SUCCESS;
    for spec in &specs {
        match context.resolve_debian(spec, fetch) {
            Ok(None) => eprintln!("kmatrix: {spec}: a local kernel; nothing to resolve"),
            Ok(Some((resolved, fetched))) => {
                println!(
                    "{spec}\t{}\t{}\t{}\t{}\t{}",
                    resolved.release,
                    resolved.image.package,
                    resolved.image.version,
                    resolved.suite,
                    resolved.image.sha256
                );
                if let Some(fetched) = fetched {
                    let how = if fetched.downloaded {
                        "downloaded"
                    } else {
                        "cached"
                    };
                    eprintln!("kmatrix: {spec}: {how}: {}", fetched.path.display());
                }
            }
            Err(err) => {
                eprintln!("kmatrix: error: {}", kmatrix_runner::error::one_line(&err));
                let code = CliError::class(err.class(), anyhow!("")).code;
                worst = if worst == exit_code::SUCCESS {
                    code
                } else {
                    worst.min(code)
                };
            }
        }
    }
    Ok(worst)
}

/// `kernel list`.
pub fn kernel_list(args: CacheArgs) -> Result<i32, CliError> {
    let dir = cache_dir(&args).join("kernels");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(exit_code::SUCCESS),
        Err(err) => {
            return Err(CliError::class(
                ErrorClass::Environment,
                anyhow!("reading {}: {err}", dir.display()),
            ));
        }
    };
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let meta = std::fs::read_to_string(entry.path().join("kernel.meta")).unwrap_or_default();
        let field = |name: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or("")
                .to_string()
        };
        if !meta.is_empty() {
            rows.push(format!(
                "{}\t{}\t{}",
                field("release"),
                field("arch"),
                entry.path().display()
            ));
        }
    }
    rows.sort();
    for row in rows {
        println!("{row}");
    }
    Ok(exit_code::SUCCESS)
}

/// `kernel update`: resolve again and rewrite the pins.
pub fn kernel_update(args: UpdateArgs) -> Result<i32, CliError> {
    let beside_config = || {
        super::load_config(None)
            .ok()
            .flatten()
            .and_then(|(path, _)| path.parent().map(|dir| dir.join(super::LOCK_FILE_NAME)))
    };
    let Some(path) = args.lock.clone().or_else(beside_config) else {
        return Err(CliError::usage(anyhow!(
            "kernel update needs a lock file: --lock FILE (or a kmatrix.toml next to one)"
        )));
    };
    let lock = kmatrix_runner::lock::LockFile::load(&path).map_err(CliError::usage)?;
    let specs: Vec<String> = if args.specs.is_empty() {
        lock.kernels.iter().map(|k| k.spec.clone()).collect()
    } else {
        args.specs.clone()
    };
    if specs.is_empty() {
        return Err(CliError::usage(anyhow!(
            "{}: no pinned kernels to update; name the specs",
            path.display()
        )));
    }
    let specs = specs_or_default(&specs, None)?;
    let context = PrepareContext::new(cache_dir(&args.source.cache), mirror(&args.source))
        .with_lock(path)
        .map_err(CliError::usage)?;
    let terminal = crate::reporter::Terminal::new(false, crate::reporter::Mode::Programs);
    for (index, spec) in specs.iter().enumerate() {
        let id = kmatrix_runner::KernelId {
            index,
            spec: spec.display.clone(),
        };
        match context.repin(&id, spec, &terminal) {
            Ok(Some(resolved)) => eprintln!(
                "kmatrix: {spec}: pinned {} {}",
                resolved.image.package, resolved.image.version
            ),
            Ok(None) => eprintln!("kmatrix: {spec}: a local kernel; nothing to pin"),
            Err(err) => {
                return Err(CliError::class(
                    err.class(),
                    anyhow!(kmatrix_runner::error::one_line(&err)),
                ));
            }
        }
    }
    Ok(exit_code::SUCCESS)
}
