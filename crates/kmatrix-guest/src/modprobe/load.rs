//! Reading (and decompressing) module files, and handing them to the kernel.

use std::ffi::CString;
use std::io::{self, Read};
use std::path::Path;

use crate::sys::Errno;

/// How a module file is compressed, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.ko`
    None,
    /// `.ko.xz`
    Xz,
    /// `.ko.zst`
    Zstd,
    /// Anything else (e.g. `.ko.gz`): not supported.
    Unsupported,
}

impl Compression {
    /// Picks the compression from the file name.
    pub fn of(path: &Path) -> Compression {
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        if name.ends_with(b".ko") {
            Compression::None
        } else if name.ends_with(b".ko.xz") {
            Compression::Xz
        } else if name.ends_with(b".ko.zst") {
            Compression::Zstd
        } else {
            Compression::Unsupported
        }
    }
}

/// Why a module file could not be turned into an ELF image.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("{}", crate::sys::describe(.0))]
    Io(#[from] io::Error),
    /// The compressed data is damaged.
    #[error("bad {kind} data: {reason}")]
    Decompress {
        /// "xz" or "zstd".
        kind: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The extension names no supported compression.
    #[error("unsupported compression (only .ko, .ko.xz and .ko.zst)")]
    Unsupported,
}

/// Reads a module file and returns the uncompressed ELF image.
pub fn read_module(path: &Path) -> Result<Vec<u8>, ReadError> {
    let compression = Compression::of(path);
    if compression == Compression::Unsupported {
        return Err(ReadError::Unsupported);
    }
    decompress(compression, &std::fs::read(path)?)
}

/// Decompresses `data` as `compression` says.
pub fn decompress(compression: Compression, data: &[u8]) -> Result<Vec<u8>, ReadError> {
    match compression {
        Compression::None => Ok(data.to_vec()),
        Compression::Xz => {
            let mut out = Vec::with_capacity(data.len().saturating_mul(4));
            let mut input = data;
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| ReadError::Decompress {
                kind: "xz",
                reason: e.to_string(),
            })?;
            Ok(out)
        }
        Compression::Zstd => {
            let zstd_error = |reason: String| ReadError::Decompress {
                kind: "zstd",
                reason,
            };
            let mut decoder = ruzstd::decoding::StreamingDecoder::new(data)
                .map_err(|e| zstd_error(e.to_string()))?;
            let mut out = Vec::with_capacity(data.len().saturating_mul(4));
            decoder
                .read_to_end(&mut out)
                .map_err(|e| zstd_error(e.to_string()))?;
            Ok(out)
        }
        Compression::Unsupported => Err(ReadError::Unsupported),
    }
}

/// What init_module said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The module is now loaded.
    Loaded,
    /// It was loaded already (`EEXIST`).
    AlreadyLoaded,
}

/// Hands an ELF image to the kernel with `init_module(2)`, with `params` as its parameters
/// (`name=value` separated by spaces).
pub fn insert(image: &[u8], params: &str) -> Result<Inserted, Errno> {
    let params = CString::new(params).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: the pointer and length describe `image`, and `params` is NUL-terminated; both
    // outlive the call, which only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len(),
            params.as_ptr(),
        )
    };
    match rc {
        0 => Ok(Inserted::Loaded),
        _ => match Errno::last() {
            Errno(libc::EEXIST) => Ok(Inserted::AlreadyLoaded),
            errno => Err(errno),
        },
    }
}

/// Whether `/sys/module/<name>` says the module is loaded (or being loaded).
pub fn is_loaded(name: &str) -> bool {
    let path = Path::new("/sys/module").join(name).join("initstate");
    std::fs::read_to_string(path).is_ok_and(|state| matches!(state.trim(), "live" | "coming"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for a module: an ELF-ish header and enough varied bytes to compress.
    fn fake_module() -> Vec<u8> {
        let mut image = b"\x7fELF\x02\x01\x01\0".to_vec();
        for i in 0u32..20_000 {
            image.extend_from_slice(&(i.wrapping_mul(2_654_435_761) >> 7).to_le_bytes());
            image.extend_from_slice(b"modinfo");
        }
        image
    }

    #[test]
    fn compression_from_extension() {
        assert_eq!(Compression::of(Path::new("/m/a.ko")), Compression::None);
        assert_eq!(Compression::of(Path::new("/m/a.ko.xz")), Compression::Xz);
        assert_eq!(Compression::of(Path::new("/m/a.ko.zst")), Compression::Zstd);
        assert_eq!(
            Compression::of(Path::new("/m/a.ko.gz")),
            Compression::Unsupported
        );
    }

    #[test]
    fn xz_made_by_lzma_rs_round_trips() {
        let image = fake_module();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut image.as_slice(), &mut xz).expect("compress");
        assert_eq!(decompress(Compression::Xz, &xz).expect("decompress"), image);
    }

    #[test]
    fn zstd_made_by_ruzstd_round_trips() {
        let image = fake_module();
        let zst = ruzstd::encoding::compress_to_vec(
            image.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(zst.len() < image.len());
        assert_eq!(
            decompress(Compression::Zstd, &zst).expect("decompress"),
            image
        );
    }

    /// Fixtures made once with the kernel's own settings (scripts/Makefile.modinst):
    /// `xz --check=crc32 --lzma2=dict=1MiB` and `zstd --ultra -22`, of `fixture.bin`.
    #[test]
    fn kernel_style_fixtures_decompress() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let plain = std::fs::read(data.join("fixture.ko")).expect("fixture.ko");
        for name in ["fixture.ko.xz", "fixture.ko.zst"] {
            assert_eq!(read_module(&data.join(name)).expect(name), plain, "{name}");
        }
        assert_eq!(read_module(&data.join("fixture.ko")).expect("plain"), plain);
    }

    #[test]
    fn damaged_data_is_an_error_not_a_panic() {
        let image = fake_module();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut image.as_slice(), &mut xz).expect("compress");
        for cut in [0, 10, xz.len() / 2, xz.len() - 1] {
            assert!(decompress(Compression::Xz, xz.get(..cut).unwrap_or_default()).is_err());
        }
        assert!(decompress(Compression::Zstd, b"not zstd at all").is_err());
        assert!(matches!(
            read_module(Path::new("/nonexistent/x.ko")),
            Err(ReadError::Io(_))
        ));
    }
}
