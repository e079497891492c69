//! Progress on stderr, as uv and cargo show it. The library says what each long step is doing
//! through a [`Reporter`] it is handed, and prints nothing any other way; the CLI chooses how it
//! is shown ([`Style`]).
//!
//! Images and platforms are built in parallel threads, so every line is attributed: work on one
//! image for one platform is a [`Task`] named `IMAGE (PLATFORM)`, and each of its lines carries
//! that name. Results (tables, digests) are the caller's, on stdout.

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A person at a terminal: one live line per task (its current step, and bytes while it
    /// downloads), cleared when the task ends; lines that must stay are printed above them.
    Live,
    /// CI, a pipe or a log file: one plain line per step, each naming its task.
    Plain,
    /// `--quiet`: nothing; results and errors are the caller's to print.
    Quiet,
}

/// Where a run's progress goes. Cheap to clone; clones share the live display.
#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Inner>,
}

struct Inner {
    style: Style,
    /// The live lines (only drawn in [`Style::Live`]).
    multi: MultiProgress,
    /// Plain lines kept instead of printed ([`Reporter::capture`]).
    captured: Option<Mutex<Vec<String>>>,
}

impl Reporter {
    pub fn new(style: Style) -> Reporter {
        let multi = match style {
            Style::Live => MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            Style::Plain | Style::Quiet => MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        };
        Reporter { inner: Arc::new(Inner { style, multi, captured: None }) }
    }

    /// Reports nothing: for library callers that only want the result.
    pub fn quiet() -> Reporter {
        Reporter::new(Style::Quiet)
    }

    /// Plain lines, kept in memory instead of printed ([`Reporter::lines`]): for tests.
    pub fn capture() -> Reporter {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        Reporter { inner: Arc::new(Inner { style: Style::Plain, multi, captured: Some(Mutex::new(Vec::new())) }) }
    }

    pub fn style(&self) -> Style {
        self.inner.style
    }

    /// What a [`Reporter::capture`] reporter was told, in order.
    pub fn lines(&self) -> Vec<String> {
        self.inner.captured.as_ref().map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default()
    }

    /// A line about the whole run (`Resolving`, `Writing`, `Finished`): `verb` right-aligned in
    /// 12 columns, then `message`.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.inner.style != Style::Quiet {
            self.line(format!("{verb:>12} {message}"));
        }
    }

    /// The progress of one unit of work, named `scope` in every line (`lucid-java-base
    /// (linux/amd64)`). Its live line goes away when the task is dropped.
    pub fn task(&self, scope: impl Display) -> Task {
        let scope = scope.to_string();
        let bar = (self.inner.style == Style::Live).then(|| {
            let bar = self.inner.multi.add(ProgressBar::new_spinner());
            bar.set_style(step_style());
            bar.set_prefix(scope.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task { reporter: self.clone(), scope, bar }
    }

    /// Prints a line that stays: above the live lines in a terminal, as is otherwise.
    fn line(&self, text: String) {
        if let Some(captured) = &self.inner.captured {
            captured.lock().unwrap_or_else(|e| e.into_inner()).push(text);
        } else if self.inner.style == Style::Live {
            self.inner.multi.suspend(|| eprintln!("{text}"));
        } else {
            eprintln!("{text}");
        }
    }
}

fn step_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}").expect("static template")
}

/// One unit of work (an image on a platform) and its line.
pub struct Task {
    reporter: Reporter,
    scope: String,
    bar: Option<ProgressBar>,
}

impl Task {
    /// A task that reports nothing (library callers and tests that want only the result).
    pub fn silent() -> Task {
        Reporter::quiet().task("")
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The step the task is at now: the live line shows it until the next one; a plain line
    /// says `VERB SCOPE: MESSAGE`.
    pub fn step(&self, verb: &str, message: impl Display) {
        let message = message.to_string();
        match &self.bar {
            Some(bar) => bar.set_message(format!("{verb} {message}")),
            None => self.plain(verb, &message),
        }
    }

    /// Something worth keeping after the task ends (a step skipped and why): a line that stays,
    /// in a terminal too.
    pub fn note(&self, verb: &str, message: impl Display) {
        let message = message.to_string();
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{verb} {message}"));
        }
        self.plain(verb, &message);
    }

    fn plain(&self, verb: &str, message: &str) {
        if self.reporter.style() == Style::Quiet {
            return;
        }
        let line = if message.is_empty() {
            format!("{verb:>12} {}", self.scope)
        } else {
            format!("{verb:>12} {}: {message}", self.scope)
        };
        self.reporter.line(line);
    }

    /// A byte count for a download of `what` (`total` bytes, 0 when unknown), shown on the
    /// task's live line until the returned counter is dropped. Nothing in plain lines: a
    /// download is a step, and its caller says what it fetched.
    pub fn bytes(&self, what: &str, total: u64) -> Bytes {
        self.transfer("Fetching", what, total)
    }

    /// [`Task::bytes`] for a transfer other than a download: `Pushing` blobs to a registry.
    pub fn transfer(&self, verb: &str, what: &str, total: u64) -> Bytes {
        let Some(bar) = &self.bar else { return Bytes { bar: None } };
        let template = if total > 0 {
            "{spinner} {prefix:.bold} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{spinner} {prefix:.bold} {msg} {bytes} {bytes_per_sec}"
        };
        bar.set_message(format!("{verb} {what}"));
        bar.set_length(total);
        bar.set_position(0);
        bar.set_style(ProgressStyle::with_template(template).expect("static template").progress_chars("=> "));
        Bytes { bar: Some(bar.clone()) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            self.reporter.inner.multi.remove(bar);
        }
    }
}

/// Bytes arriving for one download batch (shared by its parallel connections).
pub struct Bytes {
    bar: Option<ProgressBar>,
}

impl Bytes {
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_style(step_style());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_name_their_task_and_quiet_says_nothing() {
        let r = Reporter::capture();
        r.status("Resolving", "spec.yml for linux/amd64");
        let t = r.task("lucid-java-base (linux/amd64)");
        t.step("Assembling", "");
        t.step("Kept", "the CDS archive Debian ships");
        t.bytes("packages", 10).add(10);
        t.note("Skipped", "CDS archive");
        assert_eq!(
            r.lines(),
            [
                "   Resolving spec.yml for linux/amd64",
                "  Assembling lucid-java-base (linux/amd64)",
                "        Kept lucid-java-base (linux/amd64): the CDS archive Debian ships",
                "     Skipped lucid-java-base (linux/amd64): CDS archive",
            ]
        );
        let q = Reporter::quiet();
        q.status("Finished", "x");
        q.task("a").note("Skipped", "y");
        assert!(q.lines().is_empty());
    }
}
