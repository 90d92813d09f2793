//! A small newc reader, mainly for checking archives in tests.

use crate::CpioError;
use crate::format::{
    FIELD_NAMES, HEADER_LEN, Header, MAGIC_CRC, MAGIC_NEWC, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT,
    S_IFREG, TRAILER, pad_len,
};

/// One member of a parsed archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Stored name, as in the archive (normally without a leading `/`).
    pub path: String,
    /// Full mode: file type bits plus permission bits.
    pub mode: u32,
    /// Inode number from the header.
    pub ino: u32,
    /// Link count from the header.
    pub nlink: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// File contents, or the target of a symlink.
    pub data: Vec<u8>,
    /// Major number of a device node.
    pub rdev_major: u32,
    /// Minor number of a device node.
    pub rdev_minor: u32,
}

/// The file type of an [`Entry`], decoded from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link; the target is in [`Entry::data`].
    Symlink,
    /// A character device.
    CharDevice,
    /// Any other type; holds the `S_IFMT` bits.
    Other(u32),
}

impl Entry {
    /// The entry's file type.
    pub fn kind(&self) -> EntryKind {
        match self.mode & S_IFMT {
            S_IFREG => EntryKind::File,
            S_IFDIR => EntryKind::Directory,
            S_IFLNK => EntryKind::Symlink,
            S_IFCHR => EntryKind::CharDevice,
            other => EntryKind::Other(other),
        }
    }

    /// The permission bits of the mode (without the file type).
    pub fn permissions(&self) -> u32 {
        self.mode & !S_IFMT
    }

    /// The link target, if this is a symlink with a UTF-8 target.
    pub fn symlink_target(&self) -> Option<&str> {
        match self.kind() {
            EntryKind::Symlink => std::str::from_utf8(&self.data).ok(),
            _ => None,
        }
    }
}

/// Parses one or more concatenated newc (or "crc") archives.
///
/// Zero bytes between archives are skipped, as the kernel does; each
/// header must start on a 4-byte boundary. `TRAILER!!!` entries end an
/// archive and are not returned. Checksums are not verified.
pub fn parse_newc(bytes: &[u8]) -> Result<Vec<Entry>, CpioError> {
    let mut entries = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        if bytes[pos] == 0 {
            pos += 1;
            continue;
        }
        let (entry, next) = parse_entry(bytes, pos)?;
        pos = next;
        if entry.path != TRAILER {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Parses the entry whose header starts at `start`; returns it and the
/// offset just past its padded data.
fn parse_entry(bytes: &[u8], start: usize) -> Result<(Entry, usize), CpioError> {
    let malformed = |offset, reason: String| CpioError::Malformed { offset, reason };
    if !start.is_multiple_of(4) {
        return Err(malformed(
            start,
            "archive data does not start on a 4-byte boundary".into(),
        ));
    }
    let magic = &bytes[start..bytes.len().min(start + 6)];
    if magic != MAGIC_NEWC && magic != MAGIC_CRC {
        return Err(malformed(
            start,
            format!(
                "bad magic {:?} (expected \"070701\")",
                String::from_utf8_lossy(magic)
            ),
        ));
    }
    let raw: &[u8; HEADER_LEN] = bytes
        .get(start..start + HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed(start, "truncated header".into()))?;
    let header = Header::decode(raw).map_err(|field| {
        malformed(
            start + 6 + field * 8,
            format!("field {} is not 8 hex digits", FIELD_NAMES[field]),
        )
    })?;

    let name_start = start + HEADER_LEN;
    let name_size = header.namesize as usize;
    let name_bytes = bytes
        .get(name_start..name_start + name_size)
        .ok_or_else(|| malformed(name_start, format!("truncated name ({name_size} bytes)")))?;
    let Some((&0, name)) = name_bytes.split_last() else {
        return Err(malformed(
            name_start,
            "name is empty or not NUL-terminated".into(),
        ));
    };
    let path = String::from_utf8(name.to_vec())
        .map_err(|_| malformed(name_start, "name is not valid UTF-8".into()))?;

    let name_end = name_start + name_size;
    let data_start = name_end + pad_len(name_end as u64, 4) as usize;
    let data_len = header.filesize as usize;
    let data = bytes
        .get(data_start..data_start + data_len)
        .ok_or_else(|| {
            malformed(
                data_start,
                format!("data of {path:?} truncated (expected {data_len} bytes)"),
            )
        })?
        .to_vec();
    let data_end = data_start + data_len;
    let next = (data_end + pad_len(data_end as u64, 4) as usize).min(bytes.len());

    let entry = Entry {
        path,
        mode: header.mode,
        ino: header.ino,
        nlink: header.nlink,
        uid: header.uid,
        gid: header.gid,
        mtime: header.mtime,
        data,
        rdev_major: header.rdevmajor,
        rdev_minor: header.rdevminor,
    };
    Ok((entry, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_and_zero_padding_parse_to_nothing() {
        assert_eq!(parse_newc(&[]).ok(), Some(vec![]));
        assert_eq!(parse_newc(&[0; 1024]).ok(), Some(vec![]));
    }

    #[test]
    fn garbage_is_rejected_with_offset() {
        let err = parse_newc(b"hello world").unwrap_err();
        assert!(
            matches!(err, CpioError::Malformed { offset: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("bad magic"), "{err}");
    }

    #[test]
    fn misaligned_archive_is_rejected() {
        let mut bytes = vec![0u8; 2];
        bytes.extend_from_slice(b"070701");
        bytes.resize(200, b'0');
        let err = parse_newc(&bytes).unwrap_err();
        assert!(
            matches!(err, CpioError::Malformed { offset: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_data_names_the_entry() {
        let mut raw = Header {
            mode: S_IFREG | 0o644,
            filesize: 100,
            namesize: 4,
            ..Header::default()
        }
        .encode()
        .to_vec();
        raw.extend_from_slice(b"abc\0");
        raw.extend_from_slice(b"short");
        let err = parse_newc(&raw).unwrap_err();
        assert!(err.to_string().contains("\"abc\""), "{err}");
    }

    #[test]
    fn bad_hex_field_is_named() {
        let mut raw = Header::default().encode();
        raw[6 + 11 * 8] = b'z';
        let err = parse_newc(&raw).unwrap_err();
        assert!(err.to_string().contains("c_namesize"), "{err}");
    }

    #[test]
    fn entry_kind_and_permissions() {
        let mut e = Entry {
            path: "l".into(),
            mode: S_IFLNK | 0o777,
            ino: 1,
            nlink: 1,
            uid: 0,
            gid: 0,
            mtime: 0,
            data: b"target".to_vec(),
            rdev_major: 0,
            rdev_minor: 0,
        };
        assert_eq!(e.kind(), EntryKind::Symlink);
        assert_eq!(e.symlink_target(), Some("target"));
        assert_eq!(e.permissions(), 0o777);
        e.mode = 0o060_644;
        assert_eq!(e.kind(), EntryKind::Other(0o060_000));
        assert_eq!(e.symlink_target(), None);
    }
}
