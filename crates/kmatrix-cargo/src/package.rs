//! The package name inside a cargo package ID.
//!
//! Artifact messages identify a package only by its ID, so the name is read out of it rather
//! than running `cargo metadata` a second time.

/// The package name in `id`, which is either a package ID spec (cargo 1.77 and later, e.g.
/// `path+file:///src/dir#name@0.1.0`, or `path+file:///src/name#0.1.0` when the name is the
/// directory's) or the older `name version (source)` form. Unknown shapes are returned whole.
pub(crate) fn package_name(id: &str) -> String {
    // Old form "name 0.1.0 (source)"; spec URLs percent-encode their spaces.
    if let Some((name, _rest)) = id.split_once(' ') {
        return name.to_owned();
    }
    let (url, fragment) = id.split_once('#').unwrap_or((id, ""));
    if let Some((name, _version)) = fragment.split_once('@') {
        return name.to_owned();
    }
    if !fragment.is_empty() && !fragment.starts_with(|c: char| c.is_ascii_digit()) {
        // "#name" without a version.
        return fragment.to_owned();
    }
    // Only a version: the name is the last path segment of the URL.
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(last) if !last.is_empty() => last.to_owned(),
        _ => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn spec_with_name_and_version() {
        assert_eq!(
            package_name("path+file:///work/dir#my-crate@0.1.0"),
            "my-crate"
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0"),
            "serde"
        );
        assert_eq!(
            package_name("git+https://example.com/a/b.git?branch=main#tool@2.0.0"),
            "tool"
        );
    }

    #[test]
    fn spec_with_only_a_version_uses_the_directory() {
        assert_eq!(package_name("path+file:///work/my-crate#0.1.0"), "my-crate");
        assert_eq!(
            package_name("path+file:///work/my-crate/#0.1.0"),
            "my-crate"
        );
    }

    #[test]
    fn spec_with_only_a_name() {
        assert_eq!(package_name("path+file:///work/dir#my-crate"), "my-crate");
    }

    #[test]
    fn old_form() {
        assert_eq!(
            package_name("my-crate 0.1.0 (path+file:///work/my-crate)"),
            "my-crate"
        );
    }
}
