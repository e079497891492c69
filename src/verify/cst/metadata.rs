//! metadataTest against the image config, as `MetadataTest.Run` judges it with the config the
//! docker driver builds (`GetConfig`): the image's own environment (`globalEnvVars` do not count
//! here), labels, entrypoint and cmd (checked only when given; `[]` means none), workdir and user
//! (checked only when not empty), exposed ports by number (`8080`, not `8080/tcp`: the driver
//! keeps only `Port()`), volumes by path.

use super::schema::EnvVar;
use super::{Suite, image_env, matches, verdict};
use crate::findings::Finding;
use crate::verify::Subject;

/// The one finding of the suite's metadataTest; none when the test is empty (container-structure-
/// test does not run it).
pub fn run(suite: &Suite, s: &Subject) -> Vec<Finding> {
    let m = &suite.schema.metadata_test;
    if m.is_empty() {
        return Vec::new();
    }
    // `Validate`: any of these fails the test before anything is compared.
    let mut p: Vec<String> = Vec::new();
    if m.env_vars.iter().any(|e| e.key.is_empty()) {
        p.push("environment variable key cannot be empty".into());
    }
    if m.labels.iter().any(|e| e.key.is_empty()) {
        p.push("label key cannot be empty".into());
    }
    if m.exposed_ports.iter().any(String::is_empty) {
        p.push("port cannot be empty".into());
    }
    if m.volumes.iter().any(String::is_empty) {
        p.push("volume cannot be empty".into());
    }
    if p.is_empty() {
        p = compare(suite, s);
    }
    vec![verdict(s, suite, "LUCID-CST-004", "metadataTest", p, "config as expected".into())]
}

fn compare(suite: &Suite, s: &Subject) -> Vec<String> {
    let m = &suite.schema.metadata_test;
    let c = &s.image.config.config;
    let env = image_env(s);
    let mut p = Vec::new();
    let check = |p: &mut Vec<String>, what: &str, want: &EnvVar, got: Option<&String>| match got {
        None => p.push(format!("{what} {} is not set", want.key)),
        Some(v) => {
            let ok = if want.is_regex { matches(&want.value, v) } else { Ok(*v == want.value) };
            match ok {
                Ok(true) => {}
                Ok(false) => p.push(format!("{what} {}={v:?}, expected {:?}", want.key, want.value)),
                Err(e) => p.push(e),
            }
        }
    };
    for e in &m.env_vars {
        check(&mut p, "env", e, env.get(&e.key));
    }
    for e in m.unbound_env_vars.iter().filter(|e| env.contains_key(&e.key)) {
        p.push(format!("env {} is set and should not be", e.key));
    }
    for l in &m.labels {
        check(&mut p, "label", l, c.labels.get(&l.key));
    }
    if let Some(cmd) = &m.cmd
        && *cmd != c.cmd
    {
        p.push(format!("cmd {:?}, expected {cmd:?}", c.cmd));
    }
    if let Some(e) = &m.entrypoint
        && *e != c.entrypoint
    {
        p.push(format!("entrypoint {:?}, expected {e:?}", c.entrypoint));
    }
    if !m.workdir.is_empty() && m.workdir != c.working_dir {
        p.push(format!("workdir {:?}, expected {:?}", c.working_dir, m.workdir));
    }
    if !m.user.is_empty() && m.user != c.user {
        p.push(format!("user {:?}, expected {:?}", c.user, m.user));
    }
    let keys = |field: &str| -> Vec<String> {
        s.raw_config
            .pointer(&format!("/config/{field}"))
            .and_then(|v| v.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    // `docker.Port("8080/tcp").Port()` is "8080": the protocol is not compared.
    let ports: Vec<String> =
        keys("ExposedPorts").iter().map(|k| k.split('/').next().unwrap_or_default().to_string()).collect();
    p.extend(m.exposed_ports.iter().filter(|x| !ports.contains(x)).map(|x| format!("port {x} is not exposed")));
    p.extend(m.unexposed_ports.iter().filter(|x| ports.contains(x)).map(|x| format!("port {x} is exposed")));
    let volumes = keys("Volumes");
    p.extend(m.volumes.iter().filter(|v| !volumes.contains(v)).map(|v| format!("no volume {v}")));
    p.extend(m.unmounted_volumes.iter().filter(|v| volumes.contains(v)).map(|v| format!("volume {v} is declared")));
    p
}
