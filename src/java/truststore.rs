//! The Java trust store (`/etc/ssl/certs/java/cacerts`), written by the builder.
//!
//! Debian makes it in ca-certificates-java's maintainer script by running `keytool` on a JVM,
//! which a lucid build never does. We write it ourselves from the same PEM certificates as the
//! OpenSSL bundle, as JKS: a format the JVM opens without a password (the default trust manager
//! passes none) and in which every certificate is visible. A PKCS12 store written with a password
//! would hide its certificates from such a JVM (0 anchors), which is the trap this avoids.
//!
//! JKS layout (big-endian): magic `FEEDFEED`, version 2, entry count, then per trusted-certificate
//! entry: tag 2, alias (Java `writeUTF`), creation time in milliseconds, certificate type `X.509`,
//! DER length and bytes; last, SHA-1 over the password as UTF-16BE, the words "Mighty Aphrodite"
//! and everything before. The digest is computed with `changeit`, the conventional cacerts
//! password, so `keytool -list -storepass changeit` verifies it; a JVM opening it without a
//! password skips the check. Entries are sorted by alias and stamped with the build's
//! `SOURCE_DATE_EPOCH`, so the same certificates always give the same bytes.

use anyhow::{Context, Result, bail};
use sha1::{Digest, Sha1};

/// Where Debian's JVMs look for the store (their `lib/security/cacerts` links here).
pub const PATH: &str = "etc/ssl/certs/java/cacerts";
/// The password the integrity digest is made with: the JDK's documented default.
pub const PASSWORD: &str = "changeit";

const MAGIC: u32 = 0xFEED_FEED;
const VERSION: u32 = 2;
const TRUSTED_CERT: u32 = 2;

/// One trusted certificate: its alias (lower case: JKS aliases are case-insensitive) and DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub alias: String,
    pub der: Vec<u8>,
}

/// The anchors in the PEM files `certs` (`(path, content)`, as
/// [`crate::rootfs::system::ca_certificates`] returns them), aliased as ca-certificates-java does:
/// `debian:<file name>.pem`, with ` 2`, ` 3`... for further certificates in one file.
pub fn anchors_from_pem(certs: &[(String, impl AsRef<[u8]>)]) -> Result<Vec<Anchor>> {
    let mut out = Vec::new();
    for (path, data) in certs {
        let text = std::str::from_utf8(data.as_ref()).with_context(|| format!("{path}: not a PEM text file"))?;
        let stem = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".crt").to_ascii_lowercase();
        let ders =
            crate::formats::pem::certificates(text).with_context(|| format!("{path}: malformed PEM certificate"))?;
        if ders.is_empty() {
            bail!("{path}: no certificate in it");
        }
        for (i, der) in ders.into_iter().enumerate() {
            let alias = if i == 0 { format!("debian:{stem}.pem") } else { format!("debian:{stem}.pem {}", i + 1) };
            out.push(Anchor { alias, der });
        }
    }
    out.sort_by(|a, b| a.alias.cmp(&b.alias));
    if let Some(w) = out.windows(2).find(|w| w[0].alias == w[1].alias) {
        bail!("two CA certificates would share the trust store alias {:?}", w[0].alias);
    }
    Ok(out)
}

/// Java's `DataOutputStream.writeUTF` for the ASCII-and-beyond aliases we write (modified UTF-8
/// equals UTF-8 for every character except NUL and supplementary ones, which are refused).
fn write_utf(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.chars().any(|c| c == '\0' || c as u32 > 0xFFFF) {
        bail!("{s:?} cannot be written as a JKS string");
    }
    let len = u16::try_from(s.len()).with_context(|| format!("{s:?} is too long for a JKS string"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A JKS store holding `anchors` as trusted certificates, all created at `epoch` (seconds).
pub fn jks(anchors: &[Anchor], epoch: i64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    let count = u32::try_from(anchors.len()).context("too many certificates")?;
    out.extend_from_slice(&count.to_be_bytes());
    let millis = epoch.max(0).saturating_mul(1000);
    for a in anchors {
        out.extend_from_slice(&TRUSTED_CERT.to_be_bytes());
        write_utf(&mut out, &a.alias)?;
        out.extend_from_slice(&millis.to_be_bytes());
        write_utf(&mut out, "X.509")?;
        let len = u32::try_from(a.der.len()).context("certificate too large")?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&a.der);
    }
    let mut h = Sha1::new();
    for unit in PASSWORD.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(b"Mighty Aphrodite");
    h.update(&out);
    out.extend_from_slice(&h.finalize());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// A PEM block around a tiny DER SEQUENCE standing in for a certificate (the store copies DER
    /// as it is; the JVM-side check is in tests/build_java.rs).
    fn pem(n: usize) -> String {
        let der = vec![0x30u8, 0x03, 0x02, 0x01, n as u8];
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }

    #[test]
    fn layout_digest_and_order() {
        let certs = vec![
            ("usr/share/ca-certificates/mozilla/B_Root.crt".to_string(), pem(2)),
            ("usr/share/ca-certificates/mozilla/A_Root.crt".to_string(), format!("{}{}", pem(1), pem(3))),
        ];
        let anchors = anchors_from_pem(&certs).unwrap();
        let aliases: Vec<_> = anchors.iter().map(|a| a.alias.as_str()).collect();
        assert_eq!(aliases, ["debian:a_root.pem", "debian:a_root.pem 2", "debian:b_root.pem"]);
        let store = jks(&anchors, 1_700_000_000).unwrap();
        assert_eq!(&store[..12], &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 3]);
        // First entry: tag, alias, time, type, DER.
        assert_eq!(&store[12..16], &[0, 0, 0, 2]);
        assert_eq!(&store[16..18], &[0, 17]);
        assert_eq!(&store[18..35], b"debian:a_root.pem");
        assert_eq!(&store[35..43], &1_700_000_000_000i64.to_be_bytes());
        assert_eq!(&store[43..50], b"\x00\x05X.509");
        assert_eq!(&store[50..54], &[0, 0, 0, 5]);
        // The trailing digest is SHA-1(password UTF-16BE, "Mighty Aphrodite", body).
        let (body, digest) = store.split_at(store.len() - 20);
        let mut h = Sha1::new();
        h.update(b"\0c\0h\0a\0n\0g\0e\0i\0t");
        h.update(b"Mighty Aphrodite");
        h.update(body);
        assert_eq!(digest, h.finalize().as_slice());
        assert_eq!(jks(&anchors, 1_700_000_000).unwrap(), store, "not deterministic");
    }

    #[test]
    fn bad_pem_names_the_file() {
        let certs = vec![("x/Broken.crt".to_string(), "-----BEGIN CERTIFICATE-----\n!!!\n".to_string())];
        let e = format!("{:#}", anchors_from_pem(&certs).unwrap_err());
        assert!(e.contains("x/Broken.crt"), "{e}");
        let certs = vec![("x/Empty.crt".to_string(), "nothing".to_string())];
        assert!(anchors_from_pem(&certs).unwrap_err().to_string().contains("x/Empty.crt"));
    }
}
