//! The controlling terminal of an interactive `lucid debug` session: raw mode while the
//! container's shell owns it (so keys like Ctrl-C and arrows reach the shell), restored on drop,
//! and its size for the container's terminal.

use anyhow::{Result, bail};

/// Whether standard input and output are a terminal.
pub fn is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's rows and columns, if standard output is one.
pub fn size() -> Option<(i32, i32)> {
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_row > 0).then(|| (i32::from(ws.ws_row), i32::from(ws.ws_col)))
}

/// The settings before raw mode, for [`restore`] when a signal ends the process before
/// [`Raw`] drops.
static SAVED: std::sync::Mutex<Option<libc::termios>> = std::sync::Mutex::new(None);

/// Puts back the terminal settings [`Raw::enter`] changed, if it did.
fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(saved) = saved {
        // SAFETY: restores settings read by tcgetattr.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved) };
    }
}

/// Standard input in raw mode until this drops (the previous settings come back then, also
/// when the session ends in an error, and when a signal ends the run: see
/// `oci::containers::before_interrupted_exit`).
pub struct Raw;

impl Raw {
    pub fn enter() -> Result<Raw> {
        // SAFETY: tcgetattr fills the termios it is given; cfmakeraw and tcsetattr read it.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                bail!("cannot read the terminal's settings: {}", std::io::Error::last_os_error());
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
            crate::oci::containers::before_interrupted_exit(restore);
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                restore();
                bail!("cannot put the terminal in raw mode: {}", std::io::Error::last_os_error());
            }
            Ok(Raw)
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        restore();
    }
}
