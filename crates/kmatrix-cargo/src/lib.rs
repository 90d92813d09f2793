//! Building a workspace's test binaries with cargo and finding the tests inside them.
//!
//! * [`build_tests`] runs `cargo test --no-run` and returns every test executable it built.
//! * [`list_tests`] asks one libtest binary for its tests and which are `#[ignore]`d, or says
//!   it is not a libtest binary ([`CargoError::NotLibtest`]).
//! * [`parse_test_args`] reads the user's test-binary arguments into a [`TestSelection`],
//!   which decides per test whether it runs and with which arguments, since kmatrix runs
//!   each test in its own process.

mod build;
mod error;
mod list;
mod package;
mod select;

pub use build::{BuildRequest, TestBinary, build_tests};
pub use error::CargoError;
pub use list::{TestCase, list_tests, parse_terse_list};
pub use select::{RunDecision, TestSelection, parse_test_args};
