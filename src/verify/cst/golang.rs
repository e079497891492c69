//! The three pieces of Go behaviour container-structure-test's verdicts depend on, written anew
//! from their documented semantics so that a test file means here what it means there:
//! `os.FileMode.String()` (the `permissions` of a file existence test), `os.Expand` (how `$VAR`
//! in commands, paths and `globalEnvVars` is replaced) and the dotenv syntax of `envFile`
//! (github.com/joho/godotenv).

use crate::oci::read::EntryKind;

/// Go's `os.FileMode.String()` for an entry of kind `kind` with tar mode `mode` (permission
/// bits plus setuid, setgid, sticky), as `archive/tar`'s `FileInfo().Mode()` builds it from the
/// header the engine's archive API returns: one letter per type or special bit set, in the order
/// `dalTLDpSugct?` (directory, append-only, exclusive, temporary, symlink, device, named pipe,
/// socket, setuid, setgid, character device, sticky, irregular), or `-` when none is, then
/// `rwxrwxrwx` with `-` for each bit unset. A sticky `/tmp` is `dtrwxrwxrwx`; a setuid program
/// `urwxr-xr-x`; a link `Lrwxrwxrwx` (the engine reports a link's own mode, 0777 on Linux); a
/// character device `Dcrw-rw-rw-`.
pub fn file_mode(kind: EntryKind, mode: u32) -> String {
    let (dir, symlink, device, pipe, chardev) = match kind {
        EntryKind::Dir => (true, false, false, false, false),
        EntryKind::Symlink => (false, true, false, false, false),
        EntryKind::Other(b'3') => (false, false, true, false, true),
        EntryKind::Other(b'4') => (false, false, true, false, false),
        EntryKind::Other(b'6') => (false, false, false, true, false),
        _ => (false, false, false, false, false),
    };
    let mode = if kind == EntryKind::Symlink { 0o777 } else { mode };
    // The letters in Go's order, each with whether its bit is set (a, l, T, S and ? never are
    // for what a tar header describes).
    let letters = [
        ('d', dir),
        ('L', symlink),
        ('D', device),
        ('p', pipe),
        ('u', mode & 0o4000 != 0),
        ('g', mode & 0o2000 != 0),
        ('c', chardev),
        ('t', mode & 0o1000 != 0),
    ];
    let mut s: String = letters.iter().filter(|(_, on)| *on).map(|(c, _)| *c).collect();
    if s.is_empty() {
        s.push('-');
    }
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

/// Go's `os.Expand`: `$NAME` and `${NAME}` are replaced by `lookup(NAME)` (a name is letters,
/// digits and `_`; `$1`, `$$`, `$*`... are one-character names); `$` followed by anything else
/// stays; `${}` and an unclosed `${` are dropped. Unset names become the empty string, as in Go.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut j) = (0usize, 0usize);
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                // Bad syntax: the characters are eaten.
                None if width > 0 => {}
                // A `$` before no name stays.
                None => out.push('$'),
                Some(n) => out.push_str(&lookup(n).unwrap_or_default()),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

fn special(c: u8) -> bool {
    matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9')
}

/// Go's `getShellName`: the name after a `$` and how many bytes it took.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => (None, 2),
            Some(k) => (Some(&s[1..k + 1]), k + 2),
            None => (None, 1),
        };
    }
    if special(b[0]) {
        return (Some(&s[0..1]), 1);
    }
    let n = b.iter().take_while(|&&c| c == b'_' || c.is_ascii_alphanumeric()).count();
    (if n == 0 { None } else { Some(&s[..n]) }, n)
}

/// The `KEY=VALUE` pairs of a dotenv file, in order: blank lines and `#` comments skipped, an
/// `export ` prefix dropped, values trimmed and unquoted (`'...'` literally, `"..."` with `\n`,
/// `\"` and `\\` escapes), an unquoted value's ` #comment` dropped. A line that is no pair is an
/// error naming its number.
pub fn dotenv(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: no KEY=VALUE", n + 1));
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|c| c == b'_' || c == b'.' || c.is_ascii_alphanumeric()) {
            return Err(format!("line {}: {key:?} is no variable name", n + 1));
        }
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            v.to_string()
        } else if let Some(v) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            v.replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\")
        } else {
            value.split(" #").next().unwrap_or("").trim_end().to_string()
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings Go's `FileMode.String()` prints for these modes (its documented letter order).
    #[test]
    fn file_modes_are_gos() {
        assert_eq!(file_mode(EntryKind::Dir, 0o1777), "dtrwxrwxrwx");
        assert_eq!(file_mode(EntryKind::Dir, 0o770), "drwxrwx---");
        assert_eq!(file_mode(EntryKind::File, 0o644), "-rw-r--r--");
        assert_eq!(file_mode(EntryKind::File, 0o4755), "urwxr-xr-x");
        assert_eq!(file_mode(EntryKind::File, 0o6755), "ugrwxr-xr-x");
        assert_eq!(file_mode(EntryKind::Dir, 0o3775), "dgtrwxrwxr-x");
        assert_eq!(file_mode(EntryKind::Symlink, 0o644), "Lrwxrwxrwx");
        assert_eq!(file_mode(EntryKind::Other(b'3'), 0o666), "Dcrw-rw-rw-");
        assert_eq!(file_mode(EntryKind::Other(b'4'), 0o660), "Drw-rw----");
        assert_eq!(file_mode(EntryKind::Other(b'6'), 0o600), "prw-------");
        assert_eq!(file_mode(EntryKind::Hardlink, 0o755), "-rwxr-xr-x");
    }

    #[test]
    fn expands_as_os_expand() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/nonroot".to_string()),
            "1" => Some("one".to_string()),
            _ => None,
        };
        let cases = [
            ("$HOME/x", "/home/nonroot/x"),
            ("${HOME}x", "/home/nonrootx"),
            ("a$UNSET-b", "a-b"),
            ("cost $", "cost $"),
            ("$1$", "one$"),
            ("${}x", "x"),
            ("${HOME", "HOME"),
            ("$-x", "x"),
            ("%$/", "%$/"),
            ("no dollar", "no dollar"),
            ("$HOME:$HOME", "/home/nonroot:/home/nonroot"),
            // Names are ASCII letters, digits and `_`: multi-byte text after one ends it.
            ("é$HOMEé", "é/home/nonrooté"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &env), want, "{input}");
        }
    }

    #[test]
    fn reads_dotenv() {
        let text = "# c\nFOO=keepitsecret!\nexport BAR = 'a # b'\nBAZ=\"x\\ny\" \nQ=v # note\n\n";
        let got = dotenv(text).unwrap();
        let want = [("FOO", "keepitsecret!"), ("BAR", "a # b"), ("BAZ", "x\ny"), ("Q", "v")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(dotenv("just words\n").unwrap_err().contains("line 1"));
    }
}
