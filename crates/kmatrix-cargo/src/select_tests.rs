use std::ffi::OsString;

use super::*;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn case(name: &str, ignored: bool) -> TestCase {
    TestCase {
        name: name.into(),
        ignored,
    }
}

#[test]
fn empty_args_select_everything_but_ignored() {
    let selection = parse_test_args(&[]);
    assert_eq!(selection, TestSelection::default());
    assert_eq!(selection.selects(&case("a", false)), RunDecision::Run);
    assert_eq!(selection.selects(&case("b", true)), RunDecision::Ignored);
}

#[test]
fn parses_selection_flags_and_passthrough() {
    let selection = parse_test_args(&os(&[
        "--nocapture",
        "foo",
        "--skip",
        "slow",
        "--skip=flaky",
        "--exact",
        "--include-ignored",
        "--test-threads",
        "4",
        "--format",
        "json",
        "-Z",
        "unstable-options",
        "--color=always",
        "bar",
    ]));
    assert_eq!(selection.filters, ["foo", "bar"]);
    assert_eq!(selection.skip, ["slow", "flaky"]);
    assert!(selection.exact);
    assert!(selection.include_ignored);
    assert!(!selection.ignored_only);
    assert_eq!(
        selection.passthrough,
        os(&[
            "--nocapture",
            "--format",
            "json",
            "-Z",
            "unstable-options",
            "--color=always"
        ])
    );
}

#[test]
fn drops_test_threads_in_both_spellings() {
    let selection = parse_test_args(&os(&["--test-threads=8", "--test-threads", "2", "-q"]));
    assert_eq!(selection.passthrough, os(&["-q"]));
    assert!(selection.filters.is_empty());
}

#[test]
fn everything_after_double_dash_is_a_filter() {
    let selection = parse_test_args(&os(&["--ignored", "--", "--exact", "x"]));
    assert!(selection.ignored_only);
    assert!(!selection.exact);
    assert_eq!(selection.filters, ["--exact", "x"]);
}

#[test]
fn substring_filters_and_skips() {
    let selection = parse_test_args(&os(&["net", "--skip", "slow"]));
    assert_eq!(
        selection.selects(&case("net::connect", false)),
        RunDecision::Run
    );
    assert_eq!(
        selection.selects(&case("fs::read", false)),
        RunDecision::Filtered
    );
    assert_eq!(
        selection.selects(&case("net::slow_dns", false)),
        RunDecision::Filtered
    );
    assert_eq!(
        selection.selects(&case("net::big", true)),
        RunDecision::Ignored
    );
    assert_eq!(
        selection.selects(&case("fs::big", true)),
        RunDecision::Filtered
    );
}

#[test]
fn exact_applies_to_filters_and_skips() {
    let selection = parse_test_args(&os(&["--exact", "a::b", "a::c", "--skip", "a::c"]));
    assert_eq!(selection.selects(&case("a::b", false)), RunDecision::Run);
    assert_eq!(
        selection.selects(&case("a::bb", false)),
        RunDecision::Filtered
    );
    assert_eq!(
        selection.selects(&case("a::c", false)),
        RunDecision::Filtered
    );
}

#[test]
fn ignored_only_runs_just_the_ignored() {
    let selection = parse_test_args(&os(&["--ignored"]));
    assert_eq!(selection.selects(&case("a", false)), RunDecision::Filtered);
    assert_eq!(selection.selects(&case("b", true)), RunDecision::Run);
}

#[test]
fn include_ignored_runs_all_and_wins_over_ignored() {
    for args in [
        &["--include-ignored"][..],
        &["--include-ignored", "--ignored"],
    ] {
        let selection = parse_test_args(&os(args));
        assert_eq!(selection.selects(&case("a", false)), RunDecision::Run);
        assert_eq!(selection.selects(&case("b", true)), RunDecision::Run);
    }
}

#[test]
fn per_test_args_for_plain_and_ignored_tests() {
    let selection = parse_test_args(&os(&["--nocapture", "filter", "--exact"]));
    assert_eq!(
        selection.per_test_args(&case("m::t", false)),
        os(&["--exact", "--test-threads=1", "--nocapture", "--", "m::t"])
    );
    assert_eq!(
        selection.per_test_args(&case("m::slow", true)),
        os(&[
            "--exact",
            "--test-threads=1",
            "--include-ignored",
            "--nocapture",
            "--",
            "m::slow"
        ])
    );
}

#[test]
fn non_utf8_arguments_pass_through() {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![0xff, b'x']);
        let selection = parse_test_args(std::slice::from_ref(&odd));
        assert_eq!(selection.passthrough, [odd]);
    }
}
