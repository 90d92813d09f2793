//! Ending the VM: every path of init ends here.

/// Flushes filesystems and powers the machine off. QEMU runs with `-no-reboot`, so the
/// reboot fallback ends the VM too; if even that fails, init exits, which panics the kernel
/// (and `panic=-1` ends the VM).
pub fn power_off() -> ! {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    // SAFETY: reboot with a valid command; it returns only if it failed.
    unsafe { libc::reboot(libc::RB_POWER_OFF) };
    // SAFETY: as above.
    unsafe { libc::reboot(libc::RB_AUTOBOOT) };
    std::process::exit(1)
}
