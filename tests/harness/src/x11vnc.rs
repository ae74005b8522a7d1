//! libvncserver's server, `x11vnc`, sharing a private `Xvfb` display: the
//! third family of VNC servers users meet. The X display's own screenshot
//! is the ground truth, as with Xvnc.

use std::io;
use std::process::Command;

use crate::images::RgbImage;
use crate::process::{free_tcp_port, ServerProcess, TempDir};
use crate::xvnc::{self, START_TIMEOUT};

/// A private Xvfb with x11vnc serving it; both are killed when dropped.
#[derive(Debug)]
pub struct X11vnc {
    // Field order matters: x11vnc goes before its X server.
    x11vnc: ServerProcess,
    xvfb: ServerProcess,
    /// The Xvfb display number (`:N`).
    pub display: u32,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    pub greeting: String,
    _dir: TempDir,
}

#[derive(Clone, Debug)]
pub struct X11vncOptions {
    pub width: u16,
    pub height: u16,
    /// VNC authentication with this password; `None` means `-nopw`.
    pub password: Option<String>,
    /// A picture put on the screen before x11vnc starts. x11vnc keeps its
    /// own copy of the screen and polls X for changes, so content drawn
    /// later reaches clients only after its next poll.
    pub image: Option<RgbImage>,
}

impl Default for X11vncOptions {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            password: None,
            image: None,
        }
    }
}

impl X11vnc {
    pub fn start(options: &X11vncOptions) -> io::Result<Self> {
        let dir = TempDir::new("porthole-x11vnc")?;
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
            .arg(format!("{}x{}x24", options.width, options.height));
        let mut xvfb = ServerProcess::spawn("Xvfb", command)?;
        let display = xvfb.wait_until("reporting its display", START_TIMEOUT, |p| {
            let out = p.stdout();
            out.contains('\n')
                .then(|| out.trim().parse::<u32>().ok())
                .flatten()
        })?;
        if let Some(image) = &options.image {
            xvnc::show_image(&format!(":{display}"), image)?;
        }
        let mut last_error = None;
        // Retry when another process took the probed port first.
        for _ in 0..5 {
            let port = free_tcp_port()?;
            let mut command = Command::new("x11vnc");
            command
                .arg("-display")
                .arg(format!(":{display}"))
                .arg("-rfbport")
                .arg(port.to_string())
                .args(["-localhost", "-forever", "-shared", "-nocursor"]);
            match &options.password {
                None => {
                    command.arg("-nopw");
                }
                Some(password) => {
                    let file = dir.path().join("passwd");
                    xvnc::write_password_file(&file, password)?;
                    command.arg("-rfbauth").arg(&file);
                }
            }
            let mut x11vnc = ServerProcess::spawn("x11vnc", command)?;
            match x11vnc.wait_for_rfb(port, START_TIMEOUT) {
                Ok(greeting) => {
                    return Ok(Self {
                        x11vnc,
                        xvfb,
                        display,
                        port,
                        greeting,
                        _dir: dir,
                    })
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("x11vnc did not start")))
    }

    pub fn display_name(&self) -> String {
        format!(":{}", self.display)
    }

    /// The address in `porthole-vnc` syntax, `127.0.0.1::PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1::{}", self.port)
    }

    pub fn show_image(&self, image: &RgbImage) -> io::Result<()> {
        xvnc::show_image(&self.display_name(), image)
    }

    pub fn screenshot(&self) -> io::Result<RgbImage> {
        xvnc::screenshot(&self.display_name())
    }

    pub fn server_process(&mut self) -> &mut ServerProcess {
        &mut self.x11vnc
    }

    pub fn xvfb_process(&mut self) -> &mut ServerProcess {
        &mut self.xvfb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x11vnc_serves_a_private_xvfb() {
        if !crate::process::tools_available(&["Xvfb", "x11vnc", "display", "import"]) {
            return;
        }
        let pattern = crate::images::test_pattern(200, 150);
        let server = X11vnc::start(&X11vncOptions {
            width: 200,
            height: 150,
            image: Some(pattern.clone()),
            ..X11vncOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(server.greeting.starts_with("RFB 003."));
        let shot = server.screenshot().unwrap_or_else(|e| panic!("{e}"));
        crate::images::assert_same(&pattern, &shot, "xvfb root window");
    }
}
