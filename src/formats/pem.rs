//! PEM certificate files (RFC 7468): the CA certificates Debian ships and those a spec's `trust:`
//! adds, read for the OpenSSL bundle's checks and the Java trust store.

use anyhow::{Context, Result, bail};
use base64::Engine;

/// The label of the first block in `text` that is not a certificate (`PRIVATE KEY`...): a file
/// given as trust anchors must hold certificates only, or its key would ship in every image.
pub fn other_block(text: &str) -> Option<&str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .find(|label| *label != "CERTIFICATE")
}

/// The DER bodies of the `CERTIFICATE` blocks in a PEM text.
pub fn certificates(text: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                let der = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()).context("bad base64")?;
                if der.first() != Some(&0x30) {
                    bail!("the certificate is not a DER SEQUENCE");
                }
                out.push(der);
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    if body.is_some() {
        bail!("a BEGIN CERTIFICATE block has no END line");
    }
    Ok(out)
}
