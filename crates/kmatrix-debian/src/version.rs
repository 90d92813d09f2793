//! Debian package version ordering (Debian Policy §5.6.12).
//!
//! A version is `[epoch:]upstream[-revision]`. Epochs compare numerically;
//! upstream and revision compare by alternating non-digit runs (where `~`
//! sorts before everything, even the end of the string, and letters sort
//! before other characters) and digit runs (compared numerically).

use std::cmp::Ordering;

/// Compares two Debian version strings.
///
/// Malformed input never panics: a non-numeric epoch is treated as part of the
/// upstream version, as `dpkg` would reject it anyway and any total order is
/// fine for such strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    compare_digits(ea, eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

/// Splits a version into (epoch, upstream, revision); absent parts are "".
fn split(v: &str) -> (&str, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e, rest),
        _ => ("", v),
    };
    // The revision starts after the *last* hyphen; upstream may contain hyphens.
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, upstream, revision)
}

/// Sort weight of one character in a non-digit run; `None` is end of run.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        let (na, ra) = take_run(a, |c| !c.is_ascii_digit());
        let (nb, rb) = take_run(b, |c| !c.is_ascii_digit());
        let ord = compare_non_digits(na, nb);
        if ord != Ordering::Equal {
            return ord;
        }
        let (da, ra) = take_run(ra, |c| c.is_ascii_digit());
        let (db, rb) = take_run(rb, |c| c.is_ascii_digit());
        let ord = compare_digits_bytes(da, db);
        if ord != Ordering::Equal {
            return ord;
        }
        a = ra;
        b = rb;
    }
    Ordering::Equal
}

fn take_run(s: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().position(|&c| !pred(c)).unwrap_or(s.len());
    s.split_at(n)
}

fn compare_non_digits(a: &[u8], b: &[u8]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| weight(a.get(i).copied()).cmp(&weight(b.get(i).copied())))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

fn compare_digits(a: &str, b: &str) -> Ordering {
    compare_digits_bytes(a.as_bytes(), b.as_bytes())
}

/// Numeric comparison of digit strings of any length (no overflow).
fn compare_digits_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let a = &a[strip(a)..];
    let b = &b[strip(b)..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[track_caller]
    fn check(a: &str, b: &str, want: std::cmp::Ordering) {
        assert_eq!(compare(a, b), want, "{a} vs {b}");
        assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
    }

    #[test]
    fn policy_examples() {
        check("1.0~rc1", "1.0", Less);
        check("1.0~rc1", "1.0~rc2", Less);
        check("1.0~~", "1.0~", Less);
        check("1.0~", "1.0", Less);
        check("1.0", "1.0a", Less);
        check("1.0a", "1.0+", Less);
        check("1:0.1", "2.0", Greater);
        check("0:2.0", "2.0", Equal);
        check("1.0", "1.00", Equal);
        check("1.0-1", "1.0", Greater);
        check("2.10", "2.9", Greater);
    }

    #[test]
    fn kernel_versions() {
        check("6.1.176-1", "6.1.170-3", Greater);
        check("6.1.192-3", "6.1.192-2", Greater);
        check("6.1.180-1~deb11u1", "6.1.180-1", Less);
        check("6.12.95-1~bpo12+1", "6.12.95-1", Less);
        check("6.12.90-2", "6.12.90-1", Greater);
        check("7.2.13-1", "7.2.12-1", Greater);
        check("6.12.117-1", "6.1.192-3", Greater);
        check("5.10.262-1", "5.10.0-30", Greater);
    }

    #[test]
    fn abi_strings() {
        check("6.1.0-50", "6.1.0-9", Greater);
        check("6.12.48+deb13", "6.12.48", Greater);
        check("6.12.90+deb13.1", "6.12.90+deb13", Greater);
        check("6.12.100+deb13", "6.12.99+deb13", Greater);
        check("6.1.0-0.deb11.52", "6.1.0-50", Less);
    }

    #[test]
    fn odd_input_does_not_panic() {
        check("", "0", Equal);
        check("a:1", "1", Greater);
        check("99999999999999999999999", "1", Greater);
        check("-", "", Equal);
    }
}
