//! The payload a signature covers: sigstore's "simple signing" JSON, as cosign writes and
//! containers/image checks it.
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"HOST/REPO"},
//!              "image":{"docker-manifest-digest":"sha256:..."},
//!              "type":"cosign container image signature"},
//!  "optional":{"creator":"lucid 0.1.0"}}
//! ```
//!
//! lucid writes no timestamp: with RFC 6979 signatures the same key, image and repository give
//! the same payload and signature, so signing again is idempotent. Reading is strict, as
//! containers/image's is: `critical` must hold exactly these three keys.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

/// The `critical.type` of an image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// What a payload claims: the manifest digest and the repository it was signed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub digest: String,
    pub reference: String,
}

/// The payload for `claim`, as bytes (the signature covers exactly these).
pub fn encode(claim: &Claim) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": {"docker-reference": claim.reference},
            "image": {"docker-manifest-digest": claim.digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": {"creator": concat!("lucid ", env!("CARGO_PKG_VERSION"))},
    });
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

/// The object `v` with exactly `keys`, else an error naming what differs.
fn exactly<'a>(v: &'a Value, what: &str, keys: &[&str]) -> Result<&'a Map<String, Value>> {
    let Some(obj) = v.as_object() else { bail!("{what} is not a JSON object") };
    let mut have: Vec<&str> = obj.keys().map(String::as_str).collect();
    have.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    if have != want {
        bail!("{what} has the keys {have:?}, not {want:?}");
    }
    Ok(obj)
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str> {
    obj.get(key).and_then(Value::as_str).ok_or_else(|| anyhow::anyhow!("{what}.{key} is not a string"))
}

/// The claim of a payload, read strictly. Only call this on a payload whose signature verified:
/// before that it is anyone's words.
pub fn decode(bytes: &[u8]) -> Result<Claim> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("the payload is not JSON: {e}"))?;
    let top = v.as_object().ok_or_else(|| anyhow::anyhow!("the payload is not a JSON object"))?;
    let critical = top.get("critical").ok_or_else(|| anyhow::anyhow!("the payload has no `critical`"))?;
    let critical = exactly(critical, "critical", &["identity", "image", "type"])?;
    let kind = string(critical, "type", "critical")?;
    if kind != SIGNATURE_TYPE {
        bail!("critical.type is {kind:?}, not {SIGNATURE_TYPE:?}");
    }
    let image = exactly(&critical["image"], "critical.image", &["docker-manifest-digest"])?;
    let identity = exactly(&critical["identity"], "critical.identity", &["docker-reference"])?;
    Ok(Claim {
        digest: string(image, "docker-manifest-digest", "critical.image")?.to_string(),
        reference: string(identity, "docker-reference", "critical.identity")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_strictly() {
        let claim = Claim { digest: format!("sha256:{}", "a".repeat(64)), reference: "h:5000/lucid/base".into() };
        let bytes = encode(&claim);
        assert_eq!(decode(&bytes).unwrap(), claim);
        assert_eq!(bytes, encode(&claim), "no timestamp: the same claim gives the same bytes");
        // cosign's `"optional": null` reads.
        let cosign = br#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:1"},"type":"cosign container image signature"},"optional":null}"#;
        assert_eq!(decode(cosign).unwrap().reference, "r");
        for bad in [
            &br#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:1"},"type":"other"}}"#[..],
            br#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:1"},"type":"cosign container image signature","extra":1}}"#,
            br#"{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:1"},"type":"cosign container image signature"}}"#,
            br#"{"critical":{"identity":{"docker-reference":7},"image":{"docker-manifest-digest":"sha256:1"},"type":"cosign container image signature"}}"#,
            b"[]",
            b"{",
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
