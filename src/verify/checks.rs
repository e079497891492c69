//! The static checks: everything provable from the config and the merged filesystem, with no
//! container started. Each function returns the one finding of its check.

use std::collections::{BTreeMap, BTreeSet};

use crate::findings::{Finding, Location, Severity, Status};
use crate::oci::read::EntryKind;
use crate::spec::{Stage, format_size};

use super::Subject;
use super::catalogue;
use crate::oci::Image;
use crate::oci::view::FsEntry;

/// At most this many locations per finding; the message gives the full count.
const MAX_LOCATIONS: usize = 10;

/// A finding of check `id` about `subject`, with the catalogue's title, severity and remediation.
pub fn finding(id: &str, subject: &str, status: Status, message: impl Into<String>) -> Finding {
    match catalogue::check(id) {
        Some(c) => c.finding(subject, status, message),
        // Not in the catalogue: the ID is its own title, an error with no advice.
        None => Finding {
            id: id.to_string(),
            title: id.to_string(),
            severity: Severity::Error,
            status,
            subject: subject.to_string(),
            message: message.into(),
            locations: Vec::new(),
            remediation: String::new(),
            seed_action: String::new(),
            ignored: false,
        },
    }
}

/// Pass when `paths` is empty, else fail listing them (with the layer each came from).
fn from_paths(s: &Subject, id: &str, paths: Vec<String>, what: &str, ok: &str) -> Finding {
    if paths.is_empty() {
        return finding(id, &s.name, Status::Pass, ok);
    }
    let shown: Vec<String> = paths.iter().take(3).map(|p| format!("/{p}")).collect();
    let more = if paths.len() > 3 { format!(" and {} more", paths.len() - 3) } else { String::new() };
    let mut f = finding(id, &s.name, Status::Fail, format!("{} {what}: {}{more}", paths.len(), shown.join(", ")));
    f.locations = paths
        .iter()
        .take(MAX_LOCATIONS)
        .map(|p| Location { path: format!("/{p}"), layer: s.fs.layer_of(p), ..Default::default() })
        .collect();
    f
}

/// Skips a stage-dependent check on a build-stage image.
fn build_stage_skip(s: &Subject, id: &str, what: &str) -> Option<Finding> {
    (s.stage == Stage::Build)
        .then(|| finding(id, &s.name, Status::Skip, format!("build-stage image ({}): {what} allowed", s.stage_source)))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Executable files and links whose base name satisfies `pred`.
fn executables(s: &Subject, pred: impl Fn(&str) -> bool) -> Vec<String> {
    s.fs.entries
        .iter()
        .filter(|(p, e)| {
            let runnable = match e.kind {
                EntryKind::File | EntryKind::Hardlink => e.mode & 0o111 != 0,
                EntryKind::Symlink => true,
                _ => false,
            };
            runnable && pred(basename(p))
        })
        .map(|(p, _)| p.clone())
        .collect()
}

pub const SHELLS: &[&str] =
    &["sh", "bash", "dash", "ash", "hush", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox", "rbash"];

const OS_PACKAGE_MANAGERS: &[&str] =
    &["apt", "apt-get", "aptitude", "dpkg", "dpkg-deb", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pacman"];

/// Whether `path` is a debug image's busybox: `/busybox/busybox`, a regular file, or a link in
/// `/busybox` to it, with `/busybox` a real directory.
fn debug_busybox(s: &Subject, path: &str) -> bool {
    let dir = crate::spec::DEBUG_SHELL_DIR;
    let path = path.trim_start_matches('/');
    let Some(name) = path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) else { return false };
    if name.contains('/') || !s.fs.entries.get(dir).is_some_and(|e| e.kind == EntryKind::Dir) {
        return false;
    }
    let binary = format!("{dir}/busybox");
    let Some(entry) = s.fs.entries.get(path) else { return false };
    match entry.kind {
        EntryKind::File => path == binary,
        EntryKind::Symlink => {
            entry.link.as_deref().is_some_and(|t| t == "busybox" || t.trim_start_matches('/') == binary)
                && s.fs.entries.get(&binary).is_some_and(|e| e.kind == EntryKind::File)
        }
        _ => false,
    }
}

pub fn size(s: &Subject) -> Vec<Finding> {
    let content = s.fs.content_size();
    let stored: u64 = s.fs.layers.iter().map(|l| l.stored).sum();
    let tar: u64 = s.fs.layers.iter().map(|l| l.tar_bytes).sum();
    let facts = format!(
        "{} uncompressed ({} as tar, {} compressed, {} layers)",
        format_size(content),
        format_size(tar),
        format_size(stored),
        s.fs.layers.len()
    );
    let budget = match &s.budget {
        Err(why) => finding(
            "LUCID-SIZE-001",
            &s.name,
            Status::Fail,
            format!("{facts}; the image's budget cannot be used: {why} (write it like 60MB or 1.5GiB)"),
        ),
        Ok(None) => finding(
            "LUCID-SIZE-001",
            &s.name,
            Status::Skip,
            format!("{facts}; no budget (give --max-size, a spec budget, or the label dev.lucid.budget)"),
        ),
        Ok(Some((b, from))) if content > *b => finding(
            "LUCID-SIZE-001",
            &s.name,
            Status::Fail,
            format!("{facts}, over the budget of {} ({from})", format_size(*b)),
        ),
        Ok(Some((b, from))) => {
            finding("LUCID-SIZE-001", &s.name, Status::Pass, format!("{facts}, within {} ({from})", format_size(*b)))
        }
    };
    // dive's CI gate fails on wasted bytes; a megabyte keeps rounding noise out.
    let wasted = s.fs.wasted_bytes;
    let waste = if wasted > 1_000_000 {
        finding(
            "LUCID-SIZE-002",
            &s.name,
            Status::Fail,
            format!("{} of files deleted or overwritten by later layers still ship", format_size(wasted)),
        )
    } else {
        finding("LUCID-SIZE-002", &s.name, Status::Pass, format!("{} wasted", format_size(wasted)))
    };
    vec![budget, waste]
}

pub fn distroless(s: &Subject) -> Vec<Finding> {
    let shell = build_stage_skip(s, "LUCID-SHELL-001", "a shell is").unwrap_or_else(|| {
        let mut found = executables(s, |b| SHELLS.contains(&b));
        // A debug image's busybox is its point: the binary and links to it in their own, real
        // directory (a `/busybox` symlink to /bin would put them on the default path). Any other
        // shell, there or anywhere, is not.
        let before = found.len();
        if s.debug {
            found.retain(|p| !debug_busybox(s, p));
        }
        let ok = if s.debug && before > found.len() {
            format!(
                "debug image (label {}): its shell is busybox under /{}/ only",
                crate::oci::labels::DEBUG_LABEL,
                crate::spec::DEBUG_SHELL_DIR
            )
        } else {
            "no shell on disk".to_string()
        };
        from_paths(s, "LUCID-SHELL-001", found, "shell(s) on disk", &ok)
    });
    let os_pm = build_stage_skip(s, "LUCID-PKGMGR-001", "a package manager is").unwrap_or_else(|| {
        let found = executables(s, |b| OS_PACKAGE_MANAGERS.contains(&b));
        from_paths(s, "LUCID-PKGMGR-001", found, "package manager(s)", "no OS package manager")
    });
    let lang_pm = build_stage_skip(s, "LUCID-PKGMGR-002", "pip is").unwrap_or_else(|| {
        let mut found = executables(s, |b| {
            let b = b.strip_prefix("pip").or_else(|| b.strip_prefix("easy_install")).map(|r| r.trim_start_matches('-'));
            b.is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        });
        // `python -m pip` works without any script on PATH.
        found.extend(s.fs.entries.keys().filter(|p| p.ends_with("-packages/pip/__main__.py")).cloned());
        found.sort();
        found.dedup();
        from_paths(s, "LUCID-PKGMGR-002", found, "language package manager(s)", "no pip or easy_install")
    });
    let compilers = build_stage_skip(s, "LUCID-COMPILER-001", "compilers are").unwrap_or_else(|| {
        let found = executables(s, |b| {
            let b = b.rsplit_once("-linux-gnu-").map_or(b, |(_, r)| r);
            let b = b
                .split_once('-')
                .map_or(b, |(n, v)| if v.chars().all(|c| c.is_ascii_digit() || c == '.') { n } else { b });
            ["gcc", "cc", "c++", "g++", "clang", "clang++", "javac", "rustc", "tcc", "cc1"].contains(&b)
        });
        from_paths(s, "LUCID-COMPILER-001", found, "compiler(s)", "no compiler")
    });
    vec![shell, os_pm, lang_pm, compilers]
}

/// A line of /etc/passwd or /etc/group, split on `:`.
fn records(s: &Subject, path: &str) -> Option<Vec<Vec<String>>> {
    let data = s.fs.captured.get(path)?;
    Some(
        String::from_utf8_lossy(data)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split(':').map(String::from).collect())
            .collect(),
    )
}

/// The config User resolved: (uid, gid if known) or why not.
pub fn resolve_user(s: &Subject) -> Result<(u32, Option<u32>), String> {
    resolve_user_of(s, &s.image.config.config.user)
}

/// `user` (`NAME`, `UID`, `NAME:GROUP`, `UID:GID`) resolved through the image's own
/// `/etc/passwd` and `/etc/group`, as the engine would resolve it in a container of the image;
/// empty is root.
pub fn resolve_user_of(s: &Subject, user: &str) -> Result<(u32, Option<u32>), String> {
    let user = user.trim();
    if user.is_empty() {
        return Ok((0, Some(0)));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = records(s, "etc/passwd").unwrap_or_default();
    let group = records(s, "etc/group").unwrap_or_default();
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => passwd
            .iter()
            .find(|r| r.first().is_some_and(|n| n == u))
            .and_then(|r| r.get(2)?.parse().ok())
            .ok_or_else(|| format!("User {u:?} is not a name in /etc/passwd"))?,
    };
    let gid = match g {
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .iter()
                .find(|r| r.first().is_some_and(|n| n == g))
                .and_then(|r| r.get(2)?.parse().ok())
                .ok_or_else(|| format!("group {g:?} is not a name in /etc/group"))?,
        }),
        None => {
            passwd.iter().find(|r| r.get(2).is_some_and(|x| *x == uid.to_string())).and_then(|r| r.get(3)?.parse().ok())
        }
    };
    Ok((uid, gid))
}

pub fn user(s: &Subject) -> Vec<Finding> {
    let user = s.image.config.config.user.trim().to_string();
    let name = &s.name;
    let resolved = resolve_user(s);
    let f1 = match &resolved {
        _ if user.is_empty() => finding("LUCID-USER-001", name, Status::Fail, "no User in the config: runs as root"),
        Err(why) => finding("LUCID-USER-001", name, Status::Fail, why.clone()),
        Ok((0, _)) => finding("LUCID-USER-001", name, Status::Fail, format!("User {user:?} is root (UID 0)")),
        Ok((uid, _)) if Some(*uid) != s.expected_uid && s.expected_uid.is_some() => finding(
            "LUCID-USER-001",
            name,
            Status::Fail,
            format!("runs as UID {uid}, expected {} (--uid)", s.expected_uid.unwrap_or_default()),
        ),
        Ok((uid, _)) => finding("LUCID-USER-001", name, Status::Pass, format!("User {user:?}: UID {uid}")),
    };
    let numeric = user.split(':').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let f2 = if user.is_empty() {
        finding("LUCID-USER-002", name, Status::Skip, "no User set (see LUCID-USER-001)")
    } else if numeric {
        finding("LUCID-USER-002", name, Status::Pass, format!("User {user:?} is numeric"))
    } else {
        finding("LUCID-USER-002", name, Status::Fail, format!("User {user:?} uses a name, not UID[:GID]"))
    };
    vec![f1, f2, account(s, &resolved), account_files(s)]
}

/// LUCID-USER-003: the account behind the UID.
fn account(s: &Subject, resolved: &Result<(u32, Option<u32>), String>) -> Finding {
    let id = "LUCID-USER-003";
    let Ok((uid, gid)) = resolved else {
        return finding(id, &s.name, Status::Skip, "the User does not resolve (see LUCID-USER-001)");
    };
    let Some(passwd) = records(s, "etc/passwd") else {
        return finding(id, &s.name, Status::Fail, "no /etc/passwd");
    };
    let Some(row) = passwd.iter().find(|r| r.get(2).is_some_and(|x| *x == uid.to_string())) else {
        return finding(id, &s.name, Status::Fail, format!("UID {uid} has no entry in /etc/passwd"));
    };
    let gid = gid.or_else(|| row.get(3)?.parse().ok());
    let groups = records(s, "etc/group").unwrap_or_default();
    if let Some(g) = gid
        && !groups.iter().any(|r| r.get(2).is_some_and(|x| *x == g.to_string()))
    {
        return finding(id, &s.name, Status::Fail, format!("GID {g} of UID {uid} has no entry in /etc/group"));
    }
    let home = row.get(5).cloned().unwrap_or_default();
    let mut f = match s.fs.lookup(&home) {
        None => finding(id, &s.name, Status::Fail, format!("home {home:?} of UID {uid} does not exist")),
        Some((_, e)) if e.kind != EntryKind::Dir => {
            finding(id, &s.name, Status::Fail, format!("home {home:?} of UID {uid} is not a directory"))
        }
        Some((_, e)) if e.uid != *uid => {
            finding(id, &s.name, Status::Fail, format!("home {home:?} is owned by UID {}, not by UID {uid}", e.uid))
        }
        Some(_) => finding(
            id,
            &s.name,
            Status::Pass,
            format!(
                "UID {uid} is {:?}, group {}, home {home} owned by it",
                row[0],
                gid.map_or("-".into(), |g| g.to_string())
            ),
        ),
    };
    if f.status == Status::Fail {
        f.locations.push(Location {
            path: "/etc/passwd".into(),
            layer: s.fs.layer_of("etc/passwd"),
            ..Default::default()
        });
    }
    f
}

/// LUCID-USER-004: duplicate IDs and empty passwords in passwd, group and shadow.
fn account_files(s: &Subject) -> Finding {
    let id = "LUCID-USER-004";
    let mut problems = Vec::new();
    for (file, id_col) in [("etc/passwd", 2), ("etc/group", 2)] {
        let Some(rows) = records(s, file) else { continue };
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for r in &rows {
            if let Some(v) = r.get(id_col) {
                *ids.entry(v.as_str()).or_default() += 1;
            }
            if let Some(n) = r.first()
                && !names.insert(n.as_str())
            {
                problems.push(format!("/{file}: name {n:?} twice"));
            }
            if file == "etc/passwd" && r.get(1).is_some_and(|p| p.is_empty()) {
                problems.push(format!("/{file}: {:?} has an empty password", r[0]));
            }
        }
        problems
            .extend(ids.into_iter().filter(|(_, n)| *n > 1).map(|(v, n)| format!("/{file}: ID {v} used {n} times")));
    }
    if let Some(rows) = records(s, "etc/shadow") {
        problems.extend(
            rows.iter()
                .filter(|r| r.get(1).is_some_and(|p| p.is_empty()))
                .map(|r| format!("/etc/shadow: {:?} has an empty password", r[0])),
        );
    }
    if problems.is_empty() {
        finding(id, &s.name, Status::Pass, "no duplicate IDs or names, no empty passwords")
    } else {
        finding(id, &s.name, Status::Fail, problems.join("; "))
    }
}

pub fn files(s: &Subject) -> Vec<Finding> {
    let pick = |pred: &dyn Fn(&FsEntry) -> bool| -> Vec<String> {
        s.fs.entries.iter().filter(|(_, e)| pred(e)).map(|(p, _)| p.clone()).collect()
    };
    let setid = pick(&|e| matches!(e.kind, EntryKind::File | EntryKind::Hardlink) && e.mode & 0o6000 != 0);
    let writable = pick(&|e| match e.kind {
        EntryKind::Symlink => false,
        EntryKind::Dir => e.mode & 0o002 != 0 && e.mode & 0o1000 == 0,
        _ => e.mode & 0o002 != 0,
    });
    vec![
        from_paths(s, "LUCID-FILE-001", setid, "setuid/setgid file(s)", "no setuid or setgid files"),
        from_paths(
            s,
            "LUCID-FILE-002",
            writable,
            "world-writable path(s)",
            "nothing world-writable except sticky directories",
        ),
    ]
}

/// Base names of private-key files by convention, flagged even when the content is unreadable.
const KEY_NAMES: &[&str] = &["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];

/// Whether `path` is a credential file by name (or inside a `.git` directory).
fn credential_file(path: &str) -> bool {
    let b = basename(path);
    let env = b == ".env" || (b.starts_with(".env.") && !b.ends_with(".example") && !b.ends_with(".sample"));
    let named = [".netrc", ".npmrc", ".pypirc", ".git-credentials", ".pgpass", ".htpasswd"].contains(&b);
    let in_dir = path.ends_with(".aws/credentials")
        || path.ends_with(".docker/config.json")
        || path.ends_with(".kube/config")
        || path.ends_with(".config/gcloud/credentials.db");
    let git = path.split('/').any(|c| c == ".git");
    env || named || in_dir || git
}

/// ENV and label names that hold secrets by convention.
fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase().replace(['.', '-'], "_");
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"]
        .iter()
        .any(|w| k.contains(w))
}

/// Values that are credentials whatever their name (AWS access key IDs, PEM keys).
fn secret_value(v: &str) -> bool {
    let aws = v.as_bytes().windows(20).any(|w| {
        (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
            && w[4..].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    aws || v.contains("PRIVATE KEY-----")
}

pub fn secrets(s: &Subject) -> Vec<Finding> {
    let mut keys: Vec<String> = s.fs.key_hits.iter().map(|h| h.path.clone()).collect();
    keys.extend(s.fs.entries.keys().filter(|p| KEY_NAMES.contains(&basename(p))).cloned());
    keys.sort();
    keys.dedup();
    let mut key_finding = from_paths(s, "LUCID-SECRET-001", keys, "private key(s)", "no private keys in any layer");
    for h in &s.fs.key_hits {
        if let Some(l) = key_finding.locations.iter_mut().find(|l| l.path == format!("/{}", h.path)) {
            l.layer = s.fs.layers.get(h.layer).map(|x| x.digest.clone());
        }
    }
    // `.git` directories are reported once, not per object.
    let mut creds: Vec<String> = Vec::new();
    for p in s.fs.entries.keys().filter(|p| credential_file(p)) {
        let shown = match p.find(".git/").or_else(|| p.ends_with(".git").then(|| p.len() - 4)) {
            Some(i) => p[..i + 4].to_string(),
            None => p.clone(),
        };
        if !creds.contains(&shown) {
            creds.push(shown);
        }
    }
    let cred_finding = from_paths(s, "LUCID-SECRET-002", creds, "credential file(s)", "no credential files");
    let cfg = &s.image.config.config;
    let mut hits = Vec::new();
    for e in &cfg.env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        if (!v.is_empty() && secret_name(k)) || secret_value(v) {
            hits.push(format!("ENV {k}"));
        }
    }
    for (k, v) in &cfg.labels {
        if (!v.is_empty() && secret_name(k)) || secret_value(v) {
            hits.push(format!("LABEL {k}"));
        }
    }
    let env_finding = if hits.is_empty() {
        finding("LUCID-SECRET-003", &s.name, Status::Pass, "no secret-looking ENV or labels")
    } else {
        finding(
            "LUCID-SECRET-003",
            &s.name,
            Status::Fail,
            format!("secret-looking config: {} (values not shown)", hits.join(", ")),
        )
    };
    vec![key_finding, cred_finding, env_finding]
}

pub fn metadata(s: &Subject) -> Vec<Finding> {
    let cfg = &s.image.config;
    let name = &s.name;
    let missing: Vec<&String> =
        s.required_labels.iter().filter(|l| cfg.config.labels.get(*l).is_none_or(|v| v.trim().is_empty())).collect();
    let labels = if missing.is_empty() {
        finding("LUCID-META-001", name, Status::Pass, format!("{} expected label(s) present", s.required_labels.len()))
    } else {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        finding("LUCID-META-001", name, Status::Fail, format!("missing label(s): {}", list.join(", ")))
    };
    let created = match &cfg.created {
        None => finding("LUCID-META-002", name, Status::Fail, "no created time in the config"),
        Some(c) => match time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339) {
            Ok(_) => finding("LUCID-META-002", name, Status::Pass, format!("created {c}")),
            Err(_) => finding("LUCID-META-002", name, Status::Fail, format!("created {c:?} is not RFC 3339")),
        },
    };
    let platform = s.image.platform().qualified();
    let arch = match &s.image.declared {
        _ if cfg.os.is_empty() || cfg.architecture.is_empty() => {
            finding("LUCID-META-003", name, Status::Fail, "the config names no os or architecture")
        }
        Some(d) if d.os != cfg.os || d.arch != cfg.architecture => {
            finding("LUCID-META-003", name, Status::Fail, format!("the index says {d}, the config says {platform}"))
        }
        _ => finding("LUCID-META-003", name, Status::Pass, platform),
    };
    let c = &cfg.config;
    let shell_form = |argv: &[String]| {
        argv.len() >= 2 && SHELLS.contains(&basename(&argv[0])) && argv[1].starts_with('-') && argv[1].contains('c')
    };
    let exec = if shell_form(&c.entrypoint) || (c.entrypoint.is_empty() && shell_form(&c.cmd)) {
        finding(
            "LUCID-META-004",
            name,
            Status::Fail,
            format!("shell form: Entrypoint {:?} Cmd {:?}", c.entrypoint, c.cmd),
        )
    } else {
        finding(
            "LUCID-META-004",
            name,
            Status::Pass,
            format!("exec form: Entrypoint {:?} Cmd {:?}", c.entrypoint, c.cmd),
        )
    };
    let health = s
        .raw_config
        .pointer("/config/Healthcheck/Test")
        .and_then(|t| t.as_array())
        .map(|t| t.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "));
    let health = finding(
        "LUCID-META-005",
        name,
        Status::Pass,
        match health {
            Some(t) => format!("HEALTHCHECK {t}"),
            None => "no HEALTHCHECK (left to the application image or the orchestrator)".to_string(),
        },
    );
    vec![labels, created, arch, exec, health]
}
