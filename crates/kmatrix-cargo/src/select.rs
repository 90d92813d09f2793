//! Deciding which tests to run and with which arguments, from the user's test-binary args.
//!
//! Each test runs in its own process, so the selection libtest would do inside one process
//! (filters, `--skip`, `--ignored`...) happens here instead, and each process gets arguments
//! that make libtest run exactly its one test.

use std::ffi::{OsStr, OsString};

use crate::list::TestCase;

/// libtest options that take a value as the next argument (unless written `--opt=value`).
const OPTIONS_WITH_VALUE: &[&str] = &[
    "--color",
    "--format",
    "--logfile",
    "--shuffle-seed",
    "--skip",
    "--test-threads",
    "-Z",
];

/// The user's test-binary arguments, split into what selects tests and what is passed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestSelection {
    /// `--include-ignored`: run ignored tests too.
    pub include_ignored: bool,
    /// `--ignored`: run only the ignored tests.
    pub ignored_only: bool,
    /// Positional filters; a test is selected if it matches any (all tests if none).
    pub filters: Vec<String>,
    /// `--exact`: filters and skips match whole names instead of substrings.
    pub exact: bool,
    /// `--skip PATTERN` (repeatable): tests matching any are left out.
    pub skip: Vec<String>,
    /// Every other argument, unchanged, for each test process (e.g. `--nocapture`).
    /// `--test-threads` is dropped: each process runs one test with `--test-threads=1`.
    pub passthrough: Vec<OsString>,
}

/// What to do with one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunDecision {
    /// Run it.
    Run,
    /// Report it as ignored without running it.
    Ignored,
    /// Leave it out entirely, not even reported.
    Filtered,
}

/// Splits the user's test-binary arguments (those after `--` on the command line) the way
/// libtest would read them. Options libtest doesn't treat as selection go to
/// [`TestSelection::passthrough`]; arguments after a `--` are all filters.
pub fn parse_test_args(args: &[OsString]) -> TestSelection {
    let mut selection = TestSelection::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            // Not an option of ours; the binary itself reports what it makes of it.
            selection.passthrough.push(arg.clone());
            continue;
        };
        if let Some(pattern) = text.strip_prefix("--skip=") {
            selection.skip.push(pattern.to_owned());
            continue;
        }
        match text {
            "--" => {
                selection
                    .filters
                    .extend(iter.by_ref().map(|a| a.to_string_lossy().into_owned()));
            }
            "--include-ignored" => selection.include_ignored = true,
            "--ignored" => selection.ignored_only = true,
            "--exact" => selection.exact = true,
            "--skip" => {
                if let Some(pattern) = iter.next() {
                    selection.skip.push(pattern.to_string_lossy().into_owned());
                }
            }
            "--test-threads" => {
                iter.next();
            }
            _ if text.starts_with("--test-threads=") => {}
            _ if OPTIONS_WITH_VALUE.contains(&text) => {
                selection.passthrough.push(arg.clone());
                if let Some(value) = iter.next() {
                    selection.passthrough.push(value.clone());
                }
            }
            _ if text.starts_with('-') && text.len() > 1 => selection.passthrough.push(arg.clone()),
            _ => selection.filters.push(text.to_owned()),
        }
    }
    selection
}

impl TestSelection {
    /// Whether `case` runs, is reported as ignored, or is filtered out, following libtest:
    /// name filters and skips first, then the ignore flags. With both `--include-ignored` and
    /// `--ignored` (which libtest rejects), `--include-ignored` wins.
    pub fn selects(&self, case: &TestCase) -> RunDecision {
        let matches = |pattern: &String| {
            if self.exact {
                case.name == *pattern
            } else {
                case.name.contains(pattern.as_str())
            }
        };
        let wanted = self.filters.is_empty() || self.filters.iter().any(matches);
        if !wanted || self.skip.iter().any(matches) {
            return RunDecision::Filtered;
        }
        match (case.ignored, self.include_ignored, self.ignored_only) {
            (_, true, _) => RunDecision::Run,
            (true, false, true) => RunDecision::Run,
            (false, false, true) => RunDecision::Filtered,
            (true, false, false) => RunDecision::Ignored,
            (false, false, false) => RunDecision::Run,
        }
    }

    /// The arguments that make the test binary run `case` alone:
    /// `--exact --test-threads=1 [--include-ignored] PASSTHROUGH... -- NAME`.
    ///
    /// An ignored test gets `--include-ignored` (libtest skips it otherwise; `--ignored` works
    /// too, but would silently run nothing if the ignore flag were stale). The name comes
    /// after `--` so a name starting with `-` can't be read as an option.
    pub fn per_test_args(&self, case: &TestCase) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--exact".into(), "--test-threads=1".into()];
        if case.ignored {
            args.push("--include-ignored".into());
        }
        args.extend(self.passthrough.iter().cloned());
        args.push("--".into());
        args.push(OsStr::new(&case.name).to_owned());
        args
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
