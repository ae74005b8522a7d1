//! VeNCrypt (security type 19): the version exchange, the subtype list and
//! the client's choice, the server's go-ahead for TLS, and the subtype's
//! own authentication once TLS is up (none, VNC authentication, or Plain's
//! username and password). Owns only these bytes; TLS itself is the
//! session's ([`super::tls`]), `SecurityResult` too.

use std::fmt;

use super::{vnc_auth, Auth, Credentials, SecurityPolicy, SecurityStep};
use crate::proto::Error;

/// The VeNCrypt version this client speaks (0.2: 32-bit subtypes).
const VERSION: [u8; 2] = [0, 2];

/// A VeNCrypt subtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subtype {
    /// 256: username and password in the clear, no TLS.
    Plain,
    /// 257: anonymous TLS, no authentication.
    TlsNone,
    /// 258: anonymous TLS, then VNC authentication.
    TlsVnc,
    /// 259: anonymous TLS, then username and password.
    TlsPlain,
    /// 260: TLS with a server certificate, no authentication.
    X509None,
    /// 261: TLS with a server certificate, then VNC authentication.
    X509Vnc,
    /// 262: TLS with a server certificate, then username and password.
    X509Plain,
}

/// How a subtype carries the RFB stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Transport {
    Clear,
    AnonymousTls,
    X509,
}

impl Subtype {
    /// Every subtype, in numeric order.
    pub const ALL: [Self; 7] = [
        Self::Plain,
        Self::TlsNone,
        Self::TlsVnc,
        Self::TlsPlain,
        Self::X509None,
        Self::X509Vnc,
        Self::X509Plain,
    ];

    /// The subtype's number on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Plain => 256,
            Self::TlsNone => 257,
            Self::TlsVnc => 258,
            Self::TlsPlain => 259,
            Self::X509None => 260,
            Self::X509Vnc => 261,
            Self::X509Plain => 262,
        }
    }

    /// The subtype with this number, if this client knows it.
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.to_u32() == n)
    }

    /// Whether the subtype runs over TLS.
    pub fn is_encrypted(self) -> bool {
        self.transport() != Transport::Clear
    }

    /// Whether the subtype checks the server's certificate.
    pub fn is_verified(self) -> bool {
        self.transport() == Transport::X509
    }

    fn transport(self) -> Transport {
        match self {
            Self::Plain => Transport::Clear,
            Self::TlsNone | Self::TlsVnc | Self::TlsPlain => Transport::AnonymousTls,
            Self::X509None | Self::X509Vnc | Self::X509Plain => Transport::X509,
        }
    }

    pub(crate) fn auth(self) -> Auth {
        match self {
            Self::TlsNone | Self::X509None => Auth::None,
            Self::TlsVnc | Self::X509Vnc => Auth::Vnc,
            Self::Plain | Self::TlsPlain | Self::X509Plain => Auth::Plain,
        }
    }
}

impl fmt::Display for Subtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain => "Plain",
            Self::TlsNone => "TLSNone",
            Self::TlsVnc => "TLSVnc",
            Self::TlsPlain => "TLSPlain",
            Self::X509None => "X509None",
            Self::X509Vnc => "X509Vnc",
            Self::X509Plain => "X509Plain",
        })
    }
}

/// Names a list of subtype numbers for an error message.
fn describe(offered: &[u32]) -> String {
    if offered.is_empty() {
        return "no subtypes".to_owned();
    }
    offered
        .iter()
        .map(|&n| match Subtype::from_u32(n) {
            Some(s) => s.to_string(),
            None => format!("unknown subtype {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl SecurityPolicy {
    /// Picks a subtype: verified TLS before anonymous TLS before none
    /// (never none when encryption is required), and within a rank the
    /// server's order; only authentications the policy allows.
    pub(crate) fn choose_subtype(&self, offered: &[u32]) -> Result<Subtype, Error> {
        let acceptable = |s: &Subtype| {
            let transport_ok = match s.transport() {
                Transport::Clear => !self.require_encryption && self.allow_plain_without_tls,
                Transport::AnonymousTls => self.allow_anonymous_tls,
                Transport::X509 => true,
            };
            transport_ok && self.allows_auth(s.auth())
        };
        let known = offered.iter().filter_map(|&n| Subtype::from_u32(n));
        // `max_by_key` keeps the last of equals: reverse so the server's
        // first wins.
        let best = known
            .filter(acceptable)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .max_by_key(|s| s.transport());
        best.ok_or_else(|| {
            let why = if self.require_encryption {
                "encryption is required, and the connection settings allow none of the \
                 encrypted ones; enable a TLS or X509 subtype on the server"
            } else if offered.iter().all(|&n| n == Subtype::Plain.to_u32()) {
                "Plain would send the password unencrypted, which the connection settings \
                 do not allow; enable a TLS or X509 subtype on the server, or allow Plain \
                 without TLS if the network is trusted"
            } else {
                "the connection settings allow none of them"
            };
            Error::SecurityFailed {
                reason: format!("the server offers VeNCrypt {}; {why}", describe(offered)),
            }
        })
    }
}

#[derive(Debug)]
enum Stage {
    /// The server's version: two bytes, major and minor.
    Version,
    /// One byte: 0 if the server accepts our version.
    VersionAck,
    /// One byte: how many subtypes follow.
    SubtypeCount,
    /// `count` big-endian u32s.
    Subtypes {
        count: usize,
    },
    /// One byte: 1 if the server is ready for TLS.
    TlsAck,
    /// The subtype's authentication, inside TLS if it has TLS.
    Auth,
    /// VNC authentication inside TLS.
    Vnc(vnc_auth::VncAuth),
    /// Plain's credentials are being asked for.
    AwaitingPlain,
    Done,
}

#[derive(Debug)]
pub(crate) struct VeNCrypt {
    policy: SecurityPolicy,
    stage: Stage,
    subtype: Option<Subtype>,
}

impl VeNCrypt {
    pub(super) fn new(policy: SecurityPolicy) -> Self {
        Self {
            policy,
            stage: Stage::Version,
            subtype: None,
        }
    }

    pub(super) fn subtype(&self) -> Option<Subtype> {
        self.subtype
    }

    pub(super) fn authenticates(&self) -> bool {
        self.subtype.is_some_and(|s| s.auth() != Auth::None)
    }

    pub(super) fn need(&self) -> usize {
        match self.stage {
            Stage::Version => 2,
            Stage::VersionAck | Stage::SubtypeCount | Stage::TlsAck => 1,
            Stage::Subtypes { count } => count.saturating_mul(4),
            Stage::Vnc(_) => vnc_auth::CHALLENGE_LEN,
            Stage::Auth | Stage::AwaitingPlain | Stage::Done => 0,
        }
    }

    fn go(&mut self, stage: Stage, consumed: usize) -> SecurityStep {
        self.stage = stage;
        SecurityStep::Continue {
            consumed,
            need: self.need(),
        }
    }

    pub(super) fn step(
        &mut self,
        input: &[u8],
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        let short = || {
            Error::Protocol("a VeNCrypt step ran out of bytes (a bug in porthole-vnc)".to_owned())
        };
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Version => {
                let &[major, minor] = input.first_chunk::<2>().ok_or_else(short)?;
                if (major, minor) < (0, 2) {
                    // Tell the server we cannot, as the protocol expects.
                    out.extend_from_slice(&[0, 0]);
                    return Err(Error::SecurityFailed {
                        reason: format!(
                            "the server speaks VeNCrypt {major}.{minor}, and this client needs 0.2 \
                             or later; update the server"
                        ),
                    });
                }
                out.extend_from_slice(&VERSION);
                Ok(self.go(Stage::VersionAck, 2))
            }
            Stage::VersionAck => {
                if *input.first().ok_or_else(short)? != 0 {
                    return Err(Error::SecurityFailed {
                        reason: "the server refused VeNCrypt version 0.2".to_owned(),
                    });
                }
                Ok(self.go(Stage::SubtypeCount, 1))
            }
            Stage::SubtypeCount => {
                let count = usize::from(*input.first().ok_or_else(short)?);
                if count == 0 {
                    return Err(Error::SecurityFailed {
                        reason: "the server offers no VeNCrypt subtypes".to_owned(),
                    });
                }
                Ok(self.go(Stage::Subtypes { count }, 1))
            }
            Stage::Subtypes { count } => {
                let bytes = input.get(..count * 4).ok_or_else(short)?;
                let offered: Vec<u32> = bytes
                    .chunks_exact(4)
                    .filter_map(|c| c.first_chunk::<4>().map(|b| u32::from_be_bytes(*b)))
                    .collect();
                let subtype = self.policy.choose_subtype(&offered)?;
                self.subtype = Some(subtype);
                out.extend_from_slice(&subtype.to_u32().to_be_bytes());
                if subtype.is_encrypted() {
                    Ok(self.go(Stage::TlsAck, count * 4))
                } else {
                    self.stage = Stage::Auth;
                    self.auth(count * 4, credentials, out)
                }
            }
            Stage::TlsAck => {
                if *input.first().ok_or_else(short)? != 1 {
                    return Err(Error::SecurityFailed {
                        reason: "the server refused to start TLS for the chosen VeNCrypt subtype"
                            .to_owned(),
                    });
                }
                let anonymous = !self.subtype.is_some_and(Subtype::is_verified);
                self.stage = Stage::Auth;
                Ok(SecurityStep::StartTls {
                    consumed: 1,
                    anonymous,
                })
            }
            Stage::Auth => self.auth(0, credentials, out),
            Stage::Vnc(mut vnc) => {
                let step = vnc.step(input, credentials, out)?;
                self.stage = Stage::Vnc(vnc);
                Ok(step)
            }
            Stage::AwaitingPlain => {
                self.stage = Stage::AwaitingPlain;
                Err(Error::Protocol(
                    "the server sent data while the client was still asked for credentials"
                        .to_owned(),
                ))
            }
            Stage::Done => Err(Error::Protocol(
                "the VeNCrypt handshake went on after it ended (a bug in porthole-vnc)".to_owned(),
            )),
        }
    }

    /// Starts the chosen subtype's authentication, having used `consumed`
    /// bytes so far.
    fn auth(
        &mut self,
        consumed: usize,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        let subtype = self.subtype.ok_or_else(|| {
            Error::Protocol("no VeNCrypt subtype was chosen (a bug in porthole-vnc)".to_owned())
        })?;
        match subtype.auth() {
            Auth::None => {
                self.stage = Stage::Done;
                Ok(SecurityStep::Done {
                    consumed,
                    security_result: true,
                })
            }
            Auth::Vnc => {
                self.stage = Stage::Vnc(vnc_auth::VncAuth::default());
                Ok(SecurityStep::Continue {
                    consumed,
                    need: vnc_auth::CHALLENGE_LEN,
                })
            }
            Auth::Plain => {
                let complete = credentials
                    .as_ref()
                    .is_some_and(|c| c.username.is_some() && c.password.is_some());
                if complete {
                    self.plain(credentials, out)?;
                    Ok(SecurityStep::Done {
                        consumed,
                        security_result: true,
                    })
                } else {
                    self.stage = Stage::AwaitingPlain;
                    Ok(SecurityStep::NeedCredentials {
                        consumed,
                        username: true,
                        password: true,
                    })
                }
            }
        }
    }

    /// Continues after the user gave credentials.
    pub(super) fn answer(
        &mut self,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        match &mut self.stage {
            Stage::Vnc(vnc) => vnc.answer(credentials, out),
            Stage::AwaitingPlain => {
                self.plain(credentials, out)?;
                Ok(SecurityStep::Done {
                    consumed: 0,
                    security_result: true,
                })
            }
            _ => Err(Error::Protocol(
                "credentials were given before the server asked for them".to_owned(),
            )),
        }
    }

    /// Sends Plain's username and password (lengths, then both), taking
    /// them so they are not kept.
    fn plain(
        &mut self,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Credentials { username, password } = credentials.take().unwrap_or_default();
        let username = username.ok_or(Error::MissingCredentials { what: "username" })?;
        let password = password.ok_or(Error::MissingCredentials { what: "password" })?;
        let len = |s: &str| {
            u32::try_from(s.len())
                .map_err(|_| Error::Protocol("the username or password is too long".to_owned()))
        };
        out.extend_from_slice(&len(&username)?.to_be_bytes());
        out.extend_from_slice(&len(&password)?.to_be_bytes());
        out.extend_from_slice(username.as_bytes());
        out.extend_from_slice(password.as_bytes());
        self.stage = Stage::Done;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const CLEAR_PLAIN: SecurityPolicy = SecurityPolicy {
        allow_none: true,
        allow_vnc_auth: true,
        allow_plain: true,
        allow_anonymous_tls: true,
        allow_plain_without_tls: true,
        require_encryption: false,
    };

    fn offered(subtypes: &[u32]) -> Vec<u8> {
        let mut bytes = vec![u8::try_from(subtypes.len()).unwrap()];
        for s in subtypes {
            bytes.extend_from_slice(&s.to_be_bytes());
        }
        bytes
    }

    /// Runs the pre-TLS exchange up to the subtype choice.
    fn negotiate(
        policy: SecurityPolicy,
        subtypes: &[u32],
    ) -> (VeNCrypt, Result<SecurityStep, Error>, Vec<u8>) {
        let mut v = VeNCrypt::new(policy);
        let mut out = Vec::new();
        let mut creds = None;
        assert!(matches!(
            v.step(&[0, 2], &mut creds, &mut out).unwrap(),
            SecurityStep::Continue {
                consumed: 2,
                need: 1
            }
        ));
        assert_eq!(out, [0, 2]);
        v.step(&[0], &mut creds, &mut out).unwrap();
        let list = offered(subtypes);
        let step = v.step(&list[..1], &mut creds, &mut out).unwrap();
        assert_eq!(
            step,
            SecurityStep::Continue {
                consumed: 1,
                need: subtypes.len() * 4
            }
        );
        let result = v.step(&list[1..], &mut creds, &mut out);
        (v, result, out[2..].to_vec())
    }

    #[test]
    fn prefers_x509_then_anonymous_tls_then_plain_in_server_order() {
        let policy = SecurityPolicy::default();
        let pick = |list: &[u32]| policy.choose_subtype(list).unwrap();
        assert_eq!(pick(&[256, 257, 261, 260]), Subtype::X509Vnc);
        assert_eq!(pick(&[256, 259, 258]), Subtype::TlsPlain);
        assert!(policy.choose_subtype(&[256, 999]).is_err());
        let clear_ok = SecurityPolicy {
            allow_plain_without_tls: true,
            ..policy
        };
        assert_eq!(
            clear_ok.choose_subtype(&[256, 999]).unwrap(),
            Subtype::Plain
        );
    }

    #[test]
    fn plain_without_tls_is_refused_by_default_with_a_reason() {
        let err = SecurityPolicy::default()
            .choose_subtype(&[256])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unencrypted"), "{err}");
    }

    #[test]
    fn require_encryption_never_takes_plain() {
        let policy = SecurityPolicy {
            require_encryption: true,
            ..SecurityPolicy::default()
        };
        let err = policy.choose_subtype(&[256]).unwrap_err().to_string();
        assert!(
            err.contains("VeNCrypt Plain") && err.contains("encryption is required"),
            "{err}"
        );
        assert_eq!(
            policy.choose_subtype(&[256, 257]).unwrap(),
            Subtype::TlsNone
        );
        let no_anonymous = SecurityPolicy {
            allow_anonymous_tls: false,
            ..policy
        };
        assert!(no_anonymous.choose_subtype(&[256, 257, 258]).is_err());
    }

    #[test]
    fn tls_subtype_waits_for_the_ack_then_starts_tls() {
        let (mut v, step, sent) = negotiate(SecurityPolicy::default(), &[257, 260]);
        assert_eq!(
            step.unwrap(),
            SecurityStep::Continue {
                consumed: 8,
                need: 1
            }
        );
        assert_eq!(sent, 260u32.to_be_bytes());
        let step = v.step(&[1], &mut None, &mut Vec::new()).unwrap();
        assert_eq!(
            step,
            SecurityStep::StartTls {
                consumed: 1,
                anonymous: false
            }
        );
        assert_eq!(v.need(), 0);
        let step = v.step(&[], &mut None, &mut Vec::new()).unwrap();
        assert_eq!(
            step,
            SecurityStep::Done {
                consumed: 0,
                security_result: true
            }
        );
        assert!(!v.authenticates());
    }

    #[test]
    fn refused_tls_is_a_security_failure() {
        let (mut v, _, _) = negotiate(SecurityPolicy::default(), &[258]);
        let err = v.step(&[0], &mut None, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::SecurityFailed { .. }), "{err}");
    }

    #[test]
    fn plain_sends_lengths_then_username_and_password_and_forgets_them() {
        let (mut v, step, sent) = negotiate(CLEAR_PLAIN, &[256]);
        assert_eq!(
            step.unwrap(),
            SecurityStep::NeedCredentials {
                consumed: 4,
                username: true,
                password: true
            }
        );
        assert_eq!(sent, 256u32.to_be_bytes());
        let mut creds = Some(Credentials {
            username: Some("ann".into()),
            password: Some("secret".into()),
        });
        let mut out = Vec::new();
        assert!(matches!(
            v.answer(&mut creds, &mut out).unwrap(),
            SecurityStep::Done {
                security_result: true,
                ..
            }
        ));
        assert_eq!(out, b"\0\0\0\x03\0\0\0\x06annsecret");
        assert!(creds.is_none());
        assert!(v.authenticates());
    }

    #[test]
    fn plain_without_a_username_is_a_typed_error() {
        let (mut v, _, _) = negotiate(CLEAR_PLAIN, &[256]);
        let mut creds = Some(Credentials::password("pw"));
        assert_eq!(
            v.answer(&mut creds, &mut Vec::new()).unwrap_err(),
            Error::MissingCredentials { what: "username" }
        );
    }

    #[test]
    fn old_versions_and_empty_lists_are_refused_with_reasons() {
        let mut v = VeNCrypt::new(SecurityPolicy::default());
        let mut out = Vec::new();
        let err = v
            .step(&[0, 1], &mut None, &mut out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("VeNCrypt 0.1"), "{err}");
        assert_eq!(out, [0, 0]);
        let mut v = VeNCrypt::new(SecurityPolicy::default());
        v.step(&[0, 2], &mut None, &mut out).unwrap();
        let err = v.step(&[1], &mut None, &mut out).unwrap_err().to_string();
        assert!(err.contains("refused VeNCrypt version"), "{err}");
        let mut v = VeNCrypt::new(SecurityPolicy::default());
        v.step(&[0, 2], &mut None, &mut out).unwrap();
        v.step(&[0], &mut None, &mut out).unwrap();
        let err = v.step(&[0], &mut None, &mut out).unwrap_err().to_string();
        assert!(err.contains("no VeNCrypt subtypes"), "{err}");
    }
}
