//! fnmatch(3)-style matching (no flags) for `modules.alias` patterns, and kmod's name
//! normalisation.

/// Whether `text` matches the shell pattern `pattern`: `*` (any run, `/` included), `?`
/// (any byte), `[...]` classes with ranges and `!`/`^` negation, and `\` escapes. A `[`
/// without its `]` matches itself, as in fnmatch.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index it covers to).
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        let Some(&c) = text.get(t) else {
            return pattern.iter().skip(p).all(|&b| b == b'*');
        };
        let next = match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match class(pattern, p + 1, c) {
                Some((true, end)) => Some(end),
                Some((false, _)) => None,
                None => (c == b'[').then_some(p + 1),
            },
            Some(b'\\') => match pattern.get(p + 1) {
                Some(&escaped) => (c == escaped).then_some(p + 2),
                None => (c == b'\\').then_some(p + 1),
            },
            Some(&literal) => (c == literal).then_some(p + 1),
            None => None,
        };
        match (next, backtrack) {
            (Some(np), _) => {
                p = np;
                t += 1;
            }
            // Let the last `*` swallow one more byte and try again.
            (None, Some((star_p, star_t))) => {
                backtrack = Some((star_p, star_t + 1));
                p = star_p;
                t = star_t + 1;
            }
            (None, None) => return false,
        }
    }
}

/// Matches `c` against the class starting at `start` (just after `[`). Returns whether it
/// matched and the index after the closing `]`, or `None` if the class is unterminated.
fn class(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let b = *pattern.get(i)?;
        if b == b']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let (lo, after_lo) = class_byte(pattern, i)?;
        let is_range = pattern.get(after_lo) == Some(&b'-')
            && pattern.get(after_lo + 1).is_some_and(|&b| b != b']');
        if is_range {
            let (hi, after_hi) = class_byte(pattern, after_lo + 1)?;
            matched |= lo <= c && c <= hi;
            i = after_hi;
        } else {
            matched |= lo == c;
            i = after_lo;
        }
    }
}

/// One possibly escaped byte of a class, and the index after it.
fn class_byte(pattern: &[u8], i: usize) -> Option<(u8, usize)> {
    match *pattern.get(i)? {
        b'\\' => Some((*pattern.get(i + 1)?, i + 2)),
        b => Some((b, i + 1)),
    }
}

/// kmod's module-name normalisation: `-` becomes `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// kmod's alias normalisation: `-` becomes `_`, except inside `[...]` classes.
pub fn normalize_alias(alias: &str) -> String {
    let mut out = String::with_capacity(alias.len());
    let mut in_class = false;
    for c in alias.chars() {
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            '-' if !in_class => {
                out.push('_');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        glob_match(pattern.as_bytes(), text.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "ab"));
        assert!(!m("ab", "abc"));
        assert!(m("*", ""));
        assert!(m("*", "anything/at all"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(m("*a*a*a*", "banana a"));
        assert!(!m("*a*a*a*a*", "banana"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("**x", "x"));
    }

    #[test]
    fn classes() {
        assert!(m("[abc]", "b"));
        assert!(!m("[abc]", "d"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[a-c]x", "dx"));
        assert!(m("[0-9A-F][0-9A-F]", "3E"));
        assert!(m("[!a-c]", "d"));
        assert!(!m("[!a-c]", "b"));
        assert!(m("[^a-c]", "z"));
        assert!(!m("[^a-c]", "a"));
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(!m("[!]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("[-a]", "-"));
        assert!(m("[\\]]", "]"));
        assert!(m("x[", "x["), "unterminated class is a literal [");
        assert!(!m("x[a", "xa"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*[0-9]", "abc7"));
        assert!(!m("*[0-9]", "abc"));
    }

    #[test]
    fn real_alias_shapes() {
        let virtio_pci = "pci:v00001AF4d00001000sv*sd*bc*sc*i*";
        assert!(m(
            virtio_pci,
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
        ));
        assert!(!m(
            virtio_pci,
            "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"
        ));
        assert!(m(
            "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*",
            "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00"
        ));
        assert!(m(
            "dmi*:svnLENOVO:*pvrThinkPad*:*",
            "dmi:bvnLENOVO:svnLENOVO:pn20XW:pvrThinkPadX1:rvnLENOVO:"
        ));
        assert!(m("acpi*:PNP0A0[38]:*", "acpi:PNP0A08:"));
        assert!(!m("acpi*:PNP0A0[38]:*", "acpi:PNP0A05:"));
        assert!(m(
            "cpu:type:x86,ven*fam*mod*:feature:*0099*",
            "cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0099,00E7"
        ));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_name("crc32-pclmul"), "crc32_pclmul");
        assert_eq!(normalize_alias("net-pf-15"), "net_pf_15");
        assert_eq!(normalize_alias("net_pf_15"), "net_pf_15");
        assert_eq!(normalize_alias("fs-overlay"), "fs_overlay");
        assert_eq!(normalize_alias("x-[a-c]-y"), "x_[a-c]_y");
        let pattern = normalize_alias("net-pf-15");
        assert!(glob_match(
            pattern.as_bytes(),
            normalize_alias("net-pf-15").as_bytes()
        ));
        assert!(glob_match(
            pattern.as_bytes(),
            normalize_alias("net_pf_15").as_bytes()
        ));
        assert!(!glob_match(pattern.as_bytes(), b"net-pf-15"));
    }
}
