//! Software bills of materials: SPDX 2.3 JSON and CycloneDX 1.6 JSON, with our own serde
//! structs (the CycloneDX crate stops at 1.5 and is slow to build; SPDX has no maintained
//! writer). Every Debian package (`pkg:deb/debian/...`), wheel (`pkg:pypi/...`) and Java runtime
//! the image declares, with versions and the licences its copyright file or metadata states.
//!
//! Output is a pure function of the image: timestamps come from the image's `created`, the
//! document namespace and serial number from its config digest, so the same image gives the
//! same SBOM byte for byte.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::owners::spdx_id;
use super::{ImageAnalysis, Owner, OwnerKind};

crate::named_enum! {
    "SBOM format";
    /// Which SBOM format.
    pub enum SbomFormat {
        Spdx = "spdx",
        Cyclonedx = "cyclonedx",
    }
}

/// Renders the SBOM of `a` as pretty JSON.
pub fn render(a: &ImageAnalysis, format: SbomFormat) -> anyhow::Result<String> {
    let text = match format {
        SbomFormat::Spdx => serde_json::to_string_pretty(&spdx(a))?,
        SbomFormat::Cyclonedx => serde_json::to_string_pretty(&cyclonedx(a))?,
    };
    Ok(text + "\n")
}

/// The file-name endings SBOM tools look for (SPDX's `.spdx.json` and `.spdx`, CycloneDX's
/// `.cdx.json` and `.bom.json`): a platform goes before them, not inside them, so scanners that
/// pick documents up by name still find every platform's.
const SBOM_EXTENSIONS: [&str; 4] = [".spdx.json", ".cdx.json", ".bom.json", ".spdx"];

/// Where each platform's document goes when one `-o FILE` asks for an index of several: the
/// platform (`os-arch`, as the per-platform docker-archives are named) before the file's SBOM
/// extension (`python.spdx.json` gives `python.linux-amd64.spdx.json`), else before its last
/// extension (`sbom.json` gives `sbom.linux-amd64.json`), and a name with no extension gets it
/// at the end. The variant joins the name only when two platforms would otherwise share one
/// (`linux/arm/v6` and `linux/arm/v7`), so no document overwrites another.
pub fn platform_paths(output: &std::path::Path, platforms: &[&str]) -> Vec<std::path::PathBuf> {
    let short = |p: &str| p.split('/').take(2).collect::<Vec<_>>().join("-");
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match SBOM_EXTENSIONS.iter().find(|e| name.len() > e.len() && name.ends_with(*e)) {
        Some(e) => (&name[..name.len() - e.len()], &e[1..]),
        None => match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, ext),
            _ => (name.as_str(), ""),
        },
    };
    platforms
        .iter()
        .map(|p| {
            let clash = platforms.iter().filter(|q| short(q) == short(p)).count() > 1;
            let tag = if clash { p.replace('/', "-") } else { short(p) };
            let named = if ext.is_empty() { format!("{stem}.{tag}") } else { format!("{stem}.{tag}.{ext}") };
            output.with_file_name(named)
        })
        .collect()
}

/// Characters a purl component keeps as is; the rest is percent-encoded (an epoch's `:`).
fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._-~+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The package URL of an owner.
pub fn purl(o: &Owner, distro: Option<&str>) -> String {
    match o.kind {
        OwnerKind::Deb => {
            let mut q = format!("arch={}", purl_escape(&o.arch));
            if let Some(d) = distro {
                q.push_str(&format!("&distro={}", purl_escape(d)));
            }
            format!("pkg:deb/debian/{}@{}?{q}", purl_escape(&o.name), purl_escape(&o.version))
        }
        OwnerKind::Wheel => {
            let name = o.name.to_ascii_lowercase().replace(['_', '.'], "-");
            format!("pkg:pypi/{}@{}", purl_escape(&name), purl_escape(&o.version))
        }
        OwnerKind::Java => format!("pkg:generic/java-runtime@{}", purl_escape(&o.version)),
    }
}

/// The purl `distro` qualifier: `debian-12` when the packages carry bookworm's `deb12` version
/// suffixes (security updates always do), else none rather than a guess.
fn distro(a: &ImageAnalysis) -> Option<String> {
    a.owners
        .iter()
        .any(|o| o.owner.kind == OwnerKind::Deb && o.owner.version.contains("deb12"))
        .then(|| "debian-12".into())
}

/// SPDX-safe: letters, digits, `.` and `-`.
fn spdx_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// Whether `s` is already an SPDX expression of known identifiers (`Apache-2.0 OR MIT`).
fn is_expression(s: &str) -> bool {
    let tokens: Vec<&str> =
        s.split(|c: char| c.is_whitespace() || c == '(' || c == ')').filter(|t| !t.is_empty()).collect();
    !tokens.is_empty()
        && tokens.iter().enumerate().all(|(i, t)| {
            matches!(*t, "AND" | "OR" | "WITH") && i > 0
                || spdx_id(t).is_some_and(|id| id == *t)
                || t.ends_with("exception-2.0")
        })
}

/// A licence as SPDX sees it: an identifier, or a `LicenseRef-` with the name it stands for.
enum Lic {
    Id(String),
    Ref(String, String),
}

fn licences(o: &Owner) -> Vec<Lic> {
    let mut out: Vec<Lic> = Vec::new();
    for l in &o.licenses {
        // DEP-5 writes choices as `MPL-1.1 or GPL-2+ or LGPL-2.1+`.
        let choices: Vec<Option<&str>> = l.split(" or ").map(spdx_id).collect();
        let lic = if is_expression(l) {
            Lic::Id(l.clone())
        } else if let Some(id) = spdx_id(l) {
            Lic::Id(id.to_string())
        } else if choices.len() > 1 && choices.iter().all(Option::is_some) {
            Lic::Id(choices.into_iter().flatten().collect::<Vec<_>>().join(" OR "))
        } else {
            Lic::Ref(format!("LicenseRef-{}", spdx_safe(l)), l.clone())
        };
        let key = match &lic {
            Lic::Id(s) | Lic::Ref(s, _) => s.clone(),
        };
        if !out.iter().any(|x| matches!(x, Lic::Id(s) | Lic::Ref(s, _) if *s == key)) {
            out.push(lic);
        }
    }
    out
}

fn expression(lics: &[Lic]) -> Option<String> {
    let parts: Vec<String> = lics
        .iter()
        .map(|l| match l {
            Lic::Id(s) if s.contains(' ') => format!("({s})"),
            Lic::Id(s) | Lic::Ref(s, _) => s.clone(),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

fn hex_of(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn image_name(a: &ImageAnalysis) -> String {
    format!("{}:{}", a.repository, a.tag)
}

fn timestamp(a: &ImageAnalysis) -> String {
    a.created.clone().unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

// ---- SPDX 2.3 ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxDocument {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: SpdxCreation,
    packages: Vec<SpdxPackage>,
    relationships: Vec<SpdxRelationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<SpdxExtracted>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxCreation {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    version_info: String,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: String,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    external_refs: Vec<SpdxExternalRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxRelationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxExtracted {
    license_id: String,
    extracted_text: String,
    name: String,
}

fn spdx(a: &ImageAnalysis) -> SpdxDocument {
    let distro = distro(a);
    let image_id = "SPDXRef-Image".to_string();
    let digest = a.digest.clone().unwrap_or_else(|| a.config_digest.clone());
    let mut packages = vec![SpdxPackage {
        name: image_name(a),
        spdx_id: image_id.clone(),
        version_info: digest.clone(),
        download_location: "NOASSERTION",
        files_analyzed: false,
        license_concluded: "NOASSERTION".into(),
        license_declared: "NOASSERTION".into(),
        copyright_text: "NOASSERTION",
        primary_package_purpose: Some("CONTAINER"),
        source_info: None,
        comment: Some(format!("{} ({}), {} bytes of file content", a.reference, a.platform, a.size)),
        external_refs: vec![],
    }];
    let mut relationships = vec![SpdxRelationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: image_id.clone(),
    }];
    let mut extracted: Vec<SpdxExtracted> = Vec::new();
    for row in &a.owners {
        let o = &row.owner;
        let kind = match o.kind {
            OwnerKind::Deb => "deb",
            OwnerKind::Wheel => "pypi",
            OwnerKind::Java => "java",
        };
        let id = format!("SPDXRef-Package-{kind}-{}-{}", spdx_safe(&o.name), &hex_of(&purl(o, distro.as_deref()))[..8]);
        let lics = licences(o);
        for l in &lics {
            if let Lic::Ref(r, name) = l
                && !extracted.iter().any(|e| &e.license_id == r)
            {
                let file = o.license_file.clone().unwrap_or_else(|| o.declared_in.clone());
                extracted.push(SpdxExtracted {
                    license_id: r.clone(),
                    extracted_text: format!("The licence named \"{name}\" in /{file}"),
                    name: name.clone(),
                });
            }
        }
        packages.push(SpdxPackage {
            name: o.name.clone(),
            spdx_id: id.clone(),
            version_info: o.version.clone(),
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION".into(),
            license_declared: expression(&lics).unwrap_or_else(|| "NOASSERTION".into()),
            copyright_text: "NOASSERTION",
            primary_package_purpose: Some(if o.kind == OwnerKind::Java { "APPLICATION" } else { "LIBRARY" }),
            source_info: o
                .source
                .as_ref()
                .filter(|_| o.kind == OwnerKind::Deb)
                .map(|s| format!("built from the Debian source package {s}")),
            comment: Some(format!("{} bytes in {} files; declared in /{}", row.bytes, row.files, o.declared_in)),
            external_refs: vec![SpdxExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: purl(o, distro.as_deref()),
            }],
        });
        relationships.push(SpdxRelationship {
            spdx_element_id: image_id.clone(),
            relationship_type: "CONTAINS",
            related_spdx_element: id,
        });
    }
    SpdxDocument {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: image_name(a),
        document_namespace: format!(
            "https://spdx.org/spdxdocs/lucid/{}-{}",
            spdx_safe(&a.repository),
            &hex_of(&format!("{digest} {}", a.platform))[..32]
        ),
        creation_info: SpdxCreation {
            created: timestamp(a),
            creators: vec![format!("Tool: lucid-{}", env!("CARGO_PKG_VERSION"))],
        },
        packages,
        relationships,
        has_extracted_licensing_infos: extracted,
    }
}

// ---- CycloneDX 1.6 ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CdxBom {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: CdxMetadata,
    components: Vec<CdxComponent>,
    dependencies: Vec<CdxDependency>,
}

#[derive(Serialize)]
struct CdxMetadata {
    timestamp: String,
    tools: CdxTools,
    component: CdxComponent,
}

#[derive(Serialize)]
struct CdxTools {
    components: Vec<CdxComponent>,
}

#[derive(Serialize)]
struct CdxComponent {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<CdxLicenseChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<CdxProperty>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CdxLicenseChoice {
    License { license: CdxLicense },
    Expression { expression: String },
}

#[derive(Serialize)]
struct CdxLicense {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize)]
struct CdxProperty {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CdxDependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

/// CycloneDX allows either licence objects or one expression, never both.
fn cdx_licences(o: &Owner) -> Vec<CdxLicenseChoice> {
    let lics = licences(o);
    let plain_ids = lics.iter().all(|l| matches!(l, Lic::Id(s) if !s.contains(' ')));
    if lics.len() > 1 && plain_ids
        || lics.iter().any(|l| matches!(l, Lic::Id(s) if s.contains(' ')))
            && lics.iter().all(|l| matches!(l, Lic::Id(_)))
    {
        return expression(&lics).map(|e| vec![CdxLicenseChoice::Expression { expression: e }]).unwrap_or_default();
    }
    lics.into_iter()
        .map(|l| CdxLicenseChoice::License {
            license: match l {
                Lic::Id(id) if !id.contains(' ') => CdxLicense { id: Some(id), name: None },
                Lic::Id(name) | Lic::Ref(_, name) => CdxLicense { id: None, name: Some(name) },
            },
        })
        .collect()
}

/// A version-4-shaped UUID from a digest, so the serial number is stable per image.
fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}

fn cyclonedx(a: &ImageAnalysis) -> CdxBom {
    let distro = distro(a);
    let digest = a.digest.clone().unwrap_or_else(|| a.config_digest.clone());
    let image_ref = format!("image:{digest}");
    let prop = |n: &str, v: String| CdxProperty { name: format!("lucid:{n}"), value: v };
    let mut components = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in &a.owners {
        let o = &row.owner;
        let p = purl(o, distro.as_deref());
        if !seen.insert(p.clone()) {
            continue;
        }
        components.push(CdxComponent {
            kind: if o.kind == OwnerKind::Java { "platform" } else { "library" },
            bom_ref: Some(p.clone()),
            name: o.name.clone(),
            version: Some(o.version.clone()),
            purl: Some(p),
            licenses: cdx_licences(o),
            properties: vec![
                prop("bytes", row.bytes.to_string()),
                prop("files", row.files.to_string()),
                prop("declared-in", format!("/{}", o.declared_in)),
            ],
        });
    }
    let depends_on = components.iter().filter_map(|c| c.bom_ref.clone()).collect();
    CdxBom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", uuid_from(&format!("{digest} {}", a.platform))),
        version: 1,
        metadata: CdxMetadata {
            timestamp: timestamp(a),
            tools: CdxTools {
                components: vec![CdxComponent {
                    kind: "application",
                    bom_ref: None,
                    name: "lucid".into(),
                    version: Some(env!("CARGO_PKG_VERSION").into()),
                    purl: None,
                    licenses: vec![],
                    properties: vec![],
                }],
            },
            component: CdxComponent {
                kind: "container",
                bom_ref: Some(image_ref.clone()),
                name: image_name(a),
                version: Some(digest),
                purl: None,
                licenses: vec![],
                properties: vec![prop("platform", a.platform.clone()), prop("size", a.size.to_string())],
            },
        },
        components,
        dependencies: vec![CdxDependency { reference: image_ref, depends_on }],
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn owner(kind: OwnerKind, name: &str, version: &str, lic: &[&str]) -> Owner {
        Owner {
            kind,
            name: name.into(),
            version: version.into(),
            arch: if kind == OwnerKind::Deb { "amd64".into() } else { String::new() },
            source: None,
            licenses: lic.iter().map(|s| s.to_string()).collect(),
            license_file: None,
            homepage: None,
            declared_in: "x".into(),
            files: vec![],
        }
    }

    #[test]
    fn purls_and_licences() {
        let deb = owner(OwnerKind::Deb, "libc6", "2.36-9+deb12u7", &["GPL-2+", "LGPL-2.1+", "Unicode-DFS-2016"]);
        assert_eq!(purl(&deb, Some("debian-12")), "pkg:deb/debian/libc6@2.36-9+deb12u7?arch=amd64&distro=debian-12");
        let epoch = owner(OwnerKind::Deb, "zlib1g", "1:1.2.13.dfsg-1", &[]);
        assert_eq!(purl(&epoch, None), "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64");
        let whl = owner(OwnerKind::Wheel, "Charset_Normalizer", "3.3.2", &["Apache-2.0 OR MIT"]);
        assert_eq!(purl(&whl, None), "pkg:pypi/charset-normalizer@3.3.2");
        assert_eq!(expression(&licences(&deb)).unwrap(), "GPL-2.0-or-later AND LGPL-2.1-or-later AND Unicode-DFS-2016");
        assert_eq!(expression(&licences(&whl)).unwrap(), "(Apache-2.0 OR MIT)");
        let odd = owner(OwnerKind::Deb, "x", "1", &["public-domain", "MIT"]);
        assert_eq!(expression(&licences(&odd)).unwrap(), "LicenseRef-public-domain AND MIT");
        assert!(matches!(cdx_licences(&odd)[0], CdxLicenseChoice::License { .. }));
        let or = owner(OwnerKind::Deb, "x", "1", &["GPL-2+ or LGPL-2.1+"]);
        assert_eq!(expression(&licences(&or)).unwrap(), "(GPL-2.0-or-later OR LGPL-2.1-or-later)");
        assert!(uuid_from("a").len() == 36 && uuid_from("a") == uuid_from("a"));
    }

    #[test]
    fn one_file_per_platform_beside_the_output() {
        let two = platform_paths(Path::new("out/sbom.json"), &["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(two, [PathBuf::from("out/sbom.linux-amd64.json"), PathBuf::from("out/sbom.linux-arm64.json")]);
        // SBOM extensions stay whole, so scanners looking for *.spdx.json find every platform's.
        let compound = platform_paths(Path::new("python.spdx.json"), &["linux/amd64"]);
        assert_eq!(compound, [PathBuf::from("python.linux-amd64.spdx.json")]);
        let cdx = platform_paths(Path::new("out/python.cdx.json"), &["linux/arm64/v8"]);
        assert_eq!(cdx, [PathBuf::from("out/python.linux-arm64.cdx.json")]);
        assert_eq!(
            platform_paths(Path::new("x.bom.json"), &["linux/amd64"]),
            [PathBuf::from("x.linux-amd64.bom.json")]
        );
        assert_eq!(platform_paths(Path::new("x.spdx"), &["linux/amd64"]), [PathBuf::from("x.linux-amd64.spdx")]);
        // A name that is only the extension keeps its dot-file shape.
        assert_eq!(
            platform_paths(Path::new(".spdx.json"), &["linux/amd64"]),
            [PathBuf::from(".spdx.linux-amd64.json")]
        );
        let bare = platform_paths(Path::new("sbom"), &["linux/amd64"]);
        assert_eq!(bare, [PathBuf::from("sbom.linux-amd64")]);
        let hidden = platform_paths(Path::new(".sbom"), &["linux/amd64"]);
        assert_eq!(hidden, [PathBuf::from(".sbom.linux-amd64")]);
        let variants = platform_paths(Path::new("s.json"), &["linux/arm/v6", "linux/arm/v7", "linux/amd64"]);
        assert_eq!(
            variants,
            [
                PathBuf::from("s.linux-arm-v6.json"),
                PathBuf::from("s.linux-arm-v7.json"),
                PathBuf::from("s.linux-amd64.json")
            ]
        );
    }
}
