//! RRE (2) and CoRRE (4) encodings: a background colour, then solid
//! subrectangles. CoRRE differs only in its 1-byte subrectangle geometry.

use super::{fill_in, need, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

#[derive(Debug)]
pub(super) struct Rre {
    compact: bool,
    /// Subrectangles still to come; `None` until the header is read.
    remaining: Option<u32>,
}

impl Rre {
    pub(super) fn new(compact: bool) -> Self {
        Self {
            compact,
            remaining: None,
        }
    }

    fn name(&self) -> &'static str {
        if self.compact {
            "CoRRE"
        } else {
            "RRE"
        }
    }

    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        px: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let bpp = px.len();
        let mut rest = input;
        let consumed = |rest: &[u8]| input.len() - rest.len();
        let mut remaining = match self.remaining {
            Some(n) => n,
            None => {
                let Some((header, tail)) = rest.split_at_checked(4 + bpp) else {
                    return Ok(need(0, 4 + bpp, rest.len()));
                };
                let (count, background) = header.split_at(4);
                let mut count4 = [0; 4];
                count4.copy_from_slice(count);
                fill_in(
                    fb,
                    rect,
                    (0, 0, rect.width.into(), rect.height.into()),
                    px.read(background),
                )?;
                rest = tail;
                u32::from_be_bytes(count4)
            }
        };
        let geometry = if self.compact { 4 } else { 8 };
        let unit = bpp + geometry;
        while remaining > 0 {
            let Some((sub, tail)) = rest.split_at_checked(unit) else {
                self.remaining = Some(remaining);
                return Ok(need(consumed(rest), unit, rest.len()));
            };
            let (colour, geo) = sub.split_at(bpp);
            let [x, y, w, h] = match *geo {
                [x, y, w, h] => [x, y, w, h].map(usize::from),
                [x0, x1, y0, y1, w0, w1, h0, h1] => [[x0, x1], [y0, y1], [w0, w1], [h0, h1]]
                    .map(|b| usize::from(u16::from_be_bytes(b))),
                _ => [0; 4],
            };
            if x + w > usize::from(rect.width) || y + h > usize::from(rect.height) {
                return Err(DecodeError::Malformed {
                    encoding: self.name(),
                    reason: "a subrectangle extends outside its rectangle",
                });
            }
            fill_in(fb, rect, (x, y, w, h), px.read(colour))?;
            rest = tail;
            remaining -= 1;
        }
        self.remaining = Some(0);
        Ok(Progress::Done {
            consumed: consumed(rest),
        })
    }
}
