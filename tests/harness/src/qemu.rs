//! QEMU's built-in VNC server for tests: a diskless TCG guest that boots
//! SeaBIOS to "No bootable device." and is then paused, so its screen is
//! real firmware text that no longer changes (the text cursor blinks on
//! the guest's clock). QMP over a Unix socket gives the ground truth
//! (`screendump`) and the port QEMU picked.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::images::{self, RgbImage};
use crate::process::{ServerProcess, TempDir};
use crate::xvnc::START_TIMEOUT;

/// QEMU picks the first free VNC display from here (`to=`), above the
/// ports libvirt's autoport and people's own servers start at.
const FIRST_DISPLAY: u16 = 200;
const LAST_DISPLAY: u16 = 700;

#[derive(Clone, Debug, Default)]
pub struct QemuOptions {
    /// VNC authentication with this password (`password-secret=`).
    pub password: Option<String>,
    /// Listen on a Unix socket instead of TCP.
    pub unix_socket: bool,
    /// Leave the guest paused before the firmware ran: the screen then
    /// shows QEMU's own "not initialized" text instead of SeaBIOS's.
    pub never_boot: bool,
    /// VeNCrypt over TLS (`tls-creds=`).
    pub tls: Option<QemuTls>,
    /// Keep the guest running after SeaBIOS gave up (QEMU drops input
    /// while paused); SeaBIOS then waits for good instead of rebooting,
    /// and still handles the keyboard (its LEDs follow the lock keys).
    pub keep_running: bool,
    /// A sound card with a silent backend, offered to VNC clients as
    /// QEMU audio.
    pub audio: bool,
    /// QEMU trace events (e.g. `input_event_key_qcode`) written to
    /// [`Qemu::trace_log`].
    pub trace: Vec<String>,
    /// An absolute pointing device (USB tablet): QEMU then asks VNC
    /// clients for absolute positions instead of relative motion.
    pub tablet: bool,
}

/// QEMU's TLS credentials for VNC.
#[derive(Clone, Debug)]
pub enum QemuTls {
    /// `tls-creds-x509` from a directory with `ca-cert.pem`,
    /// `server-cert.pem` and `server-key.pem` (X509None, or X509Vnc with a
    /// password).
    X509(PathBuf),
    /// `tls-creds-anon` (TLSNone, or TLSVnc with a password).
    Anonymous,
}

/// A running QEMU, killed when dropped.
#[derive(Debug)]
pub struct Qemu {
    process: ServerProcess,
    qmp: Qmp,
    /// The TCP port on 127.0.0.1 (0 when on a Unix socket).
    pub port: u16,
    pub unix_socket: Option<PathBuf>,
    dir: TempDir,
}

impl Qemu {
    /// Starts QEMU and returns once its screen is final and VNC greets.
    pub fn start(options: &QemuOptions) -> io::Result<Self> {
        let dir = TempDir::new("porthole-qemu")?;
        let qmp_path = dir.path().join("qmp.sock");
        let debug_log = dir.path().join("firmware.log");
        let unix_socket = options.unix_socket.then(|| dir.path().join("vnc.sock"));
        let mut vnc = match &unix_socket {
            Some(path) => format!("unix:{}", path.display()),
            None => format!("127.0.0.1:{FIRST_DISPLAY},to={LAST_DISPLAY}"),
        };
        let mut command = Command::new("qemu-system-x86_64");
        command.args(["-display", "none", "-m", "64", "-nodefaults", "-vga", "std"]);
        command.args(["-S", "-no-reboot", "-name", "porthole-test"]);
        if options.keep_running {
            command.args(["-boot", "reboot-timeout=-1"]);
        }
        if options.audio {
            command.args(["-audiodev", "none,id=snd0", "-device", "AC97,audiodev=snd0"]);
            vnc.push_str(",audiodev=snd0");
        }
        if options.tablet {
            command.args(["-device", "qemu-xhci", "-device", "usb-tablet"]);
        }
        for event in &options.trace {
            command.arg("-trace").arg(event);
        }
        if !options.trace.is_empty() {
            command.arg("-D").arg(dir.path().join("trace.log"));
        }
        if let Some(password) = &options.password {
            // The secret goes in through a file so it is not on the command line.
            let secret = dir.path().join("vnc-secret");
            std::fs::write(&secret, password)?;
            command
                .arg("-object")
                .arg(format!("secret,id=vncsec0,file={}", secret.display()));
            vnc.push_str(",password-secret=vncsec0");
        }
        match &options.tls {
            Some(QemuTls::X509(dir)) => {
                command.arg("-object").arg(format!(
                    "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=no",
                    dir.display()
                ));
                vnc.push_str(",tls-creds=tls0");
            }
            Some(QemuTls::Anonymous) => {
                command
                    .arg("-object")
                    .arg("tls-creds-anon,id=tls0,endpoint=server");
                vnc.push_str(",tls-creds=tls0");
            }
            None => {}
        }
        command.arg("-vnc").arg(vnc);
        // SeaBIOS prints to the debug port too: that is how we know it is done.
        command
            .arg("-chardev")
            .arg(format!("file,id=fwlog,path={}", debug_log.display()))
            .args(["-device", "isa-debugcon,iobase=0x402,chardev=fwlog"]);
        command
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()));
        let mut process = ServerProcess::spawn("qemu-system-x86_64", command)?;
        let stream = process.wait_until("opening QMP", START_TIMEOUT, |_| {
            UnixStream::connect(&qmp_path).ok()
        })?;
        let mut qmp = Qmp::new(stream)?;
        if !options.never_boot {
            qmp.execute("cont", json!({}))?;
            process.wait_until("SeaBIOS giving up booting", START_TIMEOUT, |_| {
                std::fs::read_to_string(&debug_log)
                    .ok()
                    .filter(|log| log.contains("No bootable device"))
            })?;
            if !options.keep_running {
                qmp.execute("stop", json!({}))?;
            }
        }
        let port = match &unix_socket {
            Some(_) => 0,
            None => {
                let info = qmp.execute("query-vnc", json!({}))?;
                let service = info.get("service").and_then(Value::as_str).unwrap_or("");
                service
                    .parse()
                    .map_err(|_| io::Error::other(format!("query-vnc gave no port: {info}")))?
            }
        };
        let mut qemu = Self {
            process,
            qmp,
            port,
            unix_socket,
            dir,
        };
        if qemu.unix_socket.is_none() {
            qemu.process.wait_for_rfb(port, START_TIMEOUT)?;
        }
        Ok(qemu)
    }

    /// The address in `porthole-vnc` syntax.
    pub fn address(&self) -> String {
        match &self.unix_socket {
            Some(path) => format!("unix:{}", path.display()),
            None => format!("127.0.0.1::{}", self.port),
        }
    }

    /// What the trace events asked for in [`QemuOptions::trace`] logged
    /// so far (one event a line: its name, then its arguments).
    pub fn trace_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("trace.log")).unwrap_or_default()
    }

    /// QEMU's own picture of the guest screen (QMP `screendump`).
    pub fn screendump(&mut self) -> io::Result<RgbImage> {
        let path = self.dir.path().join("screendump.ppm");
        self.qmp
            .execute("screendump", json!({ "filename": path.to_string_lossy() }))?;
        images::load(&path)
    }

    /// Makes the USB tablet QEMU's active pointing device (as a guest
    /// driver taking it would), so QEMU's VNC server asks for absolute
    /// positions again.
    pub fn activate_tablet(&mut self) -> io::Result<()> {
        let monitor = |qmp: &mut Qmp, line: String| {
            qmp.execute("human-monitor-command", json!({ "command-line": line }))
        };
        let mice = monitor(&mut self.qmp, "info mice".to_owned())?;
        let mice = mice.as_str().unwrap_or_default();
        // "  Mouse #2: QEMU HID Tablet (absolute)"
        let tablet = mice
            .lines()
            .find(|line| line.contains("Tablet"))
            .and_then(|line| {
                line.split('#')
                    .nth(1)?
                    .split(':')
                    .next()?
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
            .ok_or_else(|| io::Error::other(format!("QEMU has no tablet: {mice}")))?;
        monitor(&mut self.qmp, format!("mouse_set {tablet}")).map(drop)
    }

    pub fn qmp(&mut self) -> &mut Qmp {
        &mut self.qmp
    }

    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// A QMP connection (JSON lines over a Unix socket), past capabilities
/// negotiation.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        let mut qmp = Self {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(io::Error::other(format!("not a QMP greeting: {greeting}")));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> io::Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::other("QMP connection closed"));
        }
        serde_json::from_str(&line).map_err(io::Error::other)
    }

    /// Runs a command and returns its `return` value; events that arrive
    /// in between are skipped.
    pub fn execute(&mut self, command: &str, arguments: Value) -> io::Result<Value> {
        let message = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{message}")?;
        loop {
            let reply = self.read_message()?;
            if let Some(value) = reply.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = reply.get("error") {
                return Err(io::Error::other(format!("QMP {command} failed: {error}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_reaches_a_static_firmware_screen() {
        if !crate::process::tools_available(&["qemu-system-x86_64"]) {
            return;
        }
        let mut qemu = Qemu::start(&QemuOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let first = qemu.screendump().unwrap_or_else(|e| panic!("{e}"));
        let lit = first.pixels().filter(|p| p.0 != [0, 0, 0]).count();
        assert!(lit > 1000, "the SeaBIOS screen has text ({lit} lit pixels)");
        let second = qemu.screendump().unwrap_or_else(|e| panic!("{e}"));
        images::assert_same(&first, &second, "paused qemu screen");
        assert!(qemu.port > 5900);
    }
}
