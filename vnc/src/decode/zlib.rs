//! Zlib encoding (6): Raw pixels compressed with the connection's one
//! Zlib-encoding zlib stream.

use super::inflate::{Block, Stream};
use super::raw::Raw;
use super::{DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

#[derive(Debug, Default)]
pub(super) struct Zlib {
    block: Block,
    raw: Raw,
}

impl Zlib {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        max_len: usize,
        stream: &mut Stream,
        px: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let raw = &mut self.raw;
        self.block.step(input, max_len, stream, "Zlib", |data| {
            raw.step(rect, data, px, fb)
        })
    }
}
