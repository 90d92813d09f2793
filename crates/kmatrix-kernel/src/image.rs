//! Recognising kernel images by their boot headers.
//!
//! * x86 bzImage: `HdrS` at 0x202 (Documentation/arch/x86/boot.rst);
//! * arm64 `Image`: `ARM\x64` at 0x38 (Documentation/arch/arm64/booting.rst);
//! * EFI zboot (arm64 with `CONFIG_EFI_ZBOOT`): `MZ`, then `zimg` at 4, the
//!   compressed payload's offset and size at 8 and 12, and the compression
//!   name at 24 (drivers/firmware/efi/libstub/zboot-header.S).
//!
//! The file name is never consulted.

use std::path::Path;

use crate::decompress::Codec;
use crate::{Arch, KernelError};

/// How a kernel image is packaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFormat {
    /// x86 bzImage (boot protocol setup header).
    BzImage,
    /// Uncompressed arm64 `Image` (what Debian ships as arm64 `vmlinuz`).
    Arm64Image,
    /// arm64 EFI zboot: a PE/COFF decompressor around a compressed `Image`.
    Arm64ZbootEfi {
        /// The payload compression as named in the header, e.g. `gzip`, `zstd22`.
        compression: String,
    },
}

/// What a kernel image header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The architecture the image runs on.
    pub arch: Arch,
    /// The packaging of the image.
    pub format: ImageFormat,
    /// The version string from the x86 setup header, e.g.
    /// `6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...`.
    /// arm64 headers carry none.
    pub version: Option<String>,
}

impl ImageInfo {
    /// The kernel release (first word of [`ImageInfo::version`]), e.g. `6.1.0-50-cloud-amd64`.
    pub fn release(&self) -> Option<&str> {
        self.version.as_deref()?.split_whitespace().next()
    }
}

/// Upper bound for a decompressed zboot payload; real arm64 Images are ~40 MB.
const MAX_IMAGE_SIZE: u64 = 1 << 30;

/// Identifies the kernel image in `bytes`; `path` only names it in errors.
pub fn detect(path: &Path, bytes: &[u8]) -> Result<ImageInfo, KernelError> {
    if bytes.get(0x202..0x206) == Some(b"HdrS") {
        detect_bzimage(path, bytes)
    } else if bytes.get(0..2) == Some(b"MZ") && bytes.get(4..8) == Some(b"zimg") {
        let header = ZbootHeader::parse(path, bytes)?;
        Ok(ImageInfo {
            arch: header.arch,
            format: ImageFormat::Arm64ZbootEfi {
                compression: header.compression,
            },
            version: None,
        })
    } else if bytes.get(0x38..0x3c) == Some(b"ARM\x64") {
        detect_arm64_image(path, bytes)
    } else {
        Err(KernelError::NotAKernelImage {
            path: path.to_path_buf(),
        })
    }
}

/// Decompresses the payload of an EFI zboot image and returns the raw arm64
/// `Image` inside it, after checking that it has a valid `Image` header.
pub fn unwrap_zboot(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, KernelError> {
    if !(bytes.get(0..2) == Some(b"MZ") && bytes.get(4..8) == Some(b"zimg")) {
        return Err(malformed(path, "no MZ/zimg header"));
    }
    let header = ZbootHeader::parse(path, bytes)?;
    let codec = match header.compression.as_str() {
        "gzip" => Codec::Gzip,
        "xzkern" | "xz" => Codec::Xz,
        "lzma" => Codec::Lzma,
        c if c.starts_with("zstd") => Codec::Zstd,
        _ => {
            return Err(KernelError::UnsupportedZbootCompression {
                path: path.to_path_buf(),
                compression: header.compression,
            });
        }
    };
    let end = header
        .payload_offset
        .checked_add(header.payload_size)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| malformed(path, "payload extends past the end of the file"))?;
    let payload = &bytes[header.payload_offset..end];
    let image = codec
        .decode_all(payload, MAX_IMAGE_SIZE)
        .map_err(|source| KernelError::ZbootDecompress {
            path: path.to_path_buf(),
            compression: header.compression.clone(),
            source,
        })?;
    let inner = detect(path, &image)?;
    if inner.format != ImageFormat::Arm64Image || inner.arch != header.arch {
        return Err(malformed(path, "payload is not an arm64 Image"));
    }
    Ok(image)
}

fn detect_bzimage(path: &Path, b: &[u8]) -> Result<ImageInfo, KernelError> {
    let protocol = le16(b, 0x206).unwrap_or(0);
    // XLF_KERNEL_64 in xloadflags (protocol 2.12+) marks a 64-bit kernel;
    // without it the image is i386 or too old to tell.
    let xloadflags = if protocol >= 0x020c {
        le16(b, 0x236).unwrap_or(0)
    } else {
        0
    };
    if xloadflags & 1 == 0 {
        return Err(KernelError::UnsupportedImage {
            path: path.to_path_buf(),
            reason: format!(
                "x86 bzImage (boot protocol {}.{:02}) is not a 64-bit kernel",
                protocol >> 8,
                protocol & 0xff
            ),
        });
    }
    Ok(ImageInfo {
        arch: Arch::X86_64,
        format: ImageFormat::BzImage,
        version: bzimage_version(b),
    })
}

/// The NUL-terminated string that `kernel_version` (relative to 0x200) points to.
fn bzimage_version(b: &[u8]) -> Option<String> {
    let offset = usize::from(le16(b, 0x20e)?);
    if offset == 0 {
        return None;
    }
    let start = offset + 0x200;
    let tail = b.get(start..)?;
    let text = &tail[..tail.iter().take(512).position(|&c| c == 0)?];
    let printable = !text.is_empty() && text.iter().all(|&c| (0x20..0x7f).contains(&c));
    printable.then(|| String::from_utf8_lossy(text).into_owned())
}

fn detect_arm64_image(path: &Path, b: &[u8]) -> Result<ImageInfo, KernelError> {
    // Bit 0 of `flags` at offset 24 is the kernel's endianness (1 = big).
    let flags = b.get(24).copied().unwrap_or(0);
    if flags & 1 != 0 {
        return Err(KernelError::UnsupportedImage {
            path: path.to_path_buf(),
            reason: "big-endian arm64 Image".to_string(),
        });
    }
    Ok(ImageInfo {
        arch: Arch::Aarch64,
        format: ImageFormat::Arm64Image,
        version: None,
    })
}

/// The fields of an EFI zboot header that matter here.
struct ZbootHeader {
    payload_offset: usize,
    payload_size: usize,
    compression: String,
    arch: Arch,
}

impl ZbootHeader {
    fn parse(path: &Path, b: &[u8]) -> Result<ZbootHeader, KernelError> {
        let truncated = || malformed(path, "header is truncated");
        let payload_offset = le32(b, 8).ok_or_else(truncated)? as usize;
        let payload_size = le32(b, 12).ok_or_else(truncated)? as usize;
        // The name is NUL-terminated and ends before the PE offset at 0x3c.
        let field = b.get(24..0x3c).ok_or_else(truncated)?;
        let name = &field[..field.iter().position(|&c| c == 0).unwrap_or(field.len())];
        if name.is_empty() || !name.iter().all(|c| c.is_ascii_graphic()) {
            return Err(malformed(path, "no compression name at offset 24"));
        }
        let compression = String::from_utf8_lossy(name).into_owned();

        // zboot is generic EFI; the PE machine says which architecture it is for.
        let pe = le32(b, 0x3c).ok_or_else(truncated)? as usize;
        if b.get(pe..pe + 4) != Some(b"PE\0\0") {
            return Err(malformed(path, "no PE header"));
        }
        let arch = match le16(b, pe + 4) {
            Some(0xaa64) => Arch::Aarch64,
            Some(machine) => {
                return Err(KernelError::UnsupportedImage {
                    path: path.to_path_buf(),
                    reason: format!("EFI zboot image for PE machine {machine:#06x}"),
                });
            }
            None => return Err(truncated()),
        };
        Ok(ZbootHeader {
            payload_offset,
            payload_size,
            compression,
            arch,
        })
    }
}

fn malformed(path: &Path, reason: &str) -> KernelError {
    KernelError::MalformedZboot {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{arm64_image, gzip, x86_bzimage, xz, zboot, zstd_compress};

    const VERSION: &str = "6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP";

    #[test]
    fn detects_x86_bzimage_with_version() {
        let info = detect(Path::new("vmlinuz"), &x86_bzimage(VERSION)).unwrap();
        assert_eq!(info.arch, Arch::X86_64);
        assert_eq!(info.format, ImageFormat::BzImage);
        assert_eq!(info.version.as_deref(), Some(VERSION));
        assert_eq!(info.release(), Some("6.1.0-50-cloud-amd64"));
    }

    #[test]
    fn refuses_32_bit_bzimage() {
        let mut b = x86_bzimage(VERSION);
        b[0x236] = 0;
        let err = detect(Path::new("/k/vmlinuz-686"), &b).unwrap_err();
        assert!(matches!(err, KernelError::UnsupportedImage { .. }), "{err}");
        assert!(err.to_string().contains("/k/vmlinuz-686"), "{err}");
    }

    #[test]
    fn bzimage_without_version_pointer() {
        let mut b = x86_bzimage(VERSION);
        b[0x20e..0x210].fill(0);
        assert_eq!(detect(Path::new("v"), &b).unwrap().version, None);
    }

    #[test]
    fn detects_arm64_image() {
        let info = detect(Path::new("Image"), &arm64_image(4096)).unwrap();
        assert_eq!(
            info,
            ImageInfo {
                arch: Arch::Aarch64,
                format: ImageFormat::Arm64Image,
                version: None
            }
        );
    }

    #[test]
    fn rejects_unknown_bytes_naming_the_file() {
        let err = detect(Path::new("/tmp/vmlinuz-6.1.0-amd64"), &[0u8; 4096]).unwrap_err();
        assert!(matches!(err, KernelError::NotAKernelImage { .. }));
        assert!(err.to_string().contains("/tmp/vmlinuz-6.1.0-amd64"));
        assert!(detect(Path::new("short"), b"MZ").is_err());
    }

    #[test]
    fn detects_and_unwraps_gzip_zboot() {
        let image = arm64_image(100_000);
        let z = zboot("gzip", &gzip(&image));
        let info = detect(Path::new("vmlinuz"), &z).unwrap();
        assert_eq!(info.arch, Arch::Aarch64);
        assert_eq!(
            info.format,
            ImageFormat::Arm64ZbootEfi {
                compression: "gzip".into()
            }
        );
        assert_eq!(unwrap_zboot(Path::new("vmlinuz"), &z).unwrap(), image);
    }

    #[test]
    fn unwraps_zstd_and_xz_zboot() {
        let image = arm64_image(50_000);
        let z = zboot("zstd22", &zstd_compress(&image));
        assert_eq!(unwrap_zboot(Path::new("v"), &z).unwrap(), image);
        let z = zboot("xzkern", &xz(&image));
        assert_eq!(unwrap_zboot(Path::new("v"), &z).unwrap(), image);
    }

    #[test]
    fn zboot_errors_name_the_file() {
        let image = arm64_image(10_000);
        let p = Path::new("/boot/vmlinuz-z");

        let err = unwrap_zboot(p, &zboot("lz4", b"whatever")).unwrap_err();
        assert!(
            matches!(err, KernelError::UnsupportedZbootCompression { .. }),
            "{err}"
        );

        let mut corrupt = zboot("gzip", &gzip(&image));
        let n = corrupt.len();
        corrupt[n - 40..n - 4].fill(0xff);
        let err = unwrap_zboot(p, &corrupt).unwrap_err();
        assert!(matches!(err, KernelError::ZbootDecompress { .. }), "{err}");
        assert!(err.to_string().contains("/boot/vmlinuz-z"), "{err}");

        let mut past_end = zboot("gzip", &gzip(&image));
        past_end[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = unwrap_zboot(p, &past_end).unwrap_err();
        assert!(matches!(err, KernelError::MalformedZboot { .. }), "{err}");

        // A payload that is not an arm64 Image.
        let err = unwrap_zboot(p, &zboot("gzip", &gzip(&[0u8; 4096]))).unwrap_err();
        assert!(matches!(err, KernelError::NotAKernelImage { .. }), "{err}");

        let err = unwrap_zboot(p, &arm64_image(4096)).unwrap_err();
        assert!(matches!(err, KernelError::MalformedZboot { .. }), "{err}");
    }

    #[test]
    fn zboot_for_other_pe_machine_is_unsupported() {
        let mut z = zboot("gzip", &gzip(&arm64_image(4096)));
        z[0x84..0x86].copy_from_slice(&0x5064u16.to_le_bytes()); // riscv64
        let err = detect(Path::new("v"), &z).unwrap_err();
        assert!(matches!(err, KernelError::UnsupportedImage { .. }), "{err}");
    }
}
