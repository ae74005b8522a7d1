//! A Secret Service for tests: GNOME Keyring's daemon with only its
//! secrets component, on a private bus, keeping its keyrings in its own
//! temporary directory, its login keyring created and unlocked with a
//! known password. Killed by PID when dropped.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::{run, ServerProcess, TempDir};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `gnome-keyring-daemon` serving `org.freedesktop.secrets`.
#[derive(Debug)]
pub struct Keyring {
    _process: ServerProcess,
    dir: TempDir,
}

impl Keyring {
    /// Starts the daemon on the bus at `bus_address` and waits until it
    /// owns `org.freedesktop.secrets`.
    pub fn start(bus_address: &str) -> io::Result<Self> {
        let dir = TempDir::new("porthole-keyring")?;
        let mut command = Command::new("sh");
        // --unlock reads the login keyring's password from stdin and
        // creates that keyring (the default collection) if it is missing.
        command
            .args([
                "-c",
                "printf test-keyring | exec gnome-keyring-daemon --foreground --unlock --components=secrets",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .env_remove("GNOME_KEYRING_CONTROL");
        let mut process = ServerProcess::spawn("gnome-keyring-daemon", command)?;
        process.wait_until("owning org.freedesktop.secrets", START_TIMEOUT, |_| {
            name_has_owner(bus_address, "org.freedesktop.secrets").then_some(())
        })?;
        Ok(Self {
            _process: process,
            dir,
        })
    }

    /// Where the daemon keeps its files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn name_has_owner(bus_address: &str, name: &str) -> bool {
    let mut command = Command::new("dbus-send");
    command
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{name}"));
    run(command).is_ok_and(|out| String::from_utf8_lossy(&out).contains("boolean true"))
}
