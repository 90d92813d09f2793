//! The wire protocol between the kmatrix host and its guest init.
//!
//! This crate is the *only* code the host and the guest share. It has two halves:
//!
//! * [`Job`]: what the host asks the guest to run. The host encodes it into the initramfs as
//!   [`JOB_PATH`]; arguments travel as raw bytes, never through the kernel command line, so
//!   spaces, quotes, non-UTF-8 bytes and long arguments arrive intact.
//! * [`Message`]: what the guest reports back, framed by [`encode_frame`] and read by a
//!   [`FrameDecoder`]. The guest writes frames to a serial port reserved for them (not the
//!   console), and every frame carries a magic, a length and a CRC-32, so kernel messages or a
//!   program's own output can neither forge nor garble a report: damaged bytes are skipped and
//!   counted, never misread.
//!
//! ```
//! use kmatrix_wire::{encode_frame, FrameDecoder, Message, ProgramStatus};
//!
//! let mut bytes = b"noise from the console".to_vec();
//! bytes.extend(encode_frame(&Message::ProgramFinished {
//!     index: 0,
//!     status: ProgramStatus::Exited(3),
//!     duration_ms: 12,
//! }));
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&bytes);
//! assert_eq!(
//!     decoder.next_message(),
//!     Some(Ok(Message::ProgramFinished { index: 0, status: ProgramStatus::Exited(3), duration_ms: 12 }))
//! );
//! assert_eq!(decoder.skipped_bytes(), 22);
//! ```

mod codec;
mod frame;

pub use codec::DecodeError;
pub use frame::{FrameDecoder, FrameError, MAX_FRAME_LEN, encode_frame};

use codec::{Reader, Writer};

/// Version of this protocol; the guest announces it in [`Message::Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Where the encoded [`Job`] sits inside the initramfs.
pub const JOB_PATH: &str = "/kmatrix/job";

/// Directory inside the initramfs holding the programs to run.
pub const PROGRAMS_DIR: &str = "/kmatrix/programs";

/// The serial device the guest writes frames to: the second UART of the machine, which QEMU
/// connects to kmatrix's socket (the first one is the kernel console). On x86 (q35) that is the
/// second 8250 port; on arm64 (`virt`) the second PL011, which QEMU adds when given a second
/// `-serial`. Chosen by the architecture the guest is compiled for.
#[cfg(not(target_arch = "aarch64"))]
pub const CHANNEL_DEVICE: &str = "/dev/ttyS1";
/// The serial device the guest writes frames to (see the x86 variant).
#[cfg(target_arch = "aarch64")]
pub const CHANNEL_DEVICE: &str = "/dev/ttyAMA1";

/// Major and minor number of [`CHANNEL_DEVICE`], for creating the node without devtmpfs.
#[cfg(not(target_arch = "aarch64"))]
pub const CHANNEL_DEVICE_NUMBER: (u32, u32) = (4, 65);
/// Major and minor number of [`CHANNEL_DEVICE`] (ttyAMA1).
#[cfg(target_arch = "aarch64")]
pub const CHANNEL_DEVICE_NUMBER: (u32, u32) = (204, 65);

/// What the guest runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Job {
    /// Programs to run one after another.
    pub programs: Vec<Program>,
    /// Extra environment for every program, as raw `NAME`, `VALUE` bytes.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    /// Kernel modules to load (by name or alias) before the first program.
    pub modules: Vec<String>,
}

/// One program to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Display name, used in reports.
    pub name: String,
    /// Absolute path of the executable inside the guest.
    pub path: Vec<u8>,
    /// Arguments after `argv[0]`, byte for byte.
    pub args: Vec<Vec<u8>>,
    /// Kill the program after this many milliseconds (enforced by the guest).
    pub timeout_ms: Option<u64>,
}

/// Which output stream a chunk of program output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The program's standard output.
    Stdout,
    /// The program's standard error.
    Stderr,
}

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal number.
    Signaled(i32),
    /// The guest killed it because it ran past its timeout.
    TimedOut,
    /// It could not be started; the reason was sent as a [`Message::Log`] just before.
    SpawnFailed,
}

/// Severity of a [`Message::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Informational, e.g. a module the guest loaded.
    Info,
    /// Something was skipped but the run goes on, e.g. a filesystem the kernel lacks.
    Warn,
    /// Something failed.
    Error,
}

/// A report from the guest to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Init is running: the kernel booted.
    Hello {
        /// The guest's [`PROTOCOL_VERSION`].
        protocol: u32,
        /// Kernel release as `uname -r` prints it.
        release: String,
        /// Time since the kernel started (CLOCK_BOOTTIME), in milliseconds.
        uptime_ms: u64,
    },
    /// A note from init itself.
    Log {
        /// How serious it is.
        level: Level,
        /// What happened, naming what it happened to.
        text: String,
    },
    /// Program `index` of the job has started.
    ProgramStarted {
        /// Index into [`Job::programs`].
        index: u32,
    },
    /// A chunk of a program's output.
    Output {
        /// Index into [`Job::programs`].
        index: u32,
        /// Which stream.
        stream: Stream,
        /// The bytes, as written.
        data: Vec<u8>,
    },
    /// Program `index` has ended.
    ProgramFinished {
        /// Index into [`Job::programs`].
        index: u32,
        /// How it ended.
        status: ProgramStatus,
        /// Wall time it ran, in milliseconds.
        duration_ms: u64,
    },
    /// Init itself failed and cannot go on; it powers off next.
    InitFailed {
        /// What failed.
        message: String,
    },
    /// Every program has run; init powers off next.
    Done,
}

impl Job {
    /// Encodes the job for [`JOB_PATH`].
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(JOB_MAGIC);
        w.u32(PROTOCOL_VERSION);
        w.u32(len_u32(self.programs.len()));
        for program in &self.programs {
            w.string(&program.name);
            w.bytes(&program.path);
            w.u32(len_u32(program.args.len()));
            for arg in &program.args {
                w.bytes(arg);
            }
            w.opt_u64(program.timeout_ms);
        }
        w.u32(len_u32(self.env.len()));
        for (name, value) in &self.env {
            w.bytes(name);
            w.bytes(value);
        }
        w.u32(len_u32(self.modules.len()));
        for module in &self.modules {
            w.string(module);
        }
        w.finish()
    }

    /// Decodes a job written by [`Job::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Job, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.bytes()? != JOB_MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u32()?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::Version(version));
        }
        let mut programs = Vec::new();
        for _ in 0..r.u32()? {
            let name = r.string()?;
            let path = r.bytes()?.to_vec();
            let mut args = Vec::new();
            for _ in 0..r.u32()? {
                args.push(r.bytes()?.to_vec());
            }
            let timeout_ms = r.opt_u64()?;
            programs.push(Program {
                name,
                path,
                args,
                timeout_ms,
            });
        }
        let mut env = Vec::new();
        for _ in 0..r.u32()? {
            env.push((r.bytes()?.to_vec(), r.bytes()?.to_vec()));
        }
        let mut modules = Vec::new();
        for _ in 0..r.u32()? {
            modules.push(r.string()?);
        }
        r.end()?;
        Ok(Job {
            programs,
            env,
            modules,
        })
    }
}

const JOB_MAGIC: &[u8] = b"kmatrix-job";

fn len_u32(len: usize) -> u32 {
    // Lengths beyond u32 cannot occur: a frame is capped at MAX_FRAME_LEN and a job at the
    // size of an initramfs.
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Message {
    /// Encodes the message body (without framing).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Message::Hello {
                protocol,
                release,
                uptime_ms,
            } => {
                w.u8(1);
                w.u32(*protocol);
                w.string(release);
                w.u64(*uptime_ms);
            }
            Message::Log { level, text } => {
                w.u8(2);
                w.u8(match level {
                    Level::Info => 0,
                    Level::Warn => 1,
                    Level::Error => 2,
                });
                w.string(text);
            }
            Message::ProgramStarted { index } => {
                w.u8(3);
                w.u32(*index);
            }
            Message::Output {
                index,
                stream,
                data,
            } => {
                w.u8(4);
                w.u32(*index);
                w.u8(match stream {
                    Stream::Stdout => 1,
                    Stream::Stderr => 2,
                });
                w.bytes(data);
            }
            Message::ProgramFinished {
                index,
                status,
                duration_ms,
            } => {
                w.u8(5);
                w.u32(*index);
                let (kind, value) = match status {
                    ProgramStatus::Exited(code) => (0, *code),
                    ProgramStatus::Signaled(signal) => (1, *signal),
                    ProgramStatus::TimedOut => (2, 0),
                    ProgramStatus::SpawnFailed => (3, 0),
                };
                w.u8(kind);
                w.i32(value);
                w.u64(*duration_ms);
            }
            Message::InitFailed { message } => {
                w.u8(6);
                w.string(message);
            }
            Message::Done => w.u8(7),
        }
        w.finish()
    }

    /// Decodes a message body written by [`Message::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut r = Reader::new(bytes);
        let message = match r.u8()? {
            1 => Message::Hello {
                protocol: r.u32()?,
                release: r.string()?,
                uptime_ms: r.u64()?,
            },
            2 => {
                let level = match r.u8()? {
                    0 => Level::Info,
                    1 => Level::Warn,
                    2 => Level::Error,
                    other => return Err(DecodeError::BadTag(other)),
                };
                Message::Log {
                    level,
                    text: r.string()?,
                }
            }
            3 => Message::ProgramStarted { index: r.u32()? },
            4 => {
                let index = r.u32()?;
                let stream = match r.u8()? {
                    1 => Stream::Stdout,
                    2 => Stream::Stderr,
                    other => return Err(DecodeError::BadTag(other)),
                };
                Message::Output {
                    index,
                    stream,
                    data: r.bytes()?.to_vec(),
                }
            }
            5 => {
                let index = r.u32()?;
                let kind = r.u8()?;
                let value = r.i32()?;
                let status = match kind {
                    0 => ProgramStatus::Exited(value),
                    1 => ProgramStatus::Signaled(value),
                    2 => ProgramStatus::TimedOut,
                    3 => ProgramStatus::SpawnFailed,
                    other => return Err(DecodeError::BadTag(other)),
                };
                Message::ProgramFinished {
                    index,
                    status,
                    duration_ms: r.u64()?,
                }
            }
            6 => Message::InitFailed {
                message: r.string()?,
            },
            7 => Message::Done,
            other => return Err(DecodeError::BadTag(other)),
        };
        r.end()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> Vec<Message> {
        vec![
            Message::Hello {
                protocol: 1,
                release: "6.1.0-50-cloud-amd64".into(),
                uptime_ms: 1500,
            },
            Message::Log {
                level: Level::Warn,
                text: "no bpffs: ENODEV".into(),
            },
            Message::ProgramStarted { index: 2 },
            Message::Output {
                index: 2,
                stream: Stream::Stderr,
                data: vec![0, 0xff, b'\n'],
            },
            Message::ProgramFinished {
                index: 0,
                status: ProgramStatus::Signaled(9),
                duration_ms: 7,
            },
            Message::ProgramFinished {
                index: 1,
                status: ProgramStatus::TimedOut,
                duration_ms: 70,
            },
            Message::ProgramFinished {
                index: 1,
                status: ProgramStatus::SpawnFailed,
                duration_ms: 0,
            },
            Message::ProgramFinished {
                index: 1,
                status: ProgramStatus::Exited(-1),
                duration_ms: 0,
            },
            Message::InitFailed {
                message: "mount /proc: EPERM".into(),
            },
            Message::Done,
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in all_messages() {
            assert_eq!(Message::decode(&message.encode()), Ok(message.clone()));
        }
    }

    #[test]
    fn job_round_trips_arguments_byte_for_byte() {
        let job = Job {
            programs: vec![Program {
                name: "check".into(),
                path: b"/kmatrix/programs/0/check".to_vec(),
                args: vec![
                    b"two words".to_vec(),
                    b"\"quoted\" 'single'".to_vec(),
                    "h\u{e9}llo \u{1F600}".as_bytes().to_vec(),
                    vec![0xff, 0xfe, b' '],
                    vec![b'x'; 100_000],
                    Vec::new(),
                ],
                timeout_ms: Some(5000),
            }],
            env: vec![(b"RUST_BACKTRACE".to_vec(), b"1".to_vec())],
            modules: vec!["af_key".into()],
        };
        assert_eq!(Job::decode(&job.encode()), Ok(job));
    }

    #[test]
    fn job_with_trailing_bytes_is_rejected() {
        let mut bytes = Job::default().encode();
        bytes.push(0);
        assert_eq!(Job::decode(&bytes), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn truncated_job_is_rejected_not_misread() {
        let job = Job {
            programs: vec![Program {
                name: "a".into(),
                path: b"/a".to_vec(),
                args: vec![b"b".to_vec()],
                timeout_ms: None,
            }],
            ..Job::default()
        };
        let bytes = job.encode();
        for cut in 0..bytes.len() {
            assert!(Job::decode(&bytes[..cut]).is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn unknown_message_tag_is_an_error() {
        assert_eq!(Message::decode(&[99]), Err(DecodeError::BadTag(99)));
    }
}
