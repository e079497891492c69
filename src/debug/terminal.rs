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

/// Standard input in raw mode until this drops (the previous settings come back then, also
/// when the session ends in an error).
pub struct Raw {
    saved: libc::termios,
}

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
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                bail!("cannot put the terminal in raw mode: {}", std::io::Error::last_os_error());
            }
            Ok(Raw { saved })
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}
