//! Extracts kernel packages and writes the kmod indexes, printing timings.
//!
//! `cargo run --release -p kmatrix-kernel --example extract -- DEST PKG.deb [PKG.deb…]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use kmatrix_kernel::package::{ExtractOptions, extract_debs};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(dest), debs) = (args.next(), args.collect::<Vec<_>>()) else {
        eprintln!("usage: extract DEST PKG.deb [PKG.deb...]");
        return ExitCode::FAILURE;
    };
    match run(&dest, &debs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(dest: &std::path::Path, debs: &[PathBuf]) -> Result<(), kmatrix_kernel::KernelError> {
    let start = Instant::now();
    let k = extract_debs(
        debs,
        dest,
        &ExtractOptions {
            compress_modules: true,
        },
    )?;
    let extracted = start.elapsed();
    println!(
        "release {} arch {} format {:?}",
        k.release, k.arch, k.image.format
    );
    println!(
        "modules {} in {:.1} MB, out {:.1} MB; extract {:.2?}",
        k.stats.modules,
        k.stats.module_bytes_in as f64 / 1e6,
        k.stats.module_bytes_out as f64 / 1e6,
        extracted
    );
    if let Some(dir) = &k.modules_dir {
        k.index.write_files(dir)?;
        println!(
            "index: {} modules, {} unresolved dependencies, {} in cycles",
            k.index.modules().len(),
            k.index.unresolved().len(),
            k.index.cyclic().len(),
        );
    }
    Ok(())
}
