//! The RFB handshake: ProtocolVersion, the security type list or imposed
//! type, the chosen type's own handshake (delegated to
//! [`crate::security::Negotiation`]), SecurityResult with its failure
//! reason, ClientInit and ServerInit. Ends by sending the client's
//! SetPixelFormat, SetEncodings and first FramebufferUpdateRequest.

use std::fmt;

use super::wire::Reader;
use super::{client, messages, Error, Event, Session, State};
use crate::framebuffer::Framebuffer;
use crate::pixel::PixelFormat;
use crate::security::{Negotiation, SecurityStep, SecurityType};

/// The protocol version both sides speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V3_3,
    V3_7,
    V3_8,
}

impl ProtocolVersion {
    /// Maps a server's version to the one to speak, if any. Versions 3.4 to
    /// 3.6 are old servers that speak 3.3; Apple's 3.889 and RealVNC's 4.x
    /// and 5.0 speak 3.8's handshake.
    fn negotiate(major: u16, minor: u16) -> Option<Self> {
        match (major, minor) {
            (3, 3..=6) => Some(Self::V3_3),
            (3, 7) => Some(Self::V3_7),
            (3, 8 | 889) | (4, 0 | 1) | (5, 0) => Some(Self::V3_8),
            _ => None,
        }
    }

    pub(super) fn greeting(self) -> &'static [u8; 12] {
        match self {
            Self::V3_3 => b"RFB 003.003\n",
            Self::V3_7 => b"RFB 003.007\n",
            Self::V3_8 => b"RFB 003.008\n",
        }
    }

    /// RFB 3.3 and 3.7 have no SecurityResult after None and no failure
    /// reason after a failed SecurityResult.
    fn is_legacy(self) -> bool {
        self < Self::V3_8
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3_3 => "3.3",
            Self::V3_7 => "3.7",
            Self::V3_8 => "3.8",
        })
    }
}

/// Why the server is about to send a reason string before closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// No security type at all (an empty list, or type 0 in RFB 3.3).
    Refused,
    /// SecurityResult said failed; `authenticated` if credentials were used.
    Security { authenticated: bool },
}

impl Failure {
    fn error(self, reason: Option<String>) -> Error {
        match self {
            Self::Refused => Error::ConnectionRefused {
                reason: reason.unwrap_or_else(|| "no reason given".to_owned()),
            },
            Self::Security {
                authenticated: true,
            } => Error::AuthenticationFailed { reason },
            Self::Security {
                authenticated: false,
            } => Error::SecurityFailed {
                reason: reason.unwrap_or_else(|| "no reason given".to_owned()),
            },
        }
    }
}

#[derive(Debug)]
pub(super) enum Phase {
    /// "RFB " (checked first, so a non-RFB service fails fast).
    Greeting,
    /// "xxx.yyy\n".
    Version,
    /// RFB 3.7+: the number of security types.
    SecurityTypeCount,
    /// RFB 3.7+: the security types.
    SecurityTypes {
        count: usize,
    },
    /// RFB 3.3: the one security type the server imposes.
    ImposedSecurityType,
    ReasonLength(Failure),
    /// The reason, cut to `len` bytes (the limit).
    Reason {
        failure: Failure,
        len: usize,
        cut: bool,
    },
    Security(Negotiation),
    /// The security handshake waits for [`Session::provide_credentials`].
    AwaitingCredentials(Negotiation),
    SecurityResult {
        authenticated: bool,
    },
    ServerInit,
    ServerName {
        width: u16,
        height: u16,
        format: PixelFormat,
        len: usize,
    },
}

impl Phase {
    pub(super) const GREETING_LEN: usize = 4;
    const SERVER_INIT_LEN: usize = 24;
}

/// A server string made safe to show: printable ASCII as is, the rest
/// escaped.
fn sanitize(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Reads "xxx" of "xxx.yyy": exactly three ASCII digits.
fn three_digits(bytes: &[u8]) -> Option<u16> {
    if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes
        .iter()
        .try_fold(0u16, |n, &d| Some(n * 10 + u16::from(d - b'0')))
}

fn be_u32(input: &[u8]) -> Option<u32> {
    Reader::new(input).u32()
}

/// The error for a step that was handed fewer bytes than it declared it
/// needs; the parse loop makes this impossible.
fn short() -> Error {
    Error::Protocol("a handshake step ran out of bytes (a bug in porthole-vnc)".to_owned())
}

impl Session {
    fn legacy(&self) -> bool {
        self.version.is_none_or(ProtocolVersion::is_legacy)
    }

    pub(super) fn step_handshake(&mut self, phase: Phase, input: &[u8]) -> Result<usize, Error> {
        match phase {
            Phase::Greeting => {
                let head = input.get(..Phase::GREETING_LEN).ok_or_else(short)?;
                if head != b"RFB " {
                    return Err(Error::NotRfb(sanitize(head)));
                }
                self.go(State::Handshake(Phase::Version), 8);
                Ok(Phase::GREETING_LEN)
            }
            Phase::Version => {
                let digits = input.get(..8).ok_or_else(short)?;
                let raw = format!("RFB {}", sanitize(digits.get(..7).unwrap_or_default()));
                let parsed = match (
                    digits.get(..3),
                    digits.get(3),
                    digits.get(4..7),
                    digits.get(7),
                ) {
                    (Some(major), Some(b'.'), Some(minor), Some(b'\n')) => {
                        three_digits(major).zip(three_digits(minor))
                    }
                    _ => None,
                };
                let (major, minor) =
                    parsed.ok_or_else(|| Error::UnsupportedVersion(raw.clone()))?;
                let version = ProtocolVersion::negotiate(major, minor)
                    .ok_or_else(|| Error::UnsupportedVersion(raw.clone()))?;
                self.version = Some(version);
                self.event(Event::ServerVersion { major, minor, raw });
                self.transmit.extend_from_slice(version.greeting());
                if version == ProtocolVersion::V3_3 {
                    self.go(State::Handshake(Phase::ImposedSecurityType), 4);
                } else {
                    self.go(State::Handshake(Phase::SecurityTypeCount), 1);
                }
                Ok(8)
            }
            Phase::SecurityTypeCount => {
                let count = usize::from(*input.first().ok_or_else(short)?);
                if count == 0 {
                    self.go(State::Handshake(Phase::ReasonLength(Failure::Refused)), 4);
                } else {
                    self.go(State::Handshake(Phase::SecurityTypes { count }), count);
                }
                Ok(1)
            }
            Phase::SecurityTypes { count } => {
                let offered = input.get(..count).ok_or_else(short)?;
                self.event(Event::SecurityTypesOffered(offered.to_vec()));
                // Inside TLS (type 18) the server offers types again.
                let inside_tls = self.tls.is_on();
                let chosen = if inside_tls {
                    self.config.security.choose_inside_tls(offered)?
                } else {
                    self.config.security.choose(offered)?
                };
                self.transmit.push(chosen.to_u8());
                self.start_security(chosen)?;
                Ok(count)
            }
            Phase::ImposedSecurityType => {
                let ty = be_u32(input).ok_or_else(short)?;
                if ty == 0 {
                    self.go(State::Handshake(Phase::ReasonLength(Failure::Refused)), 4);
                    return Ok(4);
                }
                let ty = u8::try_from(ty).ok().filter(|&t| t <= 2).ok_or_else(|| {
                    Error::Protocol(format!(
                        "the server chose security type {ty}, which RFB 3.3 does not have"
                    ))
                })?;
                self.event(Event::SecurityTypesOffered(vec![ty]));
                let chosen = self.config.security.choose(&[ty])?;
                self.start_security(chosen)?;
                Ok(4)
            }
            Phase::ReasonLength(failure) => {
                let declared = be_u32(input).ok_or_else(short)?;
                let declared = usize::try_from(declared).unwrap_or(usize::MAX);
                let len = declared.min(self.config.limits.max_reason_len);
                if len == 0 {
                    return Err(failure.error(None));
                }
                let cut = len < declared;
                self.go(State::Handshake(Phase::Reason { failure, len, cut }), len);
                Ok(4)
            }
            Phase::Reason { failure, len, cut } => {
                let text = input.get(..len).ok_or_else(short)?;
                let mut reason = client::decode_name(text);
                if cut {
                    reason.push('…');
                }
                Err(failure.error(Some(reason)))
            }
            Phase::Security(mut negotiation) => {
                let legacy = self.legacy();
                let step =
                    negotiation.step(input, legacy, &mut self.credentials, &mut self.transmit)?;
                Ok(self.security_step(negotiation, step))
            }
            Phase::AwaitingCredentials(_) => Err(Error::Protocol(
                "the server sent data while the client was still answering its challenge"
                    .to_owned(),
            )),
            Phase::SecurityResult { authenticated } => {
                let status = be_u32(input).ok_or_else(short)?;
                if status == 0 {
                    self.client_init();
                    return Ok(4);
                }
                let failure = Failure::Security { authenticated };
                if self.legacy() {
                    let reason =
                        (status == 2).then(|| "too many authentication attempts".to_owned());
                    return Err(failure.error(reason));
                }
                self.go(State::Handshake(Phase::ReasonLength(failure)), 4);
                Ok(4)
            }
            Phase::ServerInit => {
                let mut init = Reader::new(input);
                let (width, height) = init.u16().zip(init.u16()).ok_or_else(short)?;
                let format = init.array::<16>().ok_or_else(short)?;
                let len = init.u32().ok_or_else(short)?;
                let limits = self.config.limits;
                if width > limits.max_width {
                    return Err(Error::limit("framebuffer width", width, limits.max_width));
                }
                if height > limits.max_height {
                    return Err(Error::limit(
                        "framebuffer height",
                        height,
                        limits.max_height,
                    ));
                }
                let format = PixelFormat::parse(&format).map_err(|e| {
                    Error::InvalidPixelFormat(format!("the server's pixel format: {e}"))
                })?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > limits.max_name_len {
                    return Err(Error::limit(
                        "desktop name length in bytes",
                        len,
                        limits.max_name_len,
                    ));
                }
                self.go(
                    State::Handshake(Phase::ServerName {
                        width,
                        height,
                        format,
                        len,
                    }),
                    len,
                );
                Ok(Phase::SERVER_INIT_LEN)
            }
            Phase::ServerName {
                width,
                height,
                format,
                len,
            } => {
                let name = client::decode_name(input.get(..len).ok_or_else(short)?);
                self.connected(width, height, format, name)?;
                Ok(len)
            }
        }
    }

    fn start_security(&mut self, ty: SecurityType) -> Result<(), Error> {
        // Inside TLS (18) the type stays TLS: that is what protects it.
        if !self.tls.is_on() {
            self.security_type = Some(ty);
        }
        let negotiation = Negotiation::start(ty, self.config.security)?;
        let need = negotiation.need();
        self.go(State::Handshake(Phase::Security(negotiation)), need);
        Ok(())
    }

    /// Moves on from what the security handshake did; returns the bytes it
    /// consumed.
    fn security_step(&mut self, negotiation: Negotiation, step: SecurityStep) -> usize {
        self.tls.note_subtype(negotiation.subtype());
        match step {
            SecurityStep::StartTls {
                consumed,
                anonymous,
            } => {
                if let Negotiation::Tls = negotiation {
                    // Type 18: the type list again, inside TLS.
                    self.go(State::Handshake(Phase::SecurityTypeCount), 1);
                    self.request_tls(anonymous, 1);
                } else {
                    let need = negotiation.need();
                    self.go(State::Handshake(Phase::Security(negotiation)), need);
                    self.request_tls(anonymous, need);
                }
                consumed
            }
            SecurityStep::Continue { consumed, need } => {
                self.go(State::Handshake(Phase::Security(negotiation)), need);
                consumed
            }
            SecurityStep::NeedCredentials {
                consumed,
                username,
                password,
            } => {
                self.event(Event::CredentialsRequired { username, password });
                // Any byte now is a protocol error: the server must wait.
                self.go(State::Handshake(Phase::AwaitingCredentials(negotiation)), 1);
                consumed
            }
            SecurityStep::Done {
                consumed,
                security_result,
            } => {
                self.credentials = None;
                if security_result {
                    let authenticated = negotiation.authenticates();
                    self.go(State::Handshake(Phase::SecurityResult { authenticated }), 4);
                } else {
                    self.client_init();
                }
                consumed
            }
        }
    }

    /// Continues a handshake waiting for credentials, if one is.
    pub(super) fn resume_with_credentials(&mut self) -> Result<(), Error> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Handshake(Phase::AwaitingCredentials(mut negotiation)) => {
                let legacy = self.legacy();
                let step =
                    negotiation.credentials(legacy, &mut self.credentials, &mut self.transmit)?;
                self.security_step(negotiation, step);
                Ok(())
            }
            State::Closed => Err(Error::Closed),
            other => {
                // Kept for a security handshake still to come; past that
                // point nothing will use them, so they are not kept.
                let to_come = matches!(
                    other,
                    State::Handshake(
                        Phase::Greeting
                            | Phase::Version
                            | Phase::SecurityTypeCount
                            | Phase::SecurityTypes { .. }
                            | Phase::ImposedSecurityType
                            | Phase::Security(_)
                    )
                );
                if !to_come {
                    self.credentials = None;
                }
                self.state = other;
                Ok(())
            }
        }
    }

    fn client_init(&mut self) {
        self.transmit.push(u8::from(self.config.shared));
        self.go(State::Handshake(Phase::ServerInit), Phase::SERVER_INIT_LEN);
    }

    /// ServerInit is complete: set up the framebuffer and ask for pixels.
    fn connected(
        &mut self,
        width: u16,
        height: u16,
        server_format: PixelFormat,
        name: String,
    ) -> Result<(), Error> {
        let format = if self.config.use_server_format {
            server_format
        } else {
            let format = self.config.pixel_format.unwrap_or(PixelFormat::NATIVE);
            format.validate().map_err(|e| {
                Error::InvalidPixelFormat(format!("the requested pixel format: {e}"))
            })?;
            client::set_pixel_format(&mut self.transmit, &format);
            format
        };
        self.format = format;
        self.server_format = Some(server_format);
        self.framebuffer = Framebuffer::new(width, height);
        self.name.clone_from(&name);
        self.go(State::Connected(messages::Incoming::MessageType), 1);
        self.send_encodings();
        self.send_update_request(false, None);
        self.event(Event::Connected {
            name,
            width,
            height,
            format: server_format,
        });
        Ok(())
    }
}
