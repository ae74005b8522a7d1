//! TRLE encoding (15), and the tile logic it shares with ZRLE: tiles that
//! are raw, solid, packed-palette, plain RLE or palette RLE, of compact
//! pixels (`CPIXEL`). TRLE's 16×16 tiles come uncompressed and may reuse the
//! previous tile's palette (subencodings 127 and 129); ZRLE's are 64×64.
//!
//! Each tile is built in a small buffer and copied to the framebuffer when
//! complete, so runs crossing rows are plain contiguous fills. Parsing stops
//! at any unit (palette, packed row, run, raw pixel) that has not fully
//! arrived and resumes there.

use super::{fill_in, need, rect_row, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

pub(super) const TRLE_TILE: usize = 16;
pub(super) const ZRLE_TILE: usize = 64;

#[derive(Debug)]
pub(super) struct Tiles {
    size: usize,
    /// TRLE's palette reuse (127, 129) is allowed.
    reuse: bool,
    /// The next tile, counted row-major.
    tile: usize,
    state: TileState,
    palette: [[u8; 4]; 128],
    /// Entries of `palette` in use; 0 until a tile sets one.
    palette_len: usize,
    /// The tile being built, B, G, R, A, rows of the tile's width.
    pixels: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
enum TileState {
    Start,
    Raw { next: usize },
    Packed { row: usize, bits: usize },
    PlainRle { next: usize },
    PaletteRle { next: usize },
}

/// A tile's place in its rectangle.
#[derive(Clone, Copy)]
struct Geometry {
    x: usize,
    y: usize,
    width: usize,
    height: usize,
}

impl Geometry {
    fn area(&self) -> usize {
        self.width * self.height
    }
}

impl Tiles {
    pub(super) fn new(size: usize, reuse: bool) -> Self {
        Self {
            size,
            reuse,
            tile: 0,
            state: TileState::Start,
            palette: [[0, 0, 0, 255]; 128],
            palette_len: 0,
            pixels: vec![0; size * size * 4],
        }
    }

    fn malformed(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed {
            encoding: if self.reuse { "TRLE" } else { "ZRLE" },
            reason,
        }
    }

    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        cpx: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let (width, height) = (usize::from(rect.width), usize::from(rect.height));
        let columns = width.div_ceil(self.size);
        let total = columns * height.div_ceil(self.size);
        let clen = cpx.len();
        let mut rest = input;
        while self.tile < total {
            let consumed = input.len() - rest.len();
            let (x, y) = (
                (self.tile % columns) * self.size,
                (self.tile / columns) * self.size,
            );
            let g = Geometry {
                x,
                y,
                width: self.size.min(width - x),
                height: self.size.min(height - y),
            };
            let area = g.area();
            match self.state {
                TileState::Start => {
                    let Some(&sub) = rest.first() else {
                        return Ok(need(consumed, 1, 0));
                    };
                    match sub {
                        0 => self.state = TileState::Raw { next: 0 },
                        1 => {
                            let Some(colour) = rest.get(1..1 + clen) else {
                                return Ok(need(consumed, 1 + clen, rest.len()));
                            };
                            let colour = cpx.read(colour);
                            self.palette[0] = colour;
                            self.palette_len = 1;
                            fill_in(fb, rect, (g.x, g.y, g.width, g.height), colour)?;
                            rest = rest.get(1 + clen..).unwrap_or_default();
                            self.tile += 1;
                            continue;
                        }
                        2..=16 | 130..=255 => {
                            let size = usize::from(sub & 127);
                            let Some(palette) = rest.get(1..1 + size * clen) else {
                                return Ok(need(consumed, 1 + size * clen, rest.len()));
                            };
                            for (slot, src) in
                                self.palette.iter_mut().zip(palette.chunks_exact(clen))
                            {
                                *slot = cpx.read(src);
                            }
                            self.palette_len = size;
                            self.state = if sub <= 16 {
                                TileState::Packed {
                                    row: 0,
                                    bits: packed_bits(size),
                                }
                            } else {
                                TileState::PaletteRle { next: 0 }
                            };
                            rest = rest.get(1 + size * clen..).unwrap_or_default();
                            continue;
                        }
                        127 if self.reuse => match self.palette_len {
                            1 => {
                                // The previous tile was solid: so is this one.
                                fill_in(fb, rect, (g.x, g.y, g.width, g.height), self.palette[0])?;
                                rest = rest.get(1..).unwrap_or_default();
                                self.tile += 1;
                                continue;
                            }
                            2..=16 => {
                                self.state = TileState::Packed {
                                    row: 0,
                                    bits: packed_bits(self.palette_len),
                                }
                            }
                            _ => {
                                return Err(self.malformed(
                                    "a tile reuses a palette that no packed tile could use",
                                ))
                            }
                        },
                        128 => self.state = TileState::PlainRle { next: 0 },
                        129 if self.reuse => {
                            if self.palette_len == 0 {
                                return Err(
                                    self.malformed("a tile reuses a palette before any was sent")
                                );
                            }
                            self.state = TileState::PaletteRle { next: 0 };
                        }
                        _ => return Err(self.malformed("a tile uses an undefined subencoding")),
                    }
                    rest = rest.get(1..).unwrap_or_default();
                }
                TileState::Raw { next } => {
                    let pixels = (area - next).min(rest.len() / clen);
                    if pixels == 0 {
                        return Ok(need(consumed, clen, rest.len()));
                    }
                    let (src, tail) = rest.split_at(pixels * clen);
                    if let Some(dst) = self.pixels.get_mut(next * 4..(next + pixels) * 4) {
                        cpx.convert(src, dst);
                    }
                    rest = tail;
                    self.advance(next + pixels, area, g, rect, fb)?;
                }
                TileState::Packed { row, bits } => {
                    let row_len = (g.width * bits).div_ceil(8);
                    let rows = (g.height - row).min(rest.len() / row_len);
                    if rows == 0 {
                        return Ok(need(consumed, row_len, rest.len()));
                    }
                    let (src, tail) = rest.split_at(rows * row_len);
                    self.unpack(src, row_len, row, bits, g.width)?;
                    rest = tail;
                    let row = row + rows;
                    if row == g.height {
                        self.finish_tile(g, rect, fb)?;
                    } else {
                        self.state = TileState::Packed { row, bits };
                    }
                }
                TileState::PlainRle { mut next } => {
                    while next < area {
                        let Some((colour, lengths)) = rest.split_at_checked(clen) else {
                            break;
                        };
                        let Some((run, used)) = self.run_length(lengths, area - next)? else {
                            break;
                        };
                        fill(&mut self.pixels, next, run, cpx.read(colour));
                        next += run;
                        rest = lengths.get(used..).unwrap_or_default();
                    }
                    if next < area {
                        self.state = TileState::PlainRle { next };
                        let consumed = input.len() - rest.len();
                        return Ok(need(consumed, rest.len() + 1, rest.len()));
                    }
                    self.finish_tile(g, rect, fb)?;
                }
                TileState::PaletteRle { mut next } => {
                    while next < area {
                        let Some((&index, lengths)) = rest.split_first() else {
                            break;
                        };
                        let entry = usize::from(index & 127);
                        if entry >= self.palette_len {
                            return Err(self.malformed("a pixel names a colour beyond its palette"));
                        }
                        let colour = self.palette.get(entry).copied().unwrap_or_default();
                        let (run, used) = if index & 128 == 0 {
                            (1, 0)
                        } else {
                            match self.run_length(lengths, area - next)? {
                                Some(run) => run,
                                None => break,
                            }
                        };
                        fill(&mut self.pixels, next, run, colour);
                        next += run;
                        rest = lengths.get(used..).unwrap_or_default();
                    }
                    if next < area {
                        self.state = TileState::PaletteRle { next };
                        let consumed = input.len() - rest.len();
                        return Ok(need(consumed, rest.len() + 1, rest.len()));
                    }
                    self.finish_tile(g, rect, fb)?;
                }
            }
        }
        Ok(Progress::Done {
            consumed: input.len() - rest.len(),
        })
    }

    /// Records that the raw tile has `next` of its `area` pixels.
    fn advance(
        &mut self,
        next: usize,
        area: usize,
        g: Geometry,
        rect: Rect,
        fb: &mut Framebuffer,
    ) -> Result<(), DecodeError> {
        if next == area {
            self.finish_tile(g, rect, fb)
        } else {
            self.state = TileState::Raw { next };
            Ok(())
        }
    }

    /// Copies the finished tile into the framebuffer and moves to the next.
    fn finish_tile(
        &mut self,
        g: Geometry,
        rect: Rect,
        fb: &mut Framebuffer,
    ) -> Result<(), DecodeError> {
        let stride = g.width * 4;
        let tile = self.pixels.get(..g.area() * 4).unwrap_or_default();
        for (row, src) in tile.chunks_exact(stride).enumerate() {
            rect_row(fb, rect, g.x, g.y + row, g.width)?.copy_from_slice(src);
        }
        self.state = TileState::Start;
        self.tile += 1;
        Ok(())
    }

    /// Unpacks whole rows of palette indices, `bits` each, from row `first`.
    fn unpack(
        &mut self,
        src: &[u8],
        row_len: usize,
        first: usize,
        bits: usize,
        width: usize,
    ) -> Result<(), DecodeError> {
        let stride = width * 4;
        let mask = (1u8 << bits) - 1;
        let per_byte = 8 / bits;
        let palette_len = self.palette_len;
        let mut bad = false;
        let tile = self.pixels.get_mut(first * stride..).unwrap_or_default();
        for (packed, row) in src.chunks_exact(row_len).zip(tile.chunks_exact_mut(stride)) {
            let mut out = row.chunks_exact_mut(4);
            for &byte in packed {
                for k in (0..per_byte).rev() {
                    let index = usize::from((byte >> (k * bits)) & mask);
                    let Some(px) = out.next() else {
                        break;
                    };
                    bad |= index >= palette_len;
                    px.copy_from_slice(self.palette.get(index).unwrap_or(&[0, 0, 0, 255]));
                }
            }
        }
        if bad {
            Err(self.malformed("a pixel names a colour beyond its palette"))
        } else {
            Ok(())
        }
    }

    /// A run length (one more than the sum of its bytes, which continue while
    /// 255) from `bytes`: `Some((length, bytes used))`, or `None` if it has
    /// not fully arrived. Longer than `max` is malformed.
    fn run_length(&self, bytes: &[u8], max: usize) -> Result<Option<(usize, usize)>, DecodeError> {
        let mut run = 1;
        for (i, &b) in bytes.iter().enumerate() {
            run += usize::from(b);
            if run > max {
                return Err(self.malformed("a run extends past the end of its tile"));
            }
            if b != 255 {
                return Ok(Some((run, i + 1)));
            }
        }
        Ok(None)
    }
}

/// Bits per packed index for a palette of `size` colours (2–16).
fn packed_bits(size: usize) -> usize {
    match size {
        0..=2 => 1,
        3..=4 => 2,
        _ => 4,
    }
}

/// Paints `len` pixels of the tile buffer from pixel `from`.
#[inline]
fn fill(pixels: &mut [u8], from: usize, len: usize, colour: [u8; 4]) {
    if let Some(span) = pixels.get_mut(from * 4..(from + len) * 4) {
        for px in span.chunks_exact_mut(4) {
            px.copy_from_slice(&colour);
        }
    }
}
