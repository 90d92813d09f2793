use super::*;
use crate::{EntryKind, parse_newc};

fn archive(build: impl FnOnce(&mut NewcWriter<Vec<u8>>)) -> Vec<u8> {
    let mut w = NewcWriter::new(Vec::new());
    build(&mut w);
    w.finish().unwrap()
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

#[test]
fn single_file_entry_is_byte_exact() {
    let bytes = archive(|w| w.add_file("/hello.txt", 0o644, b"hi\n").unwrap());

    let mut expected = Vec::new();
    // magic, ino=1, mode=0o100644, uid, gid, nlink=1, mtime, filesize=3,
    // devmajor, devminor, rdevmajor, rdevminor, namesize=10, check
    expected.extend_from_slice(
        b"070701\
          00000001000081A4000000000000000000000001\
          0000000000000003000000000000000000000000\
          000000000000000A00000000",
    );
    // 110 + 10 = 120 is already 4-aligned: no name padding.
    expected.extend_from_slice(b"hello.txt\0");
    expected.extend_from_slice(b"hi\n\0");
    // Trailer: ino 0, mode 0, nlink 1, namesize 11; 121 bytes padded to 124.
    expected.extend_from_slice(
        b"070701\
          0000000000000000000000000000000000000001\
          0000000000000000000000000000000000000000\
          000000000000000B00000000",
    );
    expected.extend_from_slice(b"TRAILER!!!\0\0\0\0");
    assert_eq!(expected.len(), 248);
    expected.resize(512, 0);

    assert_eq!(bytes, expected);
}

#[test]
fn name_and_data_padding_for_small_lengths() {
    for name_len in 1..=8usize {
        for data_len in 0..=8usize {
            let name = "n".repeat(name_len);
            let data: Vec<u8> = (1..=data_len as u8).collect();
            let bytes = archive(|w| w.add_file(&name, 0o600, &data).unwrap());

            let name_end = HEADER_LEN + name_len + 1;
            let data_start = align4(name_end);
            let data_end = data_start + data_len;
            let trailer_start = align4(data_end);
            let ctx = format!("name_len={name_len} data_len={data_len}");

            assert_eq!(&bytes[HEADER_LEN..name_end - 1], name.as_bytes(), "{ctx}");
            assert!(
                bytes[name_end - 1..data_start].iter().all(|&b| b == 0),
                "{ctx}"
            );
            assert_eq!(&bytes[data_start..data_end], &data[..], "{ctx}");
            assert!(
                bytes[data_end..trailer_start].iter().all(|&b| b == 0),
                "{ctx}"
            );
            assert_eq!(&bytes[trailer_start..trailer_start + 6], b"070701", "{ctx}");
            assert_eq!(bytes.len() % 512, 0, "{ctx}");

            let entries = parse_newc(&bytes).unwrap();
            assert_eq!(entries.len(), 1, "{ctx}");
            assert_eq!(entries[0].path, name, "{ctx}");
            assert_eq!(entries[0].data, data, "{ctx}");
        }
    }
}

#[test]
fn parents_are_created_once_with_default_mode() {
    let bytes = archive(|w| {
        w.add_file("/a/b/c", 0o644, b"c").unwrap();
        w.add_file("a/b/d", 0o644, b"d").unwrap();
        w.add_directory("/a", 0o700).unwrap();
        w.add_directory("a/e", 0o700).unwrap();
        w.add_directory("a/e/", 0o711).unwrap();
    });
    let entries = parse_newc(&bytes).unwrap();
    let summary: Vec<(&str, u32, u32)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.mode, e.ino))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", S_IFDIR | 0o755, 1),
            ("a/b", S_IFDIR | 0o755, 2),
            ("a/b/c", S_IFREG | 0o644, 3),
            ("a/b/d", S_IFREG | 0o644, 4),
            ("a/e", S_IFDIR | 0o700, 5),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.uid == 0 && e.gid == 0 && e.mtime == 0)
    );
    assert_eq!(entries[0].nlink, 2);
    assert_eq!(entries[2].nlink, 1);
}

#[test]
fn duplicates_and_conflicts_are_rejected() {
    let mut w = NewcWriter::new(Vec::new());
    w.add_file("etc/passwd", 0o644, b"").unwrap();
    w.add_symlink("bin", "usr/bin").unwrap();

    let dup = |r: Result<(), CpioError>| matches!(r, Err(CpioError::DuplicatePath { .. }));
    assert!(dup(w.add_file("/etc/passwd", 0o644, b"x")));
    assert!(dup(w.add_symlink("etc/passwd", "x")));
    assert!(dup(w.add_directory("etc/passwd", 0o755)));
    assert!(dup(w.add_char_device("bin", 0o600, 1, 3)));
    assert!(dup(w.add_file("etc", 0o644, b"")));

    let err = w.add_file("bin/sh", 0o755, b"").unwrap_err();
    assert!(
        matches!(&err, CpioError::ParentNotDirectory { parent, .. } if parent == "bin"),
        "{err}"
    );
    // Failed calls leave the writer usable and emit nothing.
    let bytes = w.finish().unwrap();
    let paths: Vec<String> = parse_newc(&bytes)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["etc", "etc/passwd", "bin"]);
}

#[test]
fn invalid_paths_modes_and_targets_are_rejected() {
    let mut w = NewcWriter::new(Vec::new());
    for bad in ["", "/", "a/../b", "..", "a\0b"] {
        let err = w.add_file(bad, 0o644, b"").unwrap_err();
        assert!(
            matches!(err, CpioError::InvalidPath { .. }),
            "{bad:?}: {err}"
        );
    }
    let err = w.add_file("x", 0o100_644, b"").unwrap_err();
    assert!(matches!(err, CpioError::InvalidMode { .. }), "{err}");
    assert!(err.to_string().contains("\"x\""), "{err}");
    let err = w.add_symlink("l", "").unwrap_err();
    assert!(
        matches!(err, CpioError::InvalidSymlinkTarget { .. }),
        "{err}"
    );
    assert_eq!(w.bytes_written(), 0);
}

#[test]
fn output_is_deterministic() {
    let build = |w: &mut NewcWriter<Vec<u8>>| {
        w.add_directory("dev", 0o755).unwrap();
        w.add_char_device("dev/console", 0o600, 5, 1).unwrap();
        w.add_file("init", 0o755, b"#!/bin/sh\n").unwrap();
        w.add_symlink("lib64", "usr/lib64").unwrap();
        w.add_file_from_reader("usr/lib64/x", 0o644, 5, &mut &b"hello"[..])
            .unwrap();
    };
    assert_eq!(archive(build), archive(build));
}

#[test]
fn round_trip_through_parser() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let bytes = archive(|w| {
        w.add_file("/init", 0o755, b"#!/bin/sh\n").unwrap();
        w.add_symlink("/lib", "usr/lib").unwrap();
        w.add_char_device("/dev/null", 0o666, 1, 3).unwrap();
        w.add_file_from_reader("/data/big", 0o4755, big.len() as u64, &mut &big[..])
            .unwrap();
        w.add_directory("/tmp", 0o1777).unwrap();
    });
    let entries = parse_newc(&bytes).unwrap();
    assert_eq!(entries.len(), 7);

    let get = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
    assert_eq!(get("init").kind(), EntryKind::File);
    assert_eq!(get("init").data, b"#!/bin/sh\n");
    assert_eq!(get("lib").symlink_target(), Some("usr/lib"));
    assert_eq!(get("lib").mode, S_IFLNK | 0o777);
    let null = get("dev/null");
    assert_eq!(null.kind(), EntryKind::CharDevice);
    assert_eq!((null.rdev_major, null.rdev_minor), (1, 3));
    assert_eq!(null.permissions(), 0o666);
    assert_eq!(get("dev").kind(), EntryKind::Directory);
    assert_eq!(get("data/big").data, big);
    assert_eq!(get("data/big").mode, S_IFREG | 0o4755);
    assert_eq!(get("tmp").mode, S_IFDIR | 0o1777);

    let mut inos: Vec<u32> = entries.iter().map(|e| e.ino).collect();
    inos.sort_unstable();
    assert_eq!(inos, (1..=7).collect::<Vec<_>>());
}

#[test]
fn concatenated_archives_parse_as_one() {
    let first = archive(|w| w.add_file("a/one", 0o644, b"1").unwrap());
    let second = archive(|w| w.add_file("b/two", 0o644, b"22").unwrap());
    let mut both = first.clone();
    both.extend_from_slice(&[0; 4]);
    both.extend_from_slice(&second);
    // A bare archive without block padding also concatenates.
    let trailer_name = second
        .windows(TRAILER.len())
        .position(|w| w == TRAILER.as_bytes())
        .unwrap();
    let unpadded = &second[..align4(trailer_name + TRAILER.len() + 1)];
    both.extend_from_slice(unpadded);

    let paths: Vec<String> = parse_newc(&both)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["a", "a/one", "b", "b/two", "b", "b/two"]);
}

#[test]
fn reader_length_mismatch_is_an_error_and_poisons() {
    let mut w = NewcWriter::new(Vec::new());
    let err = w
        .add_file_from_reader("short", 0o644, 10, &mut &b"abc"[..])
        .unwrap_err();
    assert!(
        matches!(
            err,
            CpioError::SizeMismatch {
                expected: 10,
                actual: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        w.add_file("other", 0o644, b""),
        Err(CpioError::Poisoned { .. })
    ));
    assert!(matches!(w.finish(), Err(CpioError::Poisoned { .. })));

    let mut w = NewcWriter::new(Vec::new());
    let err = w
        .add_file_from_reader("long", 0o644, 2, &mut &b"abc"[..])
        .unwrap_err();
    assert!(
        matches!(err, CpioError::SizeMismatch { expected: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"long\""), "{err}");
}

#[test]
fn add_file_from_host_streams_and_names_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("payload");
    std::fs::write(&host, b"payload bytes").unwrap();
    let mut w = NewcWriter::new(Vec::new());
    w.add_file_from_host("opt/payload", 0o644, &host).unwrap();
    let missing = dir.path().join("missing");
    let err = w
        .add_file_from_host("opt/missing", 0o644, &missing)
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let entries = parse_newc(&w.finish().unwrap()).unwrap();
    assert_eq!(entries[1].data, b"payload bytes");
}

struct FailingWriter;

impl Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_name_the_entry_and_poison() {
    let mut w = NewcWriter::new(FailingWriter);
    let err = w.add_file("x/y", 0o644, b"").unwrap_err();
    // The implicit parent is the first thing written.
    assert!(
        matches!(&err, CpioError::Write { path, .. } if path == "x"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(matches!(
        w.add_file("z", 0o644, b""),
        Err(CpioError::Poisoned { .. })
    ));
}
