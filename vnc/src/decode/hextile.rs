//! Hextile encoding (5): 16×16 tiles, each raw or a background with
//! subrectangles. Background and foreground carry over from tile to tile
//! within the rectangle.

use super::{fill_in, need, rect_row, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

const TILE: usize = 16;
const RAW: u8 = 1;
const BACKGROUND: u8 = 2;
const FOREGROUND: u8 = 4;
const ANY_SUBRECTS: u8 = 8;
const SUBRECTS_COLOURED: u8 = 16;

#[derive(Debug)]
pub(super) struct Hextile {
    /// The next tile, counted row-major.
    tile: usize,
    /// Black until the server names colours, as other viewers do: rfbproto
    /// requires the first non-raw tile to set the background, but a server
    /// that forgets should not cost the connection.
    background: [u8; 4],
    foreground: [u8; 4],
}

fn malformed(reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        encoding: "Hextile",
        reason,
    }
}

impl Hextile {
    pub(super) fn new() -> Self {
        Self {
            tile: 0,
            background: [0, 0, 0, 255],
            foreground: [0, 0, 0, 255],
        }
    }

    /// Decodes every whole tile in `input`; a tile is at most ~1.5 KB, so
    /// waiting for a whole one keeps the work linear.
    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        px: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let (width, height) = (usize::from(rect.width), usize::from(rect.height));
        let columns = width.div_ceil(TILE);
        let total = columns * height.div_ceil(TILE);
        let bpp = px.len();
        let mut rest = input;
        while self.tile < total {
            let consumed = input.len() - rest.len();
            let (tx, ty) = ((self.tile % columns) * TILE, (self.tile / columns) * TILE);
            let (tw, th) = (TILE.min(width - tx), TILE.min(height - ty));
            let Some(&flags) = rest.first() else {
                return Ok(need(consumed, 1, 0));
            };
            if flags & RAW != 0 {
                let len = 1 + tw * th * bpp;
                let Some((tile, tail)) = rest.split_at_checked(len) else {
                    return Ok(need(consumed, len, rest.len()));
                };
                let pixels = tile.get(1..).unwrap_or_default();
                for (row, src) in pixels.chunks_exact(tw * bpp).enumerate() {
                    px.convert(src, rect_row(fb, rect, tx, ty + row, tw)?);
                }
                rest = tail;
            } else {
                let coloured = flags & SUBRECTS_COLOURED != 0;
                let mut header = 1;
                for bit in [BACKGROUND, FOREGROUND] {
                    if flags & bit != 0 {
                        header += bpp;
                    }
                }
                if flags & ANY_SUBRECTS != 0 {
                    header += 1;
                }
                let Some(head) = rest.get(..header) else {
                    return Ok(need(consumed, header, rest.len()));
                };
                let count = if flags & ANY_SUBRECTS != 0 {
                    usize::from(head.last().copied().unwrap_or(0))
                } else {
                    0
                };
                let unit = if coloured { bpp + 2 } else { 2 };
                let len = header + count * unit;
                let Some((tile, tail)) = rest.split_at_checked(len) else {
                    return Ok(need(consumed, len, rest.len()));
                };
                let mut fields = tile.get(1..).unwrap_or_default();
                if flags & BACKGROUND != 0 {
                    self.background = px.read(fields);
                    fields = fields.get(bpp..).unwrap_or_default();
                }
                if flags & FOREGROUND != 0 {
                    self.foreground = px.read(fields);
                }
                fill_in(fb, rect, (tx, ty, tw, th), self.background)?;
                let subrects = tile.get(header..).unwrap_or_default();
                for sub in subrects.chunks_exact(unit) {
                    let (colour, geometry) = sub.split_at(unit - 2);
                    let colour = if coloured {
                        px.read(colour)
                    } else {
                        self.foreground
                    };
                    let [xy, wh] = match *geometry {
                        [xy, wh] => [xy, wh].map(usize::from),
                        _ => [0; 2],
                    };
                    let (sx, sy, sw, sh) = (xy >> 4, xy & 15, (wh >> 4) + 1, (wh & 15) + 1);
                    if sx + sw > tw || sy + sh > th {
                        return Err(malformed("a subrectangle extends outside its tile"));
                    }
                    fill_in(fb, rect, (tx + sx, ty + sy, sw, sh), colour)?;
                }
                rest = tail;
            }
            self.tile += 1;
        }
        Ok(Progress::Done {
            consumed: input.len() - rest.len(),
        })
    }
}
