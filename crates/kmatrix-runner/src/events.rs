//! The event stream: the whole interface between the engine and whoever reports on it.
//!
//! The engine never prints. It calls an [`EventSink`] with [`Event`]s as things happen; the
//! terminal display, the JSON report and any other consumer are built from the same stream.
//!
//! ```text
//!  spec ─► prepare (resolve, fetch, extract) ─► initramfs ─► QEMU ─► guest messages
//!    │            │                                  │         │           │
//!    └────────────┴──────────── Event ───────────────┴─────────┴───────────┘
//!                                  │
//!                        EventSink (terminal, JSON, …)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::outcome::{KernelResult, ProgramResult};

/// Identifies a kernel of the matrix in events: its position and its spec as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelId {
    /// Position in the matrix, from 0.
    pub index: usize,
    /// The spec as the user wrote it.
    pub spec: String,
}

/// Where a kernel package came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchSource {
    /// Downloaded now.
    Downloaded,
    /// Already in the cache.
    Cached,
}

/// Which output stream of a guest program.
pub use kmatrix_wire::Stream as OutputStream;

/// Severity of a guest note.
pub use kmatrix_wire::Level as GuestLevel;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// A Debian spec resolved to a package.
    Resolved {
        /// The kernel.
        kernel: KernelId,
        /// Package name.
        package: String,
        /// Package version.
        version: String,
        /// Suite it was found in.
        suite: String,
    },
    /// A package is being downloaded.
    Downloading {
        /// The kernel.
        kernel: KernelId,
        /// URL.
        url: String,
        /// Expected size in bytes.
        size: u64,
    },
    /// Something the user should know that does not stop the run (e.g. a fallback).
    Notice {
        /// The kernel.
        kernel: KernelId,
        /// The notice.
        text: String,
    },
    /// A package is available locally.
    Fetched {
        /// The kernel.
        kernel: KernelId,
        /// Path of the package in the cache.
        path: PathBuf,
        /// Whether it was downloaded now.
        source: FetchSource,
    },
    /// A package was extracted (only happens the first time a package is used).
    Extracted {
        /// The kernel.
        kernel: KernelId,
        /// How long extraction took.
        elapsed: Duration,
    },
    /// KVM was asked for (or `auto`) but does not work here; TCG is used instead.
    AccelFallback {
        /// Why KVM is not used.
        reason: String,
    },
    /// QEMU is starting for a kernel.
    VmStarting {
        /// The kernel.
        kernel: KernelId,
        /// Kernel release.
        release: String,
        /// Guest architecture.
        arch: String,
        /// Accelerator in use (`kvm` or `tcg`).
        accel: String,
        /// File receiving the kernel's full console output.
        console_log: PathBuf,
    },
    /// The guest init is running.
    Booted {
        /// The kernel.
        kernel: KernelId,
        /// Time from starting QEMU to init's first message.
        boot_time: Duration,
    },
    /// A note from the guest init (a missing filesystem, a module that failed to load, …).
    GuestLog {
        /// The kernel.
        kernel: KernelId,
        /// Severity.
        level: GuestLevel,
        /// The note.
        text: String,
    },
    /// A program started in the guest.
    ProgramStarted {
        /// The kernel.
        kernel: KernelId,
        /// Program name.
        program: String,
    },
    /// A chunk of a program's output.
    ProgramOutput {
        /// The kernel.
        kernel: KernelId,
        /// Program name.
        program: String,
        /// Which stream.
        stream: OutputStream,
        /// The bytes as written; not necessarily whole lines.
        data: Vec<u8>,
    },
    /// A program finished in the guest.
    ProgramFinished {
        /// The kernel.
        kernel: KernelId,
        /// Its result.
        result: ProgramResult,
    },
    /// Everything for one kernel is over.
    KernelFinished {
        /// The kernel.
        kernel: KernelId,
        /// Its result.
        result: Box<KernelResult>,
    },
}

/// Receives events. Implemented for closures.
pub trait EventSink: Send + Sync {
    /// Handles one event. Must not block for long: the engine waits for it.
    fn event(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn event(&self, event: Event) {
        self(event)
    }
}
