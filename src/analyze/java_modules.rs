//! What a Java runtime must hold, whatever a static analysis of the application says.
//!
//! jdeps sees the classes a jar names in its byte code. It cannot see what the JDK finds for an
//! application at run time: security providers, charsets, locale data and file systems found
//! through `ServiceLoader` (TLS fails without `jdk.crypto.ec`, and no class names it), classes
//! reached by reflection (`sun.misc.Unsafe` for Netty, found by name), modules started from the
//! command line (`-javaagent`, `-XX:StartFlightRecording`), native code loaded through JNI. So:
//!
//! - [`MINIMUM`] is the set every Lucid Java runtime holds (verify checks it on every image with a
//!   Java runtime, `LUCID-JAVA-002`): what services and their common frameworks load;
//! - [`NEVER_ADVISED`] are modules `lucid report --app` never advises leaving out, because what
//!   uses them is invisible to jdeps;
//! - [`kept`] adds what the application itself declares: `META-INF/services` providers of JDK
//!   interfaces, `Add-Opens`/`Add-Exports`/`Launcher-Agent-Class` manifest attributes, and the
//!   management modules when its jars use JMX or carry a framework that registers MBeans.
//!
//! docs/java-modules.md gives the same lists with the reasons; keep them in step.

use std::collections::{BTreeMap, BTreeSet};

use super::jars::Jar;

/// Modules every Java runtime image must have (`LUCID-JAVA-002`), with why. A runtime made for
/// one application may drop some of these with `--ignore LUCID-JAVA-002`.
pub const MINIMUM: &[(&str, &str)] = &[
    ("java.base", "the language and core libraries"),
    ("java.desktop", "java.beans: Spring, Jackson, Tomcat and most bean-mapping libraries introspect beans with it"),
    ("java.logging", "java.util.logging: Tomcat, Jetty and the bridges of SLF4J and Log4j 2"),
    ("java.management", "JMX: Tomcat, Spring Boot, HikariCP, Log4j 2 and Micrometer register MBeans"),
    ("java.naming", "JNDI and LDAP; TLS host-name checks and Kerberos use it"),
    ("java.net.http", "java.net.http.HttpClient"),
    ("java.sql", "JDBC: every database driver and connection pool"),
    ("java.xml", "JAXP: XML configuration of Spring, Log4j 2, Logback"),
    ("jdk.crypto.ec", "the SunEC provider, found through the security provider list: ECDHE and ECDSA TLS"),
    ("jdk.unsupported", "sun.misc.Unsafe, reached by reflection: Netty, Kryo, Caffeine, Objenesis"),
    ("jdk.zipfs", "the zip file system provider: fat jars, FileSystems.newFileSystem(jar)"),
];

/// Modules `lucid report` never advises leaving out: what uses them does so through
/// `ServiceLoader`, the security provider list, reflection or the command line, which no
/// static analysis of the jars sees.
pub const NEVER_ADVISED: &[(&str, &str)] = &[
    (
        "jdk.crypto.ec",
        "security provider (SunEC) found through the provider list: ECDHE/ECDSA TLS handshakes fail without it",
    ),
    ("jdk.crypto.cryptoki", "security provider (SunPKCS11) named in java.security configuration"),
    ("jdk.localedata", "locale data provider found through ServiceLoader: formats of non-English locales"),
    ("jdk.charsets", "charset provider found by Charset.forName: Shift_JIS, EUC-KR, EBCDIC code pages"),
    ("jdk.naming.dns", "JNDI provider of dns: URLs, found by URL scheme: DNS SRV service discovery"),
    ("jdk.naming.rmi", "JNDI provider of rmi: URLs, found by URL scheme"),
    ("jdk.zipfs", "file-system provider of jar: and zip: found through ServiceLoader: fat jars, jar scanning"),
    ("jdk.jfr", "Flight Recorder, started from the command line (-XX:StartFlightRecording) or jcmd"),
    ("jdk.management.jfr", "Flight Recorder over JMX, started by tools"),
    ("jdk.unsupported", "sun.misc.Unsafe and sun.reflect, reached by reflection: Netty, Kryo, Objenesis"),
    ("jdk.net", "extended socket options, probed by reflection: Netty, gRPC"),
    ("java.instrument", "-javaagent on the command line: APM and tracing agents"),
    ("jdk.management.agent", "remote JMX from the command line (-Dcom.sun.management.jmxremote)"),
    ("jdk.security.auth", "JAAS login modules named in configuration files"),
    ("jdk.security.jgss", "Kerberos and GSS extensions named in configuration files"),
];

/// Packages of JDK service interfaces, longest prefix first wins, and the module that defines
/// them: a `META-INF/services/<interface>` file naming a provider of one makes the module needed.
const SERVICE_PACKAGES: &[(&str, &str)] = &[
    ("java.sql.", "java.sql"),
    ("javax.sql.", "java.sql"),
    ("javax.script.", "java.scripting"),
    ("javax.annotation.processing.", "java.compiler"),
    ("javax.tools.", "java.compiler"),
    ("javax.naming.", "java.naming"),
    ("javax.management.", "java.management"),
    ("javax.xml.", "java.xml"),
    ("org.w3c.dom.", "java.xml"),
    ("org.xml.sax.", "java.xml"),
    ("java.awt.", "java.desktop"),
    ("java.beans.", "java.desktop"),
    ("javax.imageio.", "java.desktop"),
    ("javax.print.", "java.desktop"),
    ("javax.sound.", "java.desktop"),
    ("javax.swing.", "java.desktop"),
    ("java.util.prefs.", "java.prefs"),
    ("java.util.logging.", "java.logging"),
    ("java.rmi.", "java.rmi"),
    ("javax.security.sasl.", "java.security.sasl"),
    ("org.ietf.jgss.", "java.security.jgss"),
    ("java.net.http.", "java.net.http"),
    ("jdk.jfr.", "jdk.jfr"),
    ("java.", "java.base"),
    ("javax.net.", "java.base"),
    ("javax.security.", "java.base"),
    ("javax.crypto.", "java.base"),
];

/// Class prefixes of frameworks that register MBeans at start-up, which need `java.management`
/// (and `jdk.management` for the platform MXBeans) even when the application's code never names JMX.
pub const MBEAN_FRAMEWORKS: &[(&str, &str)] = &[
    ("org/apache/catalina/", "Tomcat"),
    ("org/apache/tomcat/util/modeler/", "Tomcat"),
    ("org/springframework/jmx/", "Spring"),
    ("org/springframework/boot/", "Spring Boot"),
    ("com/zaxxer/hikari/", "HikariCP"),
    ("io/micrometer/core/instrument/binder/jvm/", "Micrometer"),
    ("org/apache/logging/log4j/core/jmx/", "Log4j 2"),
    ("ch/qos/logback/classic/jmx/", "Logback"),
    ("org/eclipse/jetty/jmx/", "Jetty"),
    ("org/apache/kafka/common/metrics/", "Kafka clients"),
    ("com/codahale/metrics/jmx/", "Dropwizard Metrics"),
    ("org/hibernate/jmx/", "Hibernate"),
];

/// The module that defines the JDK interface `interface` (a class name), if it is one.
pub fn service_module(interface: &str) -> Option<&'static str> {
    SERVICE_PACKAGES.iter().filter(|(p, _)| interface.starts_with(p)).max_by_key(|(p, _)| p.len()).map(|(_, m)| *m)
}

/// A Java runtime in an image, from its `release` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JavaRuntime {
    /// Its home, without a leading `/` (`usr/lib/jvm/java-17-lucid`).
    pub home: String,
    /// `JAVA_VERSION` (`17.0.15`).
    pub version: String,
    /// The feature release (17): class files up to major version `feature + 44` run on it.
    pub feature: u32,
    /// `MODULES`: what it links; `None` when the release file does not say.
    pub modules: Option<BTreeSet<String>>,
}

impl JavaRuntime {
    /// The newest class file major version it runs (Java 17: 61).
    pub fn class_major(&self) -> u32 {
        self.feature.saturating_add(44)
    }
}

/// Whether `path` (no leading `/`) may be a Java runtime's `release` file: at most six levels
/// deep (`usr/lib/jvm/NAME/release`, `opt/java/openjdk/release`).
pub fn is_release_path(path: &str) -> bool {
    path.rsplit('/').next() == Some("release") && path.split('/').count() <= 6
}

/// A field of a `release` file (`JAVA_VERSION="17.0.15"`), unquoted.
pub fn release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).map(|v| v.trim().trim_matches('"').to_string())
}

/// The Java feature release of a `JAVA_VERSION`: `17.0.15` -> 17, `1.8.0_392` -> 8, `25-ea` -> 25.
pub fn feature_release(version: &str) -> Option<u32> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 { parts.next()?.parse().ok() } else { Some(first) }
}

/// The runtime a `release` file at `path` describes, if it names a `JAVA_VERSION`.
pub fn parse_release(path: &str, data: &[u8]) -> Option<JavaRuntime> {
    let text = String::from_utf8_lossy(data);
    let version = release_field(&text, "JAVA_VERSION")?;
    let feature = feature_release(&version)?;
    let modules = release_field(&text, "MODULES").map(|m| m.split_whitespace().map(str::to_string).collect());
    let home = path.trim_end_matches("release").trim_end_matches('/').to_string();
    Some(JavaRuntime { home, version, feature, modules })
}

/// The modules of [`MINIMUM`] that `runtime` lacks, each with why it is in the set; empty when
/// the runtime does not list its modules.
pub fn missing_minimum(runtime: &JavaRuntime) -> Vec<(&'static str, &'static str)> {
    let Some(have) = &runtime.modules else { return Vec::new() };
    MINIMUM.iter().filter(|(m, _)| !have.contains(*m)).copied().collect()
}

/// What the jars declare that jdeps does not see, as module -> (index of the jar, reason):
/// providers of JDK service interfaces in `META-INF/services`, `Add-Opens`/`Add-Exports` targets,
/// agents (`Launcher-Agent-Class`, `Premain-Class`, `Agent-Class` need `java.instrument`).
pub fn declared(jars: &[Jar]) -> BTreeMap<String, (usize, String)> {
    let mut out: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, jar) in jars.iter().enumerate() {
        let mut add = |m: &str, why: String| {
            out.entry(m.to_string()).or_insert((i, why));
        };
        for (interface, _) in &jar.services {
            if let Some(m) = service_module(interface) {
                add(m, format!("{} provides {interface} (META-INF/services)", jar.name));
            }
        }
        let mf = &jar.manifest;
        for (attr, targets) in [("Add-Opens", &mf.add_opens), ("Add-Exports", &mf.add_exports)] {
            for t in targets {
                if let Some((m, _)) = t.split_once('/') {
                    add(m, format!("{} declares {attr}: {t}", jar.name));
                }
            }
        }
        if let Some(agent) = &mf.agent {
            add("java.instrument", format!("{} is a Java agent ({agent})", jar.name));
        }
    }
    out
}

/// Every module to keep whatever jdeps says, with why: [`NEVER_ADVISED`], what the jars
/// [`declared`], and the management modules when `needed` (jdeps) holds `java.management` or a
/// jar carries a framework that registers MBeans.
pub fn kept(jars: &[Jar], needed: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        NEVER_ADVISED.iter().map(|(m, why)| (m.to_string(), why.to_string())).collect();
    for (m, (_, why)) in declared(jars) {
        out.entry(m).or_insert(why);
    }
    let mbeans = jars.iter().find_map(|j| j.mbean_framework.map(|f| format!("{f} ({}) registers MBeans", j.name)));
    let jmx = needed.contains("java.management").then(|| "the jars use JMX (java.management)".to_string());
    if let Some(why) = mbeans.or(jmx) {
        out.entry("java.management".into()).or_insert_with(|| why.clone());
        out.entry("jdk.management".into()).or_insert_with(|| format!("platform MXBeans (com.sun.management): {why}"));
    }
    out
}

/// `kept` restricted to the modules `present` in a runtime, then closed over `requires` (from
/// `requires`, the JDK's module graph) within it: leaving out `java.naming` while keeping
/// `jdk.naming.dns` would be advice jlink refuses. A kept module the runtime lacks keeps nothing.
pub fn kept_in(
    kept: &BTreeMap<String, String>,
    requires: &BTreeMap<String, BTreeSet<String>>,
    present: &BTreeSet<&str>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        kept.iter().filter(|(m, _)| present.contains(m.as_str())).map(|(m, w)| (m.clone(), w.clone())).collect();
    let mut todo: Vec<String> = out.keys().cloned().collect();
    while let Some(m) = todo.pop() {
        for r in requires.get(&m).into_iter().flatten() {
            if present.contains(r.as_str()) && !out.contains_key(r) {
                out.insert(r.clone(), format!("required by {m}, which is kept"));
                todo.push(r.clone());
            }
        }
    }
    out
}

/// What no analysis of class files can see, said once wherever module advice is given.
pub const NOT_SEEN: &str = "static analysis (jdeps) does not see classes loaded by reflection or by name \
     (Class.forName strings, ServiceLoader lookups of providers outside the jars), native code \
     (JNI, System.loadLibrary) or modules started from the command line (-javaagent, \
     -XX:StartFlightRecording): run the application in the image to prove them";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_files_parse() {
        let r = parse_release(
            "usr/lib/jvm/java-17-lucid/release",
            b"IMPLEMENTOR=\"Debian\"\nJAVA_VERSION=\"17.0.15\"\nMODULES=\"java.base java.logging\"\n",
        )
        .unwrap();
        assert_eq!((r.home.as_str(), r.feature, r.class_major()), ("usr/lib/jvm/java-17-lucid", 17, 61));
        assert_eq!(r.modules.unwrap().into_iter().collect::<Vec<_>>(), ["java.base", "java.logging"]);
        assert_eq!(feature_release("1.8.0_392"), Some(8));
        assert_eq!(feature_release("25-ea"), Some(25));
        assert!(parse_release("release", b"NAME=x\n").is_none());
        assert!(is_release_path("usr/lib/jvm/java-17-lucid/release") && !is_release_path("a/b/c/d/e/f/release"));
        assert!(!is_release_path("etc/os-release"));
    }

    #[test]
    fn kept_modules_keep_what_they_require_in_the_runtime_only() {
        let kept: BTreeMap<String, String> =
            [("jdk.naming.dns", "dns"), ("jdk.management.agent", "agent")].map(|(m, w)| (m.into(), w.into())).into();
        let requires: BTreeMap<String, BTreeSet<String>> = [
            ("jdk.naming.dns", &["java.naming"][..]),
            ("java.naming", &["java.security.sasl"]),
            ("jdk.management.agent", &["java.management.rmi"]),
            ("java.management.rmi", &["java.rmi"]),
        ]
        .map(|(m, r)| (m.to_string(), r.iter().map(|x| x.to_string()).collect()))
        .into();
        let present: BTreeSet<&str> =
            ["java.base", "jdk.naming.dns", "java.naming", "java.security.sasl", "java.rmi"].into();
        let out = kept_in(&kept, &requires, &present);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["java.naming", "java.security.sasl", "jdk.naming.dns"]);
        assert_eq!(out["java.security.sasl"], "required by java.naming, which is kept");
    }

    #[test]
    fn service_interfaces_map_to_their_modules() {
        assert_eq!(service_module("java.sql.Driver"), Some("java.sql"));
        assert_eq!(service_module("java.nio.file.spi.FileSystemProvider"), Some("java.base"));
        assert_eq!(service_module("javax.annotation.processing.Processor"), Some("java.compiler"));
        assert_eq!(service_module("org.slf4j.spi.SLF4JServiceProvider"), None);
    }

    #[test]
    fn the_minimum_set_is_named_and_checked() {
        let mut r = parse_release("release", b"JAVA_VERSION=\"17\"\nMODULES=\"java.base java.logging\"\n").unwrap();
        let missing: Vec<&str> = missing_minimum(&r).into_iter().map(|m| m.0).collect();
        assert!(missing.contains(&"java.desktop") && !missing.contains(&"java.base"), "{missing:?}");
        r.modules = None;
        assert!(missing_minimum(&r).is_empty());
        // The runtime lucid links when a spec names no modules holds the whole minimum set.
        for (m, _) in MINIMUM {
            assert!(crate::spec::DEFAULT_JAVA_MODULES.contains(m), "{m} is not in DEFAULT_JAVA_MODULES");
        }
    }
}
