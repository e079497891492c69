//! `lucid debug --print-kubectl POD`: the `kubectl debug` command line that gives a Kubernetes
//! pod the same toolbox as an ephemeral container, as the pod's non-root user.
//!
//! `kubectl debug --target` shares the target container's PID namespace (the network and IPC
//! namespaces are the pod's already). The `restricted` profile drops every capability and sets
//! `runAsNonRoot`, which pods under the restricted Pod Security Standard require of an ephemeral
//! container too; `--custom` sets the UID and GID, so the toolbox runs as the application does:
//! ptrace, `/proc/PID/root` and a JVM's attach socket need the same UID, not a capability.

use super::Ids;

/// What the printed command names.
pub struct Request<'a> {
    pub pod: &'a str,
    /// The application's container in the pod (`--target`).
    pub container: &'a str,
    /// The toolbox image, as the cluster pulls it (`REGISTRY/lucid-toolbox:TAG`).
    pub image: &'a str,
    pub namespace: Option<&'a str>,
    /// The pod's user; root gets the `general` profile instead of `restricted`.
    pub ids: Ids,
}

/// The command, for bash or zsh: `--custom` reads a file, given here by process substitution.
pub fn command(r: &Request) -> String {
    let root = r.ids.uid == 0;
    let custom = serde_json::json!({
        "securityContext": {
            "runAsUser": r.ids.uid,
            "runAsGroup": r.ids.gid,
            "runAsNonRoot": !root,
            "allowPrivilegeEscalation": false,
        }
    });
    let mut words = vec!["kubectl".to_string(), "debug".into(), "-it".into(), quote(r.pod)];
    if let Some(ns) = r.namespace {
        words.push(format!("--namespace={}", quote(ns)));
    }
    words.push(format!("--image={}", quote(r.image)));
    words.push(format!("--target={}", quote(r.container)));
    words.push(format!("--profile={}", if root { "general" } else { "restricted" }));
    words.push(format!("--custom=<(echo {})", quote(&custom.to_string())));
    words.extend(["--".into(), "/bin/busybox".into(), "sh".into()]);
    words.join(" ")
}

/// `s` quoted for a POSIX shell when it needs to be.
fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@=".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_root_pod_gets_the_restricted_profile_and_its_own_uid() {
        let r = Request {
            pod: "shop-7d9f",
            container: "app",
            image: "registry.example/lucid/lucid-toolbox:latest",
            namespace: Some("prod"),
            ids: Ids { uid: 65532, gid: 65532 },
        };
        let c = command(&r);
        assert!(c.starts_with("kubectl debug -it shop-7d9f --namespace=prod --image=registry.example/"), "{c}");
        assert!(c.contains("--target=app --profile=restricted"), "{c}");
        assert!(c.contains(r#""runAsUser":65532"#) && c.contains(r#""runAsNonRoot":true"#), "{c}");
        let root = command(&Request { ids: Ids { uid: 0, gid: 0 }, namespace: None, ..r });
        assert!(root.contains("--profile=general") && root.contains(r#""runAsNonRoot":false"#), "{root}");
    }

    #[test]
    fn odd_names_are_quoted() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("pod-1"), "pod-1");
    }
}
