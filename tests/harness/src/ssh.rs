//! A "remote host" for tests: a private `sshd` on a free loopback port, run
//! as root in the foreground as our child with its own generated host key,
//! an authorized client key, and optionally a password login. Its sessions
//! find `systemd-stdio-bridge` pointed at a bus the test chose (standing in
//! for the host's system bus). Killed by PID when dropped; the password
//! user is removed again.
//!
//! Clients reach it by a host alias in an ssh config file this module
//! writes ([`SshServer::client_config`]), the way people name their hosts.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::{self, ServerProcess, TempDir};

const SSHD: &str = "/usr/sbin/sshd";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether a private sshd can run here; says so loudly when not.
pub fn available() -> bool {
    if !Path::new(SSHD).exists() {
        assert!(
            !process::in_ci(),
            "CI is set and {SSHD} is missing (package openssh-server)"
        );
        eprintln!("SKIPPED: {SSHD} not installed (package openssh-server)");
        return false;
    }
    if !process::tools_available(&["ssh", "ssh-keygen", "systemd-stdio-bridge", "useradd"]) {
        return false;
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        assert!(
            !process::in_ci(),
            "CI is set but the tests do not run as root"
        );
        eprintln!("SKIPPED: a private sshd needs root");
        return false;
    }
    true
}

/// A login with a password, for askpass tests.
#[derive(Debug)]
pub struct PasswordUser {
    pub name: String,
    pub password: String,
}

impl Drop for PasswordUser {
    fn drop(&mut self) {
        let mut userdel = Command::new("userdel");
        // -f: the account shares uid 0, which always has processes.
        userdel.args(["-f", &self.name]);
        let _ = process::run(userdel);
    }
}

/// A running private sshd, killed when dropped.
#[derive(Debug)]
pub struct SshServer {
    // Field order: the server goes before its files and its user.
    process: ServerProcess,
    port: u16,
    password_user: Option<PasswordUser>,
    dir: TempDir,
}

impl SshServer {
    /// Starts sshd on a free loopback port. Sessions run
    /// `systemd-stdio-bridge` against `bus_address` (a private bus standing
    /// in for the host's system bus). With `password`, a user that logs in
    /// with a random password is created (sharing root's uid, so it may
    /// use a private bus that admits only root).
    pub fn start(bus_address: &str, password: bool) -> io::Result<Self> {
        let dir = TempDir::new("porthole-sshd")?;
        let path = dir.path();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        // sshd's privilege separation directory (no systemd creates it here).
        std::fs::create_dir_all("/run/sshd")?;

        let host_key = path.join("host_key");
        let client_key = path.join("client_key");
        for key in [&host_key, &client_key] {
            let mut keygen = Command::new("ssh-keygen");
            keygen
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(key);
            process::run(keygen)?;
        }
        std::fs::copy(path.join("client_key.pub"), path.join("authorized_keys"))?;

        // The sessions' PATH finds this bridge first: the client's command
        // line stays the real `ssh HOST systemd-stdio-bridge`.
        let bin = path.join("bin");
        std::fs::create_dir(&bin)?;
        let bridge = bin.join("systemd-stdio-bridge");
        std::fs::write(
            &bridge,
            format!(
                "#!/bin/sh\nexec /usr/bin/systemd-stdio-bridge --bus-path='{bus_address}' \"$@\"\n"
            ),
        )?;
        std::fs::set_permissions(&bridge, std::fs::Permissions::from_mode(0o755))?;

        let password_user = if password {
            Some(create_password_user()?)
        } else {
            None
        };

        let port = process::free_tcp_port()?;
        let config = path.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n\
                 AuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n\
                 PasswordAuthentication {password}\nKbdInteractiveAuthentication no\n\
                 AllowTcpForwarding yes\nSetEnv PATH={bin}:/usr/bin:/bin\n",
                host_key = host_key.display(),
                keys = path.join("authorized_keys").display(),
                password = if password { "yes" } else { "no" },
                bin = bin.display(),
            ),
        )?;
        let mut command = Command::new(SSHD);
        command.arg("-D").arg("-e").arg("-f").arg(&config);
        let mut process = ServerProcess::spawn("sshd", command)?;
        let pid = process.pid();
        process.wait_until("listening", START_TIMEOUT, |_| {
            process::listens_on(pid, port).then_some(())
        })?;
        Ok(Self {
            process,
            port,
            password_user,
            dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What sshd logged so far (authentication failures are here).
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    pub fn password_user(&self) -> Option<&PasswordUser> {
        self.password_user.as_ref()
    }

    /// The private key root logs in with.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A `known_hosts` line for this server's host key.
    pub fn known_hosts_line(&self) -> io::Result<String> {
        let key = std::fs::read_to_string(self.dir.path().join("host_key.pub"))?;
        let mut fields = key.split_whitespace();
        let (kind, data) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        Ok(format!("[127.0.0.1]:{} {kind} {data}\n", self.port))
    }

    /// An ssh client config naming this server `alias`: as root with the
    /// client key and a known host key (no question at all), or as the
    /// password user with an empty `known_hosts` (ssh asks about the host
    /// key, then for the password). Written to `dir`; returns its path.
    pub fn client_config(
        &self,
        dir: &Path,
        alias: &str,
        with_password: bool,
    ) -> io::Result<PathBuf> {
        let known_hosts = dir.join(format!("{alias}.known_hosts"));
        let mut config = format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  IdentitiesOnly yes\n",
            self.port,
            known_hosts.display()
        );
        match (&self.password_user, with_password) {
            (Some(user), true) => {
                std::fs::write(&known_hosts, "")?;
                config.push_str(&format!(
                    "  User {}\n  PreferredAuthentications password\n  PubkeyAuthentication no\n  \
                     StrictHostKeyChecking ask\n",
                    user.name
                ));
            }
            _ => {
                std::fs::write(&known_hosts, self.known_hosts_line()?)?;
                config.push_str(&format!(
                    "  User root\n  IdentityFile {}\n  PreferredAuthentications publickey\n  \
                     StrictHostKeyChecking yes\n",
                    self.client_key().display()
                ));
            }
        }
        let path = dir.join(format!("{alias}.config"));
        std::fs::write(&path, config)?;
        Ok(path)
    }
}

fn create_password_user() -> io::Result<PasswordUser> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "porthole-t{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let password = format!("pw-{:x}", nanos ^ u128::from(std::process::id()) << 64);
    let mut useradd = Command::new("useradd");
    useradd.args([
        "-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", "/bin/sh", &name,
    ]);
    process::run(useradd)?;
    let user = PasswordUser { name, password };
    let mut chpasswd = Command::new("sh");
    chpasswd.args([
        "-c",
        &format!("echo '{}:{}' | chpasswd", user.name, user.password),
    ]);
    process::run(chpasswd)?;
    Ok(user)
}
