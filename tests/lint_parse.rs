//! The Dockerfile parser: positions through continuations, heredocs, directives, flags, exec
//! form, ARG expansion in FROM; and that no input makes it (or the rules) panic.

use std::collections::BTreeMap;
use std::path::Path;

use lucid::dockerfile::parse::{Args, Pos, parse};
use lucid::dockerfile::stages::{ImageRef, Stages, expand};
use lucid::dockerfile::{LintOptions, lint_str};

#[test]
fn continuations_keep_source_positions() {
    let df = parse(
        "FROM a:1 AS build-stage\nRUN apt-get update \\\n    # a comment inside\n\n    && echo \\\n   done\nCMD [\"x\"]\n",
    );
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let run = &df.instructions[1];
    assert_eq!(run.keyword, "RUN");
    assert_eq!(run.pos, Pos { line: 2, col: 1 });
    assert_eq!(run.end_line, 6);
    let amp = run.words.iter().find(|w| w.0 == "&&").unwrap();
    assert_eq!(amp.1, Pos { line: 5, col: 5 });
    let done = run.words.iter().find(|w| w.0 == "done").unwrap();
    assert_eq!(done.1, Pos { line: 6, col: 4 });
    assert_eq!(df.comments[0].pos.line, 3);
    assert_eq!(df.instructions[2].pos.line, 7);
    assert_eq!(df.instructions[2].args, Args::Exec(vec!["x".into()]));
}

#[test]
fn escape_directive_and_other_directives() {
    let df = parse("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM a:1\nRUN dir c:\\ `\n  && echo hi\n");
    assert_eq!(df.escape, '`');
    assert_eq!(df.directives.len(), 2);
    assert_eq!(df.instructions.len(), 2);
    assert!(df.instructions[1].args.text().contains("c:\\   && echo hi"));
    // A directive after a comment is only a comment.
    let df = parse("# hello\n# escape=`\nFROM a:1\n");
    assert_eq!(df.escape, '\\');
    assert!(df.directives.is_empty());
    let df = parse("# escape=x\nFROM a:1\n");
    assert_eq!(df.errors.len(), 1);
}

#[test]
fn heredocs() {
    let src = "FROM a:1\nRUN <<EOF bash\nset -e\necho \"$HOME\"\nEOF\nCOPY <<-\"CONF\" /etc/app.conf\n\tkey=value\n\tCONF\nRUN python3 <<PY > /tmp/out\nprint(1)\nPY\nUSER 1\n";
    let df = parse(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let k: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
    assert_eq!(k, ["FROM", "RUN", "COPY", "RUN", "USER"]);
    let h = &df.instructions[1].heredocs[0];
    assert_eq!(
        (h.name.as_str(), h.body.as_str(), h.expand, h.strip_tabs),
        ("EOF", "set -e\necho \"$HOME\"\n", true, false)
    );
    assert_eq!(df.instructions[1].end_line, 5);
    let h = &df.instructions[2].heredocs[0];
    assert_eq!((h.name.as_str(), h.body.as_str(), h.expand, h.strip_tabs), ("CONF", "key=value\n", false, true));
    assert_eq!(df.instructions[3].heredocs[0].body, "print(1)\n");
    assert_eq!(df.instructions[4].pos.line, 12);
    // Shift and here-strings are not heredocs.
    let df = parse("FROM a:1\nRUN echo $((1<<2)) && cat <<<word\nUSER 1\n");
    assert!(df.instructions[1].heredocs.is_empty());
    assert_eq!(df.instructions.len(), 3);
}

#[test]
fn flags_and_exec_form() {
    let df = parse(
        "FROM --platform=$BUILDPLATFORM a:1 AS b\nCOPY --from=b --chown=65532:65532 --chmod=0644 x /y\nCOPY -- --weird /z\nHEALTHCHECK --interval=5s CMD [\"python3\", \"-c\", \"1\"]\nENTRYPOINT python3 app.py\n",
    );
    let i = &df.instructions;
    assert_eq!(i[0].flag("platform").unwrap().value.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(i[1].flag("from").unwrap().value.as_deref(), Some("b"));
    assert_eq!(i[1].flag("chown").unwrap().value.as_deref(), Some("65532:65532"));
    assert_eq!(i[1].flag("chown").unwrap().pos, Pos { line: 2, col: 15 });
    assert_eq!(i[1].args_pos, Pos { line: 2, col: 48 });
    assert!(i[2].flags.is_empty());
    assert_eq!(i[2].args.text(), "--weird /z");
    assert!(i[3].args.is_exec());
    assert_eq!(i[4].args, Args::Shell("python3 app.py".into()));
}

#[test]
fn from_expands_global_args() {
    let src = "ARG REG=org\nARG TAG\nARG BASE=${REG}/lucid-python-base:${TAG:-20261125}\nFROM $BASE AS build-stage\nFROM ${MISSING} AS x\nFROM build-stage AS runtime-stage\n";
    let df = parse(src);
    let st = Stages::new(&df, &BTreeMap::new());
    assert_eq!(st.stages[0].base.as_deref(), Some("org/lucid-python-base:20261125"));
    assert_eq!(st.stages[1].base, None);
    assert_eq!(st.stages[2].parent, Some(0));
    let over = BTreeMap::from([("TAG".to_string(), "20270101".to_string())]);
    let st = Stages::new(&df, &over);
    assert_eq!(st.stages[0].base.as_deref(), Some("org/lucid-python-base:20270101"));
    let vars = BTreeMap::from([("A".to_string(), String::new())]);
    assert_eq!(expand("${A:-d}-${A-d}-${A:+x}-${B+y}-\\$A", &vars).as_deref(), Some("d----$A"));
    assert_eq!(ImageRef::parse("host:5000/a/b:1@sha256:ab").tag.as_deref(), Some("1"));
    assert_eq!(ImageRef::parse("host:5000/a/b").tag, None);
    assert_eq!(ImageRef::parse("host:5000/a/b").short_name(), "b");
}

/// A tiny deterministic generator: no new dependency for fuzz-style tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn never_panics_on_mangled_input() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerfiles");
    let mut seeds: Vec<String> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok()).collect();
    seeds.push(
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("infrastructure/containers/base/Dockerfile.java-base"),
        )
        .unwrap(),
    );
    let alphabet: Vec<char> = "\\`\n\r\t #=[]{}\"'$<-:@/.,ÿé😀\u{0}FROMRUNAS".chars().collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let opts = LintOptions::new();
    for round in 0..3000 {
        let seed = &seeds[round % seeds.len()];
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..(1 + rng.next() % 8) {
            let pos = if chars.is_empty() { 0 } else { (rng.next() as usize) % (chars.len() + 1) };
            match rng.next() % 3 {
                0 => chars.insert(pos, alphabet[(rng.next() as usize) % alphabet.len()]),
                1 if pos < chars.len() => {
                    chars.remove(pos);
                }
                _ => chars.truncate(pos),
            }
        }
        let s: String = chars.into_iter().collect();
        for f in lint_str(&s, "fuzz", &opts) {
            assert!(f.line >= 1 && f.column >= 1);
        }
    }
    // Random bytes, lossily decoded.
    for _ in 0..500 {
        let n = (rng.next() % 400) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        let _ = lint_str(&String::from_utf8_lossy(&bytes), "fuzz", &opts);
    }
}
