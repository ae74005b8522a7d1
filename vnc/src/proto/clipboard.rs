//! The extended clipboard (pseudo-encoding 0xc0a1e5ce): UTF-8 text both
//! ways with caps, request, peek, notify and provide, and the legacy
//! Latin-1 cut text when the server lacks it. Owns the message formats, the
//! bounded inflate of provided data, and the text this client offers.
//!
//! Only text is exchanged. When the server announces new text (notify),
//! the session requests it at once, so callers only see
//! [`Event::ClipboardText`]. This client's text is announced and handed
//! over when the server asks for it.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::extensions::Extension;
use super::wire::Reader;
use super::{client, Error, Event, Session};

/// Extended clipboard flag bits.
pub(super) mod flags {
    pub const TEXT: u32 = 1;
    /// Bits 0–15 name formats.
    pub const FORMATS: u32 = 0xffff;
    pub const CAPS: u32 = 1 << 24;
    pub const REQUEST: u32 = 1 << 25;
    pub const PEEK: u32 = 1 << 26;
    pub const NOTIFY: u32 = 1 << 27;
    pub const PROVIDE: u32 = 1 << 28;
}

/// What the client knows of the clipboard extension.
#[derive(Debug, Default)]
pub(super) struct Clipboard {
    /// The server sent its caps: the extension is on.
    pub(super) extended: bool,
    /// The actions the server accepts.
    server_actions: u32,
    /// This client's text as it goes on the wire (UTF-8, CRLF, NUL), kept
    /// until the server asks for it.
    local: Option<Vec<u8>>,
}

/// Text as the extended clipboard carries it: UTF-8, CRLF line ends, a
/// terminating NUL.
pub(super) fn encode_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16 + 1);
    let mut previous = '\0';
    for c in text.chars() {
        if c == '\n' && previous != '\r' {
            out.push(b'\r');
        }
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        previous = c;
    }
    out.push(0);
    out
}

/// The text in received bytes: up to the first NUL, invalid UTF-8
/// replaced, CRLF turned into LF.
pub(super) fn decode_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(bytes.get(..end).unwrap_or(bytes));
    text.replace("\r\n", "\n")
}

/// Inflates one zlib stream, refusing to produce more than `max` bytes.
fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, Error> {
    let mut zlib = Decompress::new(true);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max).max(64));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= max {
                return Err(Error::limit(
                    "clipboard data size in bytes",
                    out.len().saturating_add(1),
                    max,
                ));
            }
            out.reserve((max - out.len()).min(out.len().max(64 * 1024)));
        }
        let consumed = usize::try_from(zlib.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let before = out.len();
        let status = zlib
            .decompress_vec(input, &mut out, FlushDecompress::Finish)
            .map_err(|e| Error::Protocol(format!("corrupt compressed clipboard data ({e})")))?;
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {
                // TigerVNC flushes its stream without finishing it: all
                // input used and no more output is the end. A stream cut
                // short shows when the sizes inside it are read.
                let used = usize::try_from(zlib.total_in()).unwrap_or(usize::MAX);
                if out.len() == before && used == consumed && out.len() < out.capacity() {
                    return Ok(out);
                }
            }
        }
    }
}

/// Deflates `data` as one complete zlib stream.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut zlib = Compress::new(Compression::default(), true);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let consumed = usize::try_from(zlib.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        match zlib.compress_vec(input, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) | Err(_) => return out,
            Ok(Status::Ok | Status::BufError) => {}
        }
    }
}

/// An extended ClientCutText of `flags` and `body`.
fn message(out: &mut Vec<u8>, flags: u32, body: &[u8]) {
    let len = 4 + body.len();
    // A negative length marks the extended form.
    let len = i32::try_from(len).map_or(i32::MIN, |l| -l);
    out.extend_from_slice(&[client::message::CLIENT_CUT_TEXT, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(body);
}

impl Session {
    /// Whether the server speaks the extended clipboard (UTF-8 both ways).
    pub fn has_extended_clipboard(&self) -> bool {
        self.ext.clipboard.extended
    }

    /// Offers `text` as this client's clipboard: with the extended
    /// clipboard it is announced and sent, as UTF-8, when the server asks
    /// for it; otherwise it goes at once as Latin-1 (other characters
    /// become '?'). Dropped before the session is connected.
    pub fn send_clipboard_text(&mut self, text: &str) {
        if !self.is_connected() {
            return;
        }
        let clipboard = &mut self.ext.clipboard;
        if clipboard.extended && clipboard.server_actions & flags::NOTIFY != 0 {
            clipboard.local = Some(encode_text(text));
            message(&mut self.transmit, flags::NOTIFY | flags::TEXT, &[]);
        } else {
            client::client_cut_text(&mut self.transmit, text);
        }
    }

    /// An extended ServerCutText message, read whole.
    pub(super) fn extended_clipboard(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut wire = Reader::new(payload);
        let Some(message_flags) = wire.u32() else {
            return Err(Error::Protocol(
                "the server sent an extended clipboard message without flags".to_owned(),
            ));
        };
        let rest = payload.get(4..).unwrap_or_default();
        let formats = message_flags & flags::FORMATS;
        if message_flags & flags::CAPS != 0 {
            if !self.ext.clipboard.extended {
                self.event(Event::Supported(Extension::ExtendedClipboard));
            }
            self.ext.clipboard.extended = true;
            self.ext.clipboard.server_actions = message_flags & !flags::FORMATS;
            // Our caps: text only, and 0 bytes unsolicited, so every change
            // comes as a notify (what rfbproto recommends).
            let ours = flags::CAPS
                | flags::REQUEST
                | flags::PEEK
                | flags::NOTIFY
                | flags::PROVIDE
                | flags::TEXT;
            message(&mut self.transmit, ours, &0u32.to_be_bytes());
        } else if message_flags & flags::REQUEST != 0 {
            if formats & flags::TEXT != 0 {
                if let Some(text) = &self.ext.clipboard.local {
                    let mut body = Vec::with_capacity(text.len() + 4);
                    body.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_be_bytes());
                    body.extend_from_slice(text);
                    let compressed = deflate(&body);
                    message(
                        &mut self.transmit,
                        flags::PROVIDE | flags::TEXT,
                        &compressed,
                    );
                }
            }
        } else if message_flags & flags::PEEK != 0 {
            let available = if self.ext.clipboard.local.is_some() {
                flags::TEXT
            } else {
                0
            };
            message(&mut self.transmit, flags::NOTIFY | available, &[]);
        } else if message_flags & flags::NOTIFY != 0 {
            if formats & flags::TEXT != 0 {
                message(&mut self.transmit, flags::REQUEST | flags::TEXT, &[]);
            }
        } else if message_flags & flags::PROVIDE != 0 {
            self.clipboard_provided(formats, rest)?;
        }
        Ok(())
    }

    /// A provide message: `size`, `data` pairs for each format bit, in a
    /// zlib stream.
    fn clipboard_provided(&mut self, formats: u32, compressed: &[u8]) -> Result<(), Error> {
        let max = self.config.limits.max_cut_text;
        // Sizes of up to 16 formats ride along with the text.
        let data = inflate(compressed, max.saturating_add(16 * 4))?;
        let mut wire = Reader::new(&data);
        for bit in 0..16 {
            let format = 1u32 << bit;
            if formats & format == 0 {
                continue;
            }
            let Some(size) = wire.u32() else {
                return Err(Error::Protocol(
                    "the server's clipboard data is shorter than its sizes say".to_owned(),
                ));
            };
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > max {
                return Err(Error::limit("clipboard text length in bytes", size, max));
            }
            let Some(bytes) = wire.bytes(size) else {
                return Err(Error::Protocol(
                    "the server's clipboard data is shorter than its sizes say".to_owned(),
                ));
            };
            if format == flags::TEXT {
                self.event(Event::ClipboardText(decode_text(bytes)));
            }
        }
        Ok(())
    }
}
