//! CopyRect encoding (1): the rectangle is a copy of another area of the
//! screen the client already has.

use super::{need, DecodeError, Progress};
use crate::framebuffer::{Framebuffer, Rect};

/// Reads the 4-byte source position and copies; both areas must be on screen.
pub(super) fn step(
    rect: Rect,
    input: &[u8],
    fb: &mut Framebuffer,
) -> Result<Progress, DecodeError> {
    let Some(&[x0, x1, y0, y1]) = input.first_chunk::<4>() else {
        return Ok(need(0, 4, input.len()));
    };
    let (src_x, src_y) = (u16::from_be_bytes([x0, x1]), u16::from_be_bytes([y0, y1]));
    if !fb.copy_rect(src_x, src_y, rect) {
        return Err(DecodeError::out_of_bounds(
            Rect::new(src_x, src_y, rect.width, rect.height),
            fb,
        ));
    }
    Ok(Progress::Done { consumed: 4 })
}
