//! The verified fetch path end to end, against a small archive served on
//! the loopback interface and signed with a throwaway key: signed chain
//! accepted; unsigned, foreign-signed, tampered-in-transit and
//! tampered-in-cache files refused.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use kmatrix_debian::{Archive, DebArch, DebianError, Mirror};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey,
};
use pgp::ser::Serialize;
use pgp::types::Password;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

const PACKAGES: &str = "Package: linux-image-6.1.0-50-cloud-amd64-unsigned\n\
    Version: 6.1.176-1\nArchitecture: amd64\nFilename: pool/a.deb\nSize: 3\n\
    SHA256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n\n\
    Package: hello\nVersion: 1\nArchitecture: amd64\nFilename: pool/h.deb\nSize: 3\n\
    SHA256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n";

const INDEX_PATH: &str = "/debian/dists/sid/main/binary-amd64/Packages";
const RELEASE_PATH: &str = "/debian/dists/sid/InRelease";

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A minimal HTTP/1.1 server for GET requests on 127.0.0.1; it answers
/// only this test process and ends with it.
struct Server {
    base: String,
    files: Files,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let base = format!(
            "http://{}/debian",
            listener.local_addr().expect("the bound address")
        );
        let files = Files::default();
        let served = Arc::clone(&files);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &served);
            }
        });
        Server { base, files }
    }

    fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_string(), body.into());
    }
}

fn answer(mut stream: TcpStream, files: &Files) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let body = files
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
        .cloned();
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", Vec::new()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}

fn throwaway_key(seed: u64) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("kmatrix test archive <test@kmatrix.invalid>".into());
    params
        .build()
        .expect("valid key parameters")
        .generate(StdRng::seed_from_u64(seed))
        .expect("key generation")
}

fn write_keyring(dir: &Path, key: &SignedSecretKey) -> PathBuf {
    let path = dir.join("archive-keyring.gpg");
    let bytes = SignedPublicKey::from(key.clone())
        .to_bytes()
        .expect("serialised public key");
    std::fs::write(&path, bytes).expect("keyring file written");
    path
}

fn release_text(packages: &str) -> String {
    let sha: String = Sha256::digest(packages.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "Origin: Test\nCodename: sid\nSHA256:\n {sha} {} main/binary-amd64/Packages\n",
        packages.len()
    )
}

fn clearsign(text: &str, key: &SignedSecretKey) -> String {
    CleartextSignedMessage::sign(
        StdRng::seed_from_u64(3),
        text,
        &key.primary_key,
        &Password::empty(),
    )
    .expect("signature")
    .to_armored_string(ArmorOptions::default())
    .expect("armoured message")
}

/// A server with a correctly signed archive, its key and a keyring file.
fn setup(dir: &Path) -> (Server, SignedSecretKey, PathBuf) {
    let key = throwaway_key(11);
    let keyring = write_keyring(dir, &key);
    let server = Server::start();
    server.put(RELEASE_PATH, clearsign(&release_text(PACKAGES), &key));
    server.put(INDEX_PATH, PACKAGES);
    (server, key, keyring)
}

fn archive(server: &Server, cache: &Path, keyring: &Path) -> Archive {
    Archive::new(Mirror::from_url(&server.base), cache.to_path_buf())
        .with_suites(vec!["sid".into()])
        .with_keyring(keyring)
}

fn kernel_packages(archive: &Archive) -> Result<Vec<String>, DebianError> {
    let indexes = archive.kernel_indexes(DebArch::Amd64)?;
    Ok(indexes
        .iter()
        .flat_map(|i| i.entries.iter().map(|e| e.package.clone()))
        .collect())
}

#[test]
fn signed_chain_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, keyring) = setup(dir.path());
    let archive = archive(&server, &dir.path().join("cache"), &keyring);
    assert_eq!(archive.keyring_path(), keyring);
    assert_eq!(
        kernel_packages(&archive).unwrap(),
        ["linux-image-6.1.0-50-cloud-amd64-unsigned"]
    );
}

#[test]
fn unsigned_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, keyring) = setup(dir.path());
    server.put(RELEASE_PATH, release_text(PACKAGES));
    let err = kernel_packages(&archive(&server, &dir.path().join("c"), &keyring)).unwrap_err();
    assert!(
        matches!(err, DebianError::UnsignedRelease { .. }) && err.is_verification_failure(),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("{}/dists/sid/InRelease", server.base))
    );
}

#[test]
fn foreign_or_tampered_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key, keyring) = setup(dir.path());
    let foreign = clearsign(&release_text(PACKAGES), &throwaway_key(12));
    // The listed index replaced by another one, signature kept.
    let tampered = clearsign(&release_text(PACKAGES), &key).replacen(
        "main/binary-amd64/Packages",
        "main/binary-amd64/Packages.gz",
        1,
    );
    for text in [foreign, tampered] {
        server.put(RELEASE_PATH, text);
        let err = kernel_packages(&archive(&server, &dir.path().join("c"), &keyring)).unwrap_err();
        assert!(
            matches!(err, DebianError::BadSignature { .. }) && err.is_verification_failure(),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("/dists/sid/InRelease"), "{msg}");
        assert!(msg.contains("archive-keyring.gpg"), "{msg}");
    }
}

#[test]
fn missing_keyring_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, _keyring) = setup(dir.path());
    let missing = dir.path().join("no-such-keyring.gpg");
    let err = kernel_packages(&archive(&server, &dir.path().join("c"), &missing)).unwrap_err();
    assert!(matches!(err, DebianError::ReadKeyring { .. }), "{err}");
    assert!(err.to_string().contains("no-such-keyring.gpg"), "{err}");
}

#[test]
fn tampered_packages_index_in_transit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, keyring) = setup(dir.path());
    server.put(INDEX_PATH, PACKAGES.replace("6.1.176-1", "6.1.176-2"));
    let cache = dir.path().join("c");
    let err = kernel_packages(&archive(&server, &cache, &keyring)).unwrap_err();
    assert!(matches!(err, DebianError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains(INDEX_PATH), "{err}");
    // Nothing was cached under the verified name.
    let cached: Vec<_> = std::fs::read_dir(cache.join("indexes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

#[test]
fn tampered_packages_index_in_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, keyring) = setup(dir.path());
    let cache = dir.path().join("c");
    kernel_packages(&archive(&server, &cache, &keyring)).unwrap();
    let indexes = cache.join("indexes");
    let find = |suffix: &str| {
        std::fs::read_dir(&indexes)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap()
    };
    let index = find(".Packages");
    let derived = find(".kernels-v2");

    // An edited derived file is not used: it is rebuilt from the index.
    let text = std::fs::read_to_string(&derived).unwrap();
    std::fs::write(&derived, text.replace("6.1.176-1", "6.1.999-1")).unwrap();
    let indexes_now = archive(&server, &cache, &keyring)
        .kernel_indexes(DebArch::Amd64)
        .unwrap();
    assert_eq!(indexes_now[0].entries[0].version, "6.1.176-1");

    // An edited index is refused (and removed) when it is next read.
    std::fs::remove_file(&derived).unwrap();
    std::fs::write(&index, PACKAGES.replace("6.1.176-1", "6.1.999-1")).unwrap();
    let err = kernel_packages(&archive(&server, &cache, &keyring)).unwrap_err();
    assert!(
        matches!(err, DebianError::CacheMismatch { .. }) && err.is_verification_failure(),
        "{err}"
    );
    assert!(
        err.to_string().contains(&index.display().to_string()),
        "{err}"
    );
    assert!(!index.exists());
    // The next run downloads and verifies it again.
    kernel_packages(&archive(&server, &cache, &keyring)).unwrap();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), PACKAGES);
}
