//! In-toto attestations: a Statement (what is claimed, about which digests) in a DSSE envelope
//! signed with the image key, the form cosign attaches (`sha256-<hex>.att`) and in-toto,
//! securesystemslib and sigstore's tools verify.
//!
//! DSSE signs the pre-authentication encoding of the payload and its type, never the JSON of the
//! envelope, so re-serialising an envelope cannot change what was signed.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use super::key::{PrivateKey, PublicKey};

/// The payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement version lucid writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The media type of an attachment holding a DSSE envelope.
pub const MEDIA_TYPE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// At most this many signatures of one envelope are tried.
pub const MAX_SIGNATURES: usize = 8;

/// What the signature covers: `DSSEv1 <len> <type> <len> <body>`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// One subject of a statement: a name (`HOST/REPO`) and a `sha256:` digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub digest: String,
}

/// The statement that `subjects` have `predicate` of `predicate_type`, as JSON bytes.
pub fn statement(subjects: &[Subject], predicate_type: &str, predicate: Value) -> Vec<u8> {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|s| json!({"name": s.name, "digest": {"sha256": s.digest.trim_start_matches("sha256:")}}))
        .collect();
    let v =
        json!({"_type": STATEMENT_TYPE, "subject": subject, "predicateType": predicate_type, "predicate": predicate});
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

/// The envelope of `statement` signed with `key`, as JSON bytes. The key id is empty, as
/// cosign writes it: the verifier names the key it trusts.
pub fn envelope(statement: &[u8], key: &PrivateKey) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = key.sign(&pae(PAYLOAD_TYPE, statement));
    let v = json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": b64.encode(statement),
        "signatures": [{"keyid": "", "sig": b64.encode(sig)}],
    });
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

/// The statement of `envelope` when a signature in it verifies with `key`; an error says why
/// not (malformed, another payload type, no signature by the key).
pub fn open(envelope: &[u8], key: &PublicKey) -> Result<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: Value = serde_json::from_slice(envelope).context("the envelope is not JSON")?;
    let payload_type = v["payloadType"].as_str().context("the envelope has no payloadType")?;
    if payload_type != PAYLOAD_TYPE {
        bail!("the envelope's payloadType is {payload_type:?}, not {PAYLOAD_TYPE:?}");
    }
    let body = b64.decode(v["payload"].as_str().context("the envelope has no payload")?).context("payload")?;
    let signed = pae(payload_type, &body);
    // A few signatures are tried, not thousands: each is an ECDSA verification.
    let ok = v["signatures"].as_array().is_some_and(|sigs| {
        sigs.iter()
            .take(MAX_SIGNATURES)
            .filter_map(|s| s["sig"].as_str())
            .filter_map(|s| b64.decode(s).ok())
            .any(|s| key.verifies(&signed, &s))
    });
    if !ok {
        bail!("no signature in the envelope verifies with {}", key.source());
    }
    let statement: Value = serde_json::from_slice(&body).context("the signed payload is not JSON")?;
    if statement["_type"] != STATEMENT_TYPE {
        bail!("the signed payload is not an in-toto Statement v1");
    }
    Ok(statement)
}

/// Whether `statement` names `digest` in repository `name` among its subjects.
pub fn about(statement: &Value, name: &str, digest: &str) -> bool {
    let hex = digest.trim_start_matches("sha256:");
    statement["subject"].as_array().is_some_and(|s| s.iter().any(|s| s["name"] == name && s["digest"]["sha256"] == hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_verify_only_with_their_key_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let key = |seed: u8| crate::sign::key::test_key(seed, dir.path());
        let (ours, theirs) = (key(3), key(4));
        let subject = Subject { name: "h/r".into(), digest: format!("sha256:{}", "c".repeat(64)) };
        let st = statement(std::slice::from_ref(&subject), "https://slsa.dev/provenance/v1", json!({"x": 1}));
        let env = envelope(&st, &ours);
        let opened = open(&env, &ours.public()).unwrap();
        assert!(about(&opened, "h/r", &subject.digest) && !about(&opened, "h/r", "sha256:dd"));
        assert!(!about(&opened, "h/other", &subject.digest), "another repository");
        assert!(open(&env, &theirs.public()).is_err());
        // The payload changed after signing.
        let mut v: Value = serde_json::from_slice(&env).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        v["payload"] = json!(b64.encode(statement(&[subject], "https://slsa.dev/provenance/v1", json!({"x": 2}))));
        assert!(open(&serde_json::to_vec(&v).unwrap(), &ours.public()).is_err());
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab");
    }
}
