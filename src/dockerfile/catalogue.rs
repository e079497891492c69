//! The rule catalogue of `lucid lint`: every rule's stable ID, severity, title, the seed action
//! it serves and its fix, as [`crate::findings::Check`]s like verify's checks (IDs never collide
//! across the tool: `tests/check_ids.rs`).

use crate::findings::Check as Rule;
use crate::findings::Severity;

const S3: &str = "3. Validate multi-stage build patterns";
const S4: &str = "4. Ensure non-root user (UID 65532)";
const SEC: &str = "Security validation";
const OPT: &str = "Size optimization strategies";

/// The catalogue, in ID order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "LUCID-DF-000",
        severity: Severity::Error,
        title: "Dockerfile syntax error",
        seed_action: S3,
        remediation: "Fix the line so that Docker can parse it.",
    },
    Rule {
        id: "LUCID-DF-001",
        severity: Severity::Error,
        title: "Fewer than two build stages",
        seed_action: S3,
        remediation: "Build in a `build-stage` and copy only the result into a distroless `runtime-stage`.",
    },
    Rule {
        id: "LUCID-DF-002",
        severity: Severity::Error,
        title: "Stages are not named build-stage and runtime-stage",
        seed_action: S3,
        remediation: "Name the stages `FROM ... AS build-stage` and `FROM ... AS runtime-stage` (last), so `--target` works as the seed writes.",
    },
    Rule {
        id: "LUCID-DF-003",
        severity: Severity::Error,
        title: "Runtime stage has no USER",
        seed_action: S4,
        remediation: "Add `USER 65532:65532` to the runtime stage; without it the image inherits whatever its base says.",
    },
    Rule {
        id: "LUCID-DF-004",
        severity: Severity::Error,
        title: "Runtime stage runs as root",
        seed_action: S4,
        remediation: "Use `USER 65532:65532` (nonroot).",
    },
    Rule {
        id: "LUCID-DF-005",
        severity: Severity::Warning,
        title: "Runtime USER is not numeric",
        seed_action: S4,
        remediation: "Use a numeric UID:GID such as `65532:65532`: Kubernetes' runAsNonRoot can only check numbers, and a name needs /etc/passwd.",
    },
    Rule {
        id: "LUCID-DF-006",
        severity: Severity::Error,
        title: "COPY --from does not name an earlier stage",
        seed_action: S3,
        remediation: "Point --from at a stage defined above this one (name or index); an unknown name is pulled as an image.",
    },
    Rule {
        id: "LUCID-DF-007",
        severity: Severity::Error,
        title: "Shell needed in a stage whose base has no shell",
        seed_action: SEC,
        remediation: "Use exec (JSON) form, or do the work in the build stage and COPY the result.",
    },
    Rule {
        id: "LUCID-DF-008",
        severity: Severity::Warning,
        title: "RUN in the runtime stage",
        seed_action: S3,
        remediation: "Move the RUN to the build stage; the runtime stage should only COPY results onto the distroless base.",
    },
    Rule {
        id: "LUCID-DF-009",
        severity: Severity::Warning,
        title: "Shell-form CMD or ENTRYPOINT in the runtime stage",
        seed_action: SEC,
        remediation: "Use exec form, e.g. `CMD [\"python3\", \"app.py\"]`, so the process is PID 1 and gets signals.",
    },
    Rule {
        id: "LUCID-DF-010",
        severity: Severity::Error,
        title: "Base image is not pinned",
        seed_action: SEC,
        remediation: "Pin the base by tag (`lucid-python-base:20261125`) or digest (`@sha256:...`).",
    },
    Rule {
        id: "LUCID-DF-011",
        severity: Severity::Warning,
        title: "Base image uses the `latest` tag",
        seed_action: SEC,
        remediation: "Use a dated tag or a digest: `latest` moves under you.",
    },
    Rule {
        id: "LUCID-DF-012",
        severity: Severity::Warning,
        title: "FROM uses an ARG that has no default",
        seed_action: S3,
        remediation: "Give the global ARG a pinned default (`ARG BASE=lucid-python-base:20261125`).",
    },
    Rule {
        id: "LUCID-DF-013",
        severity: Severity::Error,
        title: "Secret in ARG or ENV",
        seed_action: SEC,
        remediation: "ARG and ENV values are kept in the image history; use `RUN --mount=type=secret` instead.",
    },
    Rule {
        id: "LUCID-DF-014",
        severity: Severity::Warning,
        title: "ADD used for something other than a local archive",
        seed_action: SEC,
        remediation: "Use COPY for files and directories; download in the build stage with a checksum check.",
    },
    Rule {
        id: "LUCID-DF-015",
        severity: Severity::Warning,
        title: "apt-get install without --no-install-recommends",
        seed_action: OPT,
        remediation: "Add `--no-install-recommends`: recommended packages are rarely needed and add megabytes.",
    },
    Rule {
        id: "LUCID-DF-016",
        severity: Severity::Warning,
        title: "apt lists not removed in the same RUN",
        seed_action: OPT,
        remediation: "End the RUN with `&& rm -rf /var/lib/apt/lists/*` (same layer).",
    },
    Rule {
        id: "LUCID-DF-017",
        severity: Severity::Info,
        title: "Consecutive RUN instructions",
        seed_action: OPT,
        remediation: "Join consecutive RUNs with `&&` (or a heredoc) to save layers.",
    },
    Rule {
        id: "LUCID-DF-018",
        severity: Severity::Warning,
        title: "No .dockerignore beside the build context",
        seed_action: SEC,
        remediation: "Add a .dockerignore to the context directory (best an allow-list: `*` then `!needed-file`).",
    },
    Rule {
        id: "LUCID-DF-019",
        severity: Severity::Warning,
        title: ".dockerignore does not exclude .git",
        seed_action: SEC,
        remediation: "Add `.git` (or start with `*`).",
    },
    Rule {
        id: "LUCID-DF-020",
        severity: Severity::Warning,
        title: ".dockerignore does not exclude secrets",
        seed_action: SEC,
        remediation: "Exclude `.env`, `*.pem`, `*.key`, `id_rsa*`, `.netrc` (or start with `*`).",
    },
    Rule {
        id: "LUCID-DF-021",
        severity: Severity::Error,
        title: "Duplicate stage name",
        seed_action: S3,
        remediation: "Give every stage a different name.",
    },
    Rule {
        id: "LUCID-DF-022",
        severity: Severity::Warning,
        title: "More than one CMD or ENTRYPOINT in a stage",
        seed_action: S3,
        remediation: "Keep only the last one; the earlier ones have no effect.",
    },
    Rule {
        id: "LUCID-DF-023",
        severity: Severity::Warning,
        title: "WORKDIR is a relative path",
        seed_action: S3,
        remediation: "Use an absolute WORKDIR; a relative one depends on the base image's.",
    },
    Rule {
        id: "LUCID-DF-024",
        severity: Severity::Warning,
        title: "pip install without --require-hashes",
        seed_action: SEC,
        remediation: "Install from a hash-pinned requirements file with `--require-hashes` (as requirements.txt is).",
    },
    Rule {
        id: "LUCID-DF-025",
        severity: Severity::Warning,
        title: "sudo in RUN",
        seed_action: SEC,
        remediation: "Switch with USER instead of sudo.",
    },
    Rule {
        id: "LUCID-DF-026",
        severity: Severity::Info,
        title: "MAINTAINER is deprecated",
        seed_action: S3,
        remediation: "Use `LABEL org.opencontainers.image.authors=...`.",
    },
    Rule {
        id: "LUCID-DF-027",
        severity: Severity::Error,
        title: "Package manager in the runtime stage",
        seed_action: SEC,
        remediation: "Install packages in the build stage; the runtime image must have no package manager.",
    },
];

/// Which rules run. `Default` holds the rules that find defects in any Dockerfile; `Lucid` adds the
/// rules that encode this organisation's house style for distroless builds ([`HOUSE_STYLE`]).
/// Off by default, so a team can lint the Dockerfiles it has; a `.lucid.yml` saying
/// `lint: {profile: lucid}` (infrastructure/containers/base/ has one) or `--profile lucid` turns
/// them on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Default,
    Lucid,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Lucid => "lucid",
        }
    }
    /// Whether rule `id` runs under this profile.
    pub fn includes(self, id: &str) -> bool {
        self == Profile::Lucid || !HOUSE_STYLE.contains(&id)
    }
}

impl std::str::FromStr for Profile {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(Profile::Default),
            "lucid" => Ok(Profile::Lucid),
            _ => anyhow::bail!("unknown lint profile {s:?}: expected `default` or `lucid`"),
        }
    }
}

/// The rules that are the seed's conventions rather than defects: each is sound for lucid's
/// distroless images and wrong as a verdict on a Dockerfile that chose otherwise (docs/lint.md,
/// "Profiles", gives the reason per rule). Only the `lucid` profile runs them.
pub const HOUSE_STYLE: &[&str] = &[
    // A single-stage image (every official image) is a design, not a defect.
    "LUCID-DF-001",
    // The seed's stage names.
    "LUCID-DF-002",
    // A runtime stage without RUN, and with no package manager, is the distroless recipe; an image
    // built on Debian or Alpine installs its packages in the stage that ships.
    "LUCID-DF-008",
    "LUCID-DF-027",
    // Fewer layers: a style (BuildKit caches each RUN; splitting them is often deliberate).
    "LUCID-DF-017",
    // An allow-list .dockerignore beside the Dockerfile: the seed's layout (the context directory
    // of another project is not known to be the Dockerfile's, nor is one always needed).
    "LUCID-DF-018",
    // Hash-pinned requirements: the seed's supply-chain policy, stricter than pinning versions.
    "LUCID-DF-024",
];

/// Look a rule up by ID (case-insensitive).
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}
