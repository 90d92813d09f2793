//! Just enough of glob(3) for `include` lines in ld.so.conf.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use crate::ElfError;
use crate::rootfs::RootFs;

/// True if `s` contains a glob metacharacter.
fn has_magic(s: &[u8]) -> bool {
    s.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Matches one file name against one pattern component, with glob(3)'s
/// rule that a leading `.` must be matched explicitly.
pub(crate) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    match_from(pattern, name)
}

fn match_from(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: (pattern index, name index).
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match_class(&pattern[p..], name[n]).map(|len| p + len),
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == name[n]).then_some(p + 2),
            Some(&c) => (c == name[n]).then_some(p + 1),
            None => None,
        };
        match (step, backtrack) {
            (Some(next), _) => {
                p = next;
                n += 1;
            }
            (None, Some((bp, bn))) => {
                // Let the last `*` swallow one more byte and retry.
                backtrack = Some((bp, bn + 1));
                p = bp;
                n = bn + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at the start of `pattern`.
/// Returns the expression's length if it matches; a `[` without a closing
/// `]` is an ordinary character.
fn match_class(pattern: &[u8], c: u8) -> Option<usize> {
    let negate = matches!(pattern.get(1), Some(b'!' | b'^'));
    let start = if negate { 2 } else { 1 };
    // A `]` right at the start is a member, not the end.
    let Some(end) = (start + 1..pattern.len()).find(|&j| pattern[j] == b']') else {
        return (c == b'[').then_some(1);
    };
    let set = &pattern[start..end];
    let mut found = false;
    let mut j = 0;
    while j < set.len() {
        if j + 2 < set.len() && set[j + 1] == b'-' {
            found |= (set[j]..=set[j + 2]).contains(&c);
            j += 3;
        } else {
            found |= set[j] == c;
            j += 1;
        }
    }
    (found != negate).then_some(end + 1)
}

/// Expands an absolute glob pattern against the guest file system, sorted
/// like glob(3) does. Non-matching patterns expand to nothing.
pub(crate) fn expand(fs: &RootFs, pattern: &Path) -> Result<Vec<PathBuf>, ElfError> {
    let mut current = vec![PathBuf::from("/")];
    for component in pattern.components() {
        let part = match component {
            Component::Normal(part) => part,
            Component::ParentDir => {
                current.iter_mut().for_each(|p| p.push(".."));
                continue;
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        let part = part.as_bytes();
        if !has_magic(part) {
            current.iter_mut().for_each(|p| p.push(unescape(part)));
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            for name in fs.list_dir(dir)? {
                if matches(part, name.as_bytes()) {
                    next.push(dir.join(name));
                }
            }
        }
        current = next;
    }
    let mut found = Vec::new();
    for path in current {
        if fs.resolve(&path)?.is_some() {
            found.push(path);
        }
    }
    found.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    Ok(found)
}

fn unescape(part: &[u8]) -> OsString {
    let mut out = Vec::with_capacity(part.len());
    let mut iter = part.iter();
    while let Some(&b) = iter.next() {
        match (b, iter.as_slice().first()) {
            (b'\\', Some(&next)) => {
                out.push(next);
                iter.next();
            }
            _ => out.push(b),
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_question_and_classes() {
        let yes = [
            ("*.conf", "libc.conf"),
            ("*", "x"),
            ("a*b*c", "abc"),
            ("a*b*c", "aXbYbZc"),
            ("?.conf", "a.conf"),
            ("[abc].so", "b.so"),
            ("[a-c]x", "cx"),
            ("[!a-c]x", "dx"),
            ("[^a]x", "bx"),
            ("[]]", "]"),
            ("x\\*", "x*"),
            ("[", "["),
            (".*", ".hidden"),
        ];
        for (p, n) in yes {
            assert!(matches(p.as_bytes(), n.as_bytes()), "{p} should match {n}");
        }
        let no = [
            ("*.conf", "libc.conf.bak"),
            ("*.conf", ".hidden.conf"),
            ("?.conf", "ab.conf"),
            ("[a-c]x", "dx"),
            ("[!a-c]x", "ax"),
            ("a*b*c", "aXbYbZ"),
            ("x\\*", "xy"),
            ("", "x"),
        ];
        for (p, n) in no {
            assert!(
                !matches(p.as_bytes(), n.as_bytes()),
                "{p} should not match {n}"
            );
        }
    }

    #[test]
    fn expands_against_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/ld.so.conf.d")).unwrap();
        std::fs::create_dir_all(root.join("etc/other.d")).unwrap();
        for f in ["b.conf", "a.conf", "c.conf.bak", ".h.conf"] {
            std::fs::write(root.join("etc/ld.so.conf.d").join(f), "").unwrap();
        }
        std::fs::write(root.join("etc/other.d/z.conf"), "").unwrap();
        let fs = RootFs::new(root.to_owned());

        let got = expand(&fs, Path::new("/etc/ld.so.conf.d/*.conf")).unwrap();
        assert_eq!(
            got,
            [
                PathBuf::from("/etc/ld.so.conf.d/a.conf"),
                PathBuf::from("/etc/ld.so.conf.d/b.conf"),
            ]
        );
        let got = expand(&fs, Path::new("/etc/*.d/[az].conf")).unwrap();
        assert_eq!(
            got,
            [
                PathBuf::from("/etc/ld.so.conf.d/a.conf"),
                PathBuf::from("/etc/other.d/z.conf"),
            ]
        );
        assert!(expand(&fs, Path::new("/nope/*.conf")).unwrap().is_empty());
        assert_eq!(
            expand(&fs, Path::new("/etc/other.d/z.conf")).unwrap().len(),
            1
        );
    }
}
