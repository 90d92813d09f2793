//! The benchmark's report: the machine, a table per group of cases, and the ratios, in Markdown.

use std::fmt::Write;
use std::time::Duration;

use super::measure::{Case, Sample, median, min_max};

/// The ratios of medians the report ends with: (label, numerator key, denominator key).
const RATIOS: &[(&str, &str, &str)] = &[
    ("kmatrix / floor", "kmatrix", "floor"),
    ("starting point / floor", "pipeline", "floor"),
    ("starting point / kmatrix", "pipeline", "kmatrix"),
    ("floor + kernel part / floor", "uncompressed", "floor"),
    ("floor with qboot / floor", "floor-qboot", "floor"),
    ("kmatrix / floor + kernel part", "kmatrix", "uncompressed"),
    ("kernel part zstd / uncompressed", "zstd", "uncompressed"),
    ("kernel part gzip / uncompressed", "gzip", "uncompressed"),
    ("kernel part xz / uncompressed", "xz", "uncompressed"),
    ("matrix --jobs 1 / default --jobs", "jobs1", "jobs-default"),
];

/// Facts about the machine and the run, printed above the tables.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// CPUs available to this process.
    pub cpus: usize,
    /// `qemu-system-x86_64 --version`.
    pub qemu: String,
    /// The host's kernel release.
    pub host_kernel: String,
    /// `/proc/loadavg` when the benchmark started.
    pub load_start: String,
    /// `/proc/loadavg` when it ended.
    pub load_end: String,
    /// The single-kernel cases' kernel: spec and release.
    pub kernel: String,
    /// The matrix case's kernels.
    pub matrix: String,
    /// Timed runs per single-kernel case.
    pub runs: u32,
    /// Timed runs per matrix case.
    pub matrix_runs: u32,
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minute load averages).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Renders the whole report.
pub fn render(env: &Environment, groups: &[(&str, &[Case<'_>])]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Machine\n");
    let _ = writeln!(out, "- CPUs: {}", env.cpus);
    let _ = writeln!(out, "- QEMU: {}", env.qemu);
    let _ = writeln!(out, "- host kernel: {}", env.host_kernel);
    let _ = writeln!(
        out,
        "- load average (1/5/15 min): {} at start, {} at end",
        env.load_start, env.load_end
    );
    let _ = writeln!(out, "- kernel: {}", env.kernel);
    if !env.matrix.is_empty() {
        let _ = writeln!(out, "- matrix: {}", env.matrix);
    }
    let _ = writeln!(
        out,
        "- runs: {} per case ({} per matrix case), each after one untimed warm-up run",
        env.runs, env.matrix_runs
    );
    let _ = writeln!(
        out,
        "- columns: wall time (median, min, max), then medians of: the host clock from QEMU's \
         start to init's first sign of life (the trivial init's console line; kmatrix's Hello), \
         the guest kernel's clock when the trivial init ran, and at `reboot: Power down`"
    );
    for (title, cases) in groups {
        if cases.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {title}\n");
        let _ = writeln!(
            out,
            "| case | median | min | max | QEMU start → init | guest clock at init \
             | guest clock at power-off | notes |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
        for case in cases.iter() {
            let _ = writeln!(out, "{}", row(case));
        }
    }
    let _ = writeln!(out, "\n### Ratios of medians\n");
    let _ = writeln!(out, "| ratio | value |");
    let _ = writeln!(out, "|---|---:|");
    let find = |key: &str| {
        groups
            .iter()
            .flat_map(|(_, cases)| cases.iter())
            .find(|case| case.key == key)
            .and_then(Case::median)
    };
    for (label, num, den) in RATIOS {
        if let (Some(num), Some(den)) = (find(num), find(den)) {
            let _ = writeln!(
                out,
                "| {label} | {:.2}× |",
                num.as_secs_f64() / den.as_secs_f64()
            );
        }
    }
    out
}

/// One table row: median, min and max wall time, the medians of where the time went, and the
/// notes.
fn row(case: &Case<'_>) -> String {
    if let Some(failure) = &case.failure {
        let failure = failure.replace('|', "/");
        return format!("| {} | failed | | | | | | {failure} |", case.label);
    }
    let walls = case.samples.iter().map(|s| s.wall);
    let (Some(med), Some((lo, hi))) = (case.median(), min_max(walls)) else {
        return format!("| {} | no runs | | | | | | {} |", case.label, case.note);
    };
    let part = |f: fn(&Sample) -> Option<Duration>| -> Option<Duration> {
        median(case.samples.iter().filter_map(f).collect())
    };
    let show = |d: Option<Duration>| d.map_or_else(|| "—".to_owned(), secs);
    let mut note = case.note.clone();
    if let (Some(boot), Some(run)) = (part(|s| s.to_init), part(|s| s.run)) {
        let rest = med.saturating_sub(boot + run);
        let _ = write!(
            note,
            "{}init = kmatrix's Hello (after its mounts); then run {} (Hello → Done), \
             rest {} (host work before QEMU, power-off, exit)",
            if note.is_empty() { "" } else { "; " },
            secs(run),
            secs(rest)
        );
    }
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {note} |",
        case.label,
        secs(med),
        secs(lo),
        secs(hi),
        show(part(|s| s.to_init)),
        show(part(|s| s.guest_init)),
        show(part(|s| s.guest_off)),
    )
}

/// `d` in seconds, two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `bytes` in MiB, one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::measure::run_round_robin;

    fn fixed<'a>(key: &'static str, millis: u64) -> Case<'a> {
        Case::new(
            key,
            key,
            String::new(),
            Box::new(move || Ok(Sample::wall(Duration::from_millis(millis)))),
        )
    }

    #[test]
    fn ratios_use_medians_and_skip_missing_cases() {
        let mut cases = vec![fixed("kmatrix", 3000), fixed("floor", 1500)];
        run_round_robin(&mut cases, 3);
        let text = render(&Environment::default(), &[("single", &cases)]);
        assert!(text.contains("| kmatrix / floor | 2.00× |"), "{text}");
        assert!(
            text.contains("| kmatrix | 3.00 s | 3.00 s | 3.00 s |"),
            "{text}"
        );
        assert!(!text.contains("starting point"), "{text}");
    }

    #[test]
    fn sizes_in_mib() {
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
