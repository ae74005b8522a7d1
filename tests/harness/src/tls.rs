//! TLS material and accounts for the VeNCrypt tests: a certificate
//! authority and server certificates made with the `openssl` command (in
//! the file layout QEMU's `tls-creds-x509` reads: `ca-cert.pem`,
//! `server-cert.pem`, `server-key.pem`), their SHA-256 fingerprints as
//! `openssl x509 -fingerprint` prints them, and a system user with a
//! password for the Plain subtypes (which Xvnc checks through PAM).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::TempDir;

fn openssl(args: &[&str], dir: &Path) -> io::Result<String> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A directory with a CA and one server certificate it signed, valid for
/// `localhost` and `127.0.0.1`.
#[derive(Debug)]
pub struct Certificates {
    dir: TempDir,
}

impl Certificates {
    /// Makes a new CA (`ca-cert.pem`, `ca-key.pem`) and a server
    /// certificate signed by it (`server-cert.pem`, `server-key.pem`).
    pub fn generate() -> io::Result<Self> {
        let dir = TempDir::new("porthole-tls")?;
        let d = dir.path();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Porthole test CA",
                "-keyout",
                "ca-key.pem",
                "-out",
                "ca-cert.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            d,
        )?;
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server-key.pem",
                "-out",
                "server.csr",
            ],
            d,
        )?;
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )?;
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca-cert.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server-cert.pem",
            ],
            d,
        )?;
        Ok(Self { dir })
    }

    /// A self-signed server certificate (made the way `openssl req -x509`
    /// makes one, so it is also marked as a CA), which is also written as
    /// `ca-cert.pem`.
    pub fn self_signed() -> io::Result<Self> {
        let dir = TempDir::new("porthole-tls")?;
        let d = dir.path();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server-key.pem",
                "-out",
                "server-cert.pem",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            d,
        )?;
        std::fs::copy(d.join("server-cert.pem"), d.join("ca-cert.pem"))?;
        Ok(Self { dir })
    }

    /// The directory QEMU's `tls-creds-x509,dir=` takes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca-cert.pem")
    }

    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server-cert.pem")
    }

    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server-key.pem")
    }

    /// The server certificate's SHA-256 fingerprint, `AB:CD:…` as
    /// `openssl x509 -fingerprint -sha256` prints it.
    pub fn server_fingerprint(&self) -> io::Result<String> {
        let out = openssl(
            &[
                "x509",
                "-in",
                "server-cert.pem",
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
            self.dir.path(),
        )?;
        out.trim()
            .rsplit_once('=')
            .map(|(_, fp)| fp.to_owned())
            .ok_or_else(|| io::Error::other(format!("no fingerprint in {out:?}")))
    }
}

/// A system user with a password, for PAM (VeNCrypt Plain against Xvnc).
/// Needs root; removed when dropped.
#[derive(Debug)]
pub struct PamUser {
    pub name: String,
    pub password: String,
}

impl PamUser {
    /// Whether users can be created here (root, with `useradd`).
    pub fn available() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        root && crate::process::tools_available(&["useradd", "chpasswd", "userdel"])
    }

    /// Creates `name` (if missing) with `password`.
    pub fn create(name: &str, password: &str) -> io::Result<Self> {
        let exists = Command::new("id").arg(name).output()?.status.success();
        if !exists {
            let status = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/usr/sbin/nologin", name])
                .status()?;
            if !status.success() {
                return Err(io::Error::other(format!("useradd {name} failed")));
            }
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(std::process::Stdio::piped())
            .spawn()?;
        if let Some(stdin) = chpasswd.stdin.as_mut() {
            use std::io::Write;
            writeln!(stdin, "{name}:{password}")?;
        }
        drop(chpasswd.stdin.take());
        if !chpasswd.wait()?.success() {
            return Err(io::Error::other(format!("chpasswd for {name} failed")));
        }
        Ok(Self {
            name: name.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl Drop for PamUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}
