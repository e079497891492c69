//! The signed `InRelease` file: OpenPGP verification against a keyring, then parsing.
//!
//! We check what `gpgv` and apt would, because the pgp crate leaves policy to its caller: the
//! signing key (primary, or a signing-capable subkey with a valid binding and back-signature)
//! must be neither revoked nor expired, the signature must not use a broken hash (MD5, SHA-1,
//! RIPEMD-160) and must not have expired itself, and the Release must still be within its
//! `Valid-Until`. Only the text that the signature covers is parsed (the pgp crate hands it back
//! with CRLF line ends, which we undo).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag};

use super::control;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    /// `Date`, seconds since the epoch.
    pub date: i64,
    /// `Valid-Until`, seconds since the epoch, when the archive sets one.
    pub valid_until: Option<i64>,
    /// Index path below `dists/<suite>/` -> (SHA-256 hex, size).
    pub sha256: BTreeMap<String, (String, u64)>,
    /// Fingerprint (upper-case hex) of the key that made the accepted signature.
    pub signed_by: String,
    /// Fingerprint (upper-case hex) of that key's certificate (its primary key): what a spec
    /// pins (`debian.signers`) and what the lock records.
    pub signer: String,
}

impl Release {
    /// `bookworm`, or `stable (bookworm)` when Suite and Codename differ, for messages.
    pub fn name(&self) -> String {
        match (self.suite.as_str(), self.codename.as_str()) {
            (s, c) if s == c || c.is_empty() => s.to_string(),
            ("", c) => c.to_string(),
            (s, c) => format!("{s} ({c})"),
        }
    }
}

/// Clock skew we tolerate for a Release dated in the future (apt refuses such files too).
const MAX_FUTURE_SKEW: i64 = 24 * 3600;

/// Verifies the clearsigned `data` against `keyring` (binary or ASCII-armoured, any number of
/// keys) at time `now`, then parses it. `label` names the file in errors (for example
/// `http://…/dists/bookworm/InRelease`).
pub fn verify_inrelease(data: &[u8], keyring: &[u8], now: i64, label: &str) -> Result<Release> {
    clearsigned(data, label)?;
    let keys = parse_keyring(keyring).with_context(|| format!("{label}: cannot read the keyring"))?;
    verify_inrelease_keys(data, &keys, now, label)
}

fn clearsigned(data: &[u8], label: &str) -> Result<CleartextSignedMessage> {
    let text = std::str::from_utf8(data).with_context(|| format!("{label}: not UTF-8 text"))?;
    let (msg, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| anyhow::anyhow!("{label}: not a clearsigned OpenPGP message: {e}"))?;
    Ok(msg)
}

/// [`verify_inrelease`] with the keyring already read (and, for a spec that pins its signers,
/// narrowed by [`pinned_keys`]).
pub fn verify_inrelease_keys(data: &[u8], keys: &[SignedPublicKey], now: i64, label: &str) -> Result<Release> {
    let msg = clearsigned(data, label)?;
    let signed = msg.signed_text();
    let (signed_by, signer) = check_signatures(msg.signatures(), signed.as_bytes(), keys, now)
        .map_err(|reasons| anyhow::anyhow!("{label}: no valid signature from a key in the keyring: {reasons}"))?;
    let mut release = parse_release(&signed.replace("\r\n", "\n"), label)?;
    release.signed_by = signed_by;
    release.signer = signer;
    if let Some(until) = release.valid_until
        && now > until
    {
        bail!(
            "{label}: the Release of suite {} expired at {} (Valid-Until); it is now {}. The mirror is stale or \
             replaying an old Release",
            release.name(),
            fmt_time(until),
            fmt_time(now)
        );
    }
    if release.date > now + MAX_FUTURE_SKEW {
        bail!(
            "{label}: the Release of suite {} is dated {}, in the future (it is now {}); check the clock",
            release.name(),
            fmt_time(release.date),
            fmt_time(now)
        );
    }
    Ok(release)
}

/// Every key of a keyring; keys the pgp crate cannot parse are skipped, since one exotic key
/// must not stop the others from verifying.
pub fn parse_keyring(keyring: &[u8]) -> Result<Vec<SignedPublicKey>> {
    let keys: Vec<SignedPublicKey> = if keyring.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (iter, _) = SignedPublicKey::from_armor_many(keyring).map_err(|e| anyhow::anyhow!("{e}"))?;
        iter.filter_map(Result::ok).collect()
    } else {
        SignedPublicKey::from_bytes_many(keyring).map_err(|e| anyhow::anyhow!("{e}"))?.filter_map(Result::ok).collect()
    };
    if keys.is_empty() {
        bail!("the keyring holds no usable OpenPGP public key");
    }
    Ok(keys)
}

/// The fingerprint of a certificate (its primary key), upper-case hex.
pub fn fingerprint(key: &SignedPublicKey) -> String {
    format!("{:X}", key.primary_key.fingerprint())
}

/// The keys of `keys` whose certificate fingerprint is one of `pins` (already canonical); with no
/// pins, all of them. A keyring holding none of the pinned certificates is refused: the file at
/// the configured path is not the keyring the spec was written for (replaced, or the wrong one).
/// Keys that are not pinned are left out, so they can never vouch for a Release.
pub fn pinned_keys(keys: Vec<SignedPublicKey>, pins: &[String], keyring: &str) -> Result<Vec<SignedPublicKey>> {
    if pins.is_empty() {
        return Ok(keys);
    }
    let held: Vec<String> = keys.iter().map(fingerprint).collect();
    let kept: Vec<SignedPublicKey> = keys.into_iter().filter(|k| pins.contains(&fingerprint(k))).collect();
    if kept.is_empty() {
        bail!(
            "the keyring {keyring} holds none of the signer keys the spec pins (debian.signers: {}); it holds {}. \
             The file was replaced or is not the archive's keyring: restore the archive keyring package's file, \
             or, if the archive really changed its keys, pin the new fingerprints in the spec",
            pins.join(", "),
            if held.is_empty() { "no key".to_string() } else { held.join(", ") }
        );
    }
    Ok(kept)
}

/// Returns the fingerprints of the key behind the first acceptable signature and of its
/// certificate, or a description of why each signature was refused.
fn check_signatures(
    sigs: &[Signature],
    signed: &[u8],
    keys: &[SignedPublicKey],
    now: i64,
) -> std::result::Result<(String, String), String> {
    let mut reasons = Vec::new();
    if sigs.is_empty() {
        return Err("the message carries no signature".into());
    }
    for sig in sigs {
        let issuer = sig
            .issuer_fingerprint()
            .first()
            .map(|f| format!("{f:X}"))
            .or_else(|| sig.issuer_key_id().first().map(|k| k.to_string()))
            .unwrap_or_else(|| "unknown issuer".into());
        let who = format!("signature by {issuer}");
        match sig.hash_alg() {
            Some(h @ (HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160 | HashAlgorithm::None)) => {
                reasons.push(format!("{who}: uses {h}, which is refused as insecure"));
                continue;
            }
            None => {
                reasons.push(format!("{who}: unknown signature version"));
                continue;
            }
            _ => {}
        }
        if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
            reasons.push(format!("{who}: not a document signature ({:?})", sig.typ()));
            continue;
        }
        if let (Some(created), Some(exp)) = (sig.created(), sig.signature_expiration_time()) {
            let secs = std::time::Duration::from(exp).as_secs() as i64;
            if secs > 0 && now >= i64::from(created.as_secs()) + secs {
                reasons
                    .push(format!("{who}: the signature expired at {}", fmt_time(i64::from(created.as_secs()) + secs)));
                continue;
            }
        }
        let mut matched = false;
        for key in keys {
            let primary_matches = issued_by(sig, &key.primary_key);
            let subs: Vec<&SignedPublicSubKey> = key.public_subkeys.iter().filter(|s| issued_by(sig, &s.key)).collect();
            if !primary_matches && subs.is_empty() {
                continue;
            }
            matched = true;
            let fpr = format!("{:X}", key.primary_key.fingerprint());
            let flags_sign = match primary_status(key, now) {
                Ok(sign) => sign,
                Err(why) => {
                    reasons.push(format!("{who}: key {fpr} {why}"));
                    continue;
                }
            };
            if primary_matches {
                if !flags_sign {
                    reasons.push(format!("{who}: key {fpr} is not allowed to sign"));
                } else if sig.verify(&key.primary_key, signed).is_ok() {
                    return Ok((fpr.clone(), fpr));
                } else {
                    reasons.push(format!("{who}: BAD signature (content does not match) for key {fpr}"));
                }
            }
            for sub in subs {
                let sfpr = format!("{:X}", sub.key.fingerprint());
                if let Err(why) = subkey_status(key, sub, now) {
                    reasons.push(format!("{who}: subkey {sfpr} of {fpr} {why}"));
                } else if sig.verify(&sub.key, signed).is_ok() {
                    return Ok((sfpr, fpr.clone()));
                } else {
                    reasons.push(format!("{who}: BAD signature (content does not match) for subkey {sfpr}"));
                }
            }
        }
        if !matched {
            reasons.push(format!("{who}: no such key in the keyring"));
        }
    }
    Err(reasons.join("; "))
}

/// Whether `sig` names `key` as its issuer (or names no issuer at all, so any key may try).
fn issued_by(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fprs = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    if fprs.is_empty() && ids.is_empty() {
        return true;
    }
    fprs.iter().any(|f| **f == key.fingerprint()) || ids.iter().any(|k| **k == key.legacy_key_id())
}

/// Checks the primary key: not revoked, a valid self-signature, not expired. Returns whether
/// its newest self-signature allows signing (no key flags at all counts as allowed, as gpg
/// treats old keys).
fn primary_status(key: &SignedPublicKey, now: i64) -> std::result::Result<bool, String> {
    let pk = &key.primary_key;
    if key.details.revocation_signatures.iter().any(|s| s.verify_key(pk).is_ok()) {
        return Err("is revoked".into());
    }
    let mut newest: Option<&Signature> = None;
    let mut self_sigs: Vec<&Signature> = Vec::new();
    for user in &key.details.users {
        for s in &user.signatures {
            if issued_by(s, pk)
                && s.typ() != Some(SignatureType::CertRevocation)
                && s.verify_certification(pk, Tag::UserId, &user.id).is_ok()
            {
                self_sigs.push(s);
            }
        }
    }
    for s in &key.details.direct_signatures {
        if s.verify_key(pk).is_ok() {
            self_sigs.push(s);
        }
    }
    for s in self_sigs {
        if newest.is_none_or(|n| s.created().map(|t| t.as_secs()) > n.created().map(|t| t.as_secs())) {
            newest = Some(s);
        }
    }
    let Some(sig) = newest else { return Err("has no valid self-signature".into()) };
    check_expiry(i64::from(pk.created_at().as_secs()), sig, now)?;
    let flags = sig.key_flags();
    let has_flags = sig
        .config()
        .is_some_and(|c| c.hashed_subpackets().any(|p| matches!(p.data, pgp::packet::SubpacketData::KeyFlags(_))));
    Ok(!has_flags || flags.sign())
}

/// Checks a subkey: not revoked, a valid binding that allows signing, with a valid primary-key
/// back-signature (so nobody can attach someone else's signing key to their certificate), and
/// not expired.
fn subkey_status(key: &SignedPublicKey, sub: &SignedPublicSubKey, now: i64) -> std::result::Result<(), String> {
    let pk = &key.primary_key;
    if sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation) && s.verify_subkey_binding(pk, &sub.key).is_ok())
    {
        return Err("is revoked".into());
    }
    let mut newest: Option<&Signature> = None;
    for s in &sub.signatures {
        if s.typ() == Some(SignatureType::SubkeyBinding)
            && s.verify_subkey_binding(pk, &sub.key).is_ok()
            && newest.is_none_or(|n| s.created().map(|t| t.as_secs()) > n.created().map(|t| t.as_secs()))
        {
            newest = Some(s);
        }
    }
    let Some(binding) = newest else { return Err("has no valid binding signature".into()) };
    if !binding.key_flags().sign() {
        return Err("is not a signing subkey".into());
    }
    match binding.embedded_signature() {
        Some(back) if back.verify_primary_key_binding(&sub.key, pk).is_ok() => {}
        _ => return Err("has no valid back-signature".into()),
    }
    check_expiry(i64::from(sub.key.created_at().as_secs()), binding, now)
}

fn check_expiry(created: i64, sig: &Signature, now: i64) -> std::result::Result<(), String> {
    if let Some(d) = sig.key_expiration_time() {
        let secs = std::time::Duration::from(d).as_secs() as i64;
        if secs > 0 && now >= created + secs {
            return Err(format!("expired at {}", fmt_time(created + secs)));
        }
    }
    Ok(())
}

/// Parses the (already verified) text of a Release file.
pub fn parse_release(text: &str, label: &str) -> Result<Release> {
    let paragraphs = control::parse(text).with_context(|| format!("{label}: cannot parse the Release"))?;
    let Some(p) = paragraphs.first() else { bail!("{label}: the Release is empty") };
    let suite = p.get("Suite").unwrap_or_default().to_string();
    let codename = p.get("Codename").unwrap_or_default().to_string();
    if suite.is_empty() && codename.is_empty() {
        bail!("{label}: the Release names neither Suite nor Codename");
    }
    let date = parse_date(p.get("Date").with_context(|| format!("{label}: the Release has no Date"))?)
        .with_context(|| format!("{label}: invalid Date"))?;
    let valid_until =
        p.get("Valid-Until").map(parse_date).transpose().with_context(|| format!("{label}: invalid Valid-Until"))?;
    let mut sha256 = BTreeMap::new();
    for line in p.get("SHA256").unwrap_or_default().lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let [digest, size, path] = parts[..] else { bail!("{label}: malformed SHA256 line {line:?}") };
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{label}: malformed SHA256 digest {digest:?} for {path}");
        }
        let size: u64 = size.parse().with_context(|| format!("{label}: malformed size for {path}"))?;
        sha256.insert(path.to_string(), (digest.to_ascii_lowercase(), size));
    }
    if sha256.is_empty() {
        bail!("{label}: the Release lists no SHA256 digests (MD5/SHA1-only archives are refused)");
    }
    Ok(Release { suite, codename, date, valid_until, sha256, signed_by: String::new(), signer: String::new() })
}

/// Parses the RFC 2822 dates of Release files: `Sat, 10 May 2025 09:12:34 UTC` (also `GMT`,
/// `Z`, `+hhmm`; the weekday is optional).
pub fn parse_date(s: &str) -> Result<i64> {
    let mut parts: Vec<&str> = s.split_whitespace().collect();
    if parts.first().is_some_and(|w| w.ends_with(',')) {
        parts.remove(0);
    }
    let [day, month, year, clock, zone] = parts[..] else { bail!("unrecognised date {s:?}") };
    let month = match month.to_ascii_lowercase().as_str() {
        "jan" => time::Month::January,
        "feb" => time::Month::February,
        "mar" => time::Month::March,
        "apr" => time::Month::April,
        "may" => time::Month::May,
        "jun" => time::Month::June,
        "jul" => time::Month::July,
        "aug" => time::Month::August,
        "sep" => time::Month::September,
        "oct" => time::Month::October,
        "nov" => time::Month::November,
        "dec" => time::Month::December,
        _ => bail!("unrecognised month in {s:?}"),
    };
    let num = |v: &str| v.parse::<i64>().with_context(|| format!("unrecognised date {s:?}"));
    let hms: Vec<&str> = clock.split(':').collect();
    let [h, m, sec] = hms[..] else { bail!("unrecognised time in {s:?}") };
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    let year = i32::try_from(num(year)?).context("year out of range")?;
    let day = u8::try_from(num(day)?).context("day out of range")?;
    let date = time::Date::from_calendar_date(year, month, day).with_context(|| format!("invalid date {s:?}"))?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..61).contains(&sec) {
        bail!("invalid time in {s:?}");
    }
    let offset = match zone {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let v = num(&z[1..])?;
            let secs = (v / 100) * 3600 + (v % 100) * 60;
            if z.starts_with('-') { -secs } else { secs }
        }
        _ => bail!("unrecognised time zone in {s:?}"),
    };
    let midnight = date.midnight().assume_utc().unix_timestamp();
    Ok(midnight + h * 3600 + m * 60 + sec - offset)
}

/// RFC 3339 for messages; the raw number if out of range.
pub fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("Sat, 10 May 2025 09:12:34 UTC").unwrap(), 1_746_868_354);
        assert_eq!(parse_date("10 May 2025 11:12:34 +0200").unwrap(), 1_746_868_354);
        assert!(parse_date("Sat, 31 Feb 2025 09:12:34 UTC").is_err());
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("Sat, 10 May 2025 25:12:34 UTC").is_err());
        assert_eq!(fmt_time(1_746_868_354), "2025-05-10T09:12:34Z");
    }

    #[test]
    fn release_fields() {
        let text = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 May 2025 09:12:34 UTC\n\
                    Valid-Until: Sat, 17 May 2025 09:12:34 UTC\nSHA256:\n \
                    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 12 main/binary-amd64/Packages\n";
        let r = parse_release(text, "R").unwrap();
        assert_eq!((r.suite.as_str(), r.codename.as_str()), ("stable", "bookworm"));
        assert_eq!(r.valid_until, Some(1_746_868_354 + 7 * 86400));
        assert_eq!(r.sha256["main/binary-amd64/Packages"].1, 12);
        assert!(parse_release("Suite: x\nDate: Sat, 10 May 2025 09:12:34 UTC\n", "R").is_err());
        assert!(parse_release("Suite: x\nDate: Sat, 10 May 2025 09:12:34 UTC\nSHA256:\n zz 1 p\n", "R").is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let e = verify_inrelease(b"hello", b"", 0, "X").unwrap_err().to_string();
        assert!(e.contains("X: not a clearsigned"), "{e}");
        assert!(verify_inrelease(&[0xff, 0xfe], b"", 0, "X").is_err());
    }
}
