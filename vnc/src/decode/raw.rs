//! Raw encoding (0): the rectangle's pixels, row after row. Also the
//! content of the Zlib encoding once inflated.

use super::{need, rect_row, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

/// Where a Raw rectangle has got to: the next pixel, counted row-major.
#[derive(Debug, Default)]
pub(super) struct Raw {
    next: usize,
}

impl Raw {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Converts every whole pixel in `input` straight into the framebuffer.
    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        px: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let width = usize::from(rect.width);
        let total = rect.area();
        let bpp = px.len();
        let mut rest = input;
        while self.next < total {
            let (row, col) = (self.next / width, self.next % width);
            let pixels = (width - col).min(rest.len() / bpp);
            if pixels == 0 {
                return Ok(need(input.len() - rest.len(), bpp, rest.len()));
            }
            let Some((src, tail)) = rest.split_at_checked(pixels * bpp) else {
                break;
            };
            px.convert(src, rect_row(fb, rect, col, row, pixels)?);
            rest = tail;
            self.next += pixels;
        }
        Ok(Progress::Done {
            consumed: input.len() - rest.len(),
        })
    }
}
