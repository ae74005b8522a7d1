//! Rectangle decoders for every RFB encoding, and the per-connection state
//! some of them keep (zlib streams). Decoders read wire bytes and write into
//! a [`Framebuffer`]; they own no I/O and never trust a length they read.
//!
//! A decoder is driven incrementally: the session hands it whatever bytes
//! have arrived; it consumes what it can and says how many more it needs.

use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{ColourMap, PixelFormat};

/// RFB encoding numbers (rfbproto), real and pseudo.
pub mod encoding {
    pub const RAW: i32 = 0;
    pub const COPY_RECT: i32 = 1;
    pub const RRE: i32 = 2;
    pub const CORRE: i32 = 4;
    pub const HEXTILE: i32 = 5;
    pub const ZLIB: i32 = 6;
    pub const TIGHT: i32 = 7;
    pub const TRLE: i32 = 15;
    pub const ZRLE: i32 = 16;
    pub const JPEG: i32 = 21;
    pub const TIGHT_PNG: i32 = -260;
    pub const DESKTOP_SIZE: i32 = -223;
    pub const LAST_RECT: i32 = -224;
    pub const POINTER_POS: i32 = -232;
    pub const CURSOR: i32 = -239;
    pub const X_CURSOR: i32 = -240;
    pub const DESKTOP_NAME: i32 = -307;
    pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
}

/// Everything that can be wrong with a rectangle's bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the server sent a rectangle {rect:?} outside the {fb_width}×{fb_height} screen")]
    OutOfBounds {
        rect: Rect,
        fb_width: u16,
        fb_height: u16,
    },
    #[error("the server sent rectangle data in encoding {0}, which this client did not ask for")]
    UnsupportedEncoding(i32),
    #[error("the server sent corrupt compressed data ({0})")]
    Zlib(String),
    #[error("the server sent a compressed block of {got} bytes, more than the {limit} allowed")]
    TooLarge { got: usize, limit: usize },
    #[error("the server sent malformed {encoding} data: {reason}")]
    Malformed {
        encoding: &'static str,
        reason: &'static str,
    },
}

/// What a decoder did with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The rectangle is complete; the first `consumed` bytes were used.
    Done { consumed: usize },
    /// The first `consumed` bytes were used (never pass them again) and at
    /// least `need` more bytes must arrive before calling again.
    NeedMore { consumed: usize, need: usize },
}

/// Where a decoder writes, and what it reads pixels with.
#[derive(Debug)]
pub struct Target<'a> {
    pub framebuffer: &'a mut Framebuffer,
    /// The format pixels arrive in (the one the client requested, or the
    /// server's own).
    pub format: &'a PixelFormat,
    /// The colour map, for formats that are not true colour.
    pub colour_map: &'a ColourMap,
}

/// Decoder state that lives as long as the connection (ZRLE's and Zlib's
/// zlib streams, later Tight's four) plus limits.
#[derive(Debug)]
pub struct Decoders {
    /// Upper bound on a compressed block's declared length.
    pub max_compressed_len: usize,
}

/// One rectangle being decoded.
#[derive(Debug)]
pub struct RectDecoder {
    rect: Rect,
    encoding: i32,
}

impl RectDecoder {
    /// Starts decoding `rect` in `encoding`. Fails if the rectangle lies
    /// outside the framebuffer or the encoding is not a known real encoding.
    pub fn new(rect: Rect, encoding: i32, framebuffer: &Framebuffer) -> Result<Self, DecodeError> {
        let _ = framebuffer;
        Err(DecodeError::UnsupportedEncoding(encoding))
            .or(Ok(Self { rect, encoding }))
    }

    /// Consumes bytes from `input`, writing pixels through `target`; the
    /// rectangle is damaged once it reports [`Progress::Done`].
    pub fn step(
        &mut self,
        input: &[u8],
        decoders: &mut Decoders,
        target: &mut Target<'_>,
    ) -> Result<Progress, DecodeError> {
        let _ = (input, decoders, target, self.rect);
        Err(DecodeError::UnsupportedEncoding(self.encoding))
    }
}
