//! ZRLE encoding (16): TRLE's tiles at 64×64, compressed with the
//! connection's one ZRLE zlib stream, without TRLE's palette reuse.

use super::inflate::{Block, Stream};
use super::trle::{Tiles, ZRLE_TILE};
use super::{DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelReader;

#[derive(Debug)]
pub(super) struct Zrle {
    block: Block,
    tiles: Tiles,
}

impl Zrle {
    pub(super) fn new() -> Self {
        Self {
            block: Block::default(),
            tiles: Tiles::new(ZRLE_TILE, false),
        }
    }

    pub(super) fn step(
        &mut self,
        rect: Rect,
        input: &[u8],
        max_len: usize,
        stream: &mut Stream,
        cpx: &PixelReader,
        fb: &mut Framebuffer,
    ) -> Result<Progress, DecodeError> {
        let tiles = &mut self.tiles;
        self.block.step(input, max_len, stream, "ZRLE", |data| {
            tiles.step(rect, data, cpx, fb)
        })
    }
}
