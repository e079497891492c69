//! The check catalogue: every check lucid verify runs, with its stable ID, title, severity, the
//! seed action it serves and how to fix a failure. IDs never change meaning; a retired check
//! keeps its number unused.

pub use crate::findings::Check;
use crate::findings::Severity;

const SIZE: &str = "1/2. Verify image size (Python < 100MB, Java < 150MB)";
const DISTROLESS: &str = "1/2. Distroless base image; Security Validation: no shell, no package manager";
const STAGES: &str = "3. Validate multi-stage build patterns (runtime stage minimised)";
const USER: &str = "4. Ensure non-root user (UID 65532)";
const SECURITY: &str = "Security Validation: minimal attack surface";
const META: &str = "Security Validation: check security labels (docker inspect)";
const TESTS: &str = "5. Test base image builds (python/java --version, pip/javac for build stages)";
const APP: &str =
    "5. Test base image builds: Python/Java base image functionality (the application's native code loads)";
const JAVA: &str = "2/5. Java base image: minimal runtime dependencies that still run the services built on it";

use Severity::{Error, Info, Warning};

/// Every check, in report order.
pub const CHECKS: &[Check] = &[
    Check {
        id: "LUCID-SIZE-001",
        title: "Image size within budget",
        severity: Error,
        seed_action: SIZE,
        remediation: "prune docs, locales, tests and unused modules in build-args.yml, or raise the budget (--max-size, spec budget:)",
    },
    Check {
        id: "LUCID-SIZE-002",
        title: "No bytes wasted on files deleted or overwritten by later layers",
        severity: Warning,
        seed_action: SIZE,
        remediation: "remove files in the layer that adds them (or squash): deleted files still ship in lower layers",
    },
    Check {
        id: "LUCID-SHELL-001",
        title: "No shell in a runtime image",
        severity: Error,
        seed_action: DISTROLESS,
        remediation: "drop dash/bash/busybox from the runtime image; keep shells in the build-stage image",
    },
    Check {
        id: "LUCID-PKGMGR-001",
        title: "No OS package manager in a runtime image",
        severity: Error,
        seed_action: DISTROLESS,
        remediation: "exclude apt, dpkg, apk, rpm, yum, dnf from the runtime image (lucid needs none of them to build)",
    },
    Check {
        id: "LUCID-PKGMGR-002",
        title: "No language package manager (pip, easy_install) in a runtime image",
        severity: Error,
        seed_action: DISTROLESS,
        remediation: "install wheels at build time (requirements:) and leave python3-pip to the build-stage image",
    },
    Check {
        id: "LUCID-COMPILER-001",
        title: "No compiler (gcc, cc, javac) in a runtime image",
        severity: Error,
        seed_action: STAGES,
        remediation: "compile in the build-stage image and copy only the results into the runtime image",
    },
    Check {
        id: "LUCID-USER-001",
        title: "Runs as the expected non-root UID",
        severity: Error,
        seed_action: USER,
        remediation: "set the config User to 65532:65532 (spec user:), or pass --uid for another expected UID",
    },
    Check {
        id: "LUCID-USER-002",
        title: "Config User is numeric",
        severity: Error,
        seed_action: USER,
        remediation: "write User as UID[:GID] (65532:65532): names need /etc/passwd lookups and defeat runAsNonRoot checks",
    },
    Check {
        id: "LUCID-USER-003",
        title: "The UID has an account, a group and a home it owns",
        severity: Error,
        seed_action: USER,
        remediation: "add the user to /etc/passwd and its group to /etc/group, and create its home owned by it",
    },
    Check {
        id: "LUCID-USER-004",
        title: "Account files are sound: no duplicate UIDs/GIDs, no empty passwords",
        severity: Error,
        seed_action: USER,
        remediation: "give every account its own UID/GID and a locked password (x or * or !)",
    },
    Check {
        id: "LUCID-FILE-001",
        title: "No setuid or setgid files",
        severity: Error,
        seed_action: SECURITY,
        remediation: "clear the setuid/setgid bits (chmod u-s,g-s) or drop the binaries: a non-root image needs none",
    },
    Check {
        id: "LUCID-FILE-002",
        title: "No world-writable files or directories (except sticky /tmp-like directories)",
        severity: Error,
        seed_action: SECURITY,
        remediation: "chmod o-w the path, or make a shared scratch directory sticky (1777) like /tmp",
    },
    Check {
        id: "LUCID-SECRET-001",
        title: "No private keys in any layer",
        severity: Error,
        seed_action: SECURITY,
        remediation: "never copy keys into an image (mount them at run time); deleting in a later layer does not remove them",
    },
    Check {
        id: "LUCID-SECRET-002",
        title: "No credential files (.env, .git, cloud and registry credentials)",
        severity: Error,
        seed_action: SECURITY,
        remediation: "add the files to .dockerignore / leave them out of the spec; rotate anything that shipped",
    },
    Check {
        id: "LUCID-SECRET-003",
        title: "No secret-looking ENV or labels",
        severity: Error,
        seed_action: SECURITY,
        remediation: "pass secrets at run time (secret mounts, orchestrator secrets), never in ENV or LABEL",
    },
    Check {
        id: "LUCID-META-001",
        title: "The expected OCI labels are present",
        severity: Warning,
        seed_action: META,
        remediation: "set org.opencontainers.image.title/description/licenses/vendor (spec labels:)",
    },
    Check {
        id: "LUCID-META-002",
        title: "Config has a valid created time",
        severity: Warning,
        seed_action: META,
        remediation: "write created as RFC 3339 (lucid uses SOURCE_DATE_EPOCH)",
    },
    Check {
        id: "LUCID-META-003",
        title: "Architecture and OS match the platform",
        severity: Error,
        seed_action: "Multi-platform build (linux/amd64, linux/arm64)",
        remediation: "rebuild: the config's os/architecture must equal the platform the index names",
    },
    Check {
        id: "LUCID-META-004",
        title: "Entrypoint and Cmd are exec form without a shell",
        severity: Error,
        seed_action: DISTROLESS,
        remediation: "use exec form (CMD [\"python3\", \"app.py\"]): shell form needs /bin/sh, which a distroless image lacks",
    },
    Check {
        id: "LUCID-SIGN-001",
        title: "Signed with the given key (sigstore format), for this digest and repository",
        severity: Error,
        seed_action: "Supply chain: images are signed and verified before use",
        remediation: "sign the pushed image (lucid sign docker://HOST/REPO:TAG --key KEY, or lucid build --push --sign KEY); a signature copied from another image or repository does not count",
    },
    Check {
        id: "LUCID-SIGN-002",
        title: "Signed SLSA provenance and SPDX and CycloneDX attestations about this digest",
        severity: Error,
        seed_action: "Supply chain: images are signed and verified before use",
        remediation: "push with lucid build --push --sign KEY, which attaches them (in-toto statements in DSSE envelopes, cosign's .att tag); an attestation about another digest does not count",
    },
    Check {
        id: "LUCID-META-005",
        title: "HEALTHCHECK reported",
        severity: Info,
        seed_action: META,
        remediation: "base images usually leave health checks to the application image or the orchestrator",
    },
    Check {
        id: "LUCID-RUNTIME-001",
        title: "The interpreter starts (python --version / java -version)",
        severity: Error,
        seed_action: TESTS,
        remediation: "check the interpreter's links (/usr/bin/python3, /usr/bin/java) and its shared libraries",
    },
    Check {
        id: "LUCID-RUNTIME-002",
        title: "The process runs as the configured UID inside the container",
        severity: Error,
        seed_action: USER,
        remediation: "set the config User numerically; check the engine does not override it",
    },
    Check {
        id: "LUCID-RUNTIME-003",
        title: "/bin/sh cannot start in a runtime image",
        severity: Error,
        seed_action: DISTROLESS,
        remediation: "remove every shell and the /bin/sh link from the runtime image",
    },
    Check {
        id: "LUCID-RUNTIME-004",
        title: "The trust store has CA certificates",
        severity: Error,
        seed_action: TESTS,
        remediation: "generate /etc/ssl/certs/ca-certificates.crt and the /usr/lib/ssl links (python), or the JVM cacerts",
    },
    Check {
        id: "LUCID-RUNTIME-005",
        title: "Build-stage tools run (pip --version / javac -version)",
        severity: Error,
        seed_action: TESTS,
        remediation: "add python3-pip (or the JDK) to the build-stage image",
    },
    Check {
        id: "LUCID-RUNTIME-006",
        title: "The Python standard library is complete (every module of sys.stdlib_module_names imports)",
        severity: Error,
        seed_action: TESTS,
        remediation: "add the Debian packages that split the standard library (python3-gdbm; for 3.11 also python3-distutils and python3-lib2to3, which 3.12 and 3.13 no longer have) and the shared libraries its extension modules load; do not prune stdlib files",
    },
    Check {
        id: "LUCID-CST-001",
        title: "container-structure-test commandTests",
        severity: Error,
        seed_action: TESTS,
        remediation: "see the test's expected output and exit code in the --config file",
    },
    Check {
        id: "LUCID-CST-002",
        title: "container-structure-test fileExistenceTests",
        severity: Error,
        seed_action: TESTS,
        remediation: "see the test's path, permissions and owner in the --config file",
    },
    Check {
        id: "LUCID-CST-003",
        title: "container-structure-test fileContentTests",
        severity: Error,
        seed_action: TESTS,
        remediation: "see the test's expected and excluded contents in the --config file",
    },
    Check {
        id: "LUCID-CST-004",
        title: "container-structure-test metadataTest",
        severity: Error,
        seed_action: TESTS,
        remediation: "see the expected config (env, labels, user, entrypoint, cmd, workdir) in the --config file",
    },
    Check {
        id: "LUCID-CST-005",
        title: "container-structure-test licenseTests",
        severity: Error,
        seed_action: TESTS,
        remediation: "keep usr/share/doc/*/copyright for every package (prune keep:), or drop the package",
    },
    Check {
        id: "LUCID-CST-006",
        title: "container-structure-test containerRunOptions lucid can honour",
        severity: Error,
        seed_action: TESTS,
        remediation: "drop privileged, capabilities, a root user and writable bind mounts: lucid runs images confined \
                      (docs/verify.md, container-structure-test schema)",
    },
    // Applications (`--app`, src/verify/app): 001..099 here and for Python; LUCID-APP-101..199
    // are reserved for Java applications (src/verify/app/java.rs). 002 and 003 hold for any ELF
    // file of an application, a JNI library in a jar as much as a Python extension module.
    Check {
        id: "LUCID-APP-001",
        title: "A Python image has the manylinux policy's system libraries",
        severity: Error,
        seed_action: APP,
        remediation: "add the package that ships the library (libstdc++6, libgcc-s1, zlib1g...) to the image's packages",
    },
    Check {
        id: "LUCID-APP-002",
        title: "Every shared library the application's ELF files need is found",
        severity: Error,
        seed_action: APP,
        remediation: "add the package that ships the library to the image's packages, or bundle the library into the application",
    },
    Check {
        id: "LUCID-APP-003",
        title: "Every symbol version the application's ELF files need is defined",
        severity: Error,
        seed_action: APP,
        remediation: "use a build of the application made for an older system (a lower manylinux tag), or a newer base",
    },
    Check {
        id: "LUCID-APP-004",
        title: "Wheel tags fit the image's Python, ABI, architecture and glibc",
        severity: Error,
        seed_action: APP,
        remediation: "ship the wheel built for the image's CPython, architecture and glibc (pip download --platform --python-version)",
    },
    Check {
        id: "LUCID-APP-005",
        title: "Wheels for another platform or interpreter (not applicable here)",
        severity: Info,
        seed_action: APP,
        remediation: "nothing to do: another wheel of the same project fits this platform",
    },
    Check {
        id: "LUCID-JAVA-002",
        title: "The Java runtime has the minimum module set (java.beans, JMX, JDBC, EC crypto, Unsafe...)",
        severity: Error,
        seed_action: JAVA,
        remediation: "add the missing modules to java.modules (modules:) in build-args.yml; the set and why each is in \
                      it: docs/java-modules.md",
    },
    // The application checks (`--app`): LUCID-APP-101 and up are Java's.
    Check {
        id: "LUCID-APP-101",
        title: "The Java runtime has every module the application's jars need (jdeps)",
        severity: Error,
        seed_action: JAVA,
        remediation: "add the named modules to java.modules (modules:) of the image in build-args.yml (jlink \
                      --add-modules); without them the application fails with NoClassDefFoundError",
    },
    Check {
        id: "LUCID-APP-102",
        title: "No class of the application is compiled for a newer Java than the runtime's",
        severity: Error,
        seed_action: JAVA,
        remediation: "compile with javac --release N for the runtime's N (maven.compiler.release, Gradle \
                      options.release), or run the application on a runtime image of that Java version",
    },
    Check {
        id: "LUCID-APP-103",
        title: "What the jar analysis cannot see (reflection, Class.forName, JNI, command-line modules)",
        severity: Info,
        seed_action: JAVA,
        remediation: "run the application in the image (lucid-java-base) in an integration test; add what it loads \
                      by name to java.modules",
    },
];

/// The catalogue entry for `id`.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate {}", c.id);
            assert!(crate::findings::is_check_id(c.id) && c.id.starts_with("LUCID-"), "{}", c.id);
            assert!(!c.title.is_empty() && !c.remediation.is_empty() && !c.seed_action.is_empty());
        }
        assert!(check("LUCID-USER-001").is_some());
        assert!(check("LUCID-NOPE-001").is_none());
    }
}
