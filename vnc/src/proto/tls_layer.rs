//! Where TLS sits in a session: between the bytes of `feed` /
//! `poll_transmit` and the RFB parser. Owns the switch from the clear
//! stream to TLS at the exact byte where a security handshake asks for it
//! ([`SecurityStep::StartTls`](crate::security::SecurityStep)), keeping the
//! bytes queued before that point in the clear and every byte after it
//! encrypted, and holds the parser back until the TLS handshake is over so
//! that nothing (a credentials prompt, a password) happens before the
//! server's certificate was checked.

use std::mem;

use super::{Error, Session};
use crate::security::tls::TlsLayer;
use crate::security::{SecuritySummary, Subtype};

/// A handshake step asked for TLS; the parser is parked until it is up.
#[derive(Debug)]
struct Request {
    anonymous: bool,
    /// What the parser needs once TLS is up.
    need: usize,
}

/// The session's TLS state.
#[derive(Debug, Default)]
pub(super) struct Transport {
    request: Option<Request>,
    layer: Option<TlsLayer>,
    /// Bytes queued before TLS started, still sent in the clear.
    clear: Vec<u8>,
    /// Plaintext from the last read, reused.
    plain: Vec<u8>,
    /// An error met while encrypting in `poll_transmit`, which cannot
    /// return it: the next `feed` does.
    error: Option<Error>,
    subtype: Option<Subtype>,
}

impl Transport {
    pub(super) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Whether the session runs over TLS (started or starting).
    pub(super) fn is_on(&self) -> bool {
        self.layer.is_some() || self.request.is_some()
    }

    pub(super) fn note_subtype(&mut self, subtype: Option<Subtype>) {
        if subtype.is_some() {
            self.subtype = subtype;
        }
    }
}

/// The parser's `need` while a TLS start is pending: larger than any
/// read, so the parse loop keeps every byte after the switch (which is
/// TLS) for [`Session::receive`] to hand to the TLS layer.
const PARKED: usize = usize::MAX;

impl Session {
    /// How well the connection is protected: for the UI's padlock.
    pub fn security_summary(&self) -> SecuritySummary {
        self.tls
            .layer
            .as_ref()
            .map_or(SecuritySummary::Unencrypted, TlsLayer::summary)
    }

    /// The VeNCrypt subtype in use, if the security type is VeNCrypt.
    pub fn vencrypt_subtype(&self) -> Option<Subtype> {
        self.tls.subtype
    }

    /// Called by the handshake when a security step asks for TLS: parks
    /// the parser (see [`PARKED`]) until [`Session::receive`] started it.
    pub(super) fn request_tls(&mut self, anonymous: bool, need: usize) {
        self.tls.request = Some(Request { anonymous, need });
        self.need = PARKED;
    }

    /// Runs received bytes through TLS when it is on, then the parser.
    pub(super) fn receive(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.tls.layer.is_some() {
            return self.receive_tls(bytes);
        }
        self.parse_or_hold(bytes)?;
        let Some(request) = self.tls.request.take() else {
            return Ok(());
        };
        if self.tls.layer.is_some() {
            return Err(Error::Protocol(
                "the server asked for TLS inside TLS".to_owned(),
            ));
        }
        // Everything the handshake queued so far goes out in the clear;
        // from here on, only through TLS.
        self.tls.clear.append(&mut self.transmit);
        self.tls.layer = Some(TlsLayer::start(request.anonymous, &self.config.tls)?);
        self.need = request.need;
        let leftover = mem::take(&mut self.input);
        self.receive_tls(&leftover)
    }

    fn receive_tls(&mut self, ciphertext: &[u8]) -> Result<(), Error> {
        let Some(layer) = self.tls.layer.as_mut() else {
            return Err(Error::Protocol(
                "TLS data without TLS (a bug in porthole-vnc)".to_owned(),
            ));
        };
        let was_handshaking = layer.is_handshaking();
        let mut plain = mem::take(&mut self.tls.plain);
        plain.clear();
        layer.receive(ciphertext, &mut plain)?;
        if layer.is_handshaking() {
            self.tls.plain = plain;
            return Ok(());
        }
        // The first time through, this also runs the steps that needed no
        // bytes and waited for TLS (Plain's credentials, None's result).
        let result = if was_handshaking || !plain.is_empty() {
            self.parse_or_hold(&plain)
        } else {
            Ok(())
        };
        self.tls.plain = plain;
        result?;
        if self.tls.request.take().is_some() {
            return Err(Error::Protocol(
                "the server asked for TLS inside TLS".to_owned(),
            ));
        }
        Ok(())
    }

    /// `poll_transmit`: clear bytes first, then TLS records.
    pub(super) fn send_out(&mut self, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        out.append(&mut self.tls.clear);
        match self.tls.layer.as_mut() {
            None => out.append(&mut self.transmit),
            Some(layer) => {
                if let Err(error) = layer.send(&mut self.transmit, out) {
                    self.tls.error = Some(error);
                    self.close();
                }
            }
        }
        out.len() - before
    }
}
