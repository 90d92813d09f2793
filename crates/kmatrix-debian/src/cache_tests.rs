use super::*;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

fn sha(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn hex_matches_known_digest() {
    assert_eq!(
        sha(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn verified_store_writes_final_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = b"hello world".to_vec();
    let h = sha(&data);
    let path = store_verified(
        dir.path(),
        "x.deb",
        &mut &data[..],
        "http://u/x",
        &h,
        Some(11),
    )
    .unwrap();
    assert_eq!(fs::read(&path).unwrap(), data);
    assert_eq!(names(dir.path()), ["x.deb"]);
}

#[test]
fn hash_mismatch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = b"tampered".to_vec();
    let wrong = sha(b"original");
    let err = store_verified(
        dir.path(),
        "x.deb",
        &mut &data[..],
        "http://u/x.deb",
        &wrong,
        None,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("http://u/x.deb"), "{msg}");
    assert!(msg.contains(&wrong), "{msg}");
    assert!(msg.contains(&sha(&data)), "{msg}");
    assert!(names(dir.path()).is_empty());
}

#[test]
fn size_mismatch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = b"0123456789".to_vec();
    let h = sha(&data);
    for size in [5, 20] {
        let err = store_verified(
            dir.path(),
            "x.deb",
            &mut &data[..],
            "http://u",
            &h,
            Some(size),
        )
        .unwrap_err();
        assert!(matches!(err, DebianError::SizeMismatch { expected, .. } if expected == size));
        assert!(names(dir.path()).is_empty());
    }
}

#[test]
fn failing_reader_leaves_nothing() {
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("connection reset"));
            }
            self.0 -= 1;
            buf[0] = 1;
            Ok(1)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let err =
        store_verified(dir.path(), "x", &mut Broken(3), "http://u/x", "00", None).unwrap_err();
    assert!(matches!(err, DebianError::Download { .. }));
    assert!(names(dir.path()).is_empty());
}

#[test]
fn stale_temp_is_ignored_and_swept() {
    let dir = tempfile::tempdir().unwrap();
    // A temp file as left by a killed writer, with a plausible name.
    let stale = dir.path().join(".x.deb.1.0.tmp");
    fs::write(&stale, b"partial").unwrap();
    let old = SystemTime::now() - 2 * STALE_TEMP_AGE;
    File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = dir.path().join(".y.deb.2.0.tmp");
    fs::write(&fresh, b"in progress").unwrap();

    let data = b"full content".to_vec();
    let h = sha(&data);
    let calls = AtomicUsize::new(0);
    let (path, created) = get_or_create(dir.path(), "x.deb", || {
        calls.fetch_add(1, Ordering::SeqCst);
        store_verified(dir.path(), "x.deb", &mut &data[..], "http://u", &h, None).map(drop)
    })
    .unwrap();
    assert!(created);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(fs::read(path).unwrap(), data);
    assert!(!stale.exists(), "stale temp should be swept");
    assert!(fresh.exists(), "a recent temp may belong to a live writer");

    // Second call finds the cached file and does not produce again.
    let (_, created) = get_or_create(dir.path(), "x.deb", || unreachable!()).unwrap();
    assert!(!created);
}

#[test]
fn produce_error_propagates_and_nothing_cached() {
    let dir = tempfile::tempdir().unwrap();
    let err = get_or_create(dir.path(), "x.deb", || {
        Err(DebianError::HttpStatus {
            url: "http://u/x.deb".into(),
            status: 503,
        })
    })
    .unwrap_err();
    assert!(err.to_string().contains("503"));
    assert!(!dir.path().join("x.deb").exists());
}

#[test]
fn concurrent_callers_produce_once() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let data = b"shared".to_vec();
    let h = sha(&data);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (dir, calls, data, h) = (dir.clone(), calls.clone(), data.clone(), h.clone());
            std::thread::spawn(move || {
                get_or_create(dir.path(), "s.deb", || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    store_verified(dir.path(), "s.deb", &mut &data[..], "http://u", &h, None)
                        .map(drop)
                })
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
