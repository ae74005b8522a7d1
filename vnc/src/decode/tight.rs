//! Tight (7) and TightPNG (-260): a control byte that resets any of the
//! connection's four zlib streams and picks fill, JPEG, PNG (TightPNG) or
//! basic compression; basic compression's copy, palette and gradient
//! filters over `TPIXEL`s; data under 12 bytes sent as is, longer data
//! through the chosen zlib stream, after a 1–3 byte compact length.
//!
//! The header (control byte, filter, palette, length) is parsed only once
//! it has wholly arrived, at most about 1 KB, so the streams are reset
//! exactly once and before the subtype's data, whatever it is. Pixel data
//! is then decoded a pixel or a row at a time as it arrives or is inflated;
//! JPEG and PNG images are gathered whole (bounded by their length) and
//! handed over for decoding into the rectangle they must exactly fill
//! ([`super::image`]).

use std::io::Cursor;

use super::image::{Compressed, Kind, Out, Outcome};
use super::inflate::{Block, Stream};
use super::{fill_in, need, rect_row, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{PixelFormat, PixelReader};

/// Filtered data shorter than this is sent without compression.
const MIN_COMPRESSED: usize = 12;

/// The longest header: control, filter id, palette size, 256 four-byte
/// colours, and a 3-byte length.
const MAX_HEADER: usize = 3 + 256 * 4 + 3;

#[derive(Debug)]
pub(super) struct Tight {
    /// TightPNG: control 0xA means PNG, not basic compression without zlib.
    png: bool,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    Header,
    /// Gathering a whole JPEG or PNG image of `len` bytes.
    Image {
        png: bool,
        len: usize,
        data: Vec<u8>,
    },
    /// Filtered pixel data sent as is.
    Plain(Pixels),
    /// Filtered pixel data through one of the four zlib streams.
    Compressed {
        stream: usize,
        block: Block,
        pixels: Pixels,
    },
}

/// A parsed header and the bytes it took.
enum Parsed {
    /// This many bytes in all are needed before the header can be parsed.
    Need(usize),
    Fill([u8; 4], usize),
    Image {
        png: bool,
        len: usize,
        used: usize,
    },
    Basic {
        /// The zlib stream, or `None` when the data is sent as is.
        stream: Option<(usize, usize)>,
        filter: Filter,
        used: usize,
    },
}

/// Everything a Tight rectangle decodes with.
pub(super) struct Context<'a> {
    pub(super) max_len: usize,
    pub(super) streams: &'a mut [Stream; 4],
    pub(super) format: &'a PixelFormat,
    pub(super) px: &'a PixelReader,
}

fn malformed(reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        encoding: "Tight",
        reason,
    }
}

/// How `TPIXEL`s of a format are read: 3 bytes R, G, B for 32 bpp depth 24
/// true colour with 8-bit channels (rfbproto), else like `PIXEL`s.
#[derive(Clone, Copy)]
struct TPixel<'a> {
    rgb: bool,
    px: &'a PixelReader,
    format: &'a PixelFormat,
}

impl<'a> TPixel<'a> {
    fn new(format: &'a PixelFormat, px: &'a PixelReader) -> Self {
        let rgb = format.true_colour
            && format.bits_per_pixel == 32
            && format.depth == 24
            && (format.red_max, format.green_max, format.blue_max) == (255, 255, 255);
        Self { rgb, px, format }
    }

    fn len(&self) -> usize {
        if self.rgb {
            3
        } else {
            self.px.len()
        }
    }

    fn read(&self, src: &[u8]) -> [u8; 4] {
        match (self.rgb, src) {
            (true, [r, g, b, ..]) => [*b, *g, *r, 255],
            (true, _) => [0, 0, 0, 255],
            (false, _) => self.px.read(src),
        }
    }

    fn convert(&self, src: &[u8], dst: &mut [u8]) {
        if self.rgb {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                if let [r, g, b] = *s {
                    d.copy_from_slice(&[b, g, r, 255]);
                }
            }
        } else {
            self.px.convert(src, dst);
        }
    }

    /// The red, green and blue values of a wire pixel (bytes for 3-byte
    /// `TPIXEL`s, the format's channels otherwise), and their maxima.
    fn components(&self, src: &[u8]) -> [u32; 3] {
        if self.rgb {
            return match *src {
                [r, g, b, ..] => [r, g, b].map(u32::from),
                _ => [0; 3],
            };
        }
        let f = self.format;
        let value = match (f.bits_per_pixel, f.big_endian, src) {
            (32, false, [a, b, c, d, ..]) => u32::from_le_bytes([*a, *b, *c, *d]),
            (32, true, [a, b, c, d, ..]) => u32::from_be_bytes([*a, *b, *c, *d]),
            (16, false, [a, b, ..]) => u32::from(u16::from_le_bytes([*a, *b])),
            (16, true, [a, b, ..]) => u32::from(u16::from_be_bytes([*a, *b])),
            (_, _, [a, ..]) => u32::from(*a),
            _ => 0,
        };
        let channel =
            |max: u16, shift: u8| value.checked_shr(u32::from(shift)).unwrap_or(0) & u32::from(max);
        [
            channel(f.red_max, f.red_shift),
            channel(f.green_max, f.green_shift),
            channel(f.blue_max, f.blue_shift),
        ]
    }

    fn maxima(&self) -> [u32; 3] {
        if self.rgb {
            [255; 3]
        } else {
            let f = self.format;
            [f.red_max, f.green_max, f.blue_max].map(u32::from)
        }
    }

    /// The colour of red, green and blue values.
    fn colour(&self, [r, g, b]: [u32; 3]) -> [u8; 4] {
        if self.rgb {
            let byte = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
            return [byte(b), byte(g), byte(r), 255];
        }
        let f = self.format;
        let place = |v: u32, shift: u8| v.checked_shl(u32::from(shift)).unwrap_or(0);
        let value = place(r, f.red_shift) | place(g, f.green_shift) | place(b, f.blue_shift);
        let bytes = match (f.bits_per_pixel, f.big_endian) {
            (32, false) => value.to_le_bytes(),
            (32, true) => value.to_be_bytes(),
            (16, big) => {
                let v = u16::try_from(value & 0xffff).unwrap_or(0);
                let [a, b] = if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                [a, b, 0, 0]
            }
            _ => [u8::try_from(value & 0xff).unwrap_or(0), 0, 0, 0],
        };
        self.px.read(&bytes)
    }
}

/// Reads a compact length (1–3 bytes) from the start of `src`; `Err` holds
/// how many bytes it needs when they have not all arrived.
pub(super) fn compact_len(src: &[u8]) -> Result<(usize, usize), usize> {
    let mut len = 0;
    for (i, shift) in [0u32, 7, 14].into_iter().enumerate() {
        let Some(&b) = src.get(i) else {
            return Err(i + 1);
        };
        if i == 2 {
            return Ok((len | usize::from(b) << shift, 3));
        }
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((len, i + 1));
        }
    }
    Ok((len, 3))
}

impl Tight {
    pub(super) fn new(png: bool) -> Self {
        Self {
            png,
            phase: Phase::Header,
        }
    }

    fn header(&self, src: &[u8], rect: Rect, tpx: &TPixel<'_>) -> Result<Parsed, DecodeError> {
        let Some(&control) = src.first() else {
            return Ok(Parsed::Need(1));
        };
        let tlen = tpx.len();
        let kind = control >> 4;
        let (zlib, read_filter) = match kind {
            0..=7 => (Some(usize::from(kind & 3)), kind & 4 != 0),
            8 => {
                let Some(colour) = src.get(1..1 + tlen) else {
                    return Ok(Parsed::Need(1 + tlen));
                };
                return Ok(Parsed::Fill(tpx.read(colour), 1 + tlen));
            }
            9 | 0xa if kind == 9 || self.png => {
                let rest = src.get(1..).unwrap_or_default();
                return Ok(match compact_len(rest) {
                    Ok((len, n)) => Parsed::Image {
                        png: kind == 0xa,
                        len,
                        used: 1 + n,
                    },
                    Err(n) => Parsed::Need(1 + n),
                });
            }
            0xa => (None, false),
            0xe if !self.png => (None, true),
            _ => return Err(malformed("the compression control byte names no method")),
        };
        let mut pos = 1;
        let filter_id = if read_filter {
            let Some(&id) = src.get(pos) else {
                return Ok(Parsed::Need(pos + 1));
            };
            pos += 1;
            id
        } else {
            0
        };
        let (width, height) = (usize::from(rect.width), usize::from(rect.height));
        let (filter, data_len) = match filter_id {
            0 => (Filter::Copy, width * height * tlen),
            1 => {
                let Some(&size) = src.get(pos) else {
                    return Ok(Parsed::Need(pos + 1));
                };
                let colours = usize::from(size) + 1;
                pos += 1;
                let Some(palette) = src.get(pos..pos + colours * tlen) else {
                    return Ok(Parsed::Need(pos + colours * tlen));
                };
                pos += colours * tlen;
                let palette: Vec<[u8; 4]> =
                    palette.chunks_exact(tlen).map(|c| tpx.read(c)).collect();
                let len = if colours == 2 {
                    width.div_ceil(8) * height
                } else {
                    width * height
                };
                (Filter::Palette(palette), len)
            }
            2 => {
                if !tpx.format.true_colour {
                    return Err(malformed("the gradient filter needs a true-colour format"));
                }
                (Filter::Gradient, width * height * tlen)
            }
            _ => return Err(malformed("the filter id names no filter")),
        };
        let stream = match zlib {
            Some(stream) if data_len >= MIN_COMPRESSED => {
                match compact_len(src.get(pos..).unwrap_or_default()) {
                    Ok((len, n)) => {
                        pos += n;
                        Some((stream, len))
                    }
                    Err(n) => return Ok(Parsed::Need(pos + n)),
                }
            }
            _ => None,
        };
        Ok(Parsed::Basic {
            stream,
            filter,
            used: pos,
        })
    }

    /// Decodes what `input` holds of the rectangle; a JPEG or PNG image is
    /// handed over whole for the caller to decode (see [`super::image`]).
    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        ctx: &mut Context<'_>,
        fb: &mut Framebuffer,
    ) -> Result<Outcome, DecodeError> {
        let tpx = TPixel::new(ctx.format, ctx.px);
        let mut rest = input;
        loop {
            let consumed = input.len() - rest.len();
            let progress = match &mut self.phase {
                Phase::Header => {
                    let parsed = self.header(rest, rect, &tpx)?;
                    if let Parsed::Need(n) = parsed {
                        return Ok(Outcome::Progress(need(
                            consumed,
                            n.min(MAX_HEADER),
                            rest.len(),
                        )));
                    }
                    // The header is whole: reset before anything else,
                    // whatever the method.
                    let control = rest.first().copied().unwrap_or(0);
                    for (i, stream) in ctx.streams.iter_mut().enumerate() {
                        if control & (1 << i) != 0 {
                            stream.reset();
                        }
                    }
                    let used = match parsed {
                        Parsed::Need(_) => 0,
                        Parsed::Fill(colour, used) => {
                            let (w, h) = (usize::from(rect.width), usize::from(rect.height));
                            fill_in(fb, rect, (0, 0, w, h), colour)?;
                            return Ok(Outcome::Progress(Progress::Done {
                                consumed: consumed + used,
                            }));
                        }
                        Parsed::Image { png, len, used } => {
                            if len > ctx.max_len {
                                return Err(DecodeError::TooLarge {
                                    got: len,
                                    limit: ctx.max_len,
                                });
                            }
                            self.phase = Phase::Image {
                                png,
                                len,
                                data: Vec::new(),
                            };
                            used
                        }
                        Parsed::Basic {
                            stream,
                            filter,
                            used,
                        } => {
                            let pixels = Pixels::new(filter, rect, &tpx);
                            self.phase = match stream {
                                None => Phase::Plain(pixels),
                                Some((stream, len)) => {
                                    if len > ctx.max_len {
                                        return Err(DecodeError::TooLarge {
                                            got: len,
                                            limit: ctx.max_len,
                                        });
                                    }
                                    Phase::Compressed {
                                        stream,
                                        block: Block::with_len(len),
                                        pixels,
                                    }
                                }
                            };
                            used
                        }
                    };
                    rest = rest.get(used..).unwrap_or_default();
                    continue;
                }
                Phase::Image { png, len, data } => {
                    let take = (*len - data.len()).min(rest.len());
                    data.extend_from_slice(rest.get(..take).unwrap_or_default());
                    if data.len() < *len {
                        // Taken as it arrives: asking for the rest at once
                        // would make the session buffer up to 4 MB.
                        return Ok(Outcome::Progress(Progress::NeedMore {
                            consumed: consumed + take,
                            need: 1,
                        }));
                    }
                    let kind = if *png { Kind::Png } else { Kind::Jpeg };
                    let image = Compressed {
                        kind,
                        data: std::mem::take(data),
                    };
                    self.phase = Phase::Header;
                    return Ok(Outcome::Image {
                        consumed: consumed + take,
                        image,
                    });
                }
                Phase::Plain(pixels) => pixels.step(rect, rest, &tpx, fb)?,
                Phase::Compressed {
                    stream,
                    block,
                    pixels,
                } => {
                    let stream = ctx
                        .streams
                        .get_mut(*stream)
                        .ok_or(malformed("no such zlib stream"))?;
                    block.step(rest, ctx.max_len, stream, "Tight", |data| {
                        pixels.step(rect, data, &tpx, fb)
                    })?
                }
            };
            return Ok(Outcome::Progress(match progress {
                Progress::Done { consumed: c } => Progress::Done {
                    consumed: consumed + c,
                },
                Progress::NeedMore { consumed: c, need } => Progress::NeedMore {
                    consumed: consumed + c,
                    need,
                },
            }));
        }
    }
}

/// Basic compression's filters.
#[derive(Debug)]
enum Filter {
    Copy,
    /// 2 to 256 colours; 2 as rows of 1-bit indices, more as 1 byte each.
    Palette(Vec<[u8; 4]>),
    /// Differences from a prediction of each channel.
    Gradient,
}

/// Filtered pixel data being turned into pixels.
#[derive(Debug)]
struct Pixels {
    filter: Filter,
    /// The next pixel, counted row-major.
    next: usize,
    /// Gradient: the channels of the previous row and of this one so far.
    prev: Vec<[u32; 3]>,
    cur: Vec<[u32; 3]>,
}

impl Pixels {
    fn new(filter: Filter, rect: Rect, _tpx: &TPixel<'_>) -> Self {
        let rows = if matches!(filter, Filter::Gradient) {
            usize::from(rect.width)
        } else {
            0
        };
        Self {
            filter,
            next: 0,
            prev: vec![[0; 3]; rows],
            cur: vec![[0; 3]; rows],
        }
    }

    /// Decodes the whole pixels (or 1-bit rows) `data` holds; `Done` once
    /// the rectangle is complete, with nothing consumed on later calls.
    fn step(
        &mut self,
        rect: Rect,
        data: &[u8],
        tpx: &TPixel<'_>,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let width = usize::from(rect.width);
        let total = rect.area();
        let mut rest = data;
        while self.next < total {
            let consumed = data.len() - rest.len();
            let (row, col) = (self.next / width, self.next % width);
            match &self.filter {
                Filter::Palette(colours) if colours.len() == 2 => {
                    let row_len = width.div_ceil(8);
                    let Some((bits, tail)) = rest.split_at_checked(row_len) else {
                        return Ok(need(consumed, row_len, rest.len()));
                    };
                    let out = rect_row(fb, rect, 0, row, width)?;
                    for (i, px) in out.chunks_exact_mut(4).enumerate() {
                        let byte = bits.get(i / 8).copied().unwrap_or(0);
                        let bit = usize::from(byte >> (7 - i % 8) & 1);
                        px.copy_from_slice(colours.get(bit).unwrap_or(&[0, 0, 0, 255]));
                    }
                    rest = tail;
                    self.next += width;
                }
                Filter::Palette(colours) => {
                    let n = (width - col).min(rest.len());
                    if n == 0 {
                        return Ok(need(consumed, 1, 0));
                    }
                    let (indices, tail) = rest.split_at(n);
                    let out = rect_row(fb, rect, col, row, n)?;
                    for (px, &i) in out.chunks_exact_mut(4).zip(indices) {
                        let colour = colours
                            .get(usize::from(i))
                            .ok_or(malformed("a palette index is past the palette"))?;
                        px.copy_from_slice(colour);
                    }
                    rest = tail;
                    self.next += n;
                }
                Filter::Copy => {
                    let tlen = tpx.len();
                    let n = (width - col).min(rest.len() / tlen);
                    if n == 0 {
                        return Ok(need(consumed, tlen, rest.len()));
                    }
                    let (src, tail) = rest.split_at(n * tlen);
                    tpx.convert(src, rect_row(fb, rect, col, row, n)?);
                    rest = tail;
                    self.next += n;
                }
                Filter::Gradient => {
                    let tlen = tpx.len();
                    let n = (width - col).min(rest.len() / tlen);
                    if n == 0 {
                        return Ok(need(consumed, tlen, rest.len()));
                    }
                    let (src, tail) = rest.split_at(n * tlen);
                    let [m0, m1, m2] = tpx.maxima();
                    // Channel maxima are 2^n - 1 in every real format, so
                    // the wrap is a mask; other maxima take the modulo.
                    let masks = [m0, m1, m2].iter().all(|m| (m + 1).is_power_of_two());
                    let channel = |l: u32, u: u32, ul: u32, d: u32, max: u32| {
                        let predicted = (l + u).saturating_sub(ul).min(max);
                        if masks {
                            (predicted + d) & max
                        } else {
                            (predicted + d) % (max + 1)
                        }
                    };
                    let before = col.checked_sub(1);
                    let mut left = before
                        .and_then(|l| self.cur.get(l))
                        .copied()
                        .unwrap_or_default();
                    let mut up_left = before
                        .and_then(|l| self.prev.get(l))
                        .copied()
                        .unwrap_or_default();
                    let out = rect_row(fb, rect, col, row, n)?;
                    let ups = self.prev.get(col..col + n).unwrap_or_default();
                    let cur = self.cur.get_mut(col..col + n).unwrap_or_default();
                    let pixels = out.chunks_exact_mut(4).zip(src.chunks_exact(tlen));
                    for (((px, diff), &up), slot) in pixels.zip(ups).zip(cur) {
                        let [d0, d1, d2] = tpx.components(diff);
                        let ([l0, l1, l2], [u0, u1, u2], [ul0, ul1, ul2]) = (left, up, up_left);
                        let value = [
                            channel(l0, u0, ul0, d0, m0),
                            channel(l1, u1, ul1, d1, m1),
                            channel(l2, u2, ul2, d2, m2),
                        ];
                        *slot = value;
                        left = value;
                        up_left = up;
                        px.copy_from_slice(&tpx.colour(value));
                    }
                    rest = tail;
                    self.next += n;
                    if col + n == width {
                        std::mem::swap(&mut self.prev, &mut self.cur);
                    }
                }
            }
        }
        Ok(Progress::Done {
            consumed: data.len() - rest.len(),
        })
    }
}

/// Decodes a PNG image that must exactly fill `rect` into `out`. Its size
/// is checked from its header before any pixel is decoded, and the decoder
/// may not allocate much more than the rectangle's 16-bit RGBA size.
pub(super) fn decode_png(data: &[u8], rect: Rect, mut out: Out<'_>) -> Result<(), DecodeError> {
    let (width, height) = (usize::from(rect.width), usize::from(rect.height));
    let image_error = |e: png::DecodingError| DecodeError::Image(format!("PNG: {e}"));
    let limits = png::Limits {
        bytes: width * height * 8 + (1 << 20),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(data), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(image_error)?;
    let info = reader.info();
    if (usize::try_from(info.width), usize::try_from(info.height)) != (Ok(width), Ok(height)) {
        return Err(DecodeError::Malformed {
            encoding: "TightPNG",
            reason: "the PNG image is not the size of its rectangle",
        });
    }
    if rect.is_empty() {
        return Ok(());
    }
    out.prepare();
    let size = reader.output_buffer_size().ok_or(DecodeError::Malformed {
        encoding: "TightPNG",
        reason: "the PNG image is too large",
    })?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(image_error)?;
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(DecodeError::Image("PNG: palette left unexpanded".into()))
        }
    };
    if frame.bit_depth != png::BitDepth::Eight || frame.width as usize != width {
        return Err(DecodeError::Image("PNG: unexpected output layout".into()));
    }
    for (y, src) in buf.chunks(frame.line_size).take(height).enumerate() {
        let row = out.row(y)?;
        for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(channels)) {
            let [r, g, b] = match *s {
                [v] | [v, _] => [v; 3],
                [r, g, b] | [r, g, b, _] => [r, g, b],
                _ => [0; 3],
            };
            d.copy_from_slice(&[b, g, r, 255]);
        }
    }
    Ok(())
}
