//! The rules: each reads the syntax tree (and the context's .dockerignore) and says where it
//! fires, as [`Hit`]s; `dockerfile::findings_of` turns them into the findings model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::catalogue::{Profile, rule};
use super::parse::{Args, Dockerfile, Instruction, Pos, key_values, unquote};
use super::stages::{Build, ImageRef, Scope, Stage, Stages, expand, is_absolute};

/// What a lint run knows besides the Dockerfile itself.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// `--build-arg NAME=VALUE` overrides for global ARGs (used to expand FROM).
    pub build_args: BTreeMap<String, String>,
    /// The build context directory, where `.dockerignore` is looked for; `None`: no check.
    pub context: Option<std::path::PathBuf>,
    /// Stage names the spec expects: the build stage and the runtime stage (last).
    pub stage_names: (String, String),
    /// The stage that ships (`docker build --target`); `None`: the last stage.
    pub target: Option<String>,
    /// The target platform, `os/arch[/variant]`: the values of BuildKit's automatic ARGs.
    pub platform: String,
    /// Which rules run; `None`: the nearest `.lucid.yml`'s profile when linting a file, else the
    /// default profile.
    pub profile: Option<Profile>,
}

impl LintOptions {
    pub fn new() -> Self {
        LintOptions {
            build_args: BTreeMap::new(),
            context: None,
            stage_names: ("build-stage".into(), "runtime-stage".into()),
            target: None,
            platform: "linux/amd64".into(),
            profile: None,
        }
    }
}

/// Where a rule fired: the syntax-level result of a rule, before it becomes a finding (the rule's
/// title, severity and fix come from the catalogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's ID (`LUCID-DF-004`).
    pub rule: &'static str,
    pub message: String,
    /// The Dockerfile, or the `.dockerignore` the rule read.
    pub file: String,
    /// 1-based line and column.
    pub line: u32,
    pub column: u32,
}

struct Out<'a> {
    file: &'a str,
    findings: Vec<Hit>,
}

impl Out<'_> {
    fn add(&mut self, id: &'static str, pos: Pos, message: impl Into<String>) {
        // Every ID used below is in the catalogue; a typo would show up in the catalogue test.
        if let Some(r) = rule(id) {
            self.findings.push(Hit {
                rule: r.id,
                message: message.into(),
                file: self.file.to_string(),
                line: pos.line.max(1),
                column: pos.col.max(1),
            });
        }
    }
}

/// Run every rule over a parsed Dockerfile. `file` is the name findings carry.
pub fn check(df: &Dockerfile, file: &str, opts: &LintOptions) -> Vec<Hit> {
    let mut out = Out { file, findings: Vec::new() };
    for e in &df.errors {
        out.add("LUCID-DF-000", e.pos, e.message.clone());
    }
    let st = Stages::for_build(
        df,
        &Build { build_args: &opts.build_args, platform: &opts.platform, target: opts.target.as_deref() },
    );
    let first_pos = df.instructions.first().map(|i| i.pos).unwrap_or(Pos { line: 1, col: 1 });

    // Global ARGs: secrets.
    for ins in df.instructions.iter().take_while(|i| i.keyword != "FROM") {
        secrets(&mut out, ins);
    }

    if st.stages.len() < 2 {
        let pos = st.stages.first().map(|s| s.from.pos).unwrap_or(first_pos);
        out.add(
            "LUCID-DF-001",
            pos,
            format!("{} stage(s); a distroless build needs a build stage and a runtime stage", st.stages.len()),
        );
    }
    stage_names(&mut out, &st, opts);

    // Runtime rules judge the stage that ships; size rules every stage whose layers end up in it.
    let runtime_index = st.runtime_for(opts.target.as_deref()).map(|s| s.index);
    let shipped = runtime_index.map(|i| st.shipped(i)).unwrap_or_default();
    duplicate_stage_names(&mut out, &st);
    // Each stage starts from the scope its parent ended with (parents come first); the last
    // child to need a parent's scope takes it, the others copy it.
    let mut children = vec![0usize; st.stages.len()];
    for p in st.stages.iter().filter_map(|s| s.parent) {
        children[p] += 1;
    }
    let mut ends: Vec<Option<Scope>> = vec![None; st.stages.len()];
    let mut users: Vec<Option<String>> = vec![None; st.stages.len()];
    for s in &st.stages {
        let scope = match s.parent {
            Some(p) => {
                children[p] -= 1;
                let end = if children[p] == 0 { ends[p].take() } else { ends[p].clone() };
                end.unwrap_or_default().inherited()
            }
            None => Scope::default(),
        };
        from_pinned(&mut out, s);
        let is_runtime = Some(s.index) == runtime_index;
        let view = StageView {
            st: &st,
            s,
            shell_less: shell_less(&st, s.index),
            is_runtime,
            // The house style's "no RUN, no package manager in the runtime stage" presumes a build
            // stage to move the work into; a one-stage file gets LUCID-DF-001 instead.
            runtime_style: is_runtime && st.stages.len() >= 2,
            ships: shipped.contains(&s.index),
        };
        let (end, user) = stage_instructions(&mut out, &view, scope);
        ends[s.index] = Some(end);
        users[s.index] = user;
        if is_runtime {
            // The house style's "always state USER" is about its runtime stage (see runtime_style).
            user_rules(&mut out, &st, s, &users, opts.profile == Some(Profile::Lucid) && view.runtime_style);
        }
    }

    if let Some(ctx) = &opts.context {
        dockerignore(&mut out, ctx, first_pos);
    }
    let profile = opts.profile.unwrap_or_default();
    out.findings.retain(|h| profile.includes(h.rule));
    apply_inline_ignores(df, out.findings)
}

/// LUCID-DF-021: a stage name used twice.
fn duplicate_stage_names(out: &mut Out, st: &Stages) {
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    for s in &st.stages {
        if let (Some(n), Some(p)) = (&s.name, s.name_pos) {
            if let Some(prev) = seen.get(n.as_str()) {
                out.add("LUCID-DF-021", p, format!("stage name {n:?} is already used at line {}", prev.line));
            } else {
                seen.insert(n, p);
            }
        }
    }
}

/// What the rules know about one stage for all its instructions.
struct StageView<'v, 'a> {
    st: &'v Stages<'a>,
    s: &'v Stage<'a>,
    /// Why the stage has no shell, if it has none (see [`shell_less`]).
    shell_less: Option<String>,
    /// The stage that ships.
    is_runtime: bool,
    /// The stage that ships, in a file with a build stage: the house style's runtime rules apply.
    runtime_style: bool,
    /// Its layers end up in the image that ships: the size rules apply.
    ships: bool,
}

/// The per-instruction rules over one stage, carrying `scope` from instruction to instruction
/// (each instruction sees the variables and working directory of those before it). Returns the
/// scope at the stage's end and the value of its last USER (expanded when known).
fn stage_instructions(out: &mut Out, v: &StageView, mut scope: Scope) -> (Scope, Option<String>) {
    let mut cmds = 0;
    let mut entrypoints = 0;
    let mut prev_run: Option<&Instruction> = None;
    let mut user = None;
    for ins in &v.s.instructions {
        let ins: &Instruction = ins;
        secrets(out, ins);
        match ins.keyword.as_str() {
            "RUN" => run_instruction(out, v, ins, prev_run),
            "CMD" | "ENTRYPOINT" => {
                let count = if ins.keyword == "CMD" { &mut cmds } else { &mut entrypoints };
                *count += 1;
                command_instruction(out, v, ins, *count);
            }
            "HEALTHCHECK" => {
                let none = ins.args.text().trim().eq_ignore_ascii_case("none");
                if !none
                    && !ins.args.is_exec()
                    && let Some(why) = &v.shell_less
                {
                    out.add("LUCID-DF-007", ins.args_pos, format!("shell-form HEALTHCHECK runs /bin/sh -c, but {why}"));
                }
            }
            "COPY" | "ADD" => {
                if let Some(f) = ins.flag("from") {
                    // `--from=build-${TARGETARCH}`: the variable's value names the stage.
                    let raw = f.value.as_deref().unwrap_or("");
                    let from = expand(raw, &scope.vars).unwrap_or_else(|| raw.to_string());
                    copy_from(out, v.st, v.s.index, &from, f.pos);
                }
                if ins.keyword == "ADD" {
                    add_rule(out, ins);
                }
            }
            "WORKDIR" => workdir_instruction(out, ins, &scope),
            "USER" => {
                let raw = unquote(ins.args.text().trim());
                user = Some(expand(&raw, &scope.vars).unwrap_or(raw));
            }
            "MAINTAINER" => out.add("LUCID-DF-026", ins.pos, "MAINTAINER is deprecated"),
            _ => {}
        }
        scope.apply(ins, v.st);
        prev_run = if ins.keyword == "RUN" { Some(ins) } else { None };
    }
    (scope, user)
}

/// RUN: package-manager rules, a shell where there is none, RUN in the runtime stage, and a RUN
/// right after another (`prev_run`).
fn run_instruction(out: &mut Out, v: &StageView, ins: &Instruction, prev_run: Option<&Instruction>) {
    run_rules(out, ins, v.runtime_style, v.ships);
    if let Some(why) = &v.shell_less
        && (!ins.args.is_exec() || !ins.heredocs.is_empty())
    {
        out.add("LUCID-DF-007", ins.pos, format!("shell-form RUN needs /bin/sh, but {why}"));
    }
    if v.runtime_style {
        out.add("LUCID-DF-008", ins.pos, "RUN in the runtime stage");
    }
    if let Some(prev) = prev_run
        && v.ships
        && prev.flags.is_empty()
        && ins.flags.is_empty()
        && prev.heredocs.is_empty()
        && ins.heredocs.is_empty()
    {
        out.add("LUCID-DF-017", ins.pos, format!("RUN follows the RUN at line {} directly", prev.pos.line));
    }
}

/// CMD or ENTRYPOINT, the `count`th of its kind in the stage: only the last takes effect; shell
/// form needs a shell and keeps the process from being PID 1.
fn command_instruction(out: &mut Out, v: &StageView, ins: &Instruction, count: usize) {
    if count > 1 {
        out.add("LUCID-DF-022", ins.pos, format!("another {} earlier in this stage has no effect", ins.keyword));
    }
    if ins.args.is_exec() {
        return;
    }
    if let Some(why) = &v.shell_less {
        out.add("LUCID-DF-007", ins.args_pos, format!("shell-form {} runs /bin/sh -c, but {why}", ins.keyword));
    } else if v.is_runtime {
        out.add(
            "LUCID-DF-009",
            ins.args_pos,
            format!("shell-form {}: the process is not PID 1 and gets no signals", ins.keyword),
        );
    }
}

/// LUCID-DF-023: a relative WORKDIR is relative to the working directory so far: a finding only
/// when no absolute WORKDIR came before in this stage or the stages it is built on, so it depends
/// on the base image's. A variable with no known value is not judged.
fn workdir_instruction(out: &mut Out, ins: &Instruction, scope: &Scope) {
    let t = unquote(ins.args.text().trim());
    if let Some(path) = expand(&t, &scope.vars)
        && !is_absolute(&path)
        && !scope.absolute_workdir
    {
        out.add(
            "LUCID-DF-023",
            ins.args_pos,
            format!("WORKDIR {t} is relative, and nothing before it in the stage sets an absolute one"),
        );
    }
}

/// LUCID-DF-002: the names the spec's `stage:` fields use, the runtime stage last.
fn stage_names(out: &mut Out, st: &Stages, opts: &LintOptions) {
    if st.stages.len() < 2 {
        return;
    }
    let (build, runtime) = (&opts.stage_names.0, &opts.stage_names.1);
    let last = &st.stages[st.stages.len() - 1];
    if last.name.as_deref() != Some(runtime.as_str()) {
        let pos = last.name_pos.unwrap_or(last.from.pos);
        out.add("LUCID-DF-002", pos, format!("the last stage should be `AS {runtime}` (it is {})", describe(last)));
    }
    if !st.stages.iter().any(|s| s.name.as_deref() == Some(build.as_str())) {
        let s = &st.stages[0];
        out.add(
            "LUCID-DF-002",
            s.name_pos.unwrap_or(s.from.pos),
            format!("no stage is named `{build}` (first stage is {})", describe(s)),
        );
    }
}

fn describe(s: &Stage) -> String {
    match &s.name {
        Some(n) => format!("`{n}`"),
        None => format!("unnamed stage {}", s.index),
    }
}

/// Why a stage has no shell, if it has none: lucid's runtime images, distroless non-debug, scratch.
pub fn shell_less(st: &Stages, index: usize) -> Option<String> {
    let base = root_base(st, index)?;
    let r = ImageRef::parse(base);
    let short = r.short_name().to_ascii_lowercase();
    if base.eq_ignore_ascii_case("scratch") {
        return Some("its base is scratch".into());
    }
    if short.starts_with("lucid-") && (short.ends_with("-base") || short.ends_with("-runtime")) {
        return Some(format!("{base} is a lucid runtime image (no shell)"));
    }
    let debug = r.tag.as_deref().is_some_and(|t| t.contains("debug"));
    if r.repository.split('/').any(|c| c == "distroless") && !debug {
        return Some(format!("{base} is distroless (no shell outside :debug tags)"));
    }
    None
}

/// The image a stage is ultimately built on, following `FROM earlier-stage` (expanded; `None`
/// when a variable in it has no value).
fn root_base<'a>(st: &'a Stages, index: usize) -> Option<&'a str> {
    // A name used before its stage is defined is no parent: it is an image Docker pulls.
    st.stages[st.stages.get(index)?.root].base.as_deref()
}

/// Whether a stage is a Windows image (Microsoft's servercore/nanoserver bases, or an image
/// tagged for them): users there are names (ContainerUser, ContainerAdministrator), never numbers.
fn windows(st: &Stages, index: usize) -> bool {
    root_base(st, index).is_some_and(|b| {
        let b = b.to_ascii_lowercase();
        b.contains("/windows/") || b.contains("nanoserver") || b.contains("windowsservercore")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseUser {
    Root,
    NonRoot,
    Unknown,
}

/// Who an image runs as when a Dockerfile says no USER, for the bases whose default is known:
/// scratch, Docker's official images (one-word names such as `python`, `library/...`), Red Hat's
/// UBI and distroless run as root, distroless's `:nonroot` tags as 65532; Windows Server Core as
/// ContainerAdministrator, Nano Server as ContainerUser, lucid's images as 65532. Any other image
/// may set its own.
fn base_user(base: &str) -> BaseUser {
    let r = ImageRef::parse(base);
    let repo = r.repository.to_ascii_lowercase();
    let tag = r.tag.unwrap_or_default().to_ascii_lowercase();
    let repo = repo.strip_prefix("docker.io/").unwrap_or(&repo);
    let short = repo.rsplit('/').next().unwrap_or("");
    // lucid's own images are built with USER 65532:65532 (the spec's `user:`).
    let lucid = short.starts_with("lucid-");
    if lucid || repo.contains("nanoserver") || tag.contains("nanoserver") || tag.contains("nonroot") {
        return BaseUser::NonRoot;
    }
    let official = !repo.contains('/') || repo.starts_with("library/");
    let root = repo == "scratch"
        || official
        || repo.split('/').any(|c| c == "distroless" || c.starts_with("ubi"))
        || repo.contains("windows/servercore");
    if root { BaseUser::Root } else { BaseUser::Unknown }
}

/// LUCID-DF-010/011/012: FROM pinned by tag or digest.
fn from_pinned(out: &mut Out, s: &Stage) {
    if s.parent.is_some() {
        return;
    }
    let pos = s.from.words.first().map(|w| w.1).unwrap_or(s.from.args_pos);
    let Some(base) = &s.base else {
        out.add(
            "LUCID-DF-012",
            pos,
            format!("{} needs an ARG value (no default); pass --build-arg or add one", s.base_raw),
        );
        return;
    };
    if base.eq_ignore_ascii_case("scratch") || base.is_empty() {
        return;
    }
    // A name of a later stage is not a stage reference at all in Docker: it would be pulled.
    let r = ImageRef::parse(base);
    let shown = if *base != s.base_raw { format!("{} (= {base})", s.base_raw) } else { base.clone() };
    if r.digest.is_some() {
        return;
    }
    match r.tag.as_deref() {
        None => out.add("LUCID-DF-010", pos, format!("{shown} has neither tag nor digest (Docker takes `latest`)")),
        Some("latest") => out.add("LUCID-DF-011", pos, format!("{shown} is pinned to `latest`")),
        Some(_) => {}
    }
}

/// LUCID-DF-006: `--from` names an earlier stage (or is an explicit image reference).
fn copy_from(out: &mut Out, st: &Stages, current: usize, from: &str, pos: Pos) {
    let from = from.trim();
    if from.is_empty() {
        out.add("LUCID-DF-006", pos, "--from has no value");
        return;
    }
    match st.lookup(from) {
        Some(i) if i < current => {}
        Some(i) if i == current => out.add("LUCID-DF-006", pos, format!("--from={from} is the current stage")),
        Some(_) => {
            out.add("LUCID-DF-006", pos, format!("--from={from} is a later stage; Docker would look for an image"))
        }
        None => {
            // An explicit image (has a tag, digest or path) is allowed; a bare unknown word is a typo.
            if from.contains('$') || from.contains(':') || from.contains('/') || from.contains('@') {
                return;
            }
            out.add(
                "LUCID-DF-006",
                pos,
                format!("--from={from} names no stage above; Docker would pull an image {from:?}"),
            );
        }
    }
}

/// LUCID-DF-003/004/005 on the runtime stage: its last USER, or the one it inherits from the
/// stages it is built on, with variables expanded (`USER ${NB_UID}`).
fn user_rules(out: &mut Out, st: &Stages, s: &Stage, users: &[Option<String>], strict: bool) {
    let last_user = st.shipped(s.index).into_iter().rev().find_map(|i| {
        let stage = &st.stages[i];
        stage.instructions.iter().rev().find(|ins| ins.keyword == "USER").map(|ins| (i, *ins))
    });
    let Some((stage, u)) = last_user else {
        let chain = st.chain(s.index);
        let runs_something = chain
            .iter()
            .any(|&i| st.stages[i].instructions.iter().any(|ins| matches!(ins.keyword.as_str(), "CMD" | "ENTRYPOINT")));
        let base = root_base(st, s.index);
        // An image that names no command is files (a scratch `--output` export, a COPY source), a
        // build or validation step, or a base that others complete: the USER is for whoever sets
        // the command. The house style wants it anyway, except on scratch files.
        let scratch = base.is_some_and(|b| b.eq_ignore_ascii_case("scratch"));
        if !runs_something && (scratch || !strict) {
            return;
        }
        let user = base.map(base_user).unwrap_or(BaseUser::Unknown);
        // The house style always states the USER (even on lucid's images, which set 65532);
        // otherwise only a base known to run as root makes the missing USER a finding (an
        // unknown base may set its own, as Jupyter's do).
        // The message says only what is known of the user it runs as.
        let runs_as = match user {
            BaseUser::Root => "it runs as root",
            BaseUser::NonRoot => "it runs as its base's non-root default, which the house style states",
            BaseUser::Unknown => "it runs as whatever its base sets, root unless the base says otherwise",
        };
        if user == BaseUser::Root || strict {
            out.add("LUCID-DF-003", s.from.pos, format!("runtime stage {} sets no USER: {runs_as}", describe(s)));
        }
        return;
    };
    let val = users[stage].clone().unwrap_or_else(|| unquote(u.args.text().trim()));
    let user = val.split(':').next().unwrap_or("").trim();
    let group = val.split_once(':').map(|(_, g)| g.trim());
    if user.is_empty() {
        out.add("LUCID-DF-000", u.pos, "USER needs a value");
        return;
    }
    let windows = windows(st, s.index);
    if user == "0"
        || user.eq_ignore_ascii_case("root")
        || windows && user.eq_ignore_ascii_case("ContainerAdministrator")
    {
        out.add("LUCID-DF-004", u.args_pos, format!("USER {val} is root"));
    } else if user.contains('$') || windows {
        // An unknown value cannot be judged; Windows has no numeric users.
    } else if !user.chars().all(|c| c.is_ascii_digit()) || group.is_some_and(|g| !g.chars().all(|c| c.is_ascii_digit()))
    {
        out.add("LUCID-DF-005", u.args_pos, format!("USER {val} is not numeric"));
    }
}

/// LUCID-DF-013: secret-looking ARG/ENV names or values.
fn secrets(out: &mut Out, ins: &Instruction) {
    if ins.keyword != "ARG" && ins.keyword != "ENV" {
        return;
    }
    for (k, v, pos) in key_values(ins) {
        let upper = k.to_ascii_uppercase();
        let harmless =
            ["_FILE", "_PATH", "_DIR", "_URL_FILE", "_ENV", "_NAME", "_ID_FILE"].iter().any(|s| upper.ends_with(s));
        let name_hit = [
            "PASSWORD",
            "PASSWD",
            "SECRET",
            "TOKEN",
            "API_KEY",
            "APIKEY",
            "PRIVATE_KEY",
            "ACCESS_KEY",
            "CREDENTIAL",
            "AUTH_KEY",
        ]
        .iter()
        .find(|w| upper.contains(*w));
        if let Some(w) = name_hit
            && !harmless
        {
            out.add(
                "LUCID-DF-013",
                pos,
                format!("{} {k} looks like a secret ({w}); its value is kept in the image history", ins.keyword),
            );
            continue;
        }
        if let Some(v) = v
            && (v.contains("-----BEGIN") || looks_like_aws_key(&v) || v.starts_with("ghp_") || v.starts_with("glpat-"))
        {
            out.add("LUCID-DF-013", pos, format!("{} {k} has a value that looks like a credential", ins.keyword));
        }
    }
}

fn looks_like_aws_key(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 20
        && (v.starts_with("AKIA") || v.starts_with("ASIA"))
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// LUCID-DF-014: ADD for URLs, git, or plain files.
fn add_rule(out: &mut Out, ins: &Instruction) {
    let srcs: Vec<(String, Pos)> = match &ins.args {
        Args::Exec(v) => v.iter().take(v.len().saturating_sub(1)).map(|s| (s.clone(), ins.args_pos)).collect(),
        Args::Shell(_) => {
            let n = ins.words.len();
            ins.words.iter().take(n.saturating_sub(1)).filter(|w| !w.0.starts_with("<<")).cloned().collect()
        }
    };
    for (src, pos) in srcs {
        let s = super::parse::unquote(&src);
        let lower = s.to_ascii_lowercase();
        let remote = lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("git@")
            || lower.ends_with(".git")
            || lower.contains(".git#");
        // `ADD --checksum=sha256:...`: BuildKit verifies the download, which is what the rule asks.
        // A git source pinned to a ref (`ADD https://host/repo.git#v1.2.3`) is BuildKit's way to
        // fetch a pinned checkout; without a ref it follows the default branch.
        let git_pinned =
            (lower.contains(".git#") || lower.starts_with("git@") && lower.contains('#')) && !s.ends_with('#');
        if remote && (ins.flag("checksum").is_some() || git_pinned) {
            continue;
        }
        if remote {
            out.add(
                "LUCID-DF-014",
                pos,
                format!("ADD {s}: remote source; download in the build stage and check its hash"),
            );
        } else if ![".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            out.add("LUCID-DF-014", pos, format!("ADD {s}: not a local archive; use COPY"));
        }
    }
}

/// Package-manager rules on RUN: apt hygiene, pip hashes, sudo, package managers at runtime. Size
/// rules (apt's recommends and lists) judge only stages that ship (`ships`).
fn run_rules(out: &mut Out, ins: &Instruction, is_runtime: bool, ships: bool) {
    let before = out.findings.len();
    run_commands(out, ins, is_runtime, ships);
    // One finding per rule and RUN: `apt install a && apt install b` is one thing to fix.
    let mut seen = BTreeSet::new();
    let new = out.findings.split_off(before);
    out.findings.extend(new.into_iter().filter(|h| seen.insert(h.rule)));
}

fn run_commands(out: &mut Out, ins: &Instruction, is_runtime: bool, ships: bool) {
    let script = ins.script();
    let mounts = ins.mounts();
    // Whole-script facts, searched once per RUN rather than once per command.
    let no_recommends_config = script.contains("Install-Recommends");
    let lists_handled = script.contains("/var/lib/apt/lists") || script.contains("dist-clean");
    let hashes_required = script.contains("PIP_REQUIRE_HASHES");
    for cmd in commands(&script) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(prog_i) = words.iter().position(|w| !w.contains('=') || w.starts_with('-')) else { continue };
        let mut prog = words[prog_i].rsplit('/').next().unwrap_or("");
        let mut rest = &words[prog_i + 1..];
        if prog == "sudo" {
            out.add("LUCID-DF-025", ins.pos, "sudo in RUN");
            let Some(i) = rest.iter().position(|w| !w.starts_with('-')) else { continue };
            prog = rest[i].rsplit('/').next().unwrap_or("");
            rest = &rest[i + 1..];
        }
        // The subcommand: the first word that is neither an option nor a variable (`apt-get
        // $APT_OPTS install`); a variable may hold options, never the subcommand we look for.
        let sub = rest.iter().find(|w| !w.starts_with('-') && !w.starts_with('$')).copied().unwrap_or("");
        if matches!(prog, "apt-get" | "apt" | "apk" | "dnf" | "yum" | "microdnf")
            && is_runtime
            && matches!(sub, "install" | "add")
        {
            out.add("LUCID-DF-027", ins.pos, format!("{prog} {sub} in the runtime stage"));
        }
        if matches!(prog, "apt-get" | "apt") && sub == "install" && ships {
            if !rest.iter().any(|w| w.starts_with("--no-install-recommends")) && !no_recommends_config {
                out.add("LUCID-DF-015", ins.pos, format!("{prog} install without --no-install-recommends"));
            }
            // The lists stay out of the layer when removed in the same RUN (`apt-get dist-clean`,
            // apt 2.7+, removes them too) or when a mount covers them (`--mount=type=cache,
            // target=/var/lib/apt/lists`: what is written there is not layer content).
            let mounted = mounts.iter().any(|m| m.keeps_out("/var/lib/apt/lists"));
            if !mounted && !lists_handled {
                out.add("LUCID-DF-016", ins.pos, format!("{prog} install leaves /var/lib/apt/lists in the layer"));
            }
        }
        let pip = matches!(prog, "pip" | "pip3")
            || (prog.starts_with("python") && rest.len() >= 2 && rest[0] == "-m" && rest[1].starts_with("pip"));
        if pip {
            let sub = if prog.starts_with("python") { rest.get(2).copied().unwrap_or("") } else { sub };
            if sub == "install" && !cmd.contains("--require-hashes") && !hashes_required {
                out.add("LUCID-DF-024", ins.pos, "pip install without --require-hashes");
            }
        }
    }
}

/// Split a shell script into simple commands at `&&`, `||`, `;`, `|`, newlines, and the brackets of
/// subshells and groups (good enough to find which programs run, also inside `sh -c "..."`;
/// quoting is not interpreted). A parameter expansion `${...}` is one word: its braces are not a
/// group, so
/// `apt-get install -y ${OPTS} --no-install-recommends` stays one command.
fn commands(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut param_depth = 0usize;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        // An expansion never spans lines: an unclosed `${` ends at the newline.
        if param_depth > 0 && c != '\n' {
            cur.push(c);
            match c {
                '{' => param_depth += 1,
                '}' => param_depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            '$' if chars.peek() == Some(&'{') => {
                cur.push(c);
                cur.push('{');
                chars.next();
                param_depth = 1;
            }
            ';' | '\n' | '(' | ')' | '{' | '}' => {
                param_depth = 0;
                out.push(std::mem::take(&mut cur));
            }
            '&' | '|' => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| {
            s.trim()
                .trim_start_matches("then ")
                .trim_start_matches("do ")
                .trim_start_matches("else ")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// LUCID-DF-018/019/020: `.dockerignore` in the context directory.
fn dockerignore(out: &mut Out, ctx: &Path, pos: Pos) {
    // `pos` is where a missing file is reported: the Dockerfile's first instruction.
    let path = ctx.join(".dockerignore");
    let Ok(text) = std::fs::read_to_string(&path) else {
        out.add("LUCID-DF-018", pos, format!("no {}", path.display()));
        return;
    };
    let patterns: Vec<(bool, globset::GlobMatcher)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (neg, p) = match l.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, l),
            };
            let p = p.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
            globset::GlobBuilder::new(p).literal_separator(true).build().ok().map(|g| (neg, g.compile_matcher()))
        })
        .collect();
    let excluded = |candidate: &str| {
        // Docker: the last matching pattern wins; a path is excluded when it or a parent is.
        let mut prefixes = Vec::new();
        let mut acc = String::new();
        for part in candidate.split('/') {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            prefixes.push(acc.clone());
        }
        prefixes.iter().any(|p| {
            let mut ex = false;
            for (neg, g) in &patterns {
                if g.is_match(p) {
                    ex = !neg;
                }
            }
            ex
        })
    };
    let n = out.findings.len();
    if !excluded(".git") {
        out.add("LUCID-DF-019", Pos { line: 1, col: 1 }, format!("{} lets .git into the context", path.display()));
    }
    let leaks: Vec<&str> =
        [".env", "secrets.pem", "server.key", "id_rsa", ".netrc"].into_iter().filter(|c| !excluded(c)).collect();
    if !leaks.is_empty() {
        out.add("LUCID-DF-020", Pos { line: 1, col: 1 }, format!("{} lets in {}", path.display(), leaks.join(", ")));
    }
    // These are about the .dockerignore itself: point at it.
    for f in &mut out.findings[n..] {
        f.file = path.display().to_string();
    }
}

/// Drop findings that a `# lucid ignore=ID[,ID]` comment covers: the comment block right above
/// the instruction the finding sits on (or a comment on line 1..n before the first instruction
/// for findings at line 1, which are about the whole file).
fn apply_inline_ignores(df: &Dockerfile, findings: Vec<Hit>) -> Vec<Hit> {
    let mut by_line: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for c in &df.comments {
        let t = c.text.trim_start_matches('#').trim();
        if let Some(rest) = t.strip_prefix("lucid ignore=").or_else(|| t.strip_prefix("lucid:ignore=")) {
            let ids = rest
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_uppercase());
            by_line.entry(c.pos.line).or_default().extend(ids);
        }
    }
    if by_line.is_empty() {
        return findings;
    }
    let comment_lines: BTreeSet<u32> = df.comments.iter().map(|c| c.pos.line).collect();
    findings
        .into_iter()
        .filter(|f| {
            // The instruction this finding is in.
            let ins = df.instructions.iter().find(|i| i.pos.line <= f.line && f.line <= i.end_line);
            let start = ins
                .map(|i| i.pos.line)
                .unwrap_or_else(|| df.instructions.first().map(|i| i.pos.line).unwrap_or(u32::MAX));
            let mut l = start.saturating_sub(1);
            while l >= 1 && comment_lines.contains(&l) {
                if by_line.get(&l).is_some_and(|ids| ids.contains(f.rule)) {
                    return false;
                }
                l -= 1;
            }
            // Comments inside the instruction (continuation lines) count too.
            if let Some(i) = ins
                && (i.pos.line..=i.end_line).any(|l| by_line.get(&l).is_some_and(|ids| ids.contains(f.rule)))
            {
                return false;
            }
            true
        })
        .collect()
}
