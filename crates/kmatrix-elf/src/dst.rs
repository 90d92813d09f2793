//! Dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`) in RPATH,
//! RUNPATH and NEEDED strings.

use crate::arch::Arch;

/// Expands the tokens in `s`, written `$NAME` or `${NAME}`. Unknown tokens
/// stay as they are. Returns `None` if a known token has no value here
/// (the loader then drops the whole entry).
pub(crate) fn expand(s: &str, origin: &str, arch: &Arch) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], len)
            }
        };
        let value = match name {
            "ORIGIN" => origin.to_owned(),
            "LIB" => arch.lib(),
            "PLATFORM" => arch.platform()?.to_owned(),
            _ => {
                out.push('$');
                rest = after;
                continue;
            }
        };
        out.push_str(&value);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Ident;

    fn x86_64() -> Arch {
        Arch::of(Ident {
            machine: 62,
            is_64: true,
            little_endian: true,
        })
    }

    #[test]
    fn expands_known_tokens() {
        let arch = x86_64();
        let cases = [
            ("$ORIGIN/../lib", "/opt/app/lib/../lib"),
            ("${ORIGIN}/x", "/opt/app/lib/x"),
            ("/usr/$LIB/foo", "/usr/lib/x86_64-linux-gnu/foo"),
            ("/p/${PLATFORM}", "/p/x86_64"),
            ("$ORIGIN$ORIGIN", "/opt/app/lib/opt/app/lib"),
            ("plain", "plain"),
            ("$UNKNOWN/x", "$UNKNOWN/x"),
            ("$ORIGINX", "$ORIGINX"),
            ("${ORIGIN", "${ORIGIN"),
            ("trailing$", "trailing$"),
        ];
        for (input, want) in cases {
            assert_eq!(
                expand(input, "/opt/app/lib", &arch).as_deref(),
                Some(want),
                "{input}"
            );
        }
    }

    #[test]
    fn unknown_platform_drops_the_entry() {
        let arch = Arch::of(Ident {
            machine: 0x9999,
            is_64: true,
            little_endian: true,
        });
        assert_eq!(expand("/x/$PLATFORM", "/", &arch), None);
        assert_eq!(expand("/x/$LIB", "/", &arch).as_deref(), Some("/x/lib"));
    }
}
