//! Image references, parsed once: the skopeo transports lucid reads and writes.
//!
//! | reference | what it names |
//! | --- | --- |
//! | `oci:DIR[:REF]` | an OCI layout directory, optionally the image its `index.json` tags `REF` |
//! | `docker-archive:FILE[:NAME:TAG]` | a `docker save` tarball (its first image) |
//! | `docker-daemon:NAME[:TAG\|@DIGEST]` | an image of the Docker engine |
//! | `docker://HOST[:PORT]/REPO[:TAG\|@DIGEST]` | an image of a registry (no default host) |
//!
//! Every command takes its image arguments through [`ImageRef::parse`] and reads the fields,
//! so a reference means the same to `verify`, `report`, `diff`, `sbom` and `push`.
//!
//! Where a reference is ambiguous the rule is written down here, once:
//! - `oci:`: the text after the LAST colon is the tag when it holds no `/` (so a directory may
//!   contain colons: `oci:/tmp/a:b/layout:latest` is the directory `/tmp/a:b/layout`, tag
//!   `latest`); a trailing colon means no tag.
//! - `docker-archive:`: the FIRST colon ends the file (skopeo's rule); what follows names an
//!   image of the archive, which lucid records but does not need (its archives hold one image).

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::digest_hex;

/// One parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:REF]`.
    Oci { dir: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE[:NAME:TAG]`.
    DockerArchive { file: PathBuf, name: Option<String> },
    /// `docker-daemon:NAME[:TAG|@DIGEST]`: `name` is what the engine is asked for, as given.
    DockerDaemon { name: String },
    /// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    Registry(RegistryRef),
}

/// A reference as typed, as it may be printed: a `user:token@` written into it (which
/// [`ImageRef::parse`] refuses) is redacted, so the refusal cannot echo the secret.
pub fn shown(reference: &str) -> String {
    crate::fetch::redact_url(reference)
}

/// The forms accepted, for error messages.
pub const FORMS: &str = "oci:DIR[:TAG], docker-archive:FILE, docker-daemon:NAME[:TAG|@DIGEST] or \
                         docker://HOST[:PORT]/REPO[:TAG|@DIGEST]";

impl ImageRef {
    /// Parses a skopeo-style reference. Never panics; every refusal names the reference.
    pub fn parse(s: &str) -> Result<ImageRef> {
        if s.chars().any(char::is_control) {
            bail!("image reference {s:?} holds control characters");
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.is_empty() && !t.contains('/') => (d, Some(t.to_string())),
                Some((d, "")) => (d, None),
                _ => (rest, None),
            };
            if dir.is_empty() {
                bail!("image reference {s:?}: oci: needs a directory (oci:DIR[:TAG])");
            }
            Ok(ImageRef::Oci { dir: PathBuf::from(dir), tag })
        } else if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (file, name) = match rest.split_once(':') {
                Some((f, n)) => (f, (!n.is_empty()).then(|| n.to_string())),
                None => (rest, None),
            };
            if file.is_empty() {
                bail!("image reference {s:?}: docker-archive: needs a file (docker-archive:FILE)");
            }
            Ok(ImageRef::DockerArchive { file: PathBuf::from(file), name })
        } else if let Some(name) = s.strip_prefix("docker-daemon:") {
            check_daemon_name(name).with_context(|| format!("image reference {s:?}"))?;
            Ok(ImageRef::DockerDaemon { name: name.to_string() })
        } else if let Some(rest) = s.strip_prefix("docker://") {
            Ok(ImageRef::Registry(RegistryRef::parse(rest)?))
        } else {
            bail!("unsupported image reference {s:?}: use {FORMS}")
        }
    }

    /// The transport's name, as skopeo spells it (`oci`, `docker-archive`...).
    pub fn transport(&self) -> &'static str {
        match self {
            ImageRef::Oci { .. } => "oci",
            ImageRef::DockerArchive { .. } => "docker-archive",
            ImageRef::DockerDaemon { .. } => "docker-daemon",
            ImageRef::Registry(_) => "docker",
        }
    }

    /// `REPOSITORY` as `docker images` would show it when the image itself names none: the
    /// engine's or registry's repository, else the layout directory's or archive file's name.
    pub fn repository(&self) -> String {
        let base =
            |p: &PathBuf| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        match self {
            ImageRef::Oci { dir, .. } => base(dir),
            ImageRef::DockerArchive { file, .. } => {
                let name = base(file);
                name.strip_suffix(".tar").map_or(name.clone(), str::to_string)
            }
            ImageRef::DockerDaemon { name } => split_name(name).0.to_string(),
            ImageRef::Registry(r) => r.repository.clone(),
        }
    }
}

/// `NAME[:TAG]` or `NAME@DIGEST` -> (name, tag or digest). A colon inside a registry host's port
/// (`host:5000/x`) is not a tag.
fn split_name(name: &str) -> (&str, Option<&str>) {
    if let Some((n, d)) = name.split_once('@') {
        return (n, Some(d));
    }
    match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name, None),
    }
}

/// An engine image name: a repository (with an optional registry host), then a tag or digest;
/// or an image ID (`sha256:<hex>`, or hex).
fn check_daemon_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("docker-daemon: needs an image name (docker-daemon:NAME[:TAG])");
    }
    if name.len() > 512 || name.bytes().any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic()) {
        bail!("{name:?} is not an image name");
    }
    if name.starts_with("sha256:") {
        digest_hex(name)?;
        return Ok(());
    }
    let (repo, tag) = split_name(name);
    if repo.is_empty() || repo.starts_with('/') || repo.ends_with('/') || repo.contains("//") {
        bail!("{name:?}: invalid repository {repo:?}");
    }
    match tag {
        Some(d) if name.contains('@') => {
            digest_hex(d)?;
        }
        Some(t) if t.is_empty() || t.len() > 128 => bail!("{name:?}: invalid tag {t:?}"),
        _ => {}
    }
    Ok(())
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Oci { dir, tag } => {
                write!(f, "oci:{}", dir.display())?;
                match tag {
                    Some(t) => write!(f, ":{t}"),
                    // A directory holding a colon needs the trailing one to parse back the same.
                    None if dir.to_string_lossy().contains(':') => write!(f, ":"),
                    None => Ok(()),
                }
            }
            ImageRef::DockerArchive { file, name } => {
                write!(f, "docker-archive:{}", file.display())?;
                name.as_ref().map_or(Ok(()), |n| write!(f, ":{n}"))
            }
            ImageRef::DockerDaemon { name } => write!(f, "docker-daemon:{name}"),
            ImageRef::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

impl std::str::FromStr for ImageRef {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ImageRef> {
        ImageRef::parse(s)
    }
}

/// Checks a registry's `host[:port]` (a name, an IPv4 address or a bracketed IPv6 one, and a
/// port of digits): what the registry's origin and the credentials bound to it are made of.
pub fn check_host(host: &str) -> Result<()> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, tail)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => ("ipv6", tail.strip_prefix(':')),
            _ => bail!("{host:?} is not a registry host"),
        },
        None => match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        },
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !name.starts_with(['.', '-']);
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0));
    if !name_ok || !port_ok {
        bail!("{host:?} is not a registry host (HOST[:PORT])");
    }
    Ok(())
}

/// A registry image: the `docker://` form of an [`ImageRef`], also what `lucid push` writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRef {
    /// `host[:port]`.
    pub host: String,
    /// `team/image`.
    pub repository: String,
    /// A tag or a `sha256:` digest.
    pub reference: String,
}

impl RegistryRef {
    /// Parses `HOST[:PORT]/REPO[:TAG|@DIGEST]` (the part after `docker://`). The first component
    /// must be a host ([`names_host`]): lucid has no default registry.
    pub fn parse(s: &str) -> Result<RegistryRef> {
        let s = s.strip_prefix("//").unwrap_or(s);
        let (host, rest) = s.split_once('/').unwrap_or((s, ""));
        if host.contains('@') {
            // `user:token@host`: credentials never travel inside a reference (nor get printed).
            bail!(
                "{}: a registry reference holds no credentials; use --creds with --registry",
                crate::fetch::redact_url(&format!("docker://{s}"))
            );
        }
        if rest.is_empty() || !names_host(host) {
            bail!("docker://{s}: {host:?} is not a registry host; name one (docker://HOST[:PORT]/REPO:TAG)");
        }
        check_host(host).with_context(|| format!("docker://{s}"))?;
        let (repository, reference) = repository_and_reference(rest).with_context(|| format!("docker://{s}"))?;
        Ok(RegistryRef { host: host.to_string(), repository, reference })
    }

    /// Parses a full `docker://HOST/REPO[:TAG]` reference (a push destination).
    pub fn parse_url(s: &str) -> Result<RegistryRef> {
        let Some(rest) = s.strip_prefix("docker://") else {
            bail!("{s:?}: expected docker://HOST[:PORT]/REPO[:TAG]");
        };
        RegistryRef::parse(rest)
    }

    /// Whether the host is this machine: plain HTTP is allowed there, as Docker allows it.
    pub fn is_loopback(&self) -> bool {
        // An address, parsed: a name that merely starts like one (`127.evil.example`) is a host
        // anywhere on the network, and gets no plain-HTTP allowance.
        let name = match self.host.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
            None => self.host.rsplit_once(':').map_or(self.host.as_str(), |(h, _)| h),
        };
        name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Whether the first component of a name is a registry host, by the Docker CLI's rule (the one
/// `docker build -t` and buildx apply): it holds a `.` or a `:`, or is `localhost`. Any other
/// first component is a path component of a repository on the default registry, which lucid
/// does not have.
pub fn names_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// A tag as the distribution spec allows one: at most 128 word characters, dots and dashes, not
/// starting with a dot or dash. What `lucid push -t` and every `:TAG` are held to.
pub fn check_tag(t: &str) -> Result<()> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok =
        t.len() <= 128 && t.bytes().next().is_some_and(word) && t.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if !ok {
        bail!("invalid tag {t:?} (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)");
    }
    Ok(())
}

/// `REPO[:TAG|@DIGEST]` (a missing tag is `latest`), checked as a registry would: repository
/// components of lowercase letters, digits and `._-`; a tag by [`check_tag`].
fn repository_and_reference(rest: &str) -> Result<(String, String)> {
    let (repository, reference) = if let Some((r, d)) = rest.split_once('@') {
        digest_hex(d)?;
        (r, d.to_string())
    } else {
        match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => {
                check_tag(t)?;
                (r, t.to_string())
            }
            _ => (rest, "latest".to_string()),
        }
    };
    let ok_repo = !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|c| {
            !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if !ok_repo {
        bail!("invalid repository name {repository:?} (lowercase letters, digits and `._-`, components split by `/`)");
    }
    Ok((repository.to_string(), reference))
}

/// A `-t` value of `lucid build`, read as `docker build -t` and `docker buildx build -t` read
/// it: `[HOST[:PORT]/]REPO[:TAG]`, where the first component is a registry host when
/// [`names_host`] says so, and a missing tag is `latest`. `:TAG` alone keeps the image's own
/// name. `--push` sends an image to the host its tag names, so this is parsed once, here, with
/// the same repository and tag rules as a `docker://` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRef {
    /// The registry `host[:port]` the tag names, if any.
    pub host: Option<String>,
    /// The repository (without the host); `None` for `:TAG`.
    pub repository: Option<String>,
    pub tag: String,
}

/// The forms of a `-t` value, for error messages.
pub const TAG_FORMS: &str = "NAME[:TAG], :TAG or HOST[:PORT]/REPO[:TAG]";

impl TagRef {
    /// Parses a `-t` value. Never panics; every refusal quotes the value (redacted) and shows the
    /// forms.
    pub fn parse(s: &str) -> Result<TagRef> {
        let shown = shown(s);
        if s.is_empty() || s.len() > 512 || s.bytes().any(|b| !b.is_ascii_graphic()) {
            bail!("-t {shown:?} is not a tag: use {TAG_FORMS}");
        }
        if s.contains('@') {
            // A digest is what a push produces, never a name to give; `user:pass@host` is a
            // credential typed into a name, which is never echoed.
            // Not quoted: what comes before the `@` may be a password.
            bail!("a -t value holds no `@` (no digest, no credentials): use {TAG_FORMS}");
        }
        if let Some(tag) = s.strip_prefix(':') {
            check_tag(tag).with_context(|| format!("-t {shown:?}: use {TAG_FORMS}"))?;
            return Ok(TagRef { host: None, repository: None, tag: tag.to_string() });
        }
        let (host, rest) = match s.split_once('/') {
            Some((first, rest)) if names_host(first) => {
                check_host(first).with_context(|| format!("-t {shown:?}: use {TAG_FORMS}"))?;
                (Some(first.to_string()), rest)
            }
            _ => (None, s),
        };
        let (repository, tag) =
            repository_and_reference(rest).with_context(|| format!("-t {shown:?}: use {TAG_FORMS}"))?;
        Ok(TagRef { host, repository: Some(repository), tag })
    }

    /// The registry image this tag is pushed to: its own host's, or, for a tag naming none,
    /// `PREFIX/NAME:TAG` under `--registry HOST[:PORT][/PREFIX]` (`NAME` is the tag's name, or
    /// `image` for `:TAG`). `None` when neither names a registry.
    pub fn destination(&self, image: &str, registry: Option<&str>) -> Result<Option<RegistryRef>> {
        let name = self.repository.as_deref().unwrap_or(image);
        let full = match (&self.host, registry) {
            (Some(host), _) => format!("{host}/{name}:{}", self.tag),
            (None, Some(prefix)) => format!("{}/{name}:{}", prefix.trim_end_matches('/'), self.tag),
            (None, None) => return Ok(None),
        };
        RegistryRef::parse(&full).map(Some)
    }
}

impl fmt::Display for TagRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = &self.host {
            write!(f, "{h}/")?;
        }
        write!(f, "{}:{}", self.repository.as_deref().unwrap_or(""), self.tag)
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.reference.starts_with("sha256:") { '@' } else { ':' };
        write!(f, "{}/{}{sep}{}", self.host, self.repository, self.reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oci(dir: &str, tag: Option<&str>) -> ImageRef {
        ImageRef::Oci { dir: dir.into(), tag: tag.map(String::from) }
    }

    #[test]
    fn oci_layouts_with_and_without_tags() {
        assert_eq!(ImageRef::parse("oci:out/lucid-python-base").unwrap(), oci("out/lucid-python-base", None));
        assert_eq!(ImageRef::parse("oci:out/x:latest").unwrap(), oci("out/x", Some("latest")));
        assert_eq!(ImageRef::parse("oci:out/x:").unwrap(), oci("out/x", None));
        // Colons in the directory: the tag is after the last colon, when it has no slash.
        assert_eq!(ImageRef::parse("oci:/tmp/a:b/layout").unwrap(), oci("/tmp/a:b/layout", None));
        assert_eq!(ImageRef::parse("oci:/tmp/a:b/layout:20240101").unwrap(), oci("/tmp/a:b/layout", Some("20240101")));
        assert_eq!(ImageRef::parse("oci:/tmp/a:b:").unwrap(), oci("/tmp/a:b", None));
        assert!(ImageRef::parse("oci:").is_err());
        assert!(ImageRef::parse("oci::latest").is_err());
    }

    #[test]
    fn archives_daemons_and_registries() {
        assert_eq!(
            ImageRef::parse("docker-archive:out/x.tar").unwrap(),
            ImageRef::DockerArchive { file: "out/x.tar".into(), name: None }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:x.tar:lucid-python-base:latest").unwrap(),
            ImageRef::DockerArchive { file: "x.tar".into(), name: Some("lucid-python-base:latest".into()) }
        );
        let d = format!("sha256:{}", "a".repeat(64));
        for ok in ["lucid-python-base:latest", "lucid-python-base", "127.0.0.1:5000/lucid/x:1", &format!("x@{d}"), &d] {
            let r = ImageRef::parse(&format!("docker-daemon:{ok}")).unwrap();
            assert_eq!(r, ImageRef::DockerDaemon { name: ok.to_string() }, "{ok}");
        }
        assert_eq!(
            ImageRef::parse("docker-daemon:lucid-python-base:latest").unwrap().repository(),
            "lucid-python-base"
        );
        assert_eq!(ImageRef::parse("docker-daemon:host:5000/team/x").unwrap().repository(), "host:5000/team/x");
        assert_eq!(ImageRef::parse(&format!("docker-daemon:x@{d}")).unwrap().repository(), "x");
        for bad in ["", "x@sha256:zz", "a b", "x:", "/x", "sha256:12"] {
            assert!(ImageRef::parse(&format!("docker-daemon:{bad}")).is_err(), "{bad:?}");
        }
        let ImageRef::Registry(r) = ImageRef::parse("docker://127.0.0.1:5000/lucid/python-base:latest").unwrap() else {
            panic!("a registry reference")
        };
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "lucid/python-base", "latest")
        );
        assert!(r.is_loopback());
        // Loopback by address, never by a name's first characters.
        for (host, loopback) in [
            ("localhost:5000", true),
            ("127.0.0.2", true),
            ("[::1]:5000", true),
            ("127.evil.example", false),
            ("127.0.0.1.evil.example:5000", false),
            ("localhost.evil.example", false),
            ("[::2]:5000", false),
            ("10.0.0.1:5000", false),
        ] {
            assert_eq!(RegistryRef::parse(&format!("{host}/x")).unwrap().is_loopback(), loopback, "{host}");
        }
        assert_eq!(RegistryRef::parse("localhost/x").unwrap().reference, "latest");
        assert_eq!(RegistryRef::parse(&format!("reg.example:443/x@{d}")).unwrap().reference, d);
        assert!(RegistryRef::parse("python:3.11").is_err(), "no default registry");
        // Credentials never ride in a reference, and the refusal does not print them.
        let err = RegistryRef::parse("alice:lucid-test-secret-ref@h.example/x").unwrap_err();
        assert!(!format!("{err:#}").contains("lucid-test-secret"), "{err:#}");
        for bad in ["h.example:0/x", "h.example:99999/x", "h_x.example/x", "[zz]:5000/x", "h.example:/x"] {
            assert!(RegistryRef::parse(bad).is_err(), "{bad}");
        }
        for good in ["[::1]:5000", "127.0.0.1:5000", "reg.example", "localhost"] {
            check_host(good).unwrap();
        }
        assert!(RegistryRef::parse("library/python").is_err());
        assert!(RegistryRef::parse("h.example/UPPER").is_err());
        assert!(RegistryRef::parse("h.example/x@sha256:zz").is_err());
        assert!(RegistryRef::parse_url("h.example/x").is_err(), "a push destination says docker://");
        assert_eq!(RegistryRef::parse_url("docker://h.example/x:1").unwrap().reference, "1");
        let err = ImageRef::parse("python:3.11").unwrap_err().to_string();
        assert!(err.contains("unsupported image reference"), "{err}");
    }

    /// `-t` as docker and buildx read it: the first component is a host only when it has a `.`
    /// or `:` or is `localhost`; the rest follows the registry's repository and tag rules.
    #[test]
    fn tags_name_a_registry_the_way_docker_reads_them() {
        let t = |s: &str| TagRef::parse(s).unwrap();
        let hosted = t("127.0.0.1:5000/lucid-python-base:latest");
        assert_eq!(hosted.host.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!((hosted.repository.as_deref(), hosted.tag.as_str()), (Some("lucid-python-base"), "latest"));
        assert_eq!(t("localhost/team/x").host.as_deref(), Some("localhost"));
        assert_eq!(t("localhost/team/x").tag, "latest");
        assert_eq!(t("reg.example/team/x:1.2").repository.as_deref(), Some("team/x"));
        // No host: a plain name, a name with a tag, a path whose first component is no host.
        for plain in ["lucid-python-base", "lucid-python-base:1", "team/x:2", "localhostx/y"] {
            assert_eq!(t(plain).host, None, "{plain}");
        }
        assert_eq!(t(":20261206"), TagRef { host: None, repository: None, tag: "20261206".into() });
        for bad in [
            "",
            ":",
            "UPPER:1",
            "x:-1",
            "x:a b",
            "x:",
            "127.0.0.1:5000/",
            "127.0.0.1:99999/x:1",
            "reg.example/x@sha256:00",
            "h_x.example/x:1",
            "x//y",
            &format!("x:{}", "t".repeat(129)),
        ] {
            let err = TagRef::parse(bad).unwrap_err();
            assert!(format!("{err:#}").contains("-t"), "{bad:?}: {err:#}");
        }
        let err = TagRef::parse("alice:lucid-test-secret-tag@reg.example/x:1").unwrap_err();
        assert!(!format!("{err:#}").contains("lucid-test-secret"), "{err:#}");
        // Where --push sends it: the tag's own host first, else under --registry.
        let to =
            |s: &str, reg: Option<&str>| t(s).destination("lucid-python-base", reg).unwrap().map(|r| r.to_string());
        assert_eq!(to("a.example:5000/x:1", Some("b.example/p")).as_deref(), Some("a.example:5000/x:1"));
        assert_eq!(to("x:1", Some("b.example/p/")).as_deref(), Some("b.example/p/x:1"));
        assert_eq!(to(":1", Some("b.example")).as_deref(), Some("b.example/lucid-python-base:1"));
        assert_eq!(to("x:1", None), None);
        assert_eq!(t("a.example/x:1").to_string(), "a.example/x:1");
    }

    #[test]
    fn display_parses_back_the_same() {
        let d = format!("sha256:{}", "b".repeat(64));
        for s in [
            "oci:out/x",
            "oci:out/x:latest",
            "oci:/tmp/a:b/layout:",
            "docker-archive:x.tar",
            "docker-archive:x.tar:n:t",
            "docker-daemon:lucid-python-base:latest",
            "docker://localhost:5000/a/b:c",
            &format!("docker://h.example/x@{d}"),
        ] {
            let r = ImageRef::parse(s).unwrap();
            assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r, "{s}");
        }
    }

    /// Garbage never panics: random bytes, random mixes of the grammar's characters, and every
    /// prefix of valid references.
    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "oci:docker-archive:daemon://@sha256/.:aA0 \u{0}\u{7f}é:/@@::".chars().collect();
        let prefixes = ["", "oci:", "docker-archive:", "docker-daemon:", "docker://", "docker-daemon:sha256:"];
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let tail: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let s = format!("{}{tail}", prefixes[(next() % prefixes.len() as u64) as usize]);
            if let Ok(r) = ImageRef::parse(&s) {
                let _ = (r.to_string(), r.repository(), r.transport());
            }
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = ImageRef::parse(&String::from_utf8_lossy(&bytes));
        }
        let long = format!("docker://h.example/{}", "a/".repeat(10_000));
        assert!(ImageRef::parse(&long).is_err());
        for full in ["oci:/tmp/a:b/layout:latest", "docker://localhost:5000/a/b@sha256:00"] {
            for i in 0..=full.len() {
                let _ = ImageRef::parse(&full[..i]);
            }
        }
    }
}
