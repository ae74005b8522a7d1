//! The one error type of a session: everything that can end one.

use crate::decode::DecodeError;
use crate::security::{describe_types, Fingerprint};

/// Why a session ended. Once [`Session::feed`](super::Session::feed) has
/// returned one of these, the session is closed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the server did not send an RFB greeting (it sent \"{0}\"); check that the address is a VNC server's")]
    NotRfb(String),
    #[error("the server speaks \"{0}\", which this client does not support (it speaks RFB 3.3, 3.7 and 3.8)")]
    UnsupportedVersion(String),
    #[error("the server refused the connection: {reason}")]
    ConnectionRefused { reason: String },
    #[error(
        "no acceptable security type: the server offers {}; {policy_message}",
        describe_types(offered)
    )]
    NoAcceptableSecurity {
        /// The security type numbers the server offered.
        offered: Vec<u8>,
        /// Why none of them was acceptable, and what the user can change.
        policy_message: String,
    },
    #[error("the security handshake failed: {reason}")]
    SecurityFailed { reason: String },
    #[error("authentication failed{}; check the password", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    AuthenticationFailed { reason: Option<String> },
    #[error("the server asks for a {what}, and none was given")]
    MissingCredentials { what: &'static str },
    #[error("the server's certificate is not trusted: {reason}; its SHA-256 fingerprint is {fingerprint} — if the server's administrator confirms it, trust it for this host")]
    CertificateNotTrusted {
        /// What to show the user, and to pin if they trust it.
        fingerprint: Fingerprint,
        reason: String,
    },
    #[error("the server's certificate changed: it is now {fingerprint}, not the one trusted for this host; someone may be intercepting the connection — if the server's certificate was replaced on purpose, forget the old one and trust the new one")]
    CertificateChanged { fingerprint: Fingerprint },
    #[error("{0}")]
    Tls(String),
    #[error("invalid pixel format: {0}")]
    InvalidPixelFormat(String),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    #[error("the server's {what} is {got}, over the limit of {limit}; raise the limit only if this server is trusted")]
    LimitExceeded {
        what: &'static str,
        got: u64,
        limit: u64,
    },
    #[error("the connection is closed")]
    Closed,
    #[error("the server does not support {0}")]
    Unsupported(&'static str),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    pub(crate) fn limit(
        what: &'static str,
        got: impl TryInto<u64>,
        limit: impl TryInto<u64>,
    ) -> Self {
        Self::LimitExceeded {
            what,
            got: got.try_into().unwrap_or(u64::MAX),
            limit: limit.try_into().unwrap_or(u64::MAX),
        }
    }
}
