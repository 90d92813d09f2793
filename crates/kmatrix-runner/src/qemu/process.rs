//! QEMU child processes: spawned so that none can outlive kmatrix.
//!
//! Three layers make sure of it:
//! * [`QemuChild`] kills and reaps its process when dropped, on every path out of a session;
//! * every live QEMU is registered, and [`watch_signals`] kills them all on SIGINT, SIGTERM or
//!   SIGHUP before the engine winds down (a second signal exits at once);
//! * the child asks the kernel for SIGKILL when kmatrix dies (`PR_SET_PDEATHSIG`), which covers
//!   even `kill -9` of kmatrix.
//!
//! QEMU runs in its own process group so a terminal's Ctrl-C reaches kmatrix only; kmatrix then
//! decides what to kill and reports what it was doing.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

use crate::error::QemuError;

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

fn live() -> MutexGuard<'static, BTreeSet<i32>> {
    // A poisoned set of pids is still a valid set of pids.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The signal that interrupted this run, if one did.
pub fn interrupted_by() -> Option<i32> {
    match INTERRUPTED_BY.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Kills every QEMU this process started that is still running.
pub fn kill_all_children() {
    for &pid in live().iter() {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is one of our children
        // that has not been reaped yet (it is unregistered before it is waited for).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Starts (once) a thread that turns SIGINT, SIGTERM and SIGHUP into "kill every VM and stop".
pub fn watch_signals() -> Result<(), std::io::Error> {
    static START: Once = Once::new();
    let mut result = Ok(());
    START.call_once(|| {
        let signals =
            signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
        match signals {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    for signal in signals.forever() {
                        if INTERRUPTED_BY.swap(signal, Ordering::SeqCst) != 0 {
                            kill_all_children();
                            std::process::exit(128 + signal);
                        }
                        kill_all_children();
                    }
                });
            }
            Err(err) => result = Err(err),
        }
    });
    result
}

/// A running QEMU, killed and reaped when dropped.
#[derive(Debug)]
pub(crate) struct QemuChild {
    child: Child,
    pid: i32,
    reaped: bool,
}

impl QemuChild {
    /// Spawns `binary` with `args`, stdout and stderr piped.
    pub(crate) fn spawn(binary: &Path, args: &[OsString]) -> Result<QemuChild, QemuError> {
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
        // async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Register under the lock so a signal arriving right now still finds the pid.
        let mut live = live();
        if interrupted_by().is_some() {
            return Err(QemuError::Io {
                action: format!("starting {}", binary.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "kmatrix is shutting down",
                ),
            });
        }
        let child = command.spawn().map_err(|source| QemuError::Io {
            action: format!("starting {}", binary.display()),
            source,
        })?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        live.insert(pid);
        Ok(QemuChild {
            child,
            pid,
            reaped: false,
        })
    }

    /// Takes the console (stdout) pipe.
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes the stderr pipe.
    pub(crate) fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Kills QEMU (if still running) and reaps it.
    pub(crate) fn kill(&mut self) -> Option<ExitStatus> {
        if self.reaped {
            return None;
        }
        let _ = self.child.kill();
        self.wait()
    }

    /// Waits for QEMU to exit and reaps it.
    pub(crate) fn wait(&mut self) -> Option<ExitStatus> {
        if self.reaped {
            return None;
        }
        let status = self.child.wait().ok();
        self.reaped = true;
        live().remove(&self.pid);
        status
    }
}

impl Drop for QemuChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Finds an executable named `name` in `PATH`.
pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_child_is_killed_and_unregistered() {
        let child = QemuChild::spawn(Path::new("/bin/sleep"), &["1000".into()]).unwrap();
        let pid = child.pid;
        assert!(live().contains(&pid));
        drop(child);
        assert!(!live().contains(&pid));
        // The pid is reaped: signalling it fails with ESRCH.
        // SAFETY: signal 0 only checks for existence.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        assert!(!alive, "process {pid} still exists after drop");
    }

    #[test]
    fn finds_sh_in_path_and_not_a_missing_binary() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("kmatrix-no-such-binary").is_none());
    }
}
