//! Signed image records of a shared build cache (`oci::buildcache`): an in-toto Statement whose
//! subject is the key of an image's inputs (`build::memo`, a SHA-256) and whose predicate is the
//! record, in a DSSE envelope signed with the runner's key ([`super::dsse`]).
//!
//! Nothing in the lock could check a layer a runner built, so a reader trusts a record only
//! through its signature: the key, the subject (a record filed under one image's key cannot be
//! replayed under another's) and the predicate type must all match.

use anyhow::{Result, bail};
use serde_json::Value;

use super::dsse;
use super::key::{PrivateKey, PublicKey};

/// The predicate type of an image record.
pub const PREDICATE_TYPE: &str = "urn:dev.lucid:build-cache:image-record:v1";
/// The subject name of an image record; its digest is the key of the image's inputs.
const SUBJECT: &str = "lucid-build-cache-image";

/// The envelope of `record` (JSON) filed under the inputs key `key` (hex SHA-256), signed.
pub fn seal(record: &[u8], key: &str, signer: &PrivateKey) -> Result<Vec<u8>> {
    let predicate: Value = serde_json::from_slice(record)?;
    let subject = dsse::Subject { name: SUBJECT.to_string(), digest: format!("sha256:{key}") };
    Ok(dsse::envelope(&dsse::statement(&[subject], PREDICATE_TYPE, predicate), signer))
}

/// The record of `envelope` when `trusted` signed it for the inputs key `key`; an error says
/// why not.
pub fn open(envelope: &[u8], key: &str, trusted: &PublicKey) -> Result<Vec<u8>> {
    let statement = dsse::open(envelope, trusted)?;
    if statement["predicateType"] != PREDICATE_TYPE {
        bail!("the signed statement is not an image record ({PREDICATE_TYPE})");
    }
    if !dsse::about(&statement, SUBJECT, key) {
        bail!("the signed record is of other image inputs than {key}");
    }
    Ok(serde_json::to_vec(&statement["predicate"])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_with_its_key_and_for_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (crate::sign::key::test_key(5, dir.path()), crate::sign::key::test_key(6, dir.path()));
        let (key, other) = ("a".repeat(64), "b".repeat(64));
        let record = br#"{"layers":[],"manifest_digest":"sha256:00"}"#;
        let sealed = seal(record, &key, &ours).unwrap();
        let opened: Value = serde_json::from_slice(&open(&sealed, &key, &ours.public()).unwrap()).unwrap();
        assert_eq!(opened, serde_json::from_slice::<Value>(record).unwrap());
        assert!(open(&sealed, &key, &theirs.public()).unwrap_err().to_string().contains("no signature"));
        assert!(open(&sealed, &other, &ours.public()).unwrap_err().to_string().contains("other image inputs"));
        // A signed statement of another kind (an attestation) is not a record.
        let subject = dsse::Subject { name: SUBJECT.into(), digest: format!("sha256:{key}") };
        let att = dsse::envelope(&dsse::statement(&[subject], "https://slsa.dev/provenance/v1", Value::Null), &ours);
        assert!(open(&att, &key, &ours.public()).is_err());
    }
}
