//! The benchmark's trivial guest init: PID 1 that proves it ran, then powers the VM off.
//!
//! `cargo xtask bench` compiles this file on its own with `rustc` (static, `opt-level=s`,
//! `panic=abort`) and packs it as `/init`. It prints one marker line on the console, saying
//! whether a module tree was unpacked (so a truncated initramfs is caught) and how long the
//! kernel has been up (`CLOCK_BOOTTIME`), then calls `sync()` and `reboot(RB_POWER_OFF)`. The
//! host only counts a boot whose console output holds the marker, so a kernel that panics
//! before init is never timed as a fast boot.

use std::io::Write;
use std::os::raw::c_int;

/// `RB_POWER_OFF` from `<sys/reboot.h>` (`LINUX_REBOOT_CMD_POWER_OFF`).
const RB_POWER_OFF: c_int = 0x4321_fedc_u32 as c_int;

/// `CLOCK_BOOTTIME` from `<time.h>`: time since the kernel started, suspend included.
const CLOCK_BOOTTIME: c_int = 7;

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
struct Timespec {
    /// Seconds.
    tv_sec: i64,
    /// Nanoseconds.
    tv_nsec: i64,
}

unsafe extern "C" {
    /// `clock_gettime(2)`.
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    /// `sync(2)`: flushes filesystem buffers (nothing to flush in an initramfs, but init
    /// programs do it before powering off, and so does kmatrix's).
    fn sync();
    /// `reboot(2)` through glibc's wrapper.
    fn reboot(cmd: c_int) -> c_int;
}

/// Milliseconds since the kernel started, or 0 if the clock cannot be read.
fn uptime_ms() -> i64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    match unsafe { clock_gettime(CLOCK_BOOTTIME, &mut ts) } {
        0 => ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000,
        _ => 0,
    }
}

fn main() {
    let uptime = uptime_ms();
    let modules = ["/usr/lib/modules", "/lib/modules"]
        .iter()
        .any(|dir| std::path::Path::new(dir).is_dir());
    let line = format!(
        "kmatrix-bench-init: reached init, modules={}, uptime_ms={uptime}\n",
        if modules { "yes" } else { "no" }
    );
    // The kernel opens /dev/console as fds 0-2 for init; fall back to opening it ourselves.
    if std::io::stdout().write_all(line.as_bytes()).is_err()
        && let Ok(mut console) = std::fs::OpenOptions::new().write(true).open("/dev/console")
    {
        let _ = console.write_all(line.as_bytes());
    }
    let _ = std::io::stdout().flush();
    // SAFETY: both calls take no pointers; reboot only returns on failure.
    unsafe {
        sync();
        reboot(RB_POWER_OFF);
    }
    // PID 1 must not exit (that panics the kernel, which QEMU also ends with, but noisily).
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
