//! The alpha cursor (-314): a cursor image whose pixels come in any real
//! encoding, as 32-bit R, G, B, A with premultiplied alpha. Decoded by the
//! normal rectangle decoders into scratch framebuffers, then turned into
//! the straight RGBA every [`Event::Cursor`] carries.
//!
//! The decoders write colour only, so the alpha byte is recovered with a
//! second decoder over the same bytes whose pixel format reads the alpha
//! byte as its colour. That works for encodings without state across
//! rectangles (Raw, RRE, CoRRE, Hextile, TRLE, which TigerVNC uses with
//! Raw); for Zlib, ZRLE and Tight a second pass would corrupt the shared
//! zlib stream, so there a black pixel counts as transparent and every
//! other pixel as opaque.

use super::{Error, Event, Session};
use crate::decode::cursor::CursorImage;
use crate::decode::{encoding, Progress, RectDecoder, Target};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelFormat;

/// The wire bytes R, G, B, A as a little-endian 32-bit pixel.
const RGBA: PixelFormat = PixelFormat {
    bits_per_pixel: 32,
    depth: 32,
    big_endian: false,
    true_colour: true,
    red_max: 255,
    green_max: 255,
    blue_max: 255,
    red_shift: 0,
    green_shift: 8,
    blue_shift: 16,
};

/// The same pixels with every colour channel reading the alpha byte.
const ALPHA: PixelFormat = PixelFormat {
    red_shift: 24,
    green_shift: 24,
    blue_shift: 24,
    ..RGBA
};

/// One alpha cursor being decoded.
#[derive(Debug)]
pub(super) struct AlphaCursor {
    hotspot: (u16, u16),
    colour: Pass,
    /// `None` for encodings whose state forbids a second pass.
    alpha: Option<Pass>,
}

#[derive(Debug)]
struct Pass {
    decoder: RectDecoder,
    pixels: Framebuffer,
}

impl Pass {
    fn new(size: Rect, encoding: i32) -> Result<Self, Error> {
        let pixels = Framebuffer::new(size.width, size.height);
        let decoder = RectDecoder::new(size, encoding, &pixels)?;
        Ok(Self { decoder, pixels })
    }
}

/// Whether a second decoder over the same bytes leaves no shared state
/// behind.
fn stateless(encoding: i32) -> bool {
    matches!(
        encoding,
        encoding::RAW | encoding::RRE | encoding::CORRE | encoding::HEXTILE | encoding::TRLE
    )
}

impl AlphaCursor {
    /// Starts decoding a `rect` cursor (position = hotspot) in `encoding`.
    pub(super) fn new(rect: Rect, encoding: i32) -> Result<Self, Error> {
        let size = Rect::new(0, 0, rect.width, rect.height);
        let alpha = if stateless(encoding) {
            Some(Pass::new(size, encoding)?)
        } else {
            None
        };
        Ok(Self {
            hotspot: (rect.x, rect.y),
            colour: Pass::new(size, encoding)?,
            alpha,
        })
    }

    /// The finished cursor as straight RGBA.
    fn image(&self) -> CursorImage {
        let (width, height) = (self.colour.pixels.width(), self.colour.pixels.height());
        let colour = self.colour.pixels.data().chunks_exact(4);
        let mut rgba = Vec::with_capacity(self.colour.pixels.data().len());
        match &self.alpha {
            Some(alpha) => {
                for (c, a) in colour.zip(alpha.pixels.data().chunks_exact(4)) {
                    // Native B, G, R, A: the colour pass holds B, G, R in
                    // their places, the alpha pass holds alpha in all three.
                    if let (&[b, g, r, _], &[alpha, ..]) = (c, a) {
                        rgba.extend_from_slice(&unpremultiply(r, g, b, alpha));
                    }
                }
            }
            None => {
                for c in colour {
                    if let &[b, g, r, _] = c {
                        let alpha = if (r, g, b) == (0, 0, 0) { 0 } else { 255 };
                        rgba.extend_from_slice(&[r, g, b, alpha]);
                    }
                }
            }
        }
        CursorImage {
            width,
            height,
            hot_x: self.hotspot.0.min(width.saturating_sub(1)),
            hot_y: self.hotspot.1.min(height.saturating_sub(1)),
            rgba,
        }
    }
}

/// Straight R, G, B, A from premultiplied values; a colour brighter than
/// its alpha allows (a broken server) is clamped.
fn unpremultiply(r: u8, g: u8, b: u8, alpha: u8) -> [u8; 4] {
    if alpha == 0 {
        return [0; 4];
    }
    let a = u32::from(alpha);
    let scale = |c: u8| u8::try_from((u32::from(c) * 255 + a / 2) / a).unwrap_or(u8::MAX);
    [scale(r), scale(g), scale(b), alpha]
}

impl Session {
    /// Feeds an alpha cursor's pixel bytes to its decoders.
    pub(super) fn step_alpha_cursor(
        &mut self,
        cursor: &mut AlphaCursor,
        input: &[u8],
    ) -> Result<Progress, Error> {
        let mut colour_target = Target {
            framebuffer: &mut cursor.colour.pixels,
            format: &RGBA,
            colour_map: &self.colour_map,
        };
        let progress = cursor
            .colour
            .decoder
            .step(input, &mut self.decoders, &mut colour_target)?;
        if let Some(alpha) = &mut cursor.alpha {
            let mut alpha_target = Target {
                framebuffer: &mut alpha.pixels,
                format: &ALPHA,
                colour_map: &self.colour_map,
            };
            let alpha_progress =
                alpha
                    .decoder
                    .step(input, &mut self.decoders, &mut alpha_target)?;
            // Same bytes, same stateless decoder: the same progress.
            if alpha_progress != progress {
                return Err(Error::Protocol(
                    "the alpha cursor's decoders disagreed (a bug in porthole-vnc)".to_owned(),
                ));
            }
        }
        if matches!(progress, Progress::Done { .. }) {
            self.event(Event::Cursor(cursor.image()));
        }
        Ok(progress)
    }
}
