//! Client-to-server messages, written straight into the transmit buffer,
//! and the text encodings RFB strings use.

use crate::framebuffer::Rect;
use crate::pixel::PixelFormat;

/// Client message types (rfbproto "Client to Server Messages").
pub(super) mod message {
    pub const SET_PIXEL_FORMAT: u8 = 0;
    pub const SET_ENCODINGS: u8 = 2;
    pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
    pub const KEY_EVENT: u8 = 4;
    pub const POINTER_EVENT: u8 = 5;
    pub const CLIENT_CUT_TEXT: u8 = 6;
    pub const ENABLE_CONTINUOUS_UPDATES: u8 = 150;
    pub const FENCE: u8 = 248;
    pub const XVP: u8 = 250;
    pub const SET_DESKTOP_SIZE: u8 = 251;
    pub const QEMU: u8 = 255;
}

pub(crate) fn set_pixel_format(out: &mut Vec<u8>, format: &PixelFormat) {
    out.extend_from_slice(&[message::SET_PIXEL_FORMAT, 0, 0, 0]);
    out.extend_from_slice(&format.to_bytes());
}

/// SetEncodings; a list longer than the u16 count allows is cut (no real
/// client has 65536 encodings).
pub(crate) fn set_encodings(out: &mut Vec<u8>, encodings: &[i32]) {
    let count = u16::try_from(encodings.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&[message::SET_ENCODINGS, 0]);
    out.extend_from_slice(&count.to_be_bytes());
    for encoding in encodings.iter().take(usize::from(count)) {
        out.extend_from_slice(&encoding.to_be_bytes());
    }
}

pub(crate) fn framebuffer_update_request(out: &mut Vec<u8>, incremental: bool, rect: Rect) {
    out.extend_from_slice(&[message::FRAMEBUFFER_UPDATE_REQUEST, u8::from(incremental)]);
    for v in [rect.x, rect.y, rect.width, rect.height] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub(crate) fn key_event(out: &mut Vec<u8>, down: bool, keysym: u32) {
    out.extend_from_slice(&[message::KEY_EVENT, u8::from(down), 0, 0]);
    out.extend_from_slice(&keysym.to_be_bytes());
}

pub(crate) fn pointer_event(out: &mut Vec<u8>, x: u16, y: u16, buttons: u8) {
    out.extend_from_slice(&[message::POINTER_EVENT, buttons]);
    out.extend_from_slice(&x.to_be_bytes());
    out.extend_from_slice(&y.to_be_bytes());
}

/// ClientCutText carries Latin-1: characters outside it become '?'.
pub(crate) fn client_cut_text(out: &mut Vec<u8>, text: &str) {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&[message::CLIENT_CUT_TEXT, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(
        bytes
            .iter()
            .take(usize::try_from(len).unwrap_or(usize::MAX)),
    );
}

/// Appends Latin-1 bytes to a string (every byte is the code point of the
/// same value).
pub(crate) fn push_latin1(text: &mut String, bytes: &[u8]) {
    text.extend(bytes.iter().map(|&b| char::from(b)));
}

/// Decodes a name the server sent: UTF-8 when it is valid UTF-8 (what
/// rfbproto asks for and modern servers send), else Latin-1 (what old
/// servers send), so no byte is ever lost or rejected.
pub(crate) fn decode_name(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let mut s = String::with_capacity(bytes.len());
            push_latin1(&mut s, bytes);
            s
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_their_wire_layout() {
        let mut out = Vec::new();
        framebuffer_update_request(
            &mut out,
            true,
            Rect {
                x: 1,
                y: 2,
                width: 0x300,
                height: 4,
            },
        );
        assert_eq!(out, [3, 1, 0, 1, 0, 2, 3, 0, 0, 4]);
        out.clear();
        key_event(&mut out, true, 0xff0d);
        assert_eq!(out, [4, 1, 0, 0, 0, 0, 0xff, 0x0d]);
        out.clear();
        pointer_event(&mut out, 0x102, 3, 0b101);
        assert_eq!(out, [5, 5, 1, 2, 0, 3]);
        out.clear();
        set_encodings(&mut out, &[16, -223]);
        assert_eq!(out, [2, 0, 0, 2, 0, 0, 0, 16, 0xff, 0xff, 0xff, 0x21]);
        out.clear();
        set_pixel_format(&mut out, &PixelFormat::NATIVE);
        assert_eq!(out.len(), 20);
        assert_eq!(&out[..4], &[0, 0, 0, 0]);
        assert_eq!(&out[4..], &PixelFormat::NATIVE.to_bytes());
    }

    #[test]
    fn client_cut_text_is_latin1_with_question_marks() {
        let mut out = Vec::new();
        client_cut_text(&mut out, "aä€");
        assert_eq!(out, [6, 0, 0, 0, 0, 0, 0, 3, b'a', 0xe4, b'?']);
    }

    #[test]
    fn names_decode_as_utf8_or_latin1() {
        assert_eq!(decode_name("Grüße".as_bytes()), "Grüße");
        assert_eq!(decode_name(b"Gr\xfc\xdfe"), "Grüße");
    }
}
