//! End-to-end tests: the `kmatrix` binary boots real Debian kernels under QEMU.
//!
//! These tests need QEMU and the Debian archive (the CI script installs QEMU); they never skip.
//! Kernels are cached in one directory under the target dir, shared by all tests and kept between
//! runs, so only the first run downloads. VMs run under TCG unless a test is about the
//! accelerator, so results do not depend on the machine's KVM.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod cache;
mod config;
mod fanout;
mod harness;
mod run;
mod test;
