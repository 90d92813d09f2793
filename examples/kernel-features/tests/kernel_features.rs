//! One test per kernel feature. Each asserts that the running kernel has the feature, so on a
//! kernel that lacks it the test fails, saying what is missing and since which release: run
//! under kmatrix, the failures are the cells where the kernels differ. See the crate docs
//! (`src/lib.rs`) for what each probe checks.

use kernel_features::{bpf, cachestat, futex_waitv, io_uring, landlock, mseal, report};

#[test]
fn io_uring_is_available() {
    io_uring::setup().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn io_uring_supports_socket_opcode() {
    io_uring::require_opcode(io_uring::OP_SOCKET).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn io_uring_supports_ftruncate() {
    io_uring::require_opcode(io_uring::OP_FTRUNCATE).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bpf_ring_buffer_map() {
    bpf::create_ring_buffer_map().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bpf_arena_map() {
    bpf::create_arena_map().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn futex_waitv_syscall_exists() {
    futex_waitv::probe().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn landlock_is_enabled() {
    let abi = landlock::abi_version().unwrap_or_else(|e| panic!("{e}"));
    println!("Landlock ABI {abi}");
}

#[test]
fn landlock_abi_version_at_least_3() {
    let abi = landlock::require_abi(3).unwrap_or_else(|e| panic!("{e}"));
    println!("Landlock ABI {abi}");
}

#[test]
fn cachestat_syscall_exists() {
    let stat = cachestat::probe().unwrap_or_else(|e| panic!("{e}"));
    println!("{stat:?}");
}

#[test]
fn mseal_syscall_exists() {
    mseal::probe().unwrap_or_else(|e| panic!("{e}"));
}

/// Not a check of one feature but a survey of all of them; run it with
/// `-- --ignored --nocapture` to see what a kernel has. It fails only if a probe could not get
/// a clean answer (a permission problem or an unforeseen error), not because a feature is
/// missing.
#[test]
#[ignore = "survey of every probe, not a check; run with --ignored --nocapture"]
fn exhaustive_feature_report() {
    let mut unclean = Vec::new();
    for line in report() {
        match &line.result {
            Ok(found) => println!("{:<34} yes: {found}", line.test),
            Err(e) => {
                println!("{:<34} no:  {e}", line.test);
                if !e.is_clean_answer() {
                    unclean.push(format!("{}: {e}", line.test));
                }
            }
        }
    }
    assert!(
        unclean.is_empty(),
        "probes without a clean answer:\n{}",
        unclean.join("\n")
    );
}
