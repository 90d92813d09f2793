//! OpenPGP keyrings: the trust anchors for `InRelease` signatures.
//!
//! A [`Keyring`] holds the public keys of a keyring file (binary packets, as
//! shipped in `/usr/share/keyrings/`, or ASCII armour). Which of a key's
//! components may sign, and until when, is worked out from its
//! self-signatures the first time a signature names that key: checking
//! them costs RSA operations, and an `InRelease` only ever names a few of
//! the keys.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType, SubpacketData};
use pgp::types::{Fingerprint, KeyDetails, KeyId, Tag};

use crate::DebianError;

/// The keyring used unless another one is configured: Debian's archive keys,
/// from the `debian-archive-keyring` package.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const ARMOR_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// The public keys of an OpenPGP keyring file, used to verify the
/// signatures of `InRelease` files (see [`Keyring::verify_inrelease`]).
pub struct Keyring {
    path: PathBuf,
    pub(crate) certs: Vec<Cert>,
}

/// One public key (certificate) of a keyring.
pub(crate) struct Cert {
    pub(crate) key: SignedPublicKey,
    /// The components allowed to sign, or why there are none; computed on
    /// first use.
    signers: OnceLock<Result<Vec<Signer>, String>>,
}

/// A primary key or subkey that may make document signatures.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    /// `None` for the primary key, else the index into `public_subkeys`.
    subkey: Option<usize>,
    pub(crate) fingerprint: Fingerprint,
    key_id: KeyId,
    /// Creation time, seconds since the Unix epoch.
    pub(crate) created: u64,
    /// End of validity (of the component or its primary), if any.
    pub(crate) expires: Option<u64>,
}

impl Signer {
    /// Whether a signature naming these issuers may come from this key; a
    /// signature naming no issuer may come from any key.
    pub(crate) fn is_named(&self, ids: &[&KeyId], fps: &[&Fingerprint]) -> bool {
        (ids.is_empty() && fps.is_empty())
            || ids.iter().any(|id| **id == self.key_id)
            || fps.iter().any(|fp| **fp == self.fingerprint)
    }
}

impl Keyring {
    /// Loads the keyring file at `path` (binary or ASCII-armoured public
    /// keys). Fails if the file cannot be read or holds no usable public key.
    pub fn load(path: impl AsRef<Path>) -> Result<Keyring, DebianError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| DebianError::ReadKeyring {
            path: path.to_path_buf(),
            source,
        })?;
        Keyring::from_bytes(path, &bytes)
    }

    /// Parses keyring data; `path` names its origin in error messages.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<Keyring, DebianError> {
        let path = path.into();
        let mut certs = Vec::new();
        let mut first_error = None;
        let mut add = |parsed: pgp::errors::Result<SignedPublicKey>| match parsed {
            Ok(key) => certs.push(Cert {
                key,
                signers: OnceLock::new(),
            }),
            // One unreadable key (e.g. an algorithm rPGP lacks) must not
            // disable the others.
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        };
        if is_armored(bytes) {
            let text = String::from_utf8_lossy(bytes);
            for block in armor_blocks(&text) {
                match SignedPublicKey::from_armor_many(block.as_bytes()) {
                    Ok((keys, _headers)) => keys.for_each(&mut add),
                    Err(e) => add(Err(e)),
                }
            }
        } else {
            match SignedPublicKey::from_bytes_many(bytes) {
                Ok(keys) => keys.for_each(&mut add),
                Err(e) => add(Err(e)),
            }
        }
        if certs.is_empty() {
            let reason = match first_error {
                Some(e) => format!("no readable OpenPGP public key ({e})"),
                None => "no OpenPGP public key".to_string(),
            };
            return Err(DebianError::InvalidKeyring { path, reason });
        }
        Ok(Keyring { path, certs })
    }

    /// The file the keys were loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fingerprints (upper-case hex) of the primary keys, in file order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.certs
            .iter()
            .map(|c| format!("{:X}", c.key.primary_key.fingerprint()))
            .collect()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("keys", &self.fingerprints())
            .finish()
    }
}

impl Cert {
    /// Whether the primary key or a subkey is one of the named issuers; a
    /// signature naming no issuer may come from any key.
    pub(crate) fn is_named(&self, ids: &[&KeyId], fps: &[&Fingerprint]) -> bool {
        if ids.is_empty() && fps.is_empty() {
            return true;
        }
        let named = |id: KeyId, fp: Fingerprint| {
            ids.iter().any(|i| **i == id) || fps.iter().any(|f| **f == fp)
        };
        let primary = &self.key.primary_key;
        named(primary.legacy_key_id(), primary.fingerprint())
            || self
                .key
                .public_subkeys
                .iter()
                .any(|s| named(s.key.legacy_key_id(), s.key.fingerprint()))
    }

    /// The components of this key allowed to sign, or why there are none.
    pub(crate) fn signers(&self) -> Result<&[Signer], &str> {
        match self.signers.get_or_init(|| evaluate(&self.key)) {
            Ok(signers) => Ok(signers),
            Err(reason) => Err(reason),
        }
    }

    /// Checks `sig` over `data` with the component `signer` of this key.
    pub(crate) fn verify(
        &self,
        signer: &Signer,
        sig: &Signature,
        data: &[u8],
    ) -> pgp::errors::Result<()> {
        match signer.subkey.and_then(|i| self.key.public_subkeys.get(i)) {
            Some(sub) => sig.verify(&sub.key, data),
            None => sig.verify(&self.key.primary_key, data),
        }
    }
}

/// Works out which components of `key` may sign: the primary key (if its
/// newest valid self-signature allows signing) and each subkey with a valid
/// binding that allows signing and carries a valid back-signature. Revoked
/// keys and subkeys are left out entirely.
fn evaluate(key: &SignedPublicKey) -> Result<Vec<Signer>, String> {
    let primary = &key.primary_key;
    let revoked = key.details.revocation_signatures.iter().any(|sig| {
        sig.typ() == Some(SignatureType::KeyRevocation) && sig.verify_key(primary).is_ok()
    });
    if revoked {
        return Err("the key is revoked".into());
    }
    let self_sig = newest_valid(
        key.details.users.iter().flat_map(|user| {
            user.signatures
                .iter()
                .filter(|sig| sig.is_certification() && !is_revocation(sig))
                .map(move |sig| (sig, user))
        }),
        |sig, user| sig.verify_certification(primary, Tag::UserId, &user.id),
    )
    .or_else(|| {
        // Keys without user IDs carry their metadata in a direct-key signature.
        newest_valid(
            key.details
                .direct_signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::Key))
                .map(|sig| (sig, ())),
            |sig, ()| sig.verify_key(primary),
        )
    })
    .ok_or("no valid self-signature")?;
    let primary_created = u64::from(primary.created_at().as_secs());
    let primary_expires = expiry(primary_created, self_sig);
    let mut signers = Vec::new();
    if may_sign(self_sig) {
        signers.push(Signer {
            subkey: None,
            fingerprint: primary.fingerprint(),
            key_id: primary.legacy_key_id(),
            created: primary_created,
            expires: primary_expires,
        });
    }
    for (i, sub) in key.public_subkeys.iter().enumerate() {
        let revoked = sub.signatures.iter().any(|sig| {
            sig.typ() == Some(SignatureType::SubkeyRevocation)
                && sig.verify_subkey_binding(primary, &sub.key).is_ok()
        });
        let binding = newest_valid(
            sub.signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::SubkeyBinding))
                .map(|sig| (sig, ())),
            |sig, ()| sig.verify_subkey_binding(primary, &sub.key),
        );
        let Some(binding) = binding.filter(|_| !revoked) else {
            continue;
        };
        // A signing subkey must prove it agreed to the binding, or anyone
        // could attach someone else's signing key to their certificate.
        let backsig_ok = binding
            .embedded_signature()
            .is_some_and(|back| back.verify_primary_key_binding(&sub.key, primary).is_ok());
        if !binding.key_flags().sign() || !backsig_ok {
            continue;
        }
        let created = u64::from(sub.key.created_at().as_secs());
        let expires = match (primary_expires, expiry(created, binding)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        signers.push(Signer {
            subkey: Some(i),
            fingerprint: sub.key.fingerprint(),
            key_id: sub.key.legacy_key_id(),
            created,
            expires,
        });
    }
    if signers.is_empty() {
        return Err("no component of the key may sign".into());
    }
    Ok(signers)
}

/// The newest signature of `items` (by creation time) that `check` accepts
/// together with its context; checks newest first, so usually only one
/// signature is verified.
fn newest_valid<'a, C: Copy>(
    items: impl Iterator<Item = (&'a Signature, C)>,
    check: impl Fn(&Signature, C) -> pgp::errors::Result<()>,
) -> Option<&'a Signature> {
    let mut items: Vec<_> = items.collect();
    items.sort_by_key(|(sig, _)| std::cmp::Reverse(created(sig)));
    items
        .into_iter()
        .find(|(sig, context)| check(sig, *context).is_ok())
        .map(|(sig, _)| sig)
}

fn created(sig: &Signature) -> u64 {
    sig.created().map_or(0, |t| u64::from(t.as_secs()))
}

fn is_revocation(sig: &Signature) -> bool {
    sig.typ() == Some(SignatureType::CertRevocation)
}

/// End of validity set by `sig` for a component created at `created`.
fn expiry(created: u64, sig: &Signature) -> Option<u64> {
    let secs = sig.key_expiration_time()?.as_secs();
    // Zero means "does not expire".
    (secs != 0).then(|| created + u64::from(secs))
}

/// Whether a self-signature lets the key sign: keys made before key flags
/// existed carry none and were usable for everything.
fn may_sign(sig: &Signature) -> bool {
    let has_flags = sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    });
    !has_flags || sig.key_flags().sign()
}

/// Armoured keyrings are text (perhaps with comments around the blocks);
/// binary ones start with a packet tag byte that is never valid UTF-8.
fn is_armored(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| text.contains(ARMOR_BEGIN))
}

/// The public-key armour blocks of a text (a file may concatenate several).
fn armor_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(ARMOR_BEGIN) {
        let from = &rest[start..];
        let Some(end) = from.find(ARMOR_END) else {
            // Truncated: let the parser report it.
            blocks.push(from);
            break;
        };
        let end = end + ARMOR_END.len();
        blocks.push(&from[..end]);
        rest = &from[end..];
    }
    blocks
}
