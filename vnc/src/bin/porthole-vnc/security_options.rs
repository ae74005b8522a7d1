//! The security options of `capture` and `info`: `--username`, `--ca`,
//! `--trust-fingerprint` and `--require-encryption`, how they become the
//! session's TLS trust and policy, and the username half of the
//! credentials prompt (the password half is the main module's).

use std::path::PathBuf;
use std::sync::OnceLock;

use porthole_vnc::address::Address;
use porthole_vnc::proto::Config;
use porthole_vnc::security::{Credentials, Fingerprint, PinStore, TrustRoots};

use super::{fail, Failure};

pub(crate) const HELP: &str = "\
--username NAME       the username for VeNCrypt Plain/TLSPlain/X509Plain
                      (asked for on the terminal when needed and not given)
--ca FILE             trust the certificate authorities in this PEM file
                      instead of the system's for X509 subtypes
--trust-fingerprint SHA256
                      accept the server certificate with this SHA-256
                      fingerprint (hex, colons optional), and only it
--pins FILE           certificates trusted per host (host:port sha256 lines):
                      the server's must be the one pinned for its address;
                      with --trust-fingerprint, that one is pinned there
--require-encryption  refuse security types that do not encrypt";

/// What the user said about security.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SecurityOptions {
    pub username: Option<String>,
    pub ca: Option<PathBuf>,
    pub trusted: Vec<Fingerprint>,
    pub pins: Option<PathBuf>,
    pub require_encryption: bool,
}

/// The username given on the command line, for the credentials prompt.
static USERNAME: OnceLock<Option<String>> = OnceLock::new();

impl SecurityOptions {
    /// Whether `flag` is one of these options (all but
    /// `--require-encryption` take a value).
    pub(crate) fn takes(flag: &str) -> bool {
        matches!(
            flag,
            "--username" | "--ca" | "--trust-fingerprint" | "--pins" | "--require-encryption"
        )
    }

    /// Sets one option; `value` gives its value when it has one.
    pub(crate) fn set(
        &mut self,
        flag: &str,
        mut value: impl FnMut(&str) -> Result<String, Failure>,
    ) -> Result<(), Failure> {
        match flag {
            "--username" => self.username = Some(value(flag)?),
            "--ca" => self.ca = Some(PathBuf::from(value(flag)?)),
            "--trust-fingerprint" => {
                let text = value(flag)?;
                let fingerprint = Fingerprint::parse(&text).ok_or_else(|| {
                    Failure::usage(format!(
                        "--trust-fingerprint takes a SHA-256 fingerprint (64 hex digits, colons \
                         optional), not '{text}'"
                    ))
                })?;
                self.trusted.push(fingerprint);
            }
            "--pins" => self.pins = Some(PathBuf::from(value(flag)?)),
            "--require-encryption" => self.require_encryption = true,
            _ => return Err(Failure::usage(format!("unknown option '{flag}'"))),
        }
        Ok(())
    }

    /// Makes the username available to the credentials prompt.
    pub(crate) fn install(&self) {
        let _ = USERNAME.set(self.username.clone());
    }

    /// Puts the options into `config` for a connection to `address`: the
    /// host the certificate must name, the roots, the pins, the policy.
    pub(crate) fn apply(&self, config: &mut Config, address: &Address) -> Result<(), Failure> {
        config.tls.server_name = match address {
            Address::Tcp { host, .. } => Some(host.clone()),
            Address::Unix(_) => None,
        };
        if let Some(path) = &self.ca {
            config.tls.roots = TrustRoots::from_pem_file(path)
                .map_err(|e| fail(format!("cannot read CA file {}: {e}", path.display())))?;
        }
        config.tls.pinned.clone_from(&self.trusted);
        if let (Some(path), Address::Tcp { host, port }) = (&self.pins, address) {
            let store = PinStore::new(path);
            let key = PinStore::key(host, *port);
            let cannot =
                |e: std::io::Error| fail(format!("cannot use pin file {}: {e}", path.display()));
            match self.trusted.last() {
                // The user vouches for this one now: remember it.
                Some(&fingerprint) => store.pin(&key, fingerprint).map_err(cannot)?,
                None => config.tls.pinned = store.load(&key).map_err(cannot)?,
            }
        }
        if self.require_encryption {
            config.security.require_encryption = true;
        }
        Ok(())
    }
}

/// The credentials to hand the session up front: a password from a file,
/// with the username from `--username`.
pub(crate) fn initial_credentials(password: Option<String>) -> Option<Credentials> {
    let username = USERNAME.get().cloned().flatten();
    if password.is_none() && username.is_none() {
        return None;
    }
    Some(Credentials { username, password })
}

/// Answers a credentials request: the username from `--username` or asked
/// for, and the password asked for.
pub(crate) fn prompt(username: bool, password: bool) -> Result<Credentials, Failure> {
    let username = if username {
        match USERNAME.get().cloned().flatten() {
            Some(name) => Some(name),
            None => Some(prompt_username()?),
        }
    } else {
        None
    };
    let password = if password {
        Some(super::prompt_password()?)
    } else {
        None
    };
    Ok(Credentials { username, password })
}

fn prompt_username() -> Result<String, Failure> {
    use std::io::{BufRead, Write};
    eprint!("username: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let name = line.trim_end_matches(['\r', '\n']).to_owned();
    if name.is_empty() {
        return Err(fail(
            "the server asks for a username and none was given: use --username",
        ));
    }
    Ok(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SecurityOptions, Failure> {
        let mut options = SecurityOptions::default();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            options.set(flag, |name| {
                args.next()
                    .map(|s| s.to_string())
                    .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
            })?;
        }
        Ok(options)
    }

    #[test]
    fn fingerprints_are_taken_in_any_spelling() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        let options = parse(&[
            "--trust-fingerprint",
            &hex,
            "--trust-fingerprint",
            &colons,
            "--username",
            "ann",
            "--ca",
            "ca.pem",
            "--require-encryption",
        ])
        .unwrap();
        assert_eq!(options.trusted, vec![Fingerprint([0xab; 32]); 2]);
        assert_eq!(options.username.as_deref(), Some("ann"));
        assert_eq!(options.ca, Some(PathBuf::from("ca.pem")));
        assert!(options.require_encryption);
        let bad = parse(&["--trust-fingerprint", "abcd"]).unwrap_err();
        assert!(
            bad.usage && bad.message.contains("64 hex digits"),
            "{}",
            bad.message
        );
    }

    #[test]
    fn the_host_connected_to_is_the_name_the_certificate_must_have() {
        let options = parse(&["--trust-fingerprint", &"01".repeat(32)]).unwrap();
        let mut config = Config::default();
        options
            .apply(&mut config, &Address::parse("vnc.example.org:1").unwrap())
            .unwrap();
        assert_eq!(config.tls.server_name.as_deref(), Some("vnc.example.org"));
        assert_eq!(config.tls.pinned, vec![Fingerprint([1; 32])]);
        assert!(!config.security.require_encryption);
        let missing = SecurityOptions {
            ca: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..SecurityOptions::default()
        };
        let err = missing
            .apply(&mut config, &Address::parse("h").unwrap())
            .unwrap_err();
        assert!(
            err.message.contains("cannot read CA file"),
            "{}",
            err.message
        );
    }
}
