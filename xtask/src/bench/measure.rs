//! Cases, samples and their statistics.
//!
//! A [`Case`] is one thing being timed. Cases of the same group are run round-robin (one run of
//! each, then the next round), so a change of load on a shared machine affects every case of
//! the round alike instead of skewing whichever case happened to run at that moment.

use std::time::Duration;

/// One timed run: the wall time and, where known, where it went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Wall time of the whole run, as a user would see it.
    pub wall: Duration,
    /// Host clock from QEMU's start to init's first sign of life: the trivial init's marker
    /// line, or kmatrix's `boot_ms` (its init's Hello, sent after mounting filesystems).
    pub to_init: Option<Duration>,
    /// The guest kernel's clock when the trivial init ran (it prints it).
    pub guest_init: Option<Duration>,
    /// The guest kernel's clock at `reboot: Power down` (the last console line).
    pub guest_off: Option<Duration>,
    /// kmatrix's `run_ms` (Hello to Done), when known.
    pub run: Option<Duration>,
}

#[cfg(test)]
impl Sample {
    /// A sample with only a wall time.
    pub fn wall(wall: Duration) -> Sample {
        Sample {
            wall,
            ..Sample::default()
        }
    }
}

/// The body of a case: performs one run and times it.
pub type RunFn<'a> = Box<dyn FnMut() -> anyhow::Result<Sample> + 'a>;

/// One thing being timed.
pub struct Case<'a> {
    /// Short stable key, used by the ratios (`kmatrix`, `floor`, `zstd`, …).
    pub key: &'static str,
    /// Row label in the report.
    pub label: String,
    /// Free-form note for the report (sizes, what is included).
    pub note: String,
    /// Performs one run.
    run: RunFn<'a>,
    /// Timed samples so far.
    pub samples: Vec<Sample>,
    /// Why the case stopped, if it failed; a failed case keeps no timing.
    pub failure: Option<String>,
}

impl<'a> Case<'a> {
    /// A case that has not run yet.
    pub fn new(key: &'static str, label: impl Into<String>, note: String, run: RunFn<'a>) -> Self {
        Case {
            key,
            label: label.into(),
            note,
            run,
            samples: Vec::new(),
            failure: None,
        }
    }

    /// Runs the case once; a failure marks the case failed (and drops its samples).
    fn step(&mut self, timed: bool) {
        if self.failure.is_some() {
            return;
        }
        match (self.run)() {
            Ok(sample) => {
                eprintln!(
                    "xtask:   {:<34} {:>8.2} s{}",
                    self.label,
                    sample.wall.as_secs_f64(),
                    if timed { "" } else { "  (warm-up)" }
                );
                if timed {
                    self.samples.push(sample);
                }
            }
            Err(err) => {
                eprintln!("xtask:   {}: FAILED: {err:#}", self.label);
                self.failure = Some(format!("{err:#}"));
                self.samples.clear();
            }
        }
    }

    /// Median wall time, if the case succeeded.
    pub fn median(&self) -> Option<Duration> {
        if self.failure.is_some() {
            return None;
        }
        median(self.samples.iter().map(|s| s.wall).collect())
    }
}

/// Runs every case once untimed, then `runs` timed rounds.
pub fn run_round_robin(cases: &mut [Case<'_>], runs: u32) {
    eprintln!("xtask: warm-up round");
    for case in cases.iter_mut() {
        case.step(false);
    }
    for round in 1..=runs {
        eprintln!("xtask: round {round} of {runs}");
        for case in cases.iter_mut() {
            case.step(true);
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

/// Smallest and largest of `values`.
pub fn min_max(values: impl Iterator<Item = Duration>) -> Option<(Duration, Duration)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(ms(&[3, 1, 2])), Some(Duration::from_millis(2)));
        assert_eq!(median(ms(&[4, 1, 2, 3])), Some(Duration::from_micros(2500)));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn min_max_spans_the_values() {
        assert_eq!(
            min_max(ms(&[5, 2, 9]).into_iter()),
            Some((Duration::from_millis(2), Duration::from_millis(9)))
        );
    }

    #[test]
    fn a_failing_case_keeps_no_samples() {
        let mut calls = 0;
        let mut case = Case::new(
            "x",
            "x",
            String::new(),
            Box::new(move || {
                calls += 1;
                if calls < 3 {
                    Ok(Sample::wall(Duration::from_millis(1)))
                } else {
                    anyhow::bail!("boom")
                }
            }),
        );
        for _ in 0..4 {
            case.step(true);
        }
        assert!(case.samples.is_empty());
        assert_eq!(case.median(), None);
        assert_eq!(case.failure.as_deref(), Some("boom"));
    }
}
