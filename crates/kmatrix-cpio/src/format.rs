//! Constants and helpers for the newc header layout.

/// Mask of the file type bits in a mode.
pub const S_IFMT: u32 = 0o170_000;
/// File type bits of a regular file.
pub const S_IFREG: u32 = 0o100_000;
/// File type bits of a directory.
pub const S_IFDIR: u32 = 0o040_000;
/// File type bits of a symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// File type bits of a character device.
pub const S_IFCHR: u32 = 0o020_000;

/// Magic of the "newc" format (no checksums).
pub(crate) const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of the "crc" format; same layout, accepted by the reader.
pub(crate) const MAGIC_CRC: &[u8; 6] = b"070702";
/// Six magic bytes plus thirteen 8-digit hex fields.
pub(crate) const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub(crate) const TRAILER: &str = "TRAILER!!!";
/// Longest name (with its NUL) the kernel accepts: PATH_MAX.
pub(crate) const MAX_NAME_SIZE: usize = 4096;

/// Number of zero bytes needed after `offset` to reach a multiple of `align`.
pub(crate) fn pad_len(offset: u64, align: u64) -> u64 {
    (align - offset % align) % align
}

/// The numeric header fields, in on-disk order after the magic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub namesize: u32,
    pub check: u32,
}

impl Header {
    /// Encodes the header as 110 ASCII bytes (uppercase hex, like the
    /// kernel's own `gen_init_cpio`).
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let fields = [
            self.ino,
            self.mode,
            self.uid,
            self.gid,
            self.nlink,
            self.mtime,
            self.filesize,
            self.devmajor,
            self.devminor,
            self.rdevmajor,
            self.rdevminor,
            self.namesize,
            self.check,
        ];
        let mut out = [0u8; HEADER_LEN];
        out[..6].copy_from_slice(MAGIC_NEWC);
        for (i, value) in fields.iter().enumerate() {
            let start = 6 + i * 8;
            for (j, byte) in out[start..start + 8].iter_mut().enumerate() {
                let nibble = (value >> (28 - 4 * j)) & 0xf;
                *byte = b"0123456789ABCDEF"[nibble as usize];
            }
        }
        out
    }

    /// Decodes the 13 hex fields of a header whose magic was already checked.
    /// Returns the index of the first bad field on failure.
    pub(crate) fn decode(raw: &[u8; HEADER_LEN]) -> Result<Header, usize> {
        let mut fields = [0u32; 13];
        for (i, field) in fields.iter_mut().enumerate() {
            let start = 6 + i * 8;
            let mut value = 0u32;
            for &c in &raw[start..start + 8] {
                let digit = (c as char).to_digit(16).ok_or(i)?;
                value = (value << 4) | digit;
            }
            *field = value;
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            namesize,
            check,
        ] = fields;
        Ok(Header {
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            namesize,
            check,
        })
    }
}

/// Names of the header fields, for error messages.
pub(crate) const FIELD_NAMES: [&str; 13] = [
    "c_ino",
    "c_mode",
    "c_uid",
    "c_gid",
    "c_nlink",
    "c_mtime",
    "c_filesize",
    "c_maj",
    "c_min",
    "c_rmaj",
    "c_rmin",
    "c_namesize",
    "c_chksum",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_len_rounds_up_to_alignment() {
        let got: Vec<u64> = (0..9).map(|n| pad_len(n, 4)).collect();
        assert_eq!(got, [0, 3, 2, 1, 0, 3, 2, 1, 0]);
        assert_eq!(pad_len(124, 512), 388);
        assert_eq!(pad_len(1024, 512), 0);
    }

    #[test]
    fn header_encode_decode_round_trip() {
        let h = Header {
            ino: 0x1234_abcd,
            mode: 0o100_644,
            nlink: 1,
            filesize: 0xffff_ffff,
            namesize: 7,
            rdevmajor: 5,
            rdevminor: 1,
            ..Header::default()
        };
        let raw = h.encode();
        assert_eq!(&raw[..14], b"0707011234ABCD");
        assert_eq!(Header::decode(&raw), Ok(h));
    }

    #[test]
    fn decode_reports_bad_field() {
        let mut raw = Header::default().encode();
        raw[6 + 6 * 8 + 3] = b'g';
        assert_eq!(Header::decode(&raw), Err(6));
        assert_eq!(FIELD_NAMES[6], "c_filesize");
    }
}
