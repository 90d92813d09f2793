//! `kmatrix matrix` and `kmatrix report merge`: fanning a matrix out over a CI system's own
//! parallelism and putting the pieces back together.

use anyhow::{Context, anyhow};
use kmatrix_runner::{ErrorClass, Report};

use super::{CliError, check_report_path, specs_or_default, write_reports};
use crate::args::{MatrixArgs, MatrixFormat, MergeArgs, ReportArgs};
use crate::reporter::{Mode, Terminal};

/// `kmatrix matrix`: the kernel list (or shard list) as a CI matrix.
pub fn matrix(args: MatrixArgs) -> Result<i32, CliError> {
    let config = super::load_config(None)?
        .map(|(_, config)| config)
        .unwrap_or_default();
    let kernels = specs_or_default(&config.kernels_or(&args.kernels), None)?;
    let (key, entries): (&str, Vec<String>) = match args.shards {
        Some(0) => return Err(CliError::usage(anyhow!("--shards must be at least 1"))),
        Some(count) => (
            "shard",
            (1..=count.min(kernels.len()))
                .map(|k| format!("{k}/{}", count.min(kernels.len())))
                .collect(),
        ),
        None => (
            "kernel",
            kernels.iter().map(|k| k.display.clone()).collect(),
        ),
    };
    match args.format {
        MatrixFormat::Github => println!("{}", serde_json::json!({ key: entries })),
        MatrixFormat::Plain => entries.iter().for_each(|entry| println!("{entry}")),
    }
    Ok(kmatrix_runner::exit_code::SUCCESS)
}

/// `kmatrix report merge`: one report from the shards' reports, in matrix order.
pub fn merge(args: MergeArgs) -> Result<i32, CliError> {
    for (flag, path) in [("--json", &args.json), ("--junit", &args.junit)] {
        if let Some(path) = path {
            check_report_path(flag, path)?;
        }
    }
    let mut kernels = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading report {}", path.display()))
            .map_err(CliError::usage)?;
        let report: Report = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a kmatrix JSON report", path.display()))
            .map_err(CliError::usage)?;
        kernels.extend(report.kernels);
    }
    kernels.sort_by_key(|k| k.index);
    if let Some(pair) = kernels
        .windows(2)
        .find(|pair| pair[0].index == pair[1].index)
    {
        return Err(CliError::class(
            ErrorClass::Usage,
            anyhow!(
                "two reports hold matrix position {} ({} and {}): the same shard given twice?",
                pair[0].index,
                pair[0].spec,
                pair[1].spec
            ),
        ));
    }
    let merged = Report { kernels };
    Terminal::new(false, Mode::Tests).summary(&merged);
    crate::matrix::print(&merged);
    let report_args = ReportArgs {
        env: Vec::new(),
        json: args.json,
        junit: args.junit,
        verbose: false,
    };
    write_reports(&merged, &report_args)?;
    Ok(merged.exit_code())
}
