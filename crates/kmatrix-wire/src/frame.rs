//! Framing of [`Message`]s on a byte stream that may also carry noise.
//!
//! ```text
//! +---------+-------------+-------------------+---------------------+
//! | "\x7fKMX" | len: u32 LE | body (len bytes)  | crc32(body): u32 LE |
//! +---------+-------------+-------------------+---------------------+
//! ```
//!
//! The decoder looks for the magic, checks the length bound and the CRC, and only then decodes.
//! Anything else is skipped one byte at a time and counted, so a stray byte can delay a
//! message by at most its own length and never turns into a different message.

use crate::{DecodeError, Message};

const MAGIC: [u8; 4] = *b"\x7fKMX";
const HEADER_LEN: usize = 8;
const TRAILER_LEN: usize = 4;

/// Largest message body accepted; anything claiming more is treated as noise.
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// Frames a message for the wire.
pub fn encode_frame(message: &Message) -> Vec<u8> {
    let body = message.encode();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&crate::len_u32(body.len()).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out
}

/// A frame passed its CRC but its body did not decode: a protocol mismatch, not line noise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable message from the guest: {0}")]
pub struct FrameError(#[from] pub DecodeError);

/// Incremental decoder: feed it bytes as they arrive, take messages out.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    start: usize,
    skipped: u64,
}

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the channel.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buffer.len() {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes discarded so far because they were not part of a valid frame.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The next complete message, if the buffered bytes hold one.
    pub fn next_message(&mut self) -> Option<Result<Message, FrameError>> {
        loop {
            let pending = &self.buffer[self.start..];
            let Some(offset) = find_magic(pending) else {
                // Keep a possible partial magic at the end.
                let keep = partial_magic_len(pending);
                self.skip(pending.len() - keep);
                return None;
            };
            self.skip(offset);
            let pending = &self.buffer[self.start..];
            if pending.len() < HEADER_LEN {
                return None;
            }
            let mut len_bytes = [0; 4];
            len_bytes.copy_from_slice(&pending[4..8]);
            let len = u32::from_le_bytes(len_bytes) as usize;
            if len > MAX_FRAME_LEN {
                self.skip(1);
                continue;
            }
            if pending.len() < HEADER_LEN + len + TRAILER_LEN {
                return None;
            }
            let body = &pending[HEADER_LEN..HEADER_LEN + len];
            let mut crc_bytes = [0; 4];
            crc_bytes.copy_from_slice(&pending[HEADER_LEN + len..HEADER_LEN + len + TRAILER_LEN]);
            if crc32fast::hash(body) != u32::from_le_bytes(crc_bytes) {
                self.skip(1);
                continue;
            }
            let decoded = Message::decode(body).map_err(FrameError);
            self.start += HEADER_LEN + len + TRAILER_LEN;
            return Some(decoded);
        }
    }

    fn skip(&mut self, count: usize) {
        self.start += count;
        self.skipped += count as u64;
    }
}

fn find_magic(haystack: &[u8]) -> Option<usize> {
    haystack
        .windows(MAGIC.len())
        .position(|window| window == MAGIC)
}

fn partial_magic_len(haystack: &[u8]) -> usize {
    (1..MAGIC.len())
        .rev()
        .find(|&n| haystack.len() >= n && haystack[haystack.len() - n..] == MAGIC[..n])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProgramStatus, Stream};

    fn sample() -> Vec<Message> {
        vec![
            Message::ProgramStarted { index: 0 },
            Message::Output {
                index: 0,
                stream: Stream::Stdout,
                data: b"\x7fKMX fake magic".to_vec(),
            },
            Message::ProgramFinished {
                index: 0,
                status: ProgramStatus::Exited(1),
                duration_ms: 3,
            },
            Message::Done,
        ]
    }

    fn drain(decoder: &mut FrameDecoder) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(message) = decoder.next_message() {
            out.push(message.expect("valid frame"));
        }
        out
    }

    #[test]
    fn messages_survive_being_fed_one_byte_at_a_time() {
        let stream: Vec<u8> = sample().iter().flat_map(encode_frame).collect();
        let mut decoder = FrameDecoder::new();
        let mut got = Vec::new();
        for byte in stream {
            decoder.push(&[byte]);
            got.extend(drain(&mut decoder));
        }
        assert_eq!(got, sample());
        assert_eq!(decoder.skipped_bytes(), 0);
    }

    #[test]
    fn noise_between_frames_is_skipped_and_counted() {
        let mut stream = Vec::new();
        for message in sample() {
            stream.extend_from_slice(b"[    1.234] Kernel noise \x7fKM\n");
            stream.extend(encode_frame(&message));
        }
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream);
        assert_eq!(drain(&mut decoder), sample());
        assert_eq!(decoder.skipped_bytes(), 4 * 29);
    }

    #[test]
    fn a_corrupted_frame_is_dropped_and_the_next_one_still_decodes() {
        let mut first = encode_frame(&Message::ProgramFinished {
            index: 0,
            status: ProgramStatus::Exited(0),
            duration_ms: 1,
        });
        let flip = first.len() - 6;
        first[flip] ^= 0x01; // the exit code or duration changes: the CRC must catch it
        let mut stream = first;
        stream.extend(encode_frame(&Message::Done));
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream);
        assert_eq!(drain(&mut decoder), vec![Message::Done]);
    }

    #[test]
    fn forged_frame_with_a_huge_length_does_not_stall_the_stream() {
        let mut stream = b"\x7fKMX\xff\xff\xff\xff".to_vec();
        stream.extend(encode_frame(&Message::Done));
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream);
        assert_eq!(drain(&mut decoder), vec![Message::Done]);
    }

    #[test]
    fn incomplete_frame_waits_for_more_bytes() {
        let frame = encode_frame(&Message::Done);
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame[..frame.len() - 1]);
        assert!(decoder.next_message().is_none());
        decoder.push(&frame[frame.len() - 1..]);
        assert_eq!(decoder.next_message(), Some(Ok(Message::Done)));
        assert_eq!(decoder.pending_bytes(), 0);
    }
}
