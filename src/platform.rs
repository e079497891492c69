//! The platform an image is built for or read as: one domain type, [`Platform`]. The spec's
//! `platforms:`, `--platform`, the lock's keys, the build, `ld.so.cache`, the image config the
//! build makes and every image read back all use it; the OCI JSON shape (`oci::image::Platform`,
//! `architecture`/`os`/`variant`) is only its serialization, converted in `oci`. A leaf: it
//! imports nothing from the crate, so every module may name it.

use anyhow::{Result, bail};

/// An OS/architecture pair as `docker buildx` writes it (`linux/arm64`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

/// Whether an image's platform `have` (`os/arch[/variant]`, as read from the image) is the one
/// `--platform want` names: the same OS and architecture, and the same variant only when `want`
/// gives one. So `--platform linux/arm64` picks `linux/arm64/v8`, as `docker --platform` does
/// (an arm64 image without a variant is a `v8` one).
pub fn selects(want: &str, have: &str) -> bool {
    let (w, h): (Vec<&str>, Vec<&str>) = (want.split('/').collect(), have.split('/').collect());
    fn variant<'a>(p: &[&'a str]) -> Option<&'a str> {
        p.get(2).copied().or((p.get(1) == Some(&"arm64")).then_some("v8"))
    }
    w.len() >= 2 && w.len() <= 3 && h.len() >= 2 && w[..2] == h[..2] && (w.len() == 2 || variant(&w) == variant(&h))
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => bail!("bad platform {s:?}: expected OS/ARCH such as linux/amd64"),
        };
        if os != "linux" {
            bail!("bad platform {s:?}: only linux images are built");
        }
        let variant = match (arch, variant) {
            ("amd64", None) => None,
            ("arm64", None | Some(_)) => Some("v8".to_string()),
            (a, _) => bail!("unsupported architecture {a:?} in {s:?}: lucid builds linux/amd64 and linux/arm64"),
        };
        Ok(Platform { os: os.to_string(), arch: arch.to_string(), variant })
    }

    /// The build host's own platform.
    pub fn host() -> Platform {
        let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
        Platform::parse(&format!("linux/{arch}")).expect("host platform is supported")
    }

    /// Debian's name for the architecture (the same words as OCI for amd64/arm64).
    pub fn debian_arch(&self) -> &str {
        &self.arch
    }

    /// `linux/arm64/v8`: with the variant, as an image config or index spells the platform out;
    /// how verify and report name an image's platform. ([`Display`](std::fmt::Display) leaves the
    /// variant out, as the spec, the lock and `--platform` write it.)
    pub fn qualified(&self) -> String {
        match self.variant.as_deref() {
            Some(v) if !v.is_empty() => format!("{self}/{v}"),
            _ => self.to_string(),
        }
    }

    /// The kernel's name (`uname -m`): what wheel tags and multiarch paths use.
    pub fn machine(&self) -> &str {
        match self.arch.as_str() {
            "arm64" => "aarch64",
            _ => "x86_64",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_selection_ignores_a_variant_not_asked_for() {
        assert!(selects("linux/arm64", "linux/arm64/v8"));
        assert!(selects("linux/arm64/v8", "linux/arm64"));
        assert!(selects("linux/amd64", "linux/amd64"));
        assert!(!selects("linux/arm64/v7", "linux/arm64/v8"));
        assert!(!selects("linux/amd64", "linux/arm64/v8"));
        assert!(!selects("linux", "linux/amd64"));
        assert!(!selects("linux/arm/v6", "linux/arm/v7"));
    }

    #[test]
    fn parses_what_buildx_writes() {
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_eq!(arm, Platform::parse("linux/arm64/v8").unwrap());
        assert_eq!((arm.to_string().as_str(), arm.machine()), ("linux/arm64", "aarch64"));
        assert_eq!(arm.qualified(), "linux/arm64/v8");
        assert_eq!(Platform::parse("linux/amd64").unwrap().qualified(), "linux/amd64");
        assert!(Platform::parse("windows/amd64").is_err() && Platform::parse("linux/s390x").is_err());
    }
}
