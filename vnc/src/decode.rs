//! Rectangle decoders for every RFB encoding, and the per-connection state
//! some of them keep (zlib streams). Decoders read wire bytes and write into
//! a [`Framebuffer`]; they own no I/O and never trust a length they read.
//!
//! A decoder is driven incrementally: the session hands it whatever bytes
//! have arrived; it consumes what it can and says how many more it needs.
//! Every decoder works in small units (a pixel, a run, a subrectangle, a
//! tile of at most a few KB) and keeps its place between calls, so feeding
//! a rectangle in pieces of any size costs time linear in its length.
//! Whole images (JPEG, PNG) are the exception: they are gathered and then
//! decoded at once, which a caller may do without the framebuffer
//! ([`RectDecoder::step_deferring`], [`image`]).

mod copyrect;
pub mod cursor;
mod hextile;
mod image;
mod inflate;
mod jpeg;
mod raw;
mod rre;
mod tight;
mod trle;
mod zlib;
mod zrle;

use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{ColourMap, PixelFormat, PixelReader};

#[cfg(test)]
pub(crate) use image::ON_DECODE;

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
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
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
    #[error("the server sent an image that cannot be decoded ({0})")]
    Image(String),
    #[error("the server sent malformed {encoding} data: {reason}")]
    Malformed {
        encoding: &'static str,
        reason: &'static str,
    },
}

impl DecodeError {
    fn out_of_bounds(rect: Rect, framebuffer: &Framebuffer) -> Self {
        Self::OutOfBounds {
            rect,
            fb_width: framebuffer.width(),
            fb_height: framebuffer.height(),
        }
    }
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

/// What [`RectDecoder::step_deferring`] did with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// As [`RectDecoder::step`] reports.
    Progress(Progress),
    /// The first `consumed` bytes completed an image (JPEG or PNG) that is
    /// all that is left of the rectangle, or the image is not all on
    /// screen yet. [`RectDecoder::decode_image`] decodes it without the
    /// framebuffer (or does nothing when it is decoded already); then each
    /// `step_deferring` copies a band of its rows (about 1 MB), reporting
    /// `Image` again until the last band, then `Done`, consuming nothing
    /// more.
    Image { consumed: usize },
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
/// zlib streams, Tight's four, the last JPEG tables) plus limits.
#[derive(Debug)]
pub struct Decoders {
    /// Upper bound on a compressed block's declared length.
    pub max_compressed_len: usize,
    zlib: inflate::Stream,
    zrle: inflate::Stream,
    tight: [inflate::Stream; 4],
    jpeg: jpeg::JpegState,
    readers: Option<Readers>,
    /// Decoded pixels of the last deferred image, kept for the next one
    /// (a 1080p screen is 8 MB: allocating it afresh costs page faults).
    pixels: Vec<u8>,
}

/// Pixel readers for the format and colour map last decoded with; rebuilt
/// only when either changes.
#[derive(Debug)]
struct Readers {
    format: PixelFormat,
    /// The colour map the readers were built from (colour-mapped formats only).
    map: Option<ColourMap>,
    pixel: PixelReader,
    compact: PixelReader,
}

impl Decoders {
    /// Fresh per-connection state; compressed blocks longer than
    /// `max_compressed_len` are refused.
    pub fn new(max_compressed_len: usize) -> Self {
        Self {
            max_compressed_len,
            zlib: inflate::Stream::new(),
            zrle: inflate::Stream::new(),
            tight: std::array::from_fn(|_| inflate::Stream::new()),
            jpeg: jpeg::JpegState::default(),
            readers: None,
            pixels: Vec::new(),
        }
    }
}

/// Readers for `format` and `map`, reusing the cached ones when neither changed.
fn readers<'a>(
    cache: &'a mut Option<Readers>,
    format: &PixelFormat,
    map: &ColourMap,
) -> &'a Readers {
    let map_used = (!format.true_colour).then_some(map);
    let stale = match cache {
        Some(r) => r.format != *format || r.map.as_ref() != map_used,
        None => true,
    };
    if stale {
        *cache = None;
    }
    cache.get_or_insert_with(|| Readers {
        format: *format,
        map: map_used.cloned(),
        pixel: PixelReader::new(format, map),
        compact: PixelReader::compact(format, map),
    })
}

/// One rectangle being decoded.
#[derive(Debug)]
pub struct RectDecoder {
    rect: Rect,
    state: State,
    /// The rectangle's image, once gathered by a deferring step.
    image: Option<Image>,
}

/// A deferred image between its last byte and the screen.
#[derive(Debug)]
enum Image {
    Compressed(image::Compressed),
    /// B, G, R, A rows of the rectangle, to copy to the screen from row
    /// `next` on.
    Decoded {
        pixels: Vec<u8>,
        next: usize,
    },
}

#[derive(Debug)]
enum State {
    Raw(raw::Raw),
    CopyRect,
    Rre(rre::Rre),
    Hextile(hextile::Hextile),
    Zlib(zlib::Zlib),
    Zrle(zrle::Zrle),
    Trle(trle::Tiles),
    Tight(tight::Tight),
    Jpeg(jpeg::JpegRect),
    Done,
}

impl RectDecoder {
    /// Starts decoding `rect` in `encoding`. Fails if the rectangle lies
    /// outside the framebuffer or the encoding is not a known real encoding.
    pub fn new(rect: Rect, encoding: i32, framebuffer: &Framebuffer) -> Result<Self, DecodeError> {
        let state = match encoding {
            encoding::RAW => State::Raw(raw::Raw::new()),
            encoding::COPY_RECT => State::CopyRect,
            encoding::RRE => State::Rre(rre::Rre::new(false)),
            encoding::CORRE => State::Rre(rre::Rre::new(true)),
            encoding::HEXTILE => State::Hextile(hextile::Hextile::new()),
            encoding::ZLIB => State::Zlib(zlib::Zlib::new()),
            encoding::ZRLE => State::Zrle(zrle::Zrle::new()),
            encoding::TRLE => State::Trle(trle::Tiles::new(trle::TRLE_TILE, true)),
            encoding::TIGHT => State::Tight(tight::Tight::new(false)),
            encoding::TIGHT_PNG => State::Tight(tight::Tight::new(true)),
            encoding::JPEG => State::Jpeg(jpeg::JpegRect::new()),
            other => return Err(DecodeError::UnsupportedEncoding(other)),
        };
        if !framebuffer.contains(rect) {
            return Err(DecodeError::out_of_bounds(rect, framebuffer));
        }
        Ok(Self {
            rect,
            state,
            image: None,
        })
    }

    /// The rectangle being decoded; damaged once [`Progress::Done`].
    pub fn rect(&self) -> Rect {
        self.rect
    }

    /// Consumes bytes from `input`, writing pixels through `target`; the
    /// rectangle is damaged once it reports [`Progress::Done`]. After that,
    /// further calls consume nothing and report `Done` again. An image
    /// (JPEG, PNG) is decoded straight into the framebuffer.
    pub fn step(
        &mut self,
        input: &[u8],
        decoders: &mut Decoders,
        target: &mut Target<'_>,
    ) -> Result<Progress, DecodeError> {
        if self.image.is_some() {
            // Left by `step_deferring`: finish it that way, a band at a
            // time (each call copies at least one row).
            self.decode_image(decoders)?;
            for _ in 0..=self.rect.height {
                if let Step::Progress(progress) = self.step_deferring(input, decoders, target)? {
                    return Ok(progress);
                }
            }
            return Err(image_bug());
        }
        match self.step_inner(input, decoders, target)? {
            image::Outcome::Progress(progress) => Ok(progress),
            image::Outcome::Image { consumed, image } => {
                let out = image::Out::Screen(target.framebuffer, self.rect);
                image.decode(self.rect, &mut decoders.jpeg, out)?;
                Ok(Progress::Done { consumed })
            }
        }
    }

    /// Like [`RectDecoder::step`], but stops when an image's bytes are
    /// complete ([`Step::Image`]), so that the slow decoding can run
    /// without the framebuffer ([`RectDecoder::decode_image`]).
    pub fn step_deferring(
        &mut self,
        input: &[u8],
        decoders: &mut Decoders,
        target: &mut Target<'_>,
    ) -> Result<Step, DecodeError> {
        match self.image.take() {
            Some(Image::Decoded { pixels, next }) => {
                let next = match image::blit(&pixels, self.rect, next, target.framebuffer) {
                    Ok(next) => next,
                    Err(error) => {
                        decoders.pixels = pixels;
                        return Err(error);
                    }
                };
                if next < usize::from(self.rect.height) {
                    self.image = Some(Image::Decoded { pixels, next });
                    return Ok(Step::Image { consumed: 0 });
                }
                decoders.pixels = pixels;
                self.state = State::Done;
                return Ok(Step::Progress(Progress::Done { consumed: 0 }));
            }
            Some(compressed) => {
                // Not decoded yet: nothing to write, nothing consumed.
                self.image = Some(compressed);
                return Ok(Step::Image { consumed: 0 });
            }
            None => {}
        }
        Ok(match self.step_inner(input, decoders, target)? {
            image::Outcome::Progress(progress) => Step::Progress(progress),
            image::Outcome::Image { consumed, image } => {
                self.image = Some(Image::Compressed(image));
                Step::Image { consumed }
            }
        })
    }

    /// Decodes the image a [`Step::Image`] reported, without touching any
    /// framebuffer; does nothing when there is none to decode.
    pub fn decode_image(&mut self, decoders: &mut Decoders) -> Result<(), DecodeError> {
        let compressed = match self.image.take() {
            Some(Image::Compressed(compressed)) => compressed,
            other => {
                self.image = other;
                return Ok(());
            }
        };
        let mut pixels = std::mem::take(&mut decoders.pixels);
        let out = image::Out::Pixels(&mut pixels, self.rect);
        match compressed.decode(self.rect, &mut decoders.jpeg, out) {
            Ok(()) => {
                self.image = Some(Image::Decoded { pixels, next: 0 });
                Ok(())
            }
            Err(error) => {
                decoders.pixels = pixels;
                Err(error)
            }
        }
    }

    fn step_inner(
        &mut self,
        input: &[u8],
        decoders: &mut Decoders,
        target: &mut Target<'_>,
    ) -> Result<image::Outcome, DecodeError> {
        let Decoders {
            max_compressed_len,
            zlib,
            zrle,
            tight,
            jpeg: _,
            readers: cache,
            pixels: _,
        } = decoders;
        let readers = readers(cache, target.format, target.colour_map);
        let fb = &mut *target.framebuffer;
        let rect = self.rect;
        if !fb.contains(rect) {
            // The session resized the screen under a half-decoded rectangle.
            return Err(DecodeError::out_of_bounds(rect, fb));
        }
        let progress = match &mut self.state {
            State::Tight(t) => {
                let mut ctx = tight::Context {
                    max_len: *max_compressed_len,
                    streams: tight,
                    format: target.format,
                    px: &readers.pixel,
                };
                let outcome = t.step(rect, input, &mut ctx, fb)?;
                return finish(&mut self.state, outcome);
            }
            State::Jpeg(j) => {
                let outcome = j.step(input, *max_compressed_len)?;
                return finish(&mut self.state, outcome);
            }
            State::Raw(raw) => raw.step(rect, input, &readers.pixel, fb),
            State::CopyRect => copyrect::step(rect, input, fb),
            State::Rre(rre) => rre.step(rect, input, &readers.pixel, fb),
            State::Hextile(hextile) => hextile.step(rect, input, &readers.pixel, fb),
            State::Zlib(z) => z.step(rect, input, *max_compressed_len, zlib, &readers.pixel, fb),
            State::Zrle(z) => z.step(rect, input, *max_compressed_len, zrle, &readers.compact, fb),
            State::Trle(tiles) => tiles.step(rect, input, &readers.compact, fb),
            State::Done => Ok(Progress::Done { consumed: 0 }),
        }?;
        finish(&mut self.state, image::Outcome::Progress(progress))
    }
}

/// Marks the decoder done once its rectangle is complete (an image
/// completes it too: nothing is left to read).
fn finish(state: &mut State, outcome: image::Outcome) -> Result<image::Outcome, DecodeError> {
    if matches!(
        outcome,
        image::Outcome::Progress(Progress::Done { .. }) | image::Outcome::Image { .. }
    ) {
        *state = State::Done;
    }
    Ok(outcome)
}

fn image_bug() -> DecodeError {
    DecodeError::Malformed {
        encoding: "image",
        reason: "an image was left undecoded (a bug in porthole-vnc)",
    }
}

/// `NeedMore` for a unit of `unit` bytes of which `have` are there.
fn need(consumed: usize, unit: usize, have: usize) -> Progress {
    Progress::NeedMore {
        consumed,
        need: unit.saturating_sub(have).max(1),
    }
}

/// The row span of `width` pixels at (`x`, `y`) inside `rect`, which the
/// caller has checked lies inside the screen.
fn rect_row(
    fb: &mut Framebuffer,
    rect: Rect,
    x: usize,
    y: usize,
    width: usize,
) -> Result<&mut [u8], DecodeError> {
    let abs = |base: u16, off: usize| u16::try_from(usize::from(base) + off).ok();
    let fb_size = (fb.width(), fb.height());
    let (ax, ay, w) = (abs(rect.x, x), abs(rect.y, y), u16::try_from(width).ok());
    if let (Some(ax), Some(ay), Some(w)) = (ax, ay, w) {
        if let Some(row) = fb.row_mut(ax, ay, w) {
            return Ok(row);
        }
    }
    Err(DecodeError::OutOfBounds {
        rect,
        fb_width: fb_size.0,
        fb_height: fb_size.1,
    })
}

/// Fills the part (`x`, `y`, `width`, `height`) of `rect`.
fn fill_in(
    fb: &mut Framebuffer,
    rect: Rect,
    (x, y, width, height): (usize, usize, usize, usize),
    colour: [u8; 4],
) -> Result<(), DecodeError> {
    let abs = |base: u16, off: usize| u16::try_from(usize::from(base) + off).ok();
    let area = match (
        abs(rect.x, x),
        abs(rect.y, y),
        u16::try_from(width),
        u16::try_from(height),
    ) {
        (Some(ax), Some(ay), Ok(w), Ok(h)) => Rect::new(ax, ay, w, h),
        _ => return Err(DecodeError::out_of_bounds(rect, fb)),
    };
    if fb.fill(area, colour) {
        Ok(())
    } else {
        Err(DecodeError::out_of_bounds(area, fb))
    }
}

#[cfg(test)]
mod tests;
