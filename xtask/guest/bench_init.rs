//! The benchmark's trivial guest init: PID 1 that proves it ran, then powers the VM off.
//!
//! `cargo xtask bench` compiles this file on its own with `rustc` (static, `opt-level=s`,
//! `panic=abort`) and packs it as `/init`. It prints one marker line on the console — saying
//! whether a module tree was unpacked, so a truncated initramfs is caught — then calls
//! `sync()` and `reboot(RB_POWER_OFF)`. The host only counts a boot whose console output holds
//! the marker, so a kernel that panics before init is never timed as a fast boot.

use std::io::Write;
use std::os::raw::c_int;

/// `RB_POWER_OFF` from `<sys/reboot.h>` (`LINUX_REBOOT_CMD_POWER_OFF`).
const RB_POWER_OFF: c_int = 0x4321_fedc_u32 as c_int;

unsafe extern "C" {
    /// `sync(2)`: flushes filesystem buffers (nothing to flush in an initramfs, but init
    /// programs do it before powering off, and so does kmatrix's).
    fn sync();
    /// `reboot(2)` through glibc's wrapper.
    fn reboot(cmd: c_int) -> c_int;
}

fn main() {
    let modules = ["/usr/lib/modules", "/lib/modules"]
        .iter()
        .any(|dir| std::path::Path::new(dir).is_dir());
    let line = format!(
        "kmatrix-bench-init: reached init, modules={}\n",
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
