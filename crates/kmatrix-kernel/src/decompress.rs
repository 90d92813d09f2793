//! Decompressors shared by the package reader, module reader and zboot unwrapper.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use liblzma::read::XzDecoder;
use liblzma::stream::{MtStreamBuilder, Stream};

/// A compression format found in packages, modules and zboot payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Stored as is.
    None,
    /// `.xz` container (LZMA2, optionally with BCJ filters).
    Xz,
    /// Legacy `.lzma` ("lzma_alone") container.
    Lzma,
    /// Zstandard frames.
    Zstd,
    /// gzip members.
    Gzip,
}

impl Codec {
    /// The codec for a file name suffix such as `.xz`; `None` for unknown suffixes.
    pub(crate) fn from_suffix(suffix: &str) -> Option<Codec> {
        match suffix {
            "" => Some(Codec::None),
            ".xz" => Some(Codec::Xz),
            ".lzma" => Some(Codec::Lzma),
            ".zst" => Some(Codec::Zstd),
            ".gz" => Some(Codec::Gzip),
            _ => None,
        }
    }

    /// Wraps `r` in a streaming decoder for this codec.
    ///
    /// `threads` > 1 lets xz decode independent blocks in parallel; dpkg
    /// writes multi-block streams, so this roughly divides decoding time.
    pub(crate) fn reader<'a, R: BufRead + 'a>(
        self,
        r: R,
        threads: u32,
    ) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Codec::None => Box::new(r),
            Codec::Xz => Box::new(xz_reader(r, threads)?),
            Codec::Lzma => {
                let stream = Stream::new_lzma_decoder(u64::MAX).map_err(io::Error::from)?;
                Box::new(XzDecoder::new_stream(r, stream))
            }
            Codec::Zstd => {
                let mut dec = zstd::stream::read::Decoder::with_buffer(r)?;
                // Kernel payloads compressed with `zstd --ultra -22` use windows
                // above the decoder's default limit.
                dec.window_log_max(31)?;
                Box::new(dec)
            }
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        })
    }

    /// Decompresses a whole buffer, failing if the output exceeds `limit` bytes.
    pub(crate) fn decode_all(self, input: &[u8], limit: u64) -> io::Result<Vec<u8>> {
        if self == Codec::None {
            return Ok(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len().saturating_mul(4));
        let reader = self.reader(input, 1)?;
        // Reading one byte past the limit tells "exactly at limit" from "too big".
        reader.take(limit.saturating_add(1)).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("decompressed size exceeds {limit} bytes"),
            ));
        }
        Ok(out)
    }
}

/// An xz decoder that uses up to `threads` threads for multi-block streams.
fn xz_reader<R: BufRead>(r: R, threads: u32) -> io::Result<XzDecoder<R>> {
    let stream = if threads > 1 {
        MtStreamBuilder::new()
            .threads(threads)
            // Room for a few of dpkg's 24 MiB blocks per thread; beyond this
            // liblzma falls back to single-threaded decoding rather than failing.
            .memlimit_threading(512 << 20)
            .memlimit_stop(u64::MAX)
            .decoder()
    } else {
        Stream::new_stream_decoder(u64::MAX, 0)
    }
    .map_err(io::Error::from)?;
    Ok(XzDecoder::new_stream(r, stream))
}

/// Number of threads worth using for CPU-bound work on this machine.
pub(crate) fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Remembers the first error a [`Watch`]ed reader returned.
///
/// Layers of readers (file → decompressor → tar) all surface an inner error
/// as their own; the slot tells afterwards which layer actually failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorSlot(Rc<RefCell<Option<io::Error>>>);

impl ErrorSlot {
    /// Takes the recorded error, if any.
    pub(crate) fn take(&self) -> Option<io::Error> {
        self.0.borrow_mut().take()
    }
}

/// A reader that records its first error in an [`ErrorSlot`].
pub(crate) struct Watch<R> {
    inner: R,
    slot: ErrorSlot,
}

impl<R> Watch<R> {
    /// Watches `inner`, recording into `slot`.
    pub(crate) fn new(inner: R, slot: &ErrorSlot) -> Watch<R> {
        Watch {
            inner,
            slot: slot.clone(),
        }
    }
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                // io::Error is not Clone: keep the original, pass on a copy.
                let copy = io::Error::new(e.kind(), e.to_string());
                let mut slot = self.slot.0.borrow_mut();
                if slot.is_none() {
                    *slot = Some(e);
                }
                Err(copy)
            }
            other => other,
        }
    }
}

/// Buffers `r` with a buffer large enough for decompressors to work in big steps.
pub(crate) fn buffered<R: Read>(r: R) -> BufReader<R> {
    BufReader::with_capacity(256 * 1024, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, xz, zstd_compress};

    #[test]
    fn decode_all_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(Codec::Xz.decode_all(&xz(&data), 1 << 20).unwrap(), data);
        assert_eq!(
            Codec::Zstd
                .decode_all(&zstd_compress(&data), 1 << 20)
                .unwrap(),
            data
        );
        assert_eq!(Codec::Gzip.decode_all(&gzip(&data), 1 << 20).unwrap(), data);
        assert_eq!(Codec::None.decode_all(&data, 1 << 20).unwrap(), data);
    }

    #[test]
    fn decode_all_enforces_limit() {
        let data = vec![0u8; 10_000];
        let err = Codec::Gzip.decode_all(&gzip(&data), 9_999).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            Codec::Gzip.decode_all(&gzip(&data), 10_000).unwrap().len(),
            10_000
        );
    }

    #[test]
    fn multithreaded_xz_reads_truncated_stream_as_error() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 13) as u8).collect();
        let packed = xz(&data);
        let mut out = Vec::new();
        let mut r = Codec::Xz.reader(&packed[..packed.len() / 2], 2).unwrap();
        assert!(r.read_to_end(&mut out).is_err());
    }

    #[test]
    fn watch_records_first_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let slot = ErrorSlot::default();
        let mut w = Watch::new(Failing, &slot);
        let err = w.read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert_eq!(slot.take().unwrap().to_string(), "boom");
        assert!(slot.take().is_none());
    }
}
