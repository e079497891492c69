//! Signing and verification keys: ECDSA P-256, in the PEM forms sigstore's tools and
//! containers/image read. A private key is PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl pkcs8
//! -topk8 -nocrypt` writes) or SEC1 (`BEGIN EC PRIVATE KEY`, `openssl ecparam -genkey`); a public
//! key is SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`: cosign's `cosign.pub`, and what a
//! `sigstoreSigned` policy's `keyPath` names).
//!
//! A key is named by a file path or by `env://NAME` (cosign's form), the PEM text in environment
//! variable NAME, so a key never has to be written on a command line. Errors name where the key
//! came from and never quote its text.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};

/// Where a key's PEM text is: a file, or an environment variable (`env://NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    File(PathBuf),
    Env(String),
}

impl KeyRef {
    /// `env://NAME` or a path.
    pub fn parse(s: &str) -> Result<KeyRef> {
        match s.strip_prefix("env://") {
            Some("") => bail!("--key env:// names no environment variable (env://NAME)"),
            Some(name) => Ok(KeyRef::Env(name.to_string())),
            None if s.is_empty() => bail!("--key is empty: give a PEM file or env://NAME"),
            None => Ok(KeyRef::File(PathBuf::from(s))),
        }
    }

    /// The PEM text, bounded (a key is well under a page).
    fn read(&self) -> Result<String> {
        const MAX: u64 = 64 << 10;
        match self {
            KeyRef::File(p) => {
                use std::io::Read;
                // Read through a bound, not by the size the file claims: a FIFO or a device has none.
                let file = std::fs::File::open(p).with_context(|| format!("cannot read the key {}", p.display()))?;
                let mut text = String::new();
                file.take(MAX + 1)
                    .read_to_string(&mut text)
                    .with_context(|| format!("cannot read the key {} (not UTF-8 text?)", p.display()))?;
                if text.len() as u64 > MAX {
                    bail!("{} is more than {MAX} bytes: not a PEM key", p.display());
                }
                Ok(text)
            }
            KeyRef::Env(name) => match std::env::var(name) {
                Ok(v) if v.len() as u64 <= MAX => Ok(v),
                Ok(_) => bail!("{self} is too long to be a PEM key"),
                Err(_) => bail!("{self}: the environment variable {name} is not set (or not UTF-8)"),
            },
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::File(p) => write!(f, "{}", p.display()),
            KeyRef::Env(n) => write!(f, "env://{n}"),
        }
    }
}

/// The PEM label of `text`'s first block (`PRIVATE KEY`, `PUBLIC KEY`...), if it has one.
fn label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// A private key to sign with. Its Debug shows where it came from, never the key.
pub struct PrivateKey {
    key: SigningKey,
    from: KeyRef,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.from)
    }
}

impl PrivateKey {
    pub fn load(from: &KeyRef) -> Result<PrivateKey> {
        let text = from.read()?;
        let key = match label(&text) {
            Some("PRIVATE KEY") => SigningKey::from_pkcs8_pem(&text)
                .map_err(|e| anyhow::anyhow!("{from}: not an ECDSA P-256 PKCS#8 private key ({e})"))?,
            Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(&text)
                .map(SigningKey::from)
                .map_err(|e| anyhow::anyhow!("{from}: not an ECDSA P-256 SEC1 private key ({e})"))?,
            Some(l) if l.starts_with("ENCRYPTED") => bail!(
                "{from} is an encrypted key ({l}); lucid reads unencrypted PKCS#8 or SEC1 P-256 keys: keep \
                 one in a secret store and pass it as env://NAME (openssl pkcs8 -topk8 -nocrypt converts)"
            ),
            Some("PUBLIC KEY") => bail!("{from} is a public key: signing needs the private key"),
            Some(l) => bail!("{from} holds a PEM {l:?}, not an ECDSA P-256 private key"),
            None => bail!("{from} is not a PEM key (no -----BEGIN line)"),
        };
        Ok(PrivateKey { key, from: from.clone() })
    }

    /// The ASN.1 DER signature of SHA-256(`payload`). Deterministic (RFC 6979): the same key and
    /// payload give the same bytes, so signing the same image again changes nothing.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(payload);
        sig.to_der().as_bytes().to_vec()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey { key: *self.key.verifying_key(), from: self.from.clone() }
    }
}

/// A public key to verify with.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: VerifyingKey,
    from: KeyRef,
}

impl PublicKey {
    pub fn load(from: &KeyRef) -> Result<PublicKey> {
        let text = from.read()?;
        match label(&text) {
            Some("PUBLIC KEY") => {}
            Some(l) if l.contains("PRIVATE") => {
                bail!("{from} is a private key: verification takes the public key (openssl ec -pubout writes it)")
            }
            Some(l) => bail!("{from} holds a PEM {l:?}, not a public key"),
            None => bail!("{from} is not a PEM key (no -----BEGIN line)"),
        }
        let key = VerifyingKey::from_public_key_pem(&text)
            .map_err(|e| anyhow::anyhow!("{from}: not an ECDSA P-256 public key ({e})"))?;
        Ok(PublicKey { key, from: from.clone() })
    }

    /// Whether `der` is this key's signature of SHA-256(`payload`).
    pub fn verifies(&self, payload: &[u8], der: &[u8]) -> bool {
        Signature::from_der(der).is_ok_and(|sig| self.key.verify(payload, &sig).is_ok())
    }

    /// The key as PEM (SubjectPublicKeyInfo): what a verifier is given.
    pub fn pem(&self) -> Result<String> {
        self.key.to_public_key_pem(LineEnding::LF).context("cannot encode the public key")
    }

    pub fn source(&self) -> &KeyRef {
        &self.from
    }
}

/// A P-256 key made from `seed` (32 bytes of it), written as PKCS#8 PEM into `dir` and loaded as
/// `lucid sign --key` loads one: the unit tests' keys, the same on every run.
#[cfg(test)]
pub(crate) fn test_key(seed: u8, dir: &std::path::Path) -> PrivateKey {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let pem = SigningKey::from_slice(&[seed; 32]).expect("a valid scalar").to_pkcs8_pem(LineEnding::LF).expect("PEM");
    let path = dir.join(format!("{seed}.pem"));
    std::fs::write(&path, pem.as_bytes()).expect("write the test key");
    PrivateKey::load(&KeyRef::File(path)).expect("load the test key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> KeyRef {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        KeyRef::File(p)
    }

    #[test]
    fn signs_and_verifies_and_refuses_the_wrong_forms() {
        use p256::pkcs8::EncodePrivateKey;
        let dir = tempfile::tempdir().unwrap();
        let secret = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let private = PrivateKey::load(&write(dir.path(), "k.pem", &pem)).unwrap();
        let public_pem = private.public().pem().unwrap();
        let public = PublicKey::load(&write(dir.path(), "k.pub", &public_pem)).unwrap();
        let sig = private.sign(b"payload");
        assert_eq!(sig, private.sign(b"payload"), "RFC 6979 signatures are deterministic");
        assert!(public.verifies(b"payload", &sig));
        assert!(!public.verifies(b"payload!", &sig));
        assert!(!public.verifies(b"payload", b"not der"));
        // Each form in the wrong place is refused, naming the file, never quoting the key.
        let err = PrivateKey::load(&write(dir.path(), "pub-as-priv.pem", &public_pem)).unwrap_err().to_string();
        assert!(err.contains("pub-as-priv.pem") && err.contains("public key"), "{err}");
        let err = PublicKey::load(&write(dir.path(), "priv-as-pub.pem", &pem)).unwrap_err().to_string();
        assert!(err.contains("private key") && !err.contains(&pem[40..80]), "{err}");
        let enc =
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        assert!(PrivateKey::load(&write(dir.path(), "enc.key", enc)).unwrap_err().to_string().contains("encrypted"));
        assert!(PrivateKey::load(&write(dir.path(), "junk", "junk")).is_err());
        assert!(format!("{private:?}").contains("k.pem"));
    }

    #[test]
    fn key_references() {
        assert_eq!(KeyRef::parse("env://K").unwrap(), KeyRef::Env("K".into()));
        assert_eq!(KeyRef::parse("k.pem").unwrap(), KeyRef::File("k.pem".into()));
        assert!(KeyRef::parse("env://").is_err() && KeyRef::parse("").is_err());
        let err = PublicKey::load(&KeyRef::Env("LUCID_TEST_NO_SUCH_KEY_VAR".into())).unwrap_err().to_string();
        assert!(err.contains("LUCID_TEST_NO_SUCH_KEY_VAR"), "{err}");
    }
}
