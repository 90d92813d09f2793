//! Reading the directory list of /etc/ld.so.conf, as ldconfig does when it
//! builds the cache the loader consults.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::ElfError;
use crate::glob;
use crate::rootfs::RootFs;

/// Nested includes deeper than this are ignored.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Directories listed by `conf` (a guest path) and the files it includes,
/// in order, without duplicates. A missing file yields no directories.
pub(crate) fn search_dirs(fs: &RootFs, conf: &Path) -> Result<Vec<PathBuf>, ElfError> {
    let mut dirs = Vec::new();
    parse_file(fs, conf, &mut Vec::new(), &mut dirs)?;
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    Ok(dirs)
}

fn parse_file(
    fs: &RootFs,
    conf: &Path,
    stack: &mut Vec<PathBuf>,
    dirs: &mut Vec<PathBuf>,
) -> Result<(), ElfError> {
    // A file that (indirectly) includes itself is read only once.
    if stack.len() > MAX_INCLUDE_DEPTH || stack.iter().any(|p| p == conf) {
        return Ok(());
    }
    let Some(text) = fs.read_to_string(conf)? else {
        return Ok(());
    };
    stack.push(conf.to_owned());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(patterns) = keyword_args(line, "include") {
            for pattern in patterns.split_whitespace() {
                // Relative includes are relative to the including file's directory.
                let pattern = match conf.parent() {
                    Some(base) if !pattern.starts_with('/') => base.join(pattern),
                    _ => PathBuf::from(pattern),
                };
                for file in glob::expand(fs, &pattern)? {
                    parse_file(fs, &file, stack, dirs)?;
                }
            }
        } else if keyword_args(line, "hwcap").is_some() {
            // Obsolete hardware-capability subdirectories; ldconfig ignores them too.
        } else {
            let trimmed = line.trim_end_matches('/');
            let dir = if trimmed.is_empty() { "/" } else { trimmed };
            dirs.push(PathBuf::from(dir));
        }
    }
    stack.pop();
    Ok(())
}

/// If `line` is `keyword` followed by whitespace, the rest of the line.
fn keyword_args<'a>(line: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(keyword)?;
    rest.starts_with(char::is_whitespace).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn follows_includes_in_order_and_skips_noise() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("etc/ld.so.conf.d")).unwrap();
        fs::create_dir_all(root.join("etc/extra")).unwrap();
        fs::write(
            root.join("etc/ld.so.conf"),
            "# main file\n/opt/first/\ninclude /etc/ld.so.conf.d/*.conf\n\
             hwcap 0 nosegneg\n  /opt/last # trailing comment\ninclude\textra/x.conf\n\
             include /etc/ld.so.conf\n/opt/first\n",
        )
        .unwrap();
        fs::write(root.join("etc/ld.so.conf.d/b.conf"), "/opt/b\n").unwrap();
        fs::write(
            root.join("etc/ld.so.conf.d/a.conf"),
            "# multiarch\n/opt/a1\n/opt/a2\n",
        )
        .unwrap();
        fs::write(root.join("etc/ld.so.conf.d/zz.conf.dpkg-old"), "/bad\n").unwrap();
        fs::write(root.join("etc/extra/x.conf"), "/opt/x\n").unwrap();
        fs::write(root.join("etc/includeme"), "/bad\n").unwrap();

        let fs = RootFs::new(root.to_owned());
        let dirs = search_dirs(&fs, Path::new("/etc/ld.so.conf")).unwrap();
        let dirs: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            [
                "/opt/first",
                "/opt/a1",
                "/opt/a2",
                "/opt/b",
                "/opt/last",
                "/opt/x"
            ]
        );
    }

    #[test]
    fn missing_config_means_no_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RootFs::new(dir.path().to_owned());
        assert!(
            search_dirs(&fs, Path::new("/etc/ld.so.conf"))
                .unwrap()
                .is_empty()
        );
    }
}
