//! The report channel: the second serial port, in raw mode, carrying framed [`Message`]s.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, PoisonError};

use kmatrix_wire::{CHANNEL_DEVICE, CHANNEL_DEVICE_NUMBER, Level, Message, encode_frame};

use crate::sys::{self, Errno};

/// Sends framed messages to a writer shared between threads; frames never interleave.
pub struct Reporter<W> {
    out: Mutex<W>,
    /// Also write log messages to `/dev/kmsg` (off in tests, which run on the host).
    mirror_kmsg: bool,
}

impl<W: Write> Reporter<W> {
    /// Wraps `out`; with `mirror_kmsg`, [`Reporter::log`] also notes to the kernel log.
    pub fn new(out: W, mirror_kmsg: bool) -> Self {
        Reporter {
            out: Mutex::new(out),
            mirror_kmsg,
        }
    }

    /// Sends one message as one frame. An error means the channel is gone, and there is no
    /// one left to tell; callers may ignore it.
    pub fn send(&self, message: &Message) -> io::Result<()> {
        let frame = encode_frame(message);
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        out.write_all(&frame)?;
        out.flush()
    }

    /// Sends a [`Message::Log`], mirrored to `/dev/kmsg` when enabled.
    pub fn log(&self, level: Level, text: impl Into<String>) {
        let text = text.into();
        if self.mirror_kmsg {
            sys::kmsg("kmatrix-init", level, &text);
        }
        let _ = self.send(&Message::Log { level, text });
    }

    /// Gives back the writer.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the writer, holding the lock.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut W) -> T) -> T {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut out)
    }
}

/// The open serial port.
pub struct Channel {
    file: File,
}

impl Channel {
    /// Opens [`CHANNEL_DEVICE`] (creating the node if `/dev` is not devtmpfs), puts it in raw
    /// mode, then unlinks the node so that programs under test cannot write into it.
    pub fn open() -> Result<Channel, String> {
        let file = match open_device() {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                make_node().map_err(|e| format!("cannot create {CHANNEL_DEVICE}: {e}"))?;
                open_device()
            }
            other => other,
        }
        .map_err(|e| format!("cannot open {CHANNEL_DEVICE}: {}", sys::describe(&e)))?;
        make_raw(&file).map_err(|e| format!("cannot set up {CHANNEL_DEVICE}: {e}"))?;
        if let Err(e) = std::fs::remove_file(CHANNEL_DEVICE) {
            sys::kmsg(
                "kmatrix-init",
                Level::Warn,
                &format!("cannot unlink {CHANNEL_DEVICE}: {}", sys::describe(&e)),
            );
        }
        Ok(Channel { file })
    }

    /// A second handle on the same port, for the panic hook.
    pub fn try_clone_file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Waits until everything written has left the port (before powering off).
    pub fn drain(&self) {
        // SAFETY: tcdrain only takes a descriptor, which `self.file` keeps open.
        unsafe { libc::tcdrain(self.file.as_raw_fd()) };
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn open_device() -> io::Result<File> {
    // O_NONBLOCK so that the open does not wait for a carrier; cleared in make_raw.
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(CHANNEL_DEVICE)
}

fn make_node() -> Result<(), Errno> {
    let _ = std::fs::create_dir_all("/dev");
    let path = std::ffi::CString::new(std::ffi::OsStr::new(CHANNEL_DEVICE).as_bytes())
        .map_err(|_| Errno(libc::EINVAL))?;
    let dev = libc::makedev(CHANNEL_DEVICE_NUMBER.0, CHANNEL_DEVICE_NUMBER.1);
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, dev) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Raw mode (no newline translation, no echo, no flow control), ignore modem lines,
/// 115200 baud, then back to blocking I/O.
fn make_raw(file: &File) -> Result<(), Errno> {
    let fd = file.as_raw_fd();
    // SAFETY: termios is a plain C struct for which all-zero is valid; tcgetattr fills it.
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `tio` is a valid, writable termios.
    if unsafe { libc::tcgetattr(fd, &mut tio) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: `tio` is a valid termios initialised by tcgetattr.
    unsafe { libc::cfmakeraw(&mut tio) };
    // Set the speed in c_cflag directly: cfsetspeed is a versioned symbol that static
    // glibc does not provide. QEMU does not throttle anyway.
    tio.c_cflag =
        (tio.c_cflag & !(libc::CBAUD | libc::CRTSCTS)) | libc::B115200 | libc::CLOCAL | libc::CREAD;
    // SAFETY: `fd` is open and `tio` is a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &tio) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: F_GETFL/F_SETFL on an open descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags == -1 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmatrix_wire::FrameDecoder;

    #[test]
    fn reporter_frames_messages() {
        let reporter = Reporter::new(Vec::new(), false);
        reporter.send(&Message::Done).expect("send");
        reporter.log(Level::Warn, "no debugfs");
        let mut decoder = FrameDecoder::new();
        decoder.push(&reporter.into_inner());
        assert_eq!(decoder.next_message(), Some(Ok(Message::Done)));
        assert_eq!(
            decoder.next_message(),
            Some(Ok(Message::Log {
                level: Level::Warn,
                text: "no debugfs".into()
            }))
        );
        assert_eq!(decoder.next_message(), None);
    }
}
