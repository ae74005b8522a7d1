//! libvirt for tests: libvirt-dbus on a private bus (its test driver needs
//! nothing else), and for real QEMU guests the root daemons `virtlogd` and
//! `libvirtd` run in the foreground as our children, with libvirt-dbus
//! `--system` on a private "system" bus. Everything is stopped by PID when
//! dropped. Readiness is polled (the bus name, the daemon's socket), never
//! slept for.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::bus::PrivateBus;
use crate::process::{self, ServerProcess};

/// libvirt-dbus is quick; libvirtd probes QEMU's capabilities on a cold
/// start, which takes tens of seconds on a loaded machine.
const DBUS_START_TIMEOUT: Duration = Duration::from_secs(20);
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(60);

/// The well-known name libvirt-dbus owns.
pub const SERVICE: &str = "org.libvirt";

/// The path of libvirt-dbus, installed outside `PATH` for users.
pub const LIBVIRT_DBUS: &str = "/usr/sbin/libvirt-dbus";

/// Whether libvirt-dbus is installed; says so loudly when not (and fails
/// in CI), like [`process::tools_available`].
pub fn libvirt_dbus_available() -> bool {
    if Path::new(LIBVIRT_DBUS).exists() {
        return process::tools_available(&["dbus-daemon", "dbus-send"]);
    }
    assert!(
        !process::in_ci(),
        "CI is set and {LIBVIRT_DBUS} is missing (package libvirt-dbus)"
    );
    eprintln!("SKIPPED: {LIBVIRT_DBUS} not installed (package libvirt-dbus)");
    false
}

/// Which bus libvirt-dbus serves, and so which libvirt it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `qemu:///session` and the test driver, on a session bus.
    Session,
    /// `qemu:///system`, on a (private) system bus.
    System,
}

/// A running libvirt-dbus, killed when dropped.
#[derive(Debug)]
pub struct LibvirtDbus {
    process: ServerProcess,
}

impl LibvirtDbus {
    /// Starts `libvirt-dbus --session` on `bus` and waits until it owns
    /// `org.libvirt` there.
    pub fn start(bus: &PrivateBus) -> io::Result<Self> {
        Self::start_mode(bus, Mode::Session)
    }

    /// Starts libvirt-dbus serving `mode`, with `bus` standing in for that bus.
    pub fn start_mode(bus: &PrivateBus, mode: Mode) -> io::Result<Self> {
        let mut command = Command::new(LIBVIRT_DBUS);
        match mode {
            Mode::Session => {
                command
                    .arg("--session")
                    .env("DBUS_SESSION_BUS_ADDRESS", bus.address());
            }
            Mode::System => {
                command
                    .arg("--system")
                    .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
            }
        }
        let mut process = ServerProcess::spawn("libvirt-dbus", command)?;
        let address = bus.address().to_owned();
        process.wait_until("owning org.libvirt", DBUS_START_TIMEOUT, |_| {
            name_has_owner(&address, SERVICE).then_some(())
        })?;
        Ok(Self { process })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Asks the bus at `address` whether `name` has an owner.
pub fn name_has_owner(address: &str, name: &str) -> bool {
    let mut command = Command::new("dbus-send");
    command
        .arg(format!("--bus={address}"))
        .args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{name}"));
    process::run(command)
        .map(|out| String::from_utf8_lossy(&out).contains("boolean true"))
        .unwrap_or(false)
}

/// Where the privileged libvirtd and virtlogd listen (fixed paths: a root
/// libvirtd always uses `/run/libvirt`, and `qemu:///system` clients look there).
const LIBVIRTD_SOCKET: &str = "/run/libvirt/libvirt-sock";
const VIRTLOGD_SOCKET: &str = "/run/libvirt/virtlogd-sock";

/// The privileged daemons for real QEMU guests. There is one
/// `/run/libvirt` per machine, so only one of these runs at a time within
/// a test binary; when another libvirtd already serves the socket (started
/// by a person or another test binary) it is used and left alone.
#[derive(Debug)]
pub struct Libvirtd {
    virtlogd: Option<ServerProcess>,
    libvirtd: Option<ServerProcess>,
    _exclusive: MutexGuard<'static, ()>,
}

static ONE_LIBVIRTD: Mutex<()> = Mutex::new(());

impl Libvirtd {
    /// Whether this process may run the root daemons; says so loudly when not.
    pub fn available() -> bool {
        if !process::tools_available(&["libvirtd", "virtlogd", "qemu-system-x86_64"]) {
            return false;
        }
        if !is_root() {
            assert!(
                !process::in_ci(),
                "CI is set but the tests do not run as root"
            );
            eprintln!("SKIPPED: libvirtd for real QEMU guests needs root");
            return false;
        }
        true
    }

    /// Starts virtlogd and libvirtd (unless they already serve their
    /// sockets) and waits until libvirtd accepts connections.
    pub fn start() -> io::Result<Self> {
        let exclusive = ONE_LIBVIRTD.lock().unwrap_or_else(|e| e.into_inner());
        let virtlogd = if accepts(VIRTLOGD_SOCKET) {
            None
        } else {
            let mut process = ServerProcess::spawn("virtlogd", Command::new("virtlogd"))?;
            process.wait_until("listening", DAEMON_START_TIMEOUT, |_| {
                accepts(VIRTLOGD_SOCKET).then_some(())
            })?;
            Some(process)
        };
        let libvirtd = if accepts(LIBVIRTD_SOCKET) {
            None
        } else {
            let mut process = ServerProcess::spawn("libvirtd", Command::new("libvirtd"))?;
            process.wait_until("listening", DAEMON_START_TIMEOUT, |_| {
                accepts(LIBVIRTD_SOCKET).then_some(())
            })?;
            Some(process)
        };
        Ok(Self {
            virtlogd,
            libvirtd,
            _exclusive: exclusive,
        })
    }

    /// Whether this harness started libvirtd (rather than finding one).
    pub fn owned(&self) -> bool {
        self.libvirtd.is_some()
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        // libvirtd first: it may still be writing guest logs through virtlogd.
        self.libvirtd.take();
        self.virtlogd.take();
    }
}

fn accepts(socket: &str) -> bool {
    UnixStream::connect(socket).is_ok()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
