//! Asking a libtest binary which tests it has.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::CargoError;

/// One test in a test binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestCase {
    /// The full test name, e.g. `module::tests::it_works`.
    pub name: String,
    /// Whether the test is marked `#[ignore]`.
    pub ignored: bool,
}

/// Lists the tests of the libtest binary `binary`, in the order the binary gives them.
///
/// Runs `BINARY --list` (all tests) and `BINARY --list --format terse --ignored` (the ignored
/// ones) on this host. Benchmarks are left out. A binary that exits non-zero, or that exits 0
/// without printing a libtest listing (a `harness = false` program ignoring its arguments),
/// yields [`CargoError::NotLibtest`], so the caller can run it as one plain program.
pub fn list_tests(binary: &Path) -> Result<Vec<TestCase>, CargoError> {
    // The plain format ends with a "N tests, M benchmarks" line, which tells an empty libtest
    // binary apart from a program that printed nothing; the terse format has no such line.
    let all = run_list(binary, &["--list"])?;
    let all_text = String::from_utf8_lossy(&all.stdout);
    let names = parse_terse_list(&all_text);
    let looks_like_libtest = !names.is_empty()
        || all_text
            .lines()
            .any(|line| is_list_summary(line) || is_bench(line));
    if !all.status.success() || !looks_like_libtest {
        return Err(not_libtest(binary, &all));
    }

    let ignored = run_list(binary, &["--list", "--format", "terse", "--ignored"])?;
    if !ignored.status.success() {
        return Err(not_libtest(binary, &ignored));
    }
    let ignored: HashSet<String> = parse_terse_list(&String::from_utf8_lossy(&ignored.stdout))
        .into_iter()
        .collect();

    Ok(names
        .into_iter()
        .map(|name| {
            let ignored = ignored.contains(&name);
            TestCase { name, ignored }
        })
        .collect())
}

/// The test names in libtest's `--list` output: lines `NAME: test`. Benchmarks (`NAME: bench`),
/// blank lines and the summary line are dropped. Only the last `": test"` separates, so names
/// that themselves contain `": "` survive.
pub fn parse_terse_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

fn is_bench(line: &str) -> bool {
    line.ends_with(": bench")
}

/// Whether `line` is libtest's `N tests, M benchmarks` list summary.
fn is_list_summary(line: &str) -> bool {
    let Some((tests, benches)) = line.split_once(", ") else {
        return false;
    };
    let counted = |part: &str, singular: &str, plural: &str| {
        part.split_once(' ').is_some_and(|(count, noun)| {
            !count.is_empty()
                && count.bytes().all(|b| b.is_ascii_digit())
                && (noun == singular || noun == plural)
        })
    };
    counted(tests, "test", "tests") && counted(benches, "benchmark", "benchmarks")
}

fn run_list(binary: &Path, args: &[&str]) -> Result<Output, CargoError> {
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CargoError::Spawn {
            program: binary.to_owned(),
            source,
        })
}

fn not_libtest(binary: &Path, output: &Output) -> CargoError {
    CargoError::NotLibtest {
        binary: binary.to_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tests_and_drops_benches() {
        let text = "a::b: test\nbench_it: bench\nc: test\n";
        assert_eq!(parse_terse_list(text), ["a::b", "c"]);
    }

    #[test]
    fn keeps_names_containing_colons_and_spaces() {
        let text = "a::b: test\nweird: name with spaces: test\nx: bench: test\ny: test: bench\n";
        assert_eq!(
            parse_terse_list(text),
            ["a::b", "weird: name with spaces", "x: bench"]
        );
    }

    #[test]
    fn ignores_summary_blank_and_other_lines() {
        let text = "a: test\n\n1 test, 0 benchmarks\nnoise\n";
        assert_eq!(parse_terse_list(text), ["a"]);
    }

    #[test]
    fn empty_input_lists_nothing() {
        assert!(parse_terse_list("").is_empty());
    }

    #[test]
    fn recognises_the_summary_line() {
        assert!(is_list_summary("0 tests, 0 benchmarks"));
        assert!(is_list_summary("1 test, 1 benchmark"));
        assert!(is_list_summary("12 tests, 3 benchmarks"));
        assert!(!is_list_summary("some tests, 0 benchmarks"));
        assert!(!is_list_summary("a: test"));
        assert!(!is_list_summary(""));
    }
}
