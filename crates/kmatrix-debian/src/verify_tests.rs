//! Signature checks on a real `InRelease` (bullseye-security, signed by the
//! bullseye and bookworm security archive keys) with the host's Debian
//! archive keyring, and on texts signed with throwaway keys.

use std::time::Instant;

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::ser::Serialize;
use pgp::types::Password;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::keyring::DEFAULT_KEYRING;
use crate::release;

const URL: &str = "http://mirror.test/debian-security/dists/bullseye-security/InRelease";

/// Served on 2026-09-12; both signing subkeys are valid then.
const FIXTURE: &str = include_str!("../tests/data/bullseye-security.InRelease");

/// 2026-12-01: a fixed "now", so the tests do not age with the keys.
const NOW: u64 = 1_796_083_200;

fn debian_keyring() -> Keyring {
    Keyring::load(DEFAULT_KEYRING).expect("the debian-archive-keyring package is installed")
}

fn verify(keyring: &Keyring, text: &str) -> Result<String, DebianError> {
    keyring.verify_inrelease_at(text, URL, NOW)
}

/// A throwaway Ed25519 key with a signing subkey, deterministic per seed.
pub(crate) fn throwaway_key(seed: u64) -> SignedSecretKey {
    let mut sub = SubkeyParamsBuilder::default();
    sub.key_type(KeyType::Ed25519Legacy).can_sign(true);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("kmatrix test <test@kmatrix.invalid>".into())
        .subkeys(vec![sub.build().unwrap()]);
    params
        .build()
        .unwrap()
        .generate(StdRng::seed_from_u64(seed))
        .unwrap()
}

fn keyring_of(keys: &[&SignedSecretKey]) -> Keyring {
    let mut bytes = Vec::new();
    for key in keys {
        SignedPublicKey::from((*key).clone())
            .to_writer(&mut bytes)
            .unwrap();
    }
    Keyring::from_bytes("throwaway.gpg", &bytes).unwrap()
}

fn clearsign(text: &str, key: &SignedSecretKey, by_subkey: bool) -> String {
    let rng = StdRng::seed_from_u64(7);
    let msg = if by_subkey {
        CleartextSignedMessage::sign(rng, text, &key.secret_subkeys[0].key, &Password::empty())
    } else {
        CleartextSignedMessage::sign(rng, text, &key.primary_key, &Password::empty())
    };
    msg.unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap()
}

fn is_bad(err: &DebianError) -> bool {
    matches!(err, DebianError::BadSignature { .. }) && err.is_verification_failure()
}

#[test]
fn real_inrelease_verifies_with_real_keyring() {
    let keyring = debian_keyring();
    let signed = verify(&keyring, FIXTURE).unwrap();
    assert!(signed.starts_with("Origin: Debian\n"), "{}", &signed[..40]);
    assert!(signed.contains("\nCodename: bullseye-security\n"));
    assert!(!signed.contains("PGP") && !signed.contains('\r'));
    // The verified text parses exactly like the armour-stripped file.
    let parsed = release::parse_release(&signed);
    assert!(parsed.sha256.len() > 100);
    assert_eq!(Some(parsed), release::parse_inrelease(FIXTURE));
}

/// Prints the cost (run with `--release --nocapture` for real figures);
/// fails only on a pathological slowdown.
#[test]
fn verification_timing() {
    let start = Instant::now();
    let keyring = debian_keyring();
    let loaded = start.elapsed();
    verify(&keyring, FIXTURE).unwrap();
    let first = start.elapsed() - loaded;
    let again = Instant::now();
    verify(&keyring, FIXTURE).unwrap();
    let next = again.elapsed();
    eprintln!("keyring load {loaded:?}, first verify {first:?}, next verify {next:?}");
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
}

#[test]
fn one_changed_byte_is_a_bad_signature() {
    let keyring = debian_keyring();
    // A hex digit in the SHA256 list, and a letter in a header field.
    for (from, to) in [
        (" e3b0c442", " e3b0c443"),
        ("Label: Debian", "Label: Debiao"),
    ] {
        let tampered = FIXTURE.replacen(from, to, 1);
        assert_ne!(tampered, FIXTURE);
        let err = verify(&keyring, &tampered).unwrap_err();
        assert!(is_bad(&err), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(URL) && msg.contains(DEFAULT_KEYRING), "{msg}");
        assert!(
            msg.contains("does not verify") && msg.contains("signed text does not match"),
            "{msg}"
        );
    }
}

#[test]
fn removed_signature_block_is_unsigned() {
    let keyring = debian_keyring();
    let start = FIXTURE.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    for text in [
        &FIXTURE[..start],
        release::strip_clearsign(FIXTURE).unwrap().as_str(),
    ] {
        let err = verify(&keyring, text).unwrap_err();
        assert!(
            matches!(err, DebianError::UnsignedRelease { .. }) && err.is_verification_failure(),
            "{err}"
        );
        assert!(err.to_string().contains(URL));
    }
}

#[test]
fn foreign_keyring_is_a_bad_signature() {
    let err = verify(&keyring_of(&[&throwaway_key(1)]), FIXTURE).unwrap_err();
    assert!(is_bad(&err), "{err}");
    assert!(
        err.to_string().contains("not in the keyring")
            || err.to_string().contains("no signing key")
    );
    assert!(err.to_string().contains("throwaway.gpg"), "{err}");
}

#[test]
fn expired_keys_do_not_count() {
    let keyring = debian_keyring();
    // 2029-06-01: the bullseye key has expired, the bookworm one has not.
    keyring
        .verify_inrelease_at(FIXTURE, URL, 1_874_966_400)
        .unwrap();
    // 2031-06-01: both have.
    let err = keyring
        .verify_inrelease_at(FIXTURE, URL, 1_938_038_400)
        .unwrap_err();
    assert!(is_bad(&err), "{err}");
    assert!(err.to_string().contains("expired on 20"), "{err}");
}

#[test]
fn cleartext_framework_normalisations() {
    let keyring = debian_keyring();
    let expected = verify(&keyring, FIXTURE).unwrap();
    // CRLF line ends and trailing blanks are not covered by the signature.
    let crlf = FIXTURE.replace('\n', "\r\n");
    assert_eq!(verify(&keyring, &crlf).unwrap(), expected);
    let blanks = FIXTURE.replacen(
        "Codename: bullseye-security\n",
        "Codename: bullseye-security \t\n",
        1,
    );
    assert_eq!(verify(&keyring, &blanks).unwrap(), expected);
    // Unsigned text before the armour or after the signature is refused.
    let before = format!("Codename: evil\n{FIXTURE}");
    assert!(is_bad(&verify(&keyring, &before).unwrap_err()));
    let after = format!(
        "{FIXTURE}SHA256:\n {} 1 main/binary-amd64/Packages\n",
        "0".repeat(64)
    );
    assert!(is_bad(&verify(&keyring, &after).unwrap_err()));
}

#[test]
fn oversized_text_is_refused_before_parsing() {
    let huge = format!("{FIXTURE}{}", "\n".repeat(MAX_CLEARSIGNED_BYTES));
    let err = verify(&debian_keyring(), &huge).unwrap_err();
    assert!(
        is_bad(&err) && err.to_string().contains("accepted"),
        "{err}"
    );
}

#[test]
fn dash_escaped_lines_are_unescaped_and_signed() {
    let key = throwaway_key(2);
    let keyring = keyring_of(&[&key]);
    let text = "Origin: Test\n-----BEGIN PGP SIGNATURE-----\n- x\nlast";
    let signed = clearsign(text, &key, false);
    assert!(
        signed.contains("\n- -----BEGIN PGP SIGNATURE-----\n- - x\n"),
        "{signed}"
    );
    assert_eq!(verify(&keyring, &signed).unwrap(), text);
    // Dropping the escape changes the signed text.
    let unescaped = signed.replacen("\n- - x\n", "\n- x\n", 1);
    assert!(is_bad(&verify(&keyring, &unescaped).unwrap_err()));
}

#[test]
fn subkey_signatures_and_multiple_signatures() {
    let ours = throwaway_key(3);
    let theirs = throwaway_key(4);
    let text = "Origin: Test\nSuite: x\n";
    let by_subkey = clearsign(text, &ours, true);
    assert_eq!(verify(&keyring_of(&[&ours]), &by_subkey).unwrap(), text);
    // Two signatures, only one by a key we know: accepted.
    let msg = CleartextSignedMessage::new_many(text, |data| {
        let mut rng = StdRng::seed_from_u64(9);
        let sign = |key: &SignedSecretKey, rng: &mut StdRng| {
            CleartextSignedMessage::sign(&mut *rng, data, &key.primary_key, &Password::empty())
                .map(|m| m.signatures()[0].clone())
        };
        Ok(vec![sign(&theirs, &mut rng)?, sign(&ours, &mut rng)?])
    })
    .unwrap()
    .to_armored_string(ArmorOptions::default())
    .unwrap();
    verify(&keyring_of(&[&ours]), &msg).unwrap();
    let err = verify(&keyring_of(&[&throwaway_key(5)]), &msg).unwrap_err();
    assert!(is_bad(&err), "{err}");
}

#[test]
fn keyring_files_binary_armored_and_broken() {
    let real = debian_keyring();
    assert!(real.fingerprints().len() >= 3, "{real:?}");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (throwaway_key(6), throwaway_key(8));
    let armored: String = [&a, &b]
        .iter()
        .map(|k| {
            SignedPublicKey::from((*k).clone())
                .to_armored_string(ArmorOptions::default())
                .unwrap()
        })
        .collect();
    let path = dir.path().join("two.asc");
    std::fs::write(&path, format!("comment\n{armored}")).unwrap();
    let loaded = Keyring::load(&path).unwrap();
    assert_eq!(loaded.fingerprints(), keyring_of(&[&a, &b]).fingerprints());
    assert_eq!(loaded.path(), path);

    let missing = dir.path().join("missing.gpg");
    let err = Keyring::load(&missing).unwrap_err();
    assert!(matches!(err, DebianError::ReadKeyring { .. }), "{err}");
    assert!(err.to_string().contains("missing.gpg"), "{err}");
    let garbage = dir.path().join("garbage.gpg");
    std::fs::write(&garbage, b"not a keyring").unwrap();
    let err = Keyring::load(&garbage).unwrap_err();
    assert!(matches!(err, DebianError::InvalidKeyring { .. }), "{err}");
    assert!(err.to_string().contains("garbage.gpg"), "{err}");
}

#[test]
fn dates_for_messages() {
    assert_eq!(date(0), "1970-01-01");
    assert_eq!(date(NOW), "2026-12-01");
    assert_eq!(date(951_782_400), "2000-02-29");
}
