//! Child processes of a test: started with their output captured, stopped
//! by PID when dropped (even when the test panics), and waited for by
//! polling what they say or the socket they open, never by blind sleeps.
//! Also the small shared pieces every server module needs: free TCP ports,
//! private temporary directories, and the "is this binary installed" rule.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How often conditions are polled while waiting for a process.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Whether the tests run in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The full path of `name` on `PATH`, if it is there and executable.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Checks that every program in `programs` is installed. When one is
/// missing it says so loudly on stderr and returns `false` so the test can
/// return early — except in CI, where a missing program fails the test.
pub fn tools_available(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !in_ci(),
        "CI is set and these programs are missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "SKIPPED: {} not installed (install them to run this test; with CI=true this fails)",
        missing.join(", ")
    );
    false
}

/// A TCP port that was free a moment ago on 127.0.0.1 (from the kernel's
/// ephemeral range, away from the 5900+N ports other VNC servers pick).
/// Another process may still take it: callers check the server really
/// listens there with [`listens_on`].
pub fn free_tcp_port() -> io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A child process that is killed (SIGKILL) and reaped when dropped, with
/// its stdout and stderr collected in memory for waiting and diagnostics.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl ServerProcess {
    /// Starts `command` with stdin closed and stdout/stderr captured.
    pub fn spawn(name: &str, mut command: Command) -> io::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name}: {e}")))?;
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        Ok(Self {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        snapshot(&self.stdout)
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        snapshot(&self.stderr)
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Polls `ready` until it returns `Some`, failing early (with the
    /// process's output in the message) if the process exits, and after
    /// `timeout`.
    pub fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&mut Self) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = ready(self) {
                return Ok(value);
            }
            if let Some(status) = self.exited() {
                return Err(self.failure(&format!("exited ({status}) before {what}")));
            }
            if Instant::now() >= deadline {
                return Err(self.failure(&format!("did not get to {what} within {timeout:?}")));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until this process listens on `port` on loopback and answers
    /// with an RFB greeting; returns the greeting (`"RFB 003.008\n"`).
    pub fn wait_for_rfb(&mut self, port: u16, timeout: Duration) -> io::Result<String> {
        let pid = self.pid();
        self.wait_until("serving RFB", timeout, |_| {
            if !listens_on(pid, port) {
                return None;
            }
            read_greeting(SocketAddr::from(([127, 0, 0, 1], port))).ok()
        })
    }

    /// An error that names the process and carries the tail of its output.
    pub fn failure(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "{} {what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            tail(&self.stdout()),
            tail(&self.stderr())
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Kill by our own child's PID only; then reap it so no zombie stays.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: Option<impl Read + Send + 'static>) -> Arc<Mutex<Vec<u8>>> {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut stream) = stream {
        let sink = Arc::clone(&buffer);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let (Ok(mut sink), Some(bytes)) = (sink.lock(), chunk.get(..n)) {
                    sink.extend_from_slice(bytes);
                }
            }
        });
    }
    buffer
}

fn snapshot(buffer: &Mutex<Vec<u8>>) -> String {
    buffer
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(3000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// Connects to `address` and reads the 12-byte RFB greeting.
pub fn read_greeting(address: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut greeting = [0u8; 12];
    stream.read_exact(&mut greeting)?;
    if !greeting.starts_with(b"RFB ") {
        return Err(io::Error::other(format!(
            "not an RFB greeting: {:?}",
            String::from_utf8_lossy(&greeting)
        )));
    }
    Ok(String::from_utf8_lossy(&greeting).into_owned())
}

/// Whether process `pid` owns a listening TCP socket (IPv4 or IPv6) on
/// `port`: this tells our server apart from another one that took the port.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| Path::new(i) == target))
    })
}

/// A private directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> io::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "{prefix}-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs a short helper command to completion and returns its stdout,
/// failing with its stderr when it exits unsuccessfully.
pub fn run(mut command: Command) -> io::Result<Vec<u8>> {
    let shown = format!("{command:?}");
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{shown} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_tells_our_socket_from_others() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        assert!(listens_on(std::process::id(), port));
        drop(listener);
        assert!(!listens_on(std::process::id(), port));
    }

    #[test]
    fn dropping_a_server_process_kills_it() {
        let mut sleep = Command::new("sleep");
        sleep.arg("600");
        let process = ServerProcess::spawn("sleep", sleep).unwrap_or_else(|e| panic!("{e}"));
        let pid = process.pid();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        drop(process);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
