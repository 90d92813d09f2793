//! Normalisation of archive paths.

use crate::CpioError;
use crate::format::MAX_NAME_SIZE;

/// Turns "/a//b/./c" into "a/b/c"; rejects paths that are empty, contain a
/// `..` component or a NUL byte, or are longer than the kernel accepts.
pub(crate) fn normalize(path: &str) -> Result<String, CpioError> {
    let invalid = |reason| CpioError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    if path.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    let mut parts = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(invalid("contains a '..' component")),
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return Err(invalid("names no file (empty or root)"));
    }
    let joined = parts.join("/");
    // The stored name carries a trailing NUL, which must fit PATH_MAX.
    if joined.len() + 1 > MAX_NAME_SIZE {
        return Err(invalid("longer than PATH_MAX"));
    }
    Ok(joined)
}

/// The proper ancestors of a normalized path, outermost first ("a", "a/b" for "a/b/c").
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_leading_slash_and_redundant_parts() {
        assert_eq!(normalize("/a/b/c").ok().as_deref(), Some("a/b/c"));
        assert_eq!(normalize("a//b/./c/").ok().as_deref(), Some("a/b/c"));
        assert_eq!(normalize("init").ok().as_deref(), Some("init"));
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in ["", "/", ".", "//./", "a/../b", "..", "a\0b"] {
            assert!(
                matches!(normalize(bad), Err(CpioError::InvalidPath { .. })),
                "{bad:?} should be rejected"
            );
        }
        assert!(normalize(&"x".repeat(4096)).is_err());
        assert!(normalize(&"x".repeat(4095)).is_ok());
    }

    #[test]
    fn ancestors_are_outermost_first() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
