//! Whole compressed images in rectangles (Tight's JPEG and PNG, the JPEG
//! encoding): the image from the moment its last byte arrived until its
//! pixels are on screen, in two steps that a caller can run apart.
//! Decoding is the slow step (about 10 ms for a 1080p JPEG) and needs no
//! framebuffer: it writes B, G, R, A rows into a buffer of the image's own.
//! Writing them to the screen is a copy of rows, in bands of about 1 MB.
//! So a driver that shares its framebuffer behind a lock holds the lock
//! only for the copy of a band, and a receiver drawing a frame never waits
//! for a decoder. A caller that
//! decodes at once (the decoders' own `step`) writes straight to the
//! screen instead, with no copy.

use super::{jpeg, rect_row, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};

/// What a decoder of rectangles that carry images did with its bytes.
#[derive(Debug)]
pub(super) enum Outcome {
    Progress(Progress),
    /// The first `consumed` bytes completed `image`, which is all that is
    /// left of the rectangle: decoding it completes it.
    Image {
        consumed: usize,
        image: Compressed,
    },
}

/// An image whose bytes have all arrived.
#[derive(Debug)]
pub(super) struct Compressed {
    pub(super) kind: Kind,
    pub(super) data: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Jpeg,
    Png,
}

/// Where decoded rows go: the rectangle's place on screen, or a buffer of
/// `width × height` packed B, G, R, A pixels to copy there later.
pub(super) enum Out<'a> {
    Screen(&'a mut Framebuffer, Rect),
    Pixels(&'a mut Vec<u8>, Rect),
}

impl Out<'_> {
    /// Makes room for the rectangle's pixels, once the image's header
    /// said it is the rectangle's size (a buffer keeps its allocation
    /// from image to image: every byte is written before use).
    pub(super) fn prepare(&mut self) {
        if let Out::Pixels(buf, rect) = self {
            buf.resize(rect.area().saturating_mul(4), 0);
        }
    }

    /// Row `y` of the rectangle, `width × 4` bytes.
    pub(super) fn row(&mut self, y: usize) -> Result<&mut [u8], DecodeError> {
        match self {
            Out::Screen(fb, rect) => rect_row(fb, *rect, 0, y, usize::from(rect.width)),
            Out::Pixels(buf, rect) => {
                let len = usize::from(rect.width) * 4;
                let start = y.saturating_mul(len);
                buf.get_mut(start..start.saturating_add(len))
                    .ok_or(DecodeError::OutOfBounds {
                        rect: *rect,
                        fb_width: rect.width,
                        fb_height: rect.height,
                    })
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Called as each image starts decoding, so that a test can see what
    /// the decoder runs under (the driver's lock).
    pub(crate) static ON_DECODE: std::cell::RefCell<Option<Box<dyn Fn()>>> =
        const { std::cell::RefCell::new(None) };
}

impl Compressed {
    /// Decodes the image, which must exactly fill `rect`, into `out`;
    /// JPEG tables it leaves out are the last ones `jpeg` saw.
    pub(super) fn decode(
        &self,
        rect: Rect,
        jpeg: &mut jpeg::JpegState,
        out: Out<'_>,
    ) -> Result<(), DecodeError> {
        #[cfg(test)]
        ON_DECODE.with_borrow(|hook| hook.as_ref().map(|hook| hook()));
        match self.kind {
            Kind::Jpeg => jpeg::decode(&self.data, rect, jpeg, out),
            Kind::Png => super::tight::decode_png(&self.data, rect, out),
        }
    }
}

/// Bytes of decoded rows copied to the screen per call at most: about
/// 0.3 ms of copying, so a driver holding a lock for the copy lets a
/// receiver in between (a 4K image is 33 MB, some 15 ms in one go).
pub(super) const BLIT_BAND: usize = 1 << 20;

/// Copies rows of decoded `pixels` (packed rows of `rect`) to their place
/// on screen from row `from` on, about [`BLIT_BAND`] bytes of them (at
/// least one row); returns the next row to copy, `rect.height` once all
/// are there.
pub(super) fn blit(
    pixels: &[u8],
    rect: Rect,
    from: usize,
    fb: &mut Framebuffer,
) -> Result<usize, DecodeError> {
    let (len, height) = (usize::from(rect.width) * 4, usize::from(rect.height));
    if rect.is_empty() {
        return Ok(height);
    }
    if pixels.len() != len * height {
        return Err(DecodeError::Malformed {
            encoding: "image",
            reason: "the decoded image is not the size of its rectangle (a bug in porthole-vnc)",
        });
    }
    let rows = (BLIT_BAND / len).max(1);
    let band = pixels.chunks_exact(len).enumerate().skip(from).take(rows);
    for (y, src) in band {
        rect_row(fb, rect, 0, y, usize::from(rect.width))?.copy_from_slice(src);
    }
    Ok(from.saturating_add(rows).min(height))
}
