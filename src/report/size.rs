//! Renderers for `lucid report` and `lucid diff`: text (the `docker images` and `docker history`
//! shapes), Markdown (for docs/ and job summaries) and JSON. The HTML page is [`super::html`].
//! They share the table helper and cell escaping with verify's renderers.

use anyhow::{Context, Result};

use super::markdown::cell;
use super::text::table;
use crate::findings::Status;
use crate::findings::figures::{Change, DirNode, ImageAnalysis, ImageDiff, ListSource, PullCost};
use crate::units::format_size as fmt;

/// A compressed size, or the truth when there is none: an engine export and `docker save`
/// store plain tars, whose size is no compressed size.
pub(crate) fn fmt_compressed(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "unknown (layers stored uncompressed)".to_string(), fmt)
}

/// How many rows the text and Markdown lists show (JSON has everything).
const ROWS: usize = 15;

crate::named_enum! {
    "format";
    /// Output formats of `lucid report`.
    pub enum ReportFormat {
        Text = "text",
        Json = "json",
        Markdown = "markdown",
        Html = "html",
    }
}

crate::named_enum! {
    "format";
    /// Output formats of `lucid diff`.
    pub enum DiffFormat {
        Text = "text",
        Json = "json",
        Markdown = "markdown",
    }
}

/// Renders the analyses of one run.
pub fn render_report(images: &[ImageAnalysis], format: ReportFormat) -> Result<String> {
    Ok(match format {
        ReportFormat::Text => super::printable(&text(images), true).into_owned(),
        ReportFormat::Json => serde_json::to_string_pretty(images).context("cannot render JSON")? + "\n",
        ReportFormat::Markdown => super::printable(&markdown(images), true).into_owned(),
        ReportFormat::Html => super::html::render(images)?,
    })
}

/// `docker images --format "table {{.Repository}}\t{{.Tag}}\t{{.Size}}"`, then what docker
/// does not know: compressed size, budget, platform.
pub fn size_rows(images: &[ImageAnalysis]) -> Vec<Vec<String>> {
    let mut rows = vec![["REPOSITORY", "TAG", "SIZE", "COMPRESSED", "BUDGET", "PLATFORM"].map(String::from).to_vec()];
    for a in images {
        let budget = match &a.budget {
            Some(b) if b.unusable.is_some() => "BAD LABEL".to_string(),
            Some(b) => format!("{} {}", fmt(b.bytes), if b.within { "ok" } else { "OVER" }),
            None => "-".into(),
        };
        rows.push(vec![
            a.repository.clone(),
            a.tag.clone(),
            fmt(a.size),
            a.compressed.map_or_else(|| "unknown".to_string(), fmt),
            budget,
            a.platform.clone(),
        ]);
    }
    rows
}

fn short(digest: &Option<String>) -> String {
    digest.as_deref().map_or("<missing>".into(), |d| d.trim_start_matches("sha256:").chars().take(12).collect())
}

/// `docker history` rows: IMAGE (layer digest), CREATED BY, SIZE, then compressed and entries.
pub fn history_rows(a: &ImageAnalysis) -> Vec<Vec<String>> {
    let mut rows = vec![["LAYER", "CREATED BY", "SIZE", "COMPRESSED", "ENTRIES"].map(String::from).to_vec()];
    for h in &a.history {
        let mut by = h.created_by.replace('\n', " ");
        if by.chars().count() > 60 {
            by = by.chars().take(57).collect::<String>() + "...";
        }
        rows.push(vec![
            short(&h.digest),
            by,
            fmt(h.size),
            h.compressed.map_or_else(|| "-".to_string(), fmt),
            h.entries.to_string(),
        ]);
    }
    rows
}

/// The directories of `tree` down to `depth`, biggest first, as (path, bytes, files).
pub fn largest_dirs(tree: &DirNode, depth: usize) -> Vec<(String, u64, u64)> {
    fn walk(n: &DirNode, prefix: &str, depth: usize, out: &mut Vec<(String, u64, u64)>) {
        for c in n.children.iter().filter(|c| !c.children.is_empty() && !c.name.starts_with('(')) {
            let path = format!("{prefix}/{}", c.name);
            out.push((path.clone(), c.bytes, c.files));
            if depth > 1 {
                walk(c, &path, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, "", depth, &mut out);
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "0%".into() } else { format!("{:.1}%", 100.0 * part as f64 / whole as f64) }
}

fn lists_note(a: &ImageAnalysis) -> &'static str {
    match a.package_lists {
        ListSource::Image => "file lists from the image",
        ListSource::Lock => "file lists from the lock's .deb files (the image lists none)",
        ListSource::None => "no file lists: Debian package bytes unknown (see docs/report.md)",
    }
}

fn indent(block: &str) -> String {
    block.lines().map(|l| format!("  {l}\n")).collect()
}

fn text(images: &[ImageAnalysis]) -> String {
    let mut out = table(&size_rows(images));
    for a in images {
        let e = &a.efficiency;
        out.push_str(&format!("\n{} ({})\n", a.reference, a.platform));
        out.push_str(&format!(
            "  {} files, {} of content; layer tars {} ({} of headers and padding); compressed {}\n",
            a.files,
            fmt(a.size),
            fmt(a.tar_bytes),
            fmt(a.tar_overhead),
            fmt_compressed(a.compressed)
        ));
        out.push('\n');
        out.push_str(&indent(&table(&history_rows(a))));
        out.push_str(&format!(
            "\n  efficiency (dive): {:.1}%, wasted {} ({:.1}% of user layers)\n  hidden by later layers {}, \
             duplicates {}, reclaimable {}, lean score {:.1}%\n",
            100.0 * e.dive_score,
            fmt(e.dive_wasted_bytes),
            e.dive_user_wasted_percent,
            fmt(e.hidden_bytes),
            fmt(e.duplicate_bytes),
            fmt(e.reclaimable_bytes),
            100.0 * e.lean_score
        ));
        let mut dirs = vec![vec!["DIRECTORY".into(), "SIZE".into(), "SHARE".into(), "FILES".into()]];
        for (p, b, n) in largest_dirs(&a.tree, 4).into_iter().take(ROWS) {
            dirs.push(vec![p, fmt(b), pct(b, a.size), n.to_string()]);
        }
        out.push('\n');
        out.push_str(&indent(&table(&dirs)));
        let mut files = vec![vec!["FILE".into(), "SIZE".into(), "OWNER".into()]];
        for f in a.largest_files.iter().take(10) {
            files.push(vec![f.path.clone(), fmt(f.bytes), f.owner.clone().unwrap_or_default()]);
        }
        out.push('\n');
        out.push_str(&indent(&table(&files)));
        out.push_str(&format!("\n  packages ({}):\n", lists_note(a)));
        let mut pk = vec![vec!["PACKAGE".into(), "KIND".into(), "VERSION".into(), "SIZE".into(), "FILES".into()]];
        for r in a.owners.iter().take(ROWS) {
            pk.push(vec![
                r.owner.name.clone(),
                format!("{:?}", r.owner.kind).to_lowercase(),
                r.owner.version.clone(),
                fmt(r.bytes),
                r.files.to_string(),
            ]);
        }
        if a.owners.len() > ROWS {
            let rest: u64 = a.owners.iter().skip(ROWS).map(|r| r.bytes).sum();
            pk.push(vec![format!("({} more)", a.owners.len() - ROWS), "".into(), "".into(), fmt(rest), "".into()]);
        }
        pk.push(vec!["(no package)".into(), "".into(), "".into(), fmt(a.unowned_bytes), a.unowned_files.to_string()]);
        out.push_str(&indent(&table(&pk)));
        for (dir, b) in &a.site_packages {
            out.push_str(&format!("  {dir}: {}\n", fmt(*b)));
        }
        if !a.java_modules.is_empty() {
            out.push_str(&format!("  java modules ({}): {}\n", a.java_modules.len(), java_modules_line(a)));
            for m in &a.java_modules {
                if let Some(why) = &m.kept {
                    out.push_str(&format!("    {} kept: {why}\n", m.name));
                }
            }
        }
        for note in a.java_note.iter().chain(&a.metadata_note) {
            out.push_str(&format!("  info: {note}\n"));
        }
        if !a.unstripped.is_empty() {
            let s: u64 = a.unstripped.iter().map(|u| u.strippable).sum();
            out.push_str(&format!(
                "  unstripped ELF: {} files, {} of symbols and debug info\n",
                a.unstripped.len(),
                fmt(s)
            ));
        }
        if !a.recommendations.is_empty() {
            out.push_str("\n  recommendations:\n");
            let mut rec = vec![vec!["ID".into(), "SAVES".into(), "WHAT".into()]];
            for r in &a.recommendations {
                rec.push(vec![r.id.clone(), fmt(r.saves), format!("{} ({})", r.title, r.count)]);
                rec.push(vec!["".into(), "".into(), format!("how: {}", r.how)]);
                if let Some(ex) = r.examples.first() {
                    rec.push(vec!["".into(), "".into(), format!("e.g. {ex}")]);
                }
            }
            out.push_str(&indent(&table(&rec)));
        }
        if !a.app_findings.is_empty() {
            let (summary, rows) = app_rows(a);
            out.push_str(&format!("\n  applications (--app): {summary}\n"));
            if rows.len() > 1 {
                let mut shown = vec![vec!["ID".into(), "WHAT".into()]];
                for r in &rows[1..] {
                    shown.push(vec![r[0].clone(), r[1].clone()]);
                    shown.push(vec!["".into(), format!("fix: {}", r[2])]);
                }
                out.push_str(&indent(&table(&shown)));
            }
        }
    }
    out
}

/// `--app` on one image: a summary (`12 passed, 1 failed`) and the rows of the failed findings
/// (ID, what, fix). Passed checks are in the JSON.
pub fn app_rows(a: &ImageAnalysis) -> (String, Vec<Vec<String>>) {
    let count = |s: Status| a.app_findings.iter().filter(|f| f.status == s).count();
    let summary = format!("{} passed, {} failed", count(Status::Pass), count(Status::Fail));
    let mut rows = vec![vec!["ID".into(), "WHAT".into(), "FIX".into()]];
    for f in a.app_findings.iter().filter(|f| f.status == Status::Fail) {
        rows.push(vec![f.id.clone(), f.message.clone(), f.remediation.clone()]);
    }
    (summary, rows)
}

/// `java.base 21.3MB, java.xml 5.1MB (unused), ...`: the runtime's modules, largest first.
fn java_modules_line(a: &ImageAnalysis) -> String {
    a.java_modules
        .iter()
        .map(|m| {
            let unused = match (m.used, &m.kept) {
                (Some(false), Some(_)) => " (unused, kept)",
                (Some(false), None) => " (unused)",
                _ => "",
            };
            format!("{} {}{unused}", m.name, fmt(m.bytes))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn md_table(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        out.push_str(&format!("| {} |\n", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
        if i == 0 {
            out.push_str(&format!("|{}\n", " --- |".repeat(r.len())));
        }
    }
    out
}

/// Markdown for docs/ and job summaries: the size table, then per image its layers,
/// efficiency, where the bytes are and the recommendations.
pub fn markdown(images: &[ImageAnalysis]) -> String {
    let mut out = String::from("### Image sizes\n\n");
    out.push_str(&md_table(&size_rows(images)));
    out.push_str(
        "\nSIZE is the bytes of file content (what `docker images` shows); COMPRESSED the gzip layer blobs \
         (what a pull moves).\n",
    );
    for a in images {
        let e = &a.efficiency;
        out.push_str(&format!("\n### `{}:{}` ({})\n\n", cell(&a.repository), cell(&a.tag), a.platform));
        out.push_str(&format!(
            "{} files, {} of content in {} layer(s); layer tars {} ({} of tar headers and padding); compressed {}.\n\n",
            a.files,
            fmt(a.size),
            a.history.iter().filter(|h| h.index.is_some()).count(),
            fmt(a.tar_bytes),
            fmt(a.tar_overhead),
            fmt_compressed(a.compressed)
        ));
        out.push_str(&md_table(&history_rows(a)));
        out.push_str(&format!(
            "\n- dive efficiency {:.1}%, wasted {} ({:.1}% of the layers above the first)\n\
             - hidden by later layers {}, identical files {}, reclaimable by the recommendations {}: lean score {:.1}%\n",
            100.0 * e.dive_score,
            fmt(e.dive_wasted_bytes),
            e.dive_user_wasted_percent,
            fmt(e.hidden_bytes),
            fmt(e.duplicate_bytes),
            fmt(e.reclaimable_bytes),
            100.0 * e.lean_score
        ));
        for (dir, b) in &a.site_packages {
            out.push_str(&format!("- `{dir}`: {}\n", fmt(*b)));
        }
        out.push_str("\n**Largest directories**\n\n");
        let mut dirs = vec![vec!["directory".into(), "size".into(), "share".into(), "files".into()]];
        for (p, b, n) in largest_dirs(&a.tree, 4).into_iter().take(ROWS) {
            dirs.push(vec![format!("`{p}`"), fmt(b), pct(b, a.size), n.to_string()]);
        }
        out.push_str(&md_table(&dirs));
        out.push_str(&format!("\n**Bytes by package** ({})\n\n", lists_note(a)));
        let mut pk =
            vec![vec!["package".into(), "kind".into(), "version".into(), "size".into(), "of which byte code".into()]];
        for r in a.owners.iter().take(ROWS) {
            pk.push(vec![
                r.owner.name.clone(),
                format!("{:?}", r.owner.kind).to_lowercase(),
                r.owner.version.clone(),
                fmt(r.bytes),
                fmt(r.bytecode_bytes),
            ]);
        }
        if a.owners.len() > ROWS {
            let rest: u64 = a.owners.iter().skip(ROWS).map(|r| r.bytes).sum();
            pk.push(vec![format!("{} more", a.owners.len() - ROWS), "".into(), "".into(), fmt(rest), "".into()]);
        }
        pk.push(vec![
            "(no package: made by the builder)".into(),
            "".into(),
            "".into(),
            fmt(a.unowned_bytes),
            "".into(),
        ]);
        out.push_str(&md_table(&pk));
        if !a.java_modules.is_empty() {
            out.push_str(&format!("\n**Java modules** ({}): {}\n", a.java_modules.len(), java_modules_line(a)));
            for m in &a.java_modules {
                if let Some(why) = &m.kept {
                    out.push_str(&format!("\n- `{}` kept: {}", m.name, cell(why)));
                }
            }
            if a.java_modules.iter().any(|m| m.kept.is_some()) {
                out.push('\n');
            }
        }
        for note in a.java_note.iter().chain(&a.metadata_note) {
            out.push_str(&format!("\n*Info:* {}\n", cell(note)));
        }
        if !a.recommendations.is_empty() {
            out.push_str("\n**Recommendations** (computed from the content)\n\n");
            let mut rec = vec![vec!["ID".into(), "saves".into(), "what".into(), "how".into()]];
            for r in &a.recommendations {
                let ex = r.examples.first().map(|e| format!(", e.g. `{e}`")).unwrap_or_default();
                rec.push(vec![r.id.clone(), fmt(r.saves), format!("{} ({}{ex})", r.title, r.count), r.how.clone()]);
            }
            out.push_str(&md_table(&rec));
        } else {
            out.push_str("\nNo recommendations: nothing the rules know how to remove.\n");
        }
        if !a.app_findings.is_empty() {
            let (summary, rows) = app_rows(a);
            out.push_str(&format!("\n**Applications** (`--app`): {summary}\n"));
            if rows.len() > 1 {
                out.push('\n');
                out.push_str(&md_table(&rows));
            }
        }
    }
    out
}

/// Renders a diff.
pub fn render_diff(d: &ImageDiff, format: DiffFormat) -> Result<String> {
    if format == DiffFormat::Json {
        return Ok(serde_json::to_string_pretty(d).context("cannot render JSON")? + "\n");
    }
    let sign = |from: u64, to: u64| {
        if to >= from { format!("+{}", fmt(to - from)) } else { format!("-{}", fmt(from - to)) }
    };
    let change = |c: Change| match c {
        Change::Added => "+",
        Change::Removed => "-",
        Change::Changed => "~",
    };
    let summary = vec![
        vec!["".into(), "FROM".into(), "TO".into(), "CHANGE".into()],
        vec!["image".into(), d.from.clone(), d.to.clone(), "".into()],
        vec!["size".into(), fmt(d.size_from), fmt(d.size_to), sign(d.size_from, d.size_to)],
        vec![
            "compressed".into(),
            d.compressed_from.map_or_else(|| "unknown".to_string(), fmt),
            d.compressed_to.map_or_else(|| "unknown".to_string(), fmt),
            d.compressed_from.zip(d.compressed_to).map_or_else(String::new, |(f, t)| sign(f, t)),
        ],
        vec!["layers".into(), d.layers_from.to_string(), d.layers_to.to_string(), "".into()],
    ];
    let mut pk = vec![vec!["".into(), "PACKAGE".into(), "FROM".into(), "TO".into(), "BYTES".into()]];
    for p in &d.packages {
        pk.push(vec![
            change(p.change).into(),
            p.name.clone(),
            p.from.clone().unwrap_or_default(),
            p.to.clone().unwrap_or_default(),
            sign(p.bytes_from, p.bytes_to),
        ]);
    }
    let mut paths = vec![vec!["".into(), "PATH".into(), "BYTES".into(), "OWNER".into()]];
    for p in d.paths.iter().take(40) {
        paths.push(vec![
            change(p.change).into(),
            p.path.clone(),
            sign(p.bytes_from, p.bytes_to),
            p.owner.clone().unwrap_or_default(),
        ]);
    }
    let tail = format!(
        "{} paths changed (+{} / -{}), {} unchanged{}\n",
        d.paths.len(),
        fmt(d.added_bytes),
        fmt(d.removed_bytes),
        d.unchanged_files,
        if d.paths.len() > 40 { "; the 40 biggest shown (--format json lists all)" } else { "" }
    );
    let out = match format {
        DiffFormat::Markdown => format!(
            "### Image diff\n\n{}\n**Packages**\n\n{}\n**Paths**\n\n{}\n{tail}",
            md_table(&summary),
            md_table(&pk),
            md_table(&paths)
        ),
        _ => format!("{}\n{}\n{}\n{tail}", table(&summary), table(&pk), table(&paths)),
    };
    Ok(super::printable(&out, true).into_owned())
}

/// Renders `lucid diff --pull-cost`: per platform, the bytes to pull and the layers they are.
pub fn render_pull_cost(costs: &[PullCost], format: DiffFormat) -> Result<String> {
    if format == DiffFormat::Json {
        return Ok(serde_json::to_string_pretty(costs).context("cannot render JSON")? + "\n");
    }
    let mut out = String::new();
    for c in costs {
        let held = if c.held.is_empty() { "nothing".to_string() } else { c.held.join(", ") };
        let summary = vec![
            vec!["".into(), "BYTES".into(), "LAYERS".into()],
            vec!["to pull".into(), fmt(c.pull_bytes), c.layers.len().to_string()],
            vec!["  layers".into(), fmt(c.layer_bytes), "".into()],
            vec!["  configs and manifests".into(), fmt(c.metadata_bytes), "".into()],
            vec!["already held".into(), fmt(c.held_bytes), c.held_layers.to_string()],
            vec!["all layers of the images".into(), fmt(c.total_bytes), (c.layers.len() + c.held_layers).to_string()],
        ];
        let mut layers = vec![vec!["LAYER".into(), "BYTES".into(), "IMAGES".into(), "CREATED BY".into()]];
        for l in &c.layers {
            let short = l.digest.strip_prefix("sha256:").unwrap_or(&l.digest);
            layers.push(vec![
                short.chars().take(12).collect(),
                fmt(l.bytes),
                l.images.len().to_string(),
                l.created_by.replace('\n', " "),
            ]);
        }
        let title = format!("Pull cost on {} of {}, for a node holding {held}", c.platform, c.wanted.join(", "));
        out.push_str(&match format {
            DiffFormat::Markdown => format!("### {title}\n\n{}\n{}\n", md_table(&summary), md_table(&layers)),
            _ => format!("{title}\n{}\n{}\n", table(&summary), table(&layers)),
        });
    }
    Ok(super::printable(&out, true).into_owned())
}
