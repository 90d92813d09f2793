//! `kmatrix kernel resolve|fetch|list`.

use anyhow::anyhow;
use kmatrix_runner::ErrorClass;
use kmatrix_runner::exit_code;
use kmatrix_runner::prepare::PrepareContext;

use super::{CliError, cache_dir, mirror, specs_or_default};
use std::time::Duration;

use kmatrix_runner::inventory::EntryKind;

use crate::args::{CacheArgs, KernelArgs, PruneArgs, UpdateArgs};

/// `kernel resolve` (and `kernel fetch` when `fetch`).
pub fn kernel_resolve(args: KernelArgs, fetch: bool) -> Result<i32, CliError> {
    let specs = specs_or_default(&args.specs, None)?;
    let context = PrepareContext::new(cache_dir(&args.source.cache), mirror(&args.source))
        .with_keyring(args.source.keyring.clone());
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

/// `kernel list`: the extracted kernels in the cache.
pub fn kernel_list(args: CacheArgs) -> Result<i32, CliError> {
    let entries = inventory(&args)?;
    for entry in entries.iter().filter(|e| e.kind == EntryKind::Kernel) {
        let release_arch = entry.label.replace(' ', "\t");
        println!("{release_arch}\t{}", entry.path.display());
    }
    Ok(exit_code::SUCCESS)
}

/// `cache list`.
pub fn cache_list(args: CacheArgs) -> Result<i32, CliError> {
    let entries = inventory(&args)?;
    let mut total = 0;
    for entry in &entries {
        total += entry.size;
        println!(
            "{:<9} {:>9}  {:<40}  {}",
            kind_name(entry.kind),
            megabytes(entry.size),
            entry.label,
            entry.path.display()
        );
    }
    eprintln!(
        "kmatrix: {} entries, {} in {}",
        entries.len(),
        megabytes(total),
        cache_dir(&args).display()
    );
    Ok(exit_code::SUCCESS)
}

/// `cache prune`.
pub fn cache_prune(args: PruneArgs) -> Result<i32, CliError> {
    let dir = cache_dir(&args.cache);
    let age = if args.all {
        Duration::ZERO
    } else {
        Duration::from_secs(args.older_than * 24 * 3600)
    };
    let removed = kmatrix_runner::inventory::prune(&dir, age).map_err(|err| {
        CliError::class(
            ErrorClass::Environment,
            anyhow!("pruning {}: {err}", dir.display()),
        )
    })?;
    let freed: u64 = removed.iter().map(|e| e.size).sum();
    for entry in &removed {
        eprintln!(
            "kmatrix: removed {} {}",
            kind_name(entry.kind),
            entry.path.display()
        );
    }
    eprintln!(
        "kmatrix: removed {} entries, {} freed",
        removed.len(),
        megabytes(freed)
    );
    Ok(exit_code::SUCCESS)
}

fn inventory(args: &CacheArgs) -> Result<Vec<kmatrix_runner::inventory::Entry>, CliError> {
    let dir = cache_dir(args);
    kmatrix_runner::inventory::list(&dir).map_err(|err| {
        CliError::class(
            ErrorClass::Environment,
            anyhow!("reading cache {}: {err}", dir.display()),
        )
    })
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Kernel => "kernel",
        EntryKind::Package => "package",
        EntryKind::Index => "index",
        EntryKind::Logs => "logs",
        EntryKind::Leftover => "leftover",
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
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
        .with_keyring(args.source.keyring.clone())
        .refresh(true)
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
