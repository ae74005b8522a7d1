//! A headless X display (Xvfb) for GUI tests, and what tests do with it:
//! run a program on it, find its windows by title, take screenshots.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{run, ServerProcess};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// An Xvfb server on a display number it picked itself (`-displayfd`), so
/// parallel tests never collide; killed when dropped.
#[derive(Debug)]
pub struct Display {
    number: u32,
    _server: ServerProcess,
}

impl Display {
    /// Starts Xvfb with one screen of `width`×`height` at 24-bit depth.
    pub fn start(width: u32, height: u32) -> io::Result<Self> {
        let mut command = Command::new("Xvfb");
        command
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-noreset",
                "-screen",
                "0",
            ])
            .arg(format!("{width}x{height}x24"));
        let mut server = ServerProcess::spawn("Xvfb", command)?;
        let number = server.wait_until("reporting its display", START_TIMEOUT, |p| {
            let out = p.stdout();
            out.contains('\n')
                .then(|| out.trim().parse::<u32>().ok())
                .flatten()
        })?;
        Ok(Self {
            number,
            _server: server,
        })
    }

    /// The X server's process id (to read its CPU time).
    pub fn pid(&self) -> u32 {
        self._server.pid()
    }

    /// The `DISPLAY` value, e.g. `:3`.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// A command that runs on this display, with the accessibility bus off
    /// (none runs here) and nothing of the caller's display inherited.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("DISPLAY", self.name())
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            .env("GTK_A11Y", "none")
            .env("NO_AT_BRIDGE", "1");
        command
    }

    /// Waits until a visible window whose title is exactly `title` exists;
    /// returns its X window id.
    pub fn wait_for_window(&self, title: &str, timeout: Duration) -> io::Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut search = self.command("xdotool");
            search
                .args(["search", "--onlyvisible", "--name"])
                .arg(format!("^{title}$"));
            if let Ok(out) = run(search) {
                if let Some(id) = String::from_utf8_lossy(&out)
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .next()
                {
                    return Ok(id);
                }
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "no window titled “{title}” appeared on {} within {timeout:?}",
                    self.name()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of one window (`Some(id)`) or of the whole screen.
    pub fn screenshot(&self, window: Option<u64>, out: &Path) -> io::Result<()> {
        let mut import = self.command("import");
        import.arg("-window");
        match window {
            Some(id) => import.arg(id.to_string()),
            None => import.arg("root"),
        };
        import.arg(out);
        run(import).map(|_| ())
    }
}
