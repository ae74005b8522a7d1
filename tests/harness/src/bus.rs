//! A private D-Bus daemon for one test: `dbus-daemon` run in the
//! foreground as our child, listening on a Unix socket in its own
//! temporary directory, and killed by PID when dropped. Tests point
//! clients at it through its address instead of the user's session bus,
//! so they never see (or disturb) the services of the desktop they run on.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::{ServerProcess, TempDir};

/// How long dbus-daemon may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running private bus.
#[derive(Debug)]
pub struct PrivateBus {
    process: ServerProcess,
    address: String,
    dir: TempDir,
}

impl PrivateBus {
    /// Starts a bus on which anyone may own any name (so it can also stand
    /// in for the system bus) and nothing is started by D-Bus activation:
    /// a test decides which services run, and a missing one stays missing.
    pub fn start() -> io::Result<Self> {
        let dir = TempDir::new("porthole-bus")?;
        let (process, address) = start_daemon("session", &dir, "dbus-daemon")?;
        Ok(Self {
            process,
            address,
            dir,
        })
    }

    /// The bus address, e.g. `unix:path=/tmp/…/bus,guid=…`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The private directory the bus socket lives in (also a good place
    /// for other files of the same test).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Starts a `dbus-daemon` of type `kind` (session, accessibility) that
/// listens on a socket in `dir`, with no service directories: nothing is
/// D-Bus-activated. Returns it with its full address (with the guid).
pub(crate) fn start_daemon(
    kind: &str,
    dir: &TempDir,
    name: &str,
) -> io::Result<(ServerProcess, String)> {
    let config = dir.path().join("bus.conf");
    std::fs::write(&config, config_xml(kind, &dir.path().join("bus")))?;
    let mut command = Command::new("dbus-daemon");
    command
        .args(["--nofork", "--nopidfile", "--print-address=1"])
        .arg(format!("--config-file={}", config.display()));
    let mut process = ServerProcess::spawn(name, command)?;
    // The daemon prints its full address once it listens.
    let address = process.wait_until("printing its address", START_TIMEOUT, |p| {
        let out = p.stdout();
        out.lines()
            .next()
            .filter(|line| out.contains('\n') && line.starts_with("unix:"))
            .map(str::to_owned)
    })?;
    Ok((process, address))
}

/// A bus configuration without service directories where anyone may own
/// any name and eavesdrop.
fn config_xml(kind: &str, socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}
