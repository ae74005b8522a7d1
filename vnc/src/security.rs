//! RFB security: which security types exist, which ones the user allows
//! ([`SecurityPolicy`]), the credentials they may need ([`Credentials`]),
//! and the per-type handshakes that run between the server's choice of type
//! and `SecurityResult`.
//!
//! Each security type's handshake is a small sans-IO state machine, one
//! variant of [`Negotiation`]: the session hands it bytes and credentials,
//! it writes its replies and says what it needs next ([`SecurityStep`]).
//! The session owns everything around it (the type list, `SecurityResult`,
//! failure reasons). VeNCrypt ([`vencrypt`]) and TLS (18) return
//! [`SecurityStep::StartTls`]: the session then puts a TLS layer
//! ([`tls`]) below the RFB stream, and the handshake goes on inside it.
//!
//! This module never logs or formats a password: [`Credentials`]' `Debug`
//! redacts it.

#[doc(hidden)]
pub mod fuzzing;
pub mod tls;
mod vencrypt;
mod vnc_auth;

#[cfg(test)]
pub(crate) use vnc_auth::response as vnc_auth_response;

pub use tls::{Fingerprint, PinStore, SecuritySummary, TlsConfig, TrustRoots};
pub use vencrypt::Subtype;

use std::fmt;

use crate::proto::Error;

/// An RFB security type (the byte the server offers and the client picks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityType {
    /// Type 1: no authentication, no encryption.
    None,
    /// Type 2: VNC authentication, a DES challenge; no encryption.
    VncAuth,
    /// Type 18: anonymous TLS (no certificate), then the security type
    /// negotiation again inside it (None or VNC authentication).
    Tls,
    /// Type 19: VeNCrypt, whose subtypes ([`Subtype`]) pick TLS with or
    /// without a certificate and the authentication inside it.
    VeNCrypt,
    /// Any other type, which this client cannot use (yet).
    Other(u8),
}

impl SecurityType {
    /// The number of this type on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::None => 1,
            Self::VncAuth => 2,
            Self::Tls => 18,
            Self::VeNCrypt => 19,
            Self::Other(n) => n,
        }
    }

    /// Whether the type can encrypt the connection. VeNCrypt's Plain
    /// subtype does not: [`SecurityPolicy`] checks subtypes on their own.
    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::Tls | Self::VeNCrypt)
    }

    /// The type's name as users and server settings know it (rfbproto's
    /// registry), e.g. "VNC authentication", "VeNCrypt".
    pub fn name(self) -> Option<&'static str> {
        Some(match self.to_u8() {
            1 => "None",
            2 => "VNC authentication",
            5 => "RSA-AES",
            6 => "RSA-AES unencrypted",
            13 => "RSA-AES two-step",
            16 => "Tight",
            17 => "Ultra",
            18 => "TLS",
            19 => "VeNCrypt",
            20 => "SASL",
            21 => "MD5 hash",
            22 => "xvp",
            30 => "Apple Diffie-Hellman",
            113 => "MSLogonII",
            129 => "RSA-AES-256",
            130 => "RSA-AES-256 unencrypted",
            133 => "RSA-AES-256 two-step",
            _ => return None,
        })
    }
}

impl From<u8> for SecurityType {
    fn from(n: u8) -> Self {
        match n {
            1 => Self::None,
            2 => Self::VncAuth,
            18 => Self::Tls,
            19 => Self::VeNCrypt,
            n => Self::Other(n),
        }
    }
}

impl fmt::Display for SecurityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown type {}", self.to_u8()),
        }
    }
}

/// Names a list of offered types for an error message: "None, VNC
/// authentication, VeNCrypt".
pub(crate) fn describe_types(types: &[u8]) -> String {
    if types.is_empty() {
        return "no security types".to_owned();
    }
    types
        .iter()
        .map(|&t| SecurityType::from(t).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which security types the user allows. The session picks, among the
/// types the server offers and this policy allows, VeNCrypt first (whose
/// subtypes are then ranked X509 before anonymous TLS before Plain), then
/// TLS (18), then VNC authentication, then None; it never falls back to a
/// type the policy refuses, and once it picked an encrypted type it never
/// falls back to an unencrypted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// Allow connecting without any authentication (None, and the TLS
    /// types whose inner authentication is None).
    pub allow_none: bool,
    /// Allow VNC authentication (a password, sent as a DES response).
    pub allow_vnc_auth: bool,
    /// Allow a username and password sent as they are (VeNCrypt Plain,
    /// TLSPlain, X509Plain; only the last two are encrypted).
    pub allow_plain: bool,
    /// Allow TLS without a certificate (VeNCrypt TLS*, type 18): encrypted,
    /// but open to an active man in the middle.
    pub allow_anonymous_tls: bool,
    /// Allow VeNCrypt's Plain subtype, which sends the username and
    /// password unencrypted, readable by anyone on the path. Off by
    /// default, as in TigerVNC's viewer.
    pub allow_plain_without_tls: bool,
    /// Refuse every type that does not encrypt the connection.
    pub require_encryption: bool,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            allow_none: true,
            allow_vnc_auth: true,
            allow_plain: true,
            allow_anonymous_tls: true,
            allow_plain_without_tls: false,
            require_encryption: false,
        }
    }
}

/// How a security type authenticates the user, whatever carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    Vnc,
    Plain,
}

impl SecurityPolicy {
    /// Client preference order among the types this version implements.
    const PREFERENCE: [SecurityType; 4] = [
        SecurityType::VeNCrypt,
        SecurityType::Tls,
        SecurityType::VncAuth,
        SecurityType::None,
    ];

    pub(crate) fn allows_auth(&self, auth: Auth) -> bool {
        match auth {
            Auth::None => self.allow_none,
            Auth::Vnc => self.allow_vnc_auth,
            Auth::Plain => self.allow_plain,
        }
    }

    fn allows(&self, ty: SecurityType) -> bool {
        if self.require_encryption && !ty.is_encrypted() {
            return false;
        }
        match ty {
            SecurityType::None => self.allow_none,
            SecurityType::VncAuth => self.allow_vnc_auth,
            SecurityType::Tls => {
                self.allow_anonymous_tls && (self.allow_none || self.allow_vnc_auth)
            }
            // Whether a subtype fits is known only once the server lists
            // them; any authentication allowed is enough to try.
            SecurityType::VeNCrypt => self.allow_none || self.allow_vnc_auth || self.allow_plain,
            SecurityType::Other(_) => false,
        }
    }

    /// Picks the security type to use from the server's offer, or explains
    /// why none is acceptable.
    pub fn choose(&self, offered: &[u8]) -> Result<SecurityType, Error> {
        let offers = |ty: SecurityType| offered.contains(&ty.to_u8());
        if let Some(ty) = Self::PREFERENCE
            .into_iter()
            .find(|&ty| offers(ty) && self.allows(ty))
        {
            return Ok(ty);
        }
        let policy_message = if self.require_encryption {
            "encryption is required, and none of these is an encrypted type this client supports; \
             enable VeNCrypt/TLS on the server, or allow unencrypted connections if the network \
             is trusted"
                .to_owned()
        } else if Self::PREFERENCE.into_iter().any(offers) {
            let refused: Vec<u8> = Self::PREFERENCE
                .into_iter()
                .filter(|&ty| offers(ty))
                .map(SecurityType::to_u8)
                .collect();
            format!(
                "{} not allowed by the connection settings",
                describe_types(&refused)
            )
        } else {
            "this client supports only None, VNC authentication, TLS and VeNCrypt".to_owned()
        };
        Err(Error::NoAcceptableSecurity {
            offered: offered.to_vec(),
            policy_message,
        })
    }

    /// Picks the type offered again inside TLS (18): only None and VNC
    /// authentication make sense there, and encryption is already given.
    pub(crate) fn choose_inside_tls(&self, offered: &[u8]) -> Result<SecurityType, Error> {
        let inner = Self {
            require_encryption: false,
            ..*self
        };
        [SecurityType::VncAuth, SecurityType::None]
            .into_iter()
            .find(|&ty| offered.contains(&ty.to_u8()) && inner.allows(ty))
            .ok_or_else(|| Error::NoAcceptableSecurity {
                offered: offered.to_vec(),
                policy_message: "inside TLS this client accepts only None and VNC \
                                 authentication, as the connection settings allow"
                    .to_owned(),
            })
    }
}

/// What a security type may ask the user for. `Debug` never shows the
/// password (nor the username, which can be sensitive too).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Credentials {
    /// Credentials holding only a password, as VNC authentication needs.
    pub fn password(password: impl Into<String>) -> Self {
        Self {
            username: None,
            password: Some(password.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credentials")
            .field("username", &redact(&self.username))
            .field("password", &redact(&self.password))
            .finish()
    }
}

/// What a security handshake did with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecurityStep {
    /// `consumed` bytes were used; the handshake needs `need` bytes before
    /// it can go on.
    Continue { consumed: usize, need: usize },
    /// `consumed` bytes were used; the handshake cannot go on without these
    /// credentials (the session asks the user, then calls
    /// [`Negotiation::credentials`]).
    NeedCredentials {
        consumed: usize,
        username: bool,
        password: bool,
    },
    /// The type's own handshake is over after `consumed` bytes; whether the
    /// server now sends `SecurityResult` depends on the type and version.
    Done {
        consumed: usize,
        security_result: bool,
    },
    /// `consumed` bytes were used; every byte after them, both ways, is
    /// TLS: the session starts a TLS client (`anonymous`: without a
    /// certificate) and runs the rest of the handshake over it, starting
    /// with [`Negotiation::need`] bytes once TLS is up.
    StartTls { consumed: usize, anonymous: bool },
}

/// The handshake of the chosen security type, in progress.
#[derive(Debug)]
pub(crate) enum Negotiation {
    None,
    VncAuth(vnc_auth::VncAuth),
    /// Type 18: TLS at once; the session then reads a new type list.
    Tls,
    VeNCrypt(Box<vencrypt::VeNCrypt>),
}

impl Negotiation {
    /// Starts the handshake of `ty` (the type [`SecurityPolicy::choose`]
    /// picked, or the one an RFB 3.3 server imposed).
    pub(crate) fn start(ty: SecurityType, policy: SecurityPolicy) -> Result<Self, Error> {
        match ty {
            SecurityType::None => Ok(Self::None),
            SecurityType::VncAuth => Ok(Self::VncAuth(vnc_auth::VncAuth::default())),
            SecurityType::Tls => Ok(Self::Tls),
            SecurityType::VeNCrypt => Ok(Self::VeNCrypt(Box::new(vencrypt::VeNCrypt::new(policy)))),
            SecurityType::Other(n) => Err(Error::Protocol(format!(
                "the server chose security type {ty} ({n}), which this client does not support"
            ))),
        }
    }

    /// How many bytes the handshake needs before its next step (at the
    /// start, and after [`SecurityStep::StartTls`]).
    pub(crate) fn need(&self) -> usize {
        match self {
            Self::None | Self::Tls => 0,
            Self::VncAuth(_) => vnc_auth::CHALLENGE_LEN,
            Self::VeNCrypt(v) => v.need(),
        }
    }

    /// Runs the handshake on the bytes that arrived, writing replies to
    /// `out`. `legacy` is true for RFB 3.3 and 3.7, where None has no
    /// `SecurityResult`. `credentials` are those the user gave, if any; a
    /// handshake takes what it uses so it is not kept longer than needed.
    pub(crate) fn step(
        &mut self,
        input: &[u8],
        legacy: bool,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        match self {
            Self::None => Ok(SecurityStep::Done {
                consumed: 0,
                security_result: !legacy,
            }),
            Self::VncAuth(auth) => auth.step(input, credentials, out),
            Self::Tls => Ok(SecurityStep::StartTls {
                consumed: 0,
                anonymous: true,
            }),
            Self::VeNCrypt(v) => v.step(input, credentials, out),
        }
    }

    /// Continues after [`SecurityStep::NeedCredentials`], once the user
    /// answered.
    pub(crate) fn credentials(
        &mut self,
        legacy: bool,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        match self {
            Self::None | Self::Tls => self.step(&[], legacy, credentials, out),
            Self::VncAuth(auth) => auth.answer(credentials, out),
            Self::VeNCrypt(v) => v.answer(credentials, out),
        }
    }

    /// Whether a failed `SecurityResult` means the credentials were wrong.
    pub(crate) fn authenticates(&self) -> bool {
        match self {
            Self::VncAuth(_) => true,
            Self::VeNCrypt(v) => v.authenticates(),
            Self::None | Self::Tls => false,
        }
    }

    /// The VeNCrypt subtype chosen, if this is VeNCrypt and one was.
    pub(crate) fn subtype(&self) -> Option<Subtype> {
        match self {
            Self::VeNCrypt(v) => v.subtype(),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn names_offered_types_for_users() {
        assert_eq!(
            describe_types(&[1, 2, 19]),
            "None, VNC authentication, VeNCrypt"
        );
        assert_eq!(describe_types(&[77]), "unknown type 77");
        assert_eq!(describe_types(&[]), "no security types");
    }

    #[test]
    fn prefers_vencrypt_then_tls_then_vnc_auth_then_none_within_policy() {
        let policy = SecurityPolicy::default();
        assert_eq!(policy.choose(&[1, 2]).unwrap(), SecurityType::VncAuth);
        assert_eq!(policy.choose(&[1, 2, 18]).unwrap(), SecurityType::Tls);
        assert_eq!(policy.choose(&[18, 19, 1]).unwrap(), SecurityType::VeNCrypt);
        assert_eq!(policy.choose(&[30, 1]).unwrap(), SecurityType::None);
        let no_auth = SecurityPolicy {
            allow_vnc_auth: false,
            ..policy
        };
        assert_eq!(no_auth.choose(&[2, 1]).unwrap(), SecurityType::None);
        let no_anonymous = SecurityPolicy {
            allow_anonymous_tls: false,
            ..policy
        };
        assert_eq!(
            no_anonymous.choose(&[18, 2]).unwrap(),
            SecurityType::VncAuth
        );
    }

    #[test]
    fn require_encryption_refuses_plain_types_and_names_the_offer() {
        let policy = SecurityPolicy {
            require_encryption: true,
            ..SecurityPolicy::default()
        };
        assert_eq!(policy.choose(&[1, 2, 19]).unwrap(), SecurityType::VeNCrypt);
        assert_eq!(policy.choose(&[1, 18]).unwrap(), SecurityType::Tls);
        let err = policy.choose(&[1, 2, 30]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("None, VNC authentication, Apple Diffie-Hellman"),
            "{text}"
        );
        assert!(text.contains("encryption is required"), "{text}");
        assert!(
            matches!(err, Error::NoAcceptableSecurity { ref offered, .. } if offered == &[1, 2, 30])
        );
    }

    #[test]
    fn inside_tls_only_none_and_vnc_auth_are_taken() {
        let policy = SecurityPolicy {
            require_encryption: true,
            ..SecurityPolicy::default()
        };
        assert_eq!(
            policy.choose_inside_tls(&[1, 2]).unwrap(),
            SecurityType::VncAuth
        );
        assert!(policy.choose_inside_tls(&[18, 19]).is_err());
    }

    #[test]
    fn refusal_says_which_types_the_settings_forbid() {
        let policy = SecurityPolicy {
            allow_none: false,
            ..SecurityPolicy::default()
        };
        let text = policy.choose(&[1]).unwrap_err().to_string();
        assert!(text.contains("None not allowed"), "{text}");
        let text = SecurityPolicy::default()
            .choose(&[16, 30])
            .unwrap_err()
            .to_string();
        assert!(text.contains("Tight, Apple Diffie-Hellman"), "{text}");
        assert!(
            text.contains("supports only None, VNC authentication, TLS and VeNCrypt"),
            "{text}"
        );
    }

    #[test]
    fn debug_of_credentials_hides_secrets() {
        let c = Credentials {
            username: Some("alice".into()),
            password: Some("hunter2".into()),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("redacted"));
    }
}
