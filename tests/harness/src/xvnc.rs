//! TigerVNC's `Xvnc` (an X server that is also a VNC server) for tests,
//! and the X client tools the VNC tests use on any X display: putting a
//! known picture on the root window, and taking the server's own
//! screenshot as ground truth (`import -window root`).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::images::{self, RgbImage};
use crate::process::{free_tcp_port, run, ServerProcess, TempDir};

/// How long a server may take to start before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Which security type Xvnc offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XvncSecurity {
    None,
    /// VNC authentication (DES challenge) with this password.
    VncAuth(String),
    /// Any `-SecurityTypes` list (e.g. `X509Plain,TLSPlain,TLSVnc,VncAuth`),
    /// with what its types need.
    Custom {
        types: String,
        /// For VncAuth/TLSVnc/X509Vnc.
        password: Option<String>,
        /// System users allowed through Plain (checked by PAM).
        plain_users: Vec<String>,
        /// Certificate and key (PEM) for the X509 types.
        x509: Option<(PathBuf, PathBuf)>,
    },
}

#[derive(Clone, Debug)]
pub struct XvncOptions {
    pub width: u16,
    pub height: u16,
    /// X depth: 24 (32 bpp true colour) or 16.
    pub depth: u8,
    pub security: XvncSecurity,
    /// Also listen on a Unix socket (`-rfbunixpath`).
    pub unix_socket: bool,
    /// The TCP port; `None` picks a free one. A fixed one lets a test
    /// start a server again where a client expects it.
    pub port: Option<u16>,
}

impl Default for XvncOptions {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            depth: 24,
            security: XvncSecurity::None,
            unix_socket: false,
            port: None,
        }
    }
}

/// A running Xvnc, killed when dropped.
#[derive(Debug)]
pub struct Xvnc {
    process: ServerProcess,
    /// The X display number (`:N`).
    pub display: u32,
    /// The TCP port on 127.0.0.1 and ::1.
    pub port: u16,
    /// The Unix socket path, if asked for.
    pub unix_socket: Option<PathBuf>,
    /// The RFB greeting the server sent, e.g. `"RFB 003.008\n"`.
    pub greeting: String,
    _dir: TempDir,
}

impl Xvnc {
    /// Starts Xvnc on a free display and port and waits until it greets.
    pub fn start(options: &XvncOptions) -> io::Result<Self> {
        // A port taken by someone else between our probe and Xvnc's bind
        // makes Xvnc exit; try again with another.
        let mut last_error = None;
        for _ in 0..5 {
            match Self::try_start(options) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("Xvnc did not start")))
    }

    fn try_start(options: &XvncOptions) -> io::Result<Self> {
        let dir = TempDir::new("porthole-xvnc")?;
        let port = match options.port {
            Some(port) => port,
            None => free_tcp_port()?,
        };
        let mut command = Command::new("Xvnc");
        command
            .arg("-displayfd")
            .arg("1")
            .arg("-geometry")
            .arg(format!("{}x{}", options.width, options.height))
            .arg("-depth")
            .arg(options.depth.to_string())
            .args(["-localhost", "-nolisten", "tcp", "-noreset", "-rfbport"])
            .arg(port.to_string())
            // Wrong-password tests must not get the test host blacklisted.
            .args(["-BlacklistThreshold", "1000", "-AlwaysShared"]);
        match &options.security {
            XvncSecurity::None => {
                command.args(["-SecurityTypes", "None"]);
            }
            XvncSecurity::VncAuth(password) => {
                let file = dir.path().join("passwd");
                std::fs::write(&file, obfuscated_password(password))?;
                command
                    .args(["-SecurityTypes", "VncAuth", "-PasswordFile"])
                    .arg(&file);
            }
            XvncSecurity::Custom {
                types,
                password,
                plain_users,
                x509,
            } => {
                command.arg("-SecurityTypes").arg(types);
                if let Some(password) = password {
                    let file = dir.path().join("passwd");
                    std::fs::write(&file, obfuscated_password(password))?;
                    command.arg("-PasswordFile").arg(&file);
                }
                if !plain_users.is_empty() {
                    // Debian's tigervnc-common installs this PAM service.
                    command
                        .args(["-PAMService", "tigervnc", "-PlainUsers"])
                        .arg(plain_users.join(","));
                }
                if let Some((cert, key)) = x509 {
                    command.arg("-X509Cert").arg(cert).arg("-X509Key").arg(key);
                }
            }
        }
        let unix_socket = options.unix_socket.then(|| dir.path().join("rfb.sock"));
        if let Some(path) = &unix_socket {
            command.arg("-rfbunixpath").arg(path);
        }
        let mut process = ServerProcess::spawn("Xvnc", command)?;
        let display = process.wait_until("reporting its display", START_TIMEOUT, |p| {
            let out = p.stdout();
            let line = out.lines().next()?.trim().to_owned();
            (out.contains('\n'))
                .then(|| line.parse::<u32>().ok())
                .flatten()
        })?;
        let greeting = process.wait_for_rfb(port, START_TIMEOUT)?;
        Ok(Self {
            process,
            display,
            port,
            unix_socket,
            greeting,
            _dir: dir,
        })
    }

    /// The X display name, `":N"`.
    pub fn display_name(&self) -> String {
        format!(":{}", self.display)
    }

    /// The address in `porthole-vnc` syntax, `127.0.0.1::PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1::{}", self.port)
    }

    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// Puts a picture on the root window (see [`show_image`]).
    pub fn show_image(&self, image: &RgbImage) -> io::Result<()> {
        show_image(&self.display_name(), image)
    }

    /// The screen as the X server has it (see [`screenshot`]).
    pub fn screenshot(&self) -> io::Result<RgbImage> {
        screenshot(&self.display_name())
    }
}

/// Sets `image` as the root window's background on X display `display`
/// (ImageMagick's `display -window root`) and checks the screen shows it.
pub fn show_image(display: &str, image: &RgbImage) -> io::Result<()> {
    let dir = TempDir::new("porthole-image")?;
    let path = dir.path().join("root.png");
    image.save(&path).map_err(io::Error::other)?;
    // `display -window root` exits with status 1 even when it worked, so
    // success is judged by what the screen shows afterwards.
    let output = Command::new("display")
        .arg("-display")
        .arg(display)
        .args(["-window", "root"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()?;
    let shown = screenshot(display)?;
    let (width, height) = image.dimensions().min(shown.dimensions());
    let visible = image::imageops::crop_imm(image, 0, 0, width, height).to_image();
    let on_screen = image::imageops::crop_imm(&shown, 0, 0, width, height).to_image();
    images::compare(&visible, &on_screen).map_err(|diff| {
        io::Error::other(format!(
            "the picture did not reach {display}'s screen ({diff}); display said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    })
}

/// Takes X display `display`'s own screenshot of the root window (no
/// cursor: XGetImage does not include it), the ground truth for captures.
pub fn screenshot(display: &str) -> io::Result<RgbImage> {
    let mut command = Command::new("import");
    command
        .arg("-display")
        .arg(display)
        .args(["-window", "root", "png:-"]);
    images::load_png(&run(command)?)
}

/// The 8 bytes of a VNC password file (`vncpasswd -f`, `x11vnc
/// -storepasswd`): the password, NUL-padded to 8 bytes, DES-encrypted with
/// the fixed key every VNC implementation uses to obfuscate it.
pub fn obfuscated_password(password: &str) -> [u8; 8] {
    use des::cipher::{BlockEncrypt, KeyInit};
    // The historic key {23,82,107,6,35,78,88,7} with each byte's bits
    // reversed, as VNC's d3des reads keys bit-reversed.
    const KEY: [u8; 8] = [0xe8, 0x4a, 0xd6, 0x60, 0xc4, 0x72, 0x1a, 0xe0];
    let mut block = [0u8; 8];
    for (slot, byte) in block.iter_mut().zip(password.bytes()) {
        *slot = byte;
    }
    let cipher = des::Des::new(&KEY.into());
    let mut block = block.into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// Writes a password file in the obfuscated format to `path`.
pub fn write_password_file(path: &Path, password: &str) -> io::Result<()> {
    std::fs::write(path, obfuscated_password(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_obfuscation_matches_x11vnc() {
        if !crate::process::tools_available(&["x11vnc"]) {
            return;
        }
        let dir = TempDir::new("porthole-passwd").unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("p");
        let mut command = Command::new("x11vnc");
        command.args(["-storepasswd", "s3cret!"]).arg(&file);
        run(command).unwrap_or_else(|e| panic!("{e}"));
        let written = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, obfuscated_password("s3cret!"));
    }

    #[test]
    fn xvnc_shows_the_picture_it_was_given() {
        if !crate::process::tools_available(&["Xvnc", "display", "import"]) {
            return;
        }
        let server = Xvnc::start(&XvncOptions {
            width: 320,
            height: 240,
            unix_socket: true,
            ..XvncOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(server.greeting.starts_with("RFB 003."));
        let pattern = images::test_pattern(320, 240);
        server
            .show_image(&pattern)
            .unwrap_or_else(|e| panic!("{e}"));
        let shot = server.screenshot().unwrap_or_else(|e| panic!("{e}"));
        images::assert_same(&pattern, &shot, "xvnc root window");
        assert!(server.unix_socket.as_ref().is_some_and(|p| p.exists()));
    }
}
