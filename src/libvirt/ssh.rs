//! Remote hosts over SSH: how `ssh` is run for the D-Bus bridge to the
//! host's system bus and for console tunnels. ssh asks its questions
//! through the askpass program (this binary, see `askpass.rs`), never on a
//! terminal; the console goes over the same login (ssh connection sharing),
//! since D-Bus over SSH cannot pass `OpenGraphicsFD`'s descriptor.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use super::connection::{Bus, Hypervisor};
use super::domain::Domain;
use super::error::{Error, Result};

/// Set in ssh's environment so that this program, started again by ssh as
/// its askpass, shows a dialog instead of the app (see `askpass.rs`).
pub const ASKPASS_ENV: &str = "PORTHOLE_ASKPASS";

/// Overrides the askpass program ssh runs (default: this executable).
const ASKPASS_PROGRAM_ENV: &str = "PORTHOLE_SSH_ASKPASS";

/// How Porthole runs `ssh` to `host` (`name`, `name:port`, `[v6]:port`):
/// questions (password, passphrase, unknown host key) go to the askpass
/// program, never to a terminal; one login is shared by the D-Bus bridge
/// and the console tunnels through ssh's connection sharing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshCommand {
    host: String,
    port: Option<u16>,
    user: Option<String>,
    askpass: Option<String>,
    control_dir: Option<String>,
}

impl SshCommand {
    pub fn new(host: &str, user: Option<&str>) -> Self {
        let (host, port) = split_port(host);
        let askpass = std::env::var(ASKPASS_PROGRAM_ENV).ok().or_else(|| {
            std::env::current_exe()
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        });
        let control_dir = std::env::var("XDG_RUNTIME_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}/porthole"));
        Self {
            host,
            port,
            user: user.map(str::to_owned),
            askpass,
            control_dir,
        }
    }

    /// The environment ssh runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        match &self.askpass {
            Some(askpass) => vec![
                ("SSH_ASKPASS".to_owned(), askpass.clone()),
                // Even with a terminal or without DISPLAY: the app asks.
                ("SSH_ASKPASS_REQUIRE".to_owned(), "force".to_owned()),
                (ASKPASS_ENV.to_owned(), "1".to_owned()),
            ],
            None => Vec::new(),
        }
    }

    /// ssh's options (everything before `--` and the destination).
    fn options(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.askpass.is_none() {
            // Nothing could ask: fail instead of waiting for a terminal.
            args.push("-oBatchMode=yes".to_owned());
        }
        args.push("-oServerAliveInterval=15".to_owned());
        if let Some(dir) = &self.control_dir {
            // The first connection becomes the master; console tunnels
            // reuse its login instead of asking for a password again.
            args.push("-oControlMaster=auto".to_owned());
            args.push(format!("-oControlPath={dir}/ssh-%C"));
        }
        if let Some(port) = self.port {
            args.push("-p".to_owned());
            args.push(port.to_string());
        }
        args
    }

    fn destination(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// ssh's arguments up to the destination (inclusive).
    pub fn args(&self) -> Vec<String> {
        let mut args = self.options();
        args.push("--".to_owned());
        args.push(self.destination());
        args
    }

    /// The D-Bus address that runs `ssh HOST systemd-stdio-bridge` (through
    /// `env`, since a D-Bus address cannot set environment variables).
    pub fn dbus_address(&self) -> String {
        self.dbus_address_logging(None)
    }

    /// As [`Self::dbus_address`], with ssh's messages (why a login failed)
    /// written to `log` through `sh` rather than to the app's stderr.
    fn dbus_address_logging(&self, log: Option<&Path>) -> String {
        let mut argv: Vec<String> = self
            .env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some(log) = log {
            argv.push("sh".to_owned());
            argv.push("-c".to_owned());
            argv.push("exec ssh \"$@\" 2>\"$0\"".to_owned());
            argv.push(log.to_string_lossy().into_owned());
        } else {
            argv.push("ssh".to_owned());
        }
        argv.extend(self.args());
        argv.push("systemd-stdio-bridge".to_owned());
        let mut address = String::from("unixexec:path=env,argv0=env");
        for (i, arg) in argv.iter().enumerate() {
            address.push_str(&format!(",argv{}={}", i + 1, unixexec_value(arg)));
        }
        address
    }

    /// Opens the D-Bus connection to the host's system bus. When ssh
    /// fails (login refused or cancelled, unknown host, host key changed)
    /// the error is ssh's own words rather than an ended D-Bus handshake.
    pub(super) async fn connect(&self) -> std::result::Result<zbus::Connection, SshFailure> {
        self.prepare();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "porthole-ssh-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // ssh's words go to a file only we can reach: the runtime dir, or
        // else a new directory of our own (mode 0700; created, never an
        // existing one someone else made) in the shared temp dir.
        let private = match &self.control_dir {
            Some(dir) => Some((PathBuf::from(dir), false)),
            None => {
                use std::os::unix::fs::DirBuilderExt;
                let dir = std::env::temp_dir().join(&unique);
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .ok()
                    .map(|()| (dir, true))
            }
        };
        let log = private
            .as_ref()
            .map(|(dir, _)| dir.join(format!("{unique}.log")));
        let address = self.dbus_address_logging(log.as_deref());
        let result = super::connection::connect_address(&address).await;
        let said = log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default();
        // ssh keeps writing to the open file; the names are not needed.
        if let Some(log) = &log {
            let _ = std::fs::remove_file(log);
        }
        if let Some((dir, true)) = &private {
            let _ = std::fs::remove_dir(dir);
        }
        result.map_err(|error| SshFailure {
            ssh: ssh_reason(&said),
            error,
        })
    }
    /// A process whose stdin and stdout are a TCP connection to
    /// `address:port` as the remote host sees it (`ssh -W`, so nothing
    /// needs to be installed there).
    pub fn forward(&self, address: &str, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new("ssh");
        command.envs(self.env());
        let target = if address.contains(':') {
            format!("[{address}]:{port}")
        } else {
            format!("{address}:{port}")
        };
        command
            .args(self.options())
            .arg("-W")
            .arg(target)
            .arg("--")
            .arg(self.destination());
        command
    }

    /// Makes the directory of the connection-sharing socket (private).
    pub fn prepare(&self) {
        if let Some(dir) = &self.control_dir {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
        }
    }
}

/// Why a connection over SSH did not come up.
#[derive(Debug)]
pub(super) struct SshFailure {
    /// What ssh said, if it said anything.
    pub ssh: Option<String>,
    pub error: zbus::Error,
}

/// The lines of ssh's stderr that say what went wrong (not its warnings,
/// such as a host key just added to known_hosts).
fn ssh_reason(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// zbus (5.x) takes `unixexec` values verbatim, without percent-decoding,
/// up to the next comma: a comma cannot be passed at all, so it is left
/// escaped (a host name with a comma is no host, and it cannot add another
/// key to the address). Everything else, `%` of ssh's tokens too, stays.
fn unixexec_value(value: &str) -> String {
    value.replace(',', "%2c")
}

/// Splits `host:port` and `[v6]:port`; a bare IPv6 address has no port.
fn split_port(host: &str) -> (String, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((address, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (address.to_owned(), port);
        }
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name.to_owned(), Some(port)),
            Err(_) => (host.to_owned(), None),
        },
        _ => (host.to_owned(), None),
    }
}

/// A stream to `domain`'s VNC console, for `VncDisplay::connect_fd` or
/// `porthole_vnc::driver::Stream::from_fd`. Locally (and on any bus that
/// can pass file descriptors) this is libvirt's `OpenGraphicsFD`: no port,
/// no password. Over SSH it is an `ssh -W` tunnel, on the connection's
/// login, to the display's TCP port as the remote host sees it.
pub async fn open_console_stream(hypervisor: &Hypervisor, domain: &Domain) -> Result<OwnedFd> {
    let Bus::Ssh { host, user } = &hypervisor.spec().bus else {
        return domain.open_graphics_fd().await;
    };
    let overview = domain.overview().await?;
    let Some(vnc) = overview.vnc() else {
        return Err(Error::Libvirt(
            "this virtual machine has no VNC display: add one in its XML to see its console".into(),
        ));
    };
    let Some(port) = vnc.port.filter(|p| *p > 0) else {
        return Err(Error::Libvirt(
            "the display has no TCP port (it is not running, or listens on a socket, which cannot be reached over SSH)".into(),
        ));
    };
    let address = match vnc.listen.as_deref() {
        None | Some("" | "0.0.0.0" | "::") => "127.0.0.1",
        Some(address) => address,
    };
    let ssh = SshCommand::new(host, user.as_deref());
    ssh.prepare();
    let (ours, theirs) = UnixStream::pair().map_err(tunnel_error)?;
    let theirs_out = theirs.try_clone().map_err(tunnel_error)?;
    let mut child = ssh
        .forward(address, port)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .spawn()
        .map_err(tunnel_error)?;
    // ssh ends when the console closes our end; reap it then.
    std::thread::spawn(move || child.wait());
    Ok(OwnedFd::from(ours))
}

fn tunnel_error(error: std::io::Error) -> Error {
    Error::Libvirt(format!("cannot run ssh for the console tunnel: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_runs_the_bridge_with_askpass_and_escapes_the_host() {
        let mut ssh = SshCommand::new("host.example", Some("alice"));
        ssh.askpass = Some("/usr/bin/porthole".into());
        ssh.control_dir = Some("/run/user/1000/porthole".into());
        // What zbus will run, read back the way zbus reads the address.
        assert_eq!(
            exec_argv(&ssh.dbus_address()),
            [
                "env",
                "SSH_ASKPASS=/usr/bin/porthole",
                "SSH_ASKPASS_REQUIRE=force",
                "PORTHOLE_ASKPASS=1",
                "ssh",
                "-oServerAliveInterval=15",
                "-oControlMaster=auto",
                "-oControlPath=/run/user/1000/porthole/ssh-%C",
                "--",
                "alice@host.example",
                "systemd-stdio-bridge",
            ]
        );
        // A host name cannot smuggle another address key in.
        let argv = exec_argv(&SshCommand::new("h,argv9=x", None).dbus_address());
        assert!(argv.contains(&"h%2cargv9=x".to_owned()), "{argv:?}");
        assert_eq!(
            argv.last().map(String::as_str),
            Some("systemd-stdio-bridge")
        );
        // Without an askpass nothing may wait for a terminal.
        ssh.askpass = None;
        assert!(ssh.args().contains(&"-oBatchMode=yes".to_owned()));
    }

    fn exec_argv(address: &str) -> Vec<String> {
        let parsed: zbus::Address = address.try_into().unwrap_or_else(|e| panic!("{e}"));
        let zbus::address::Transport::Unixexec(exec) = parsed.transport() else {
            panic!("not unixexec: {address}");
        };
        let mut argv = vec![exec.path().to_string_lossy().into_owned()];
        argv.extend(exec.args().iter().map(|a| a.to_string_lossy().into_owned()));
        argv
    }

    #[test]
    fn ports_and_ipv6_hosts_reach_ssh_apart() {
        assert_eq!(split_port("host"), ("host".into(), None));
        assert_eq!(split_port("host:2222"), ("host".into(), Some(2222)));
        assert_eq!(split_port("[::1]:2222"), ("::1".into(), Some(2222)));
        assert_eq!(split_port("[fe80::1]"), ("fe80::1".into(), None));
        assert_eq!(split_port("fe80::1"), ("fe80::1".into(), None));
        let mut ssh = SshCommand::new("[::1]:2200", None);
        ssh.control_dir = None;
        let args = ssh.args();
        assert_eq!(args[args.len() - 4..], ["-p", "2200", "--", "::1"]);
        let forward = ssh.forward("::1", 5900);
        let argv: Vec<_> = forward
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(argv[argv.len() - 4..], ["-W", "[::1]:5900", "--", "::1"]);
    }
}
