//! Verification of clearsigned `InRelease` files against a [`Keyring`].
//!
//! rPGP's `CleartextSignedMessage` implements the cleartext signature
//! framework (RFC 4880 §7 / RFC 9580 §7): it undoes dash-escaping, strips
//! trailing blanks and hashes the text with CRLF line ends; it rejects text
//! before the armour header and data after the signature block. We decide
//! which signatures count: a text signature with a strong hash, made by a
//! key of the keyring (or a signing subkey) that was valid when it signed
//! and still is.

use std::time::{SystemTime, UNIX_EPOCH};

use pgp::composed::CleartextSignedMessage;
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::KeyDetails;

use crate::DebianError;
use crate::keyring::{Keyring, Signer};

const SIGNATURE_BEGIN: &str = "-----BEGIN PGP SIGNATURE-----";

/// Largest clearsigned text we parse. Real `InRelease` files are 30-200 KB;
/// rPGP 0.21 reads the cleartext in time quadratic in its line count, so an
/// unbounded (hostile) file could stall us before any signature is checked.
const MAX_CLEARSIGNED_BYTES: usize = 1024 * 1024;

impl Keyring {
    /// Verifies the clearsigned `text` of the `InRelease` at `url` and
    /// returns the signed text (dash-escaping undone, LF line ends, trailing
    /// blanks removed, exactly as covered by the signature). Only that text
    /// may be trusted; nothing outside it is returned.
    ///
    /// The file is accepted if at least one of its signatures verifies with
    /// a key (or signing subkey) of this keyring that is neither expired nor
    /// revoked; signatures by other keys are ignored.
    ///
    /// Errors: [`DebianError::UnsignedRelease`] if there is no signature,
    /// [`DebianError::BadSignature`] if none is valid.
    pub fn verify_inrelease(&self, text: &str, url: &str) -> Result<String, DebianError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_inrelease_at(text, url, now)
    }

    /// [`Keyring::verify_inrelease`] at `now` (seconds since the Unix epoch).
    pub(crate) fn verify_inrelease_at(
        &self,
        text: &str,
        url: &str,
        now: u64,
    ) -> Result<String, DebianError> {
        let unsigned = || DebianError::UnsignedRelease {
            url: url.to_string(),
        };
        let bad = |reason: String| DebianError::BadSignature {
            url: url.to_string(),
            keyring: self.path().to_path_buf(),
            reason,
        };
        if !text.lines().any(|l| l.starts_with(SIGNATURE_BEGIN)) {
            return Err(unsigned());
        }
        if text.len() > MAX_CLEARSIGNED_BYTES {
            return Err(bad(format!(
                "{} bytes is more than the {MAX_CLEARSIGNED_BYTES} accepted for a signed file",
                text.len()
            )));
        }
        let (message, _headers) = CleartextSignedMessage::from_string(text)
            .map_err(|e| bad(format!("malformed clearsigned message: {e}")))?;
        if message.signatures().is_empty() {
            return Err(unsigned());
        }
        let signed = message.signed_text();
        let mut reasons = Vec::new();
        for sig in message.signatures() {
            match self.check(sig, signed.as_bytes(), now) {
                Ok(()) => return Ok(signed.replace("\r\n", "\n")),
                Err(reason) => reasons.push(reason),
            }
        }
        Err(bad(reasons.join("; ")))
    }

    /// Checks one signature over the canonical `data`; `Err` says why it
    /// does not count.
    fn check(&self, sig: &Signature, data: &[u8], now: u64) -> Result<(), String> {
        let ids = sig.issuer_key_id();
        let fps = sig.issuer_fingerprint();
        let issuer = match (fps.first(), ids.first()) {
            (Some(fp), _) => format!("{fp:X}"),
            (None, Some(id)) => upper_hex(id.as_ref()),
            (None, None) => "an unnamed key".to_string(),
        };
        if sig.typ() != Some(SignatureType::Text) {
            return Err(format!(
                "signature by {issuer} is of type {:?}, not a text signature",
                sig.typ()
            ));
        }
        match sig.hash_alg() {
            Some(
                HashAlgorithm::Sha256
                | HashAlgorithm::Sha384
                | HashAlgorithm::Sha512
                | HashAlgorithm::Sha224
                | HashAlgorithm::Sha3_256
                | HashAlgorithm::Sha3_512,
            ) => {}
            other => {
                return Err(format!(
                    "signature by {issuer} uses the weak or unknown hash {other:?}"
                ));
            }
        }
        let created = sig
            .created()
            .map(|t| u64::from(t.as_secs()))
            .ok_or_else(|| format!("signature by {issuer} has no creation time"))?;
        if let Some(valid) = sig.signature_expiration_time().map(|d| d.as_secs())
            && valid != 0
            && created + u64::from(valid) <= now
        {
            return Err(format!(
                "signature by {issuer} expired on {}",
                date(created + u64::from(valid))
            ));
        }
        let mut problems = Vec::new();
        for cert in self.certs.iter().filter(|c| c.is_named(&ids, &fps)) {
            let signers = match cert.signers() {
                Ok(signers) => signers,
                Err(reason) => {
                    problems.push(format!(
                        "key {:X} is unusable: {reason}",
                        cert.key.primary_key.fingerprint()
                    ));
                    continue;
                }
            };
            for signer in signers.iter().filter(|s| s.is_named(&ids, &fps)) {
                match cert.verify(signer, sig, data) {
                    Ok(()) => match validity(signer, created, now) {
                        Ok(()) => return Ok(()),
                        Err(problem) => problems.push(problem),
                    },
                    Err(e) => problems.push(format!(
                        "it does not verify with key {:X} ({})",
                        signer.fingerprint,
                        describe(&e)
                    )),
                }
            }
        }
        if problems.is_empty() {
            return Err(format!(
                "signature by {issuer}: no signing key with that ID in the keyring"
            ));
        }
        Err(format!("signature by {issuer}: {}", problems.join(", ")))
    }
}

/// Whether `signer` was valid when it signed at `created`, and still is.
fn validity(signer: &Signer, created: u64, now: u64) -> Result<(), String> {
    if created < signer.created {
        return Err(format!(
            "it predates key {:X} (created {})",
            signer.fingerprint,
            date(signer.created)
        ));
    }
    match signer.expires {
        // Like apt, refuse signatures by keys that have expired since.
        Some(end) if end <= created.max(now) => Err(format!(
            "key {:X} expired on {}",
            signer.fingerprint,
            date(end)
        )),
        _ => Ok(()),
    }
}

/// A one-line account of an rPGP verification error.
fn describe(e: &pgp::errors::Error) -> String {
    let text = e.to_string();
    // rPGP reports a digest mismatch as a multi-line assertion.
    if text.contains("invalid signed hash value") {
        return "the signed text does not match the signature".to_string();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `YYYY-MM-DD` (UTC) of a Unix time, for messages.
pub(crate) fn date(secs: u64) -> String {
    // Civil-from-days (proleptic Gregorian), as in Howard Hinnant's notes.
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
