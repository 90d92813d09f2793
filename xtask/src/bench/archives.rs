//! Initramfs images for the bare boots: the starting-point pipeline's whole-tree archive, and
//! kmatrix's kernel part compressed in different ways.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use kmatrix_cpio::{ARCHIVE_ALIGN, NewcWriter};

use super::guest_init;

/// Builds the archive of the pipeline the project started from: every file of the module tree
/// `modules_dir` (`…/modules/<release>`) under `/lib/modules/<release>/`, each `.ko.zst` and
/// `.ko.xz` decompressed to a plain `.ko`, then the trivial init — all uncompressed, in one
/// newc archive written to `out`. The init goes last, so an archive the kernel cannot unpack
/// whole leaves no init and fails the boot. Returns the archive's size.
pub fn write_pipeline_archive(
    modules_dir: &Path,
    release: &str,
    init: &[u8],
    out: &Path,
) -> anyhow::Result<u64> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cpio = NewcWriter::new(BufWriter::new(file));
    let base = format!("lib/modules/{release}");
    for relative in walk_files(modules_dir)? {
        let host = modules_dir.join(&relative);
        let name = relative.to_string_lossy();
        let decoded = if let Some(stem) = name.strip_suffix(".zst") {
            let input = File::open(&host).with_context(|| format!("opening {}", host.display()))?;
            Some((stem, zstd::stream::decode_all(input)))
        } else if let Some(stem) = name.strip_suffix(".xz") {
            let input = File::open(&host).with_context(|| format!("opening {}", host.display()))?;
            let mut plain = Vec::new();
            let result = liblzma::read::XzDecoder::new(BufReader::new(input))
                .read_to_end(&mut plain)
                .map(|_| plain);
            Some((stem, result))
        } else {
            None
        };
        match decoded {
            Some((stem, plain)) => {
                let plain = plain.with_context(|| format!("decompressing {}", host.display()))?;
                cpio.add_file(&format!("{base}/{stem}"), 0o644, &plain)?;
            }
            None => cpio.add_file_from_host(&format!("{base}/{name}"), 0o644, &host)?,
        }
    }
    guest_init::add_init(&mut cpio, init)?;
    let size = cpio.bytes_written();
    let mut writer = cpio.finish()?;
    writer
        .flush()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(size)
}

/// Every regular file under `dir`, as paths relative to `dir`, sorted.
fn walk_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let here = dir.join(&relative);
        let entries =
            std::fs::read_dir(&here).with_context(|| format!("reading {}", here.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", here.display()))?;
            let kind = entry
                .file_type()
                .with_context(|| format!("inspecting {}", entry.path().display()))?;
            let path = relative.join(entry.file_name());
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A way of compressing the whole kernel part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// As kmatrix caches it.
    None,
    /// zstd, level 3 (the zstd tool's default).
    Zstd,
    /// gzip, level 6 (gzip's default).
    Gzip,
    /// xz, preset 6 with CRC32 checks (the kernel's xz decoder has no CRC64 for initramfs).
    Xz,
}

impl Compression {
    /// Every variant, uncompressed first. lz4 is absent: the workspace has no lz4 crate.
    pub const ALL: [Compression; 4] = [
        Compression::None,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Xz,
    ];

    /// Short name (also the ratio key).
    pub fn key(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
        }
    }

    /// The compressor's settings, for the report.
    pub fn settings(self) -> &'static str {
        match self {
            Compression::None => "as cached",
            Compression::Zstd => "zstd -3",
            Compression::Gzip => "gzip -6",
            Compression::Xz => "xz -6 --check=crc32",
        }
    }

    /// `data` compressed as one stream.
    pub fn compress(self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Compression::None => data.to_vec(),
            Compression::Zstd => zstd::stream::encode_all(data, 3)?,
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                encoder.write_all(data)?;
                encoder.finish()?
            }
            Compression::Xz => {
                let stream =
                    liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc32)?;
                let mut encoder = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
                encoder.write_all(data)?;
                encoder.finish()?
            }
        })
    }
}

/// Writes `kernel_part` compressed with `compression`, zero-padded to a multiple of
/// [`ARCHIVE_ALIGN`] (the kernel looks for the next archive at a 4-byte-aligned offset), then
/// the uncompressed trivial init archive. Returns the size of the compressed kernel part.
pub fn write_kernel_part_image(
    kernel_part: &[u8],
    compression: Compression,
    init_archive: &[u8],
    out: &Path,
) -> anyhow::Result<u64> {
    let mut first = compression
        .compress(kernel_part)
        .with_context(|| format!("compressing the kernel part with {}", compression.key()))?;
    let size = first.len() as u64;
    let padded = size.div_ceil(ARCHIVE_ALIGN) * ARCHIVE_ALIGN;
    first.resize(usize::try_from(padded)?, 0);
    first.extend_from_slice(init_archive);
    std::fs::write(out, &first).with_context(|| format!("writing {}", out.display()))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(compression: Compression, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        match compression {
            Compression::None => out.extend_from_slice(data),
            Compression::Zstd => out = zstd::stream::decode_all(data)?,
            Compression::Gzip => {
                flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
            }
            Compression::Xz => {
                liblzma::read::XzDecoder::new(data).read_to_end(&mut out)?;
            }
        }
        Ok(out)
    }

    #[test]
    fn every_compression_round_trips() -> anyhow::Result<()> {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for compression in Compression::ALL {
            let packed = compression.compress(&data)?;
            assert_eq!(decompress(compression, &packed)?, data, "{compression:?}");
        }
        Ok(())
    }

    #[test]
    fn pipeline_archive_decompresses_modules_and_ends_with_init() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let modules = dir.path().join("modules");
        std::fs::create_dir_all(modules.join("kernel/fs"))?;
        std::fs::write(
            modules.join("kernel/fs/a.ko.zst"),
            zstd::stream::encode_all(&b"AAAA"[..], 3)?,
        )?;
        std::fs::write(
            modules.join("kernel/fs/b.ko.xz"),
            Compression::Xz.compress(b"BBBB")?,
        )?;
        std::fs::write(modules.join("modules.order"), b"kernel/fs/a.ko\n")?;
        let out = dir.path().join("out.cpio");
        write_pipeline_archive(&modules, "1.0", b"init", &out)?;
        let bytes = std::fs::read(&out)?;
        let entries = kmatrix_cpio::parse_newc(&bytes)?;
        let find = |path: &str| entries.iter().find(|e| e.path == path).map(|e| &e.data);
        assert_eq!(
            find("lib/modules/1.0/kernel/fs/a.ko").map(Vec::as_slice),
            Some(&b"AAAA"[..])
        );
        assert_eq!(
            find("lib/modules/1.0/kernel/fs/b.ko").map(Vec::as_slice),
            Some(&b"BBBB"[..])
        );
        assert!(find("lib/modules/1.0/modules.order").is_some());
        assert_eq!(entries.last().map(|e| e.path.as_str()), Some("init"));
        Ok(())
    }
}
