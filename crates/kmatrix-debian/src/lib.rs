//! Finding and downloading Debian cloud kernels.
//!
//! * [`Mirror`] locates the Debian archive (from the APT sources of the host
//!   or an explicit URL);
//! * [`KernelQuery`] is what the user asks for (`6.1`, `6.1.0-56`,
//!   `6.12.48+deb13`), [`DebArch`] for which architecture;
//! * [`Archive::resolve`] reads the suites' `InRelease` and `Packages`
//!   indexes and picks the newest matching kernel ([`ResolvedKernel`]);
//! * [`Archive::fetch`] downloads a package into a verified,
//!   content-addressed cache.
//!
//! Each suite's `InRelease` must carry a valid OpenPGP signature by a key of
//! the [`Keyring`] ([`DEFAULT_KEYRING`] unless [`Archive::with_keyring`]
//! names another); only its signed text is parsed. All downloads are then
//! checked against the SHA-256 sums of the index chain (`InRelease` →
//! `Packages` → `.deb`), and cached indexes again whenever they are read.

mod archive;
mod cache;
mod error;
mod http;
mod index;
pub mod kernel;
mod keyring;
mod mirror;
pub mod packages;
pub mod release;
pub mod resolve;
pub mod sources;
mod verify;
pub mod version;

pub use archive::{Archive, DEFAULT_SUITES, Fetched};
pub use error::DebianError;
pub use kernel::{DebArch, KernelQuery, ParseArchError, ParseQueryError};
pub use keyring::{DEFAULT_KEYRING, Keyring};
pub use mirror::{Mirror, is_debian_main_suite, is_debian_security_suite};
pub use packages::PackageEntry;
pub use resolve::{ResolvedKernel, SuiteIndex};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_thread_safe() {
        fn check<T: Send + Sync + 'static>() {}
        check::<DebianError>();
        check::<Archive>();
        check::<Keyring>();
        check::<ResolvedKernel>();
        check::<ParseQueryError>();
        check::<ParseArchError>();
    }

    #[test]
    fn https_mirror_error_names_url() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(
            Mirror::from_url("https://127.0.0.1:9/debian"),
            dir.path().to_path_buf(),
        )
        .with_suites(vec!["sid".into()]);
        let err = archive
            .resolve(&"6.1".parse().unwrap(), DebArch::Amd64)
            .unwrap_err();
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains("https://127.0.0.1:9/debian/dists/sid/InRelease"));
    }
}
