//! The kmatrix engine: from kernel specs and programs to per-kernel results.
//!
//! The engine is a library so that the `kmatrix` CLI, an xtask or a test harness can drive it
//! the same way. It never prints and never exits: progress goes to an [`EventSink`] as
//! [`Event`]s, and the outcome comes back as a [`Report`].
//!
//! ```text
//!  KernelSpec ─► prepare::prepare ─► PreparedKernel ─┐
//!                (resolve, fetch, extract, cache)     ├─► initramfs (kernel part + run part)
//!  ProgramRequest ─► programs::resolve ──────────────┘        │
//!                    (ELF, libraries)                         ▼
//!                                                    session::Session (QEMU, watchdog)
//!                                                             │
//!                                                   KernelResult ─► Report
//! ```
//!
//! ```no_run
//! use kmatrix_runner::{Event, RunOptions, ProgramRequest, parse_specs};
//!
//! let options = RunOptions::new(
//!     parse_specs(&["debian:6.1".to_string()], None)?,
//!     vec![ProgramRequest::new("/bin/uname", ["-a"])],
//! );
//! let report = kmatrix_runner::run(&options, &|event: Event| eprintln!("{event:?}"))?;
//! std::process::exit(report.exit_code());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cache;
pub mod error;
pub mod events;
pub mod initramfs;
pub mod inventory;
pub mod junit;
pub mod local;
pub mod lock;
pub mod outcome;
pub mod prepare;
pub mod programs;
pub mod qemu;
mod session;
pub mod spec;
mod units;
pub mod watchdog;

mod engine;
mod guest;

pub use engine::{RunError, RunOptions, default_jobs, run};
pub use error::{ErrorClass, PrepareError, SpecError};
pub use events::{Event, EventSink, FetchSource, KernelId};
pub use kmatrix_kernel::Arch;
pub use outcome::{
    KernelOutcome, KernelResult, ProgramOutcome, ProgramResult, Report, TestOutcome, TestResult,
    exit_code,
};
pub use programs::{ProgramRequest, TestRequest};
pub use qemu::AccelChoice;
pub use spec::{DEFAULT_MATRIX, KernelSource, KernelSpec, Shard, parse_specs};
