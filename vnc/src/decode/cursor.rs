//! The Cursor (-239) and XCursor (-240) pseudo-encodings: cursor shapes the
//! client draws itself. Turns their bytes into straight RGBA images; the
//! session owns waiting for the bytes and the hotspot.

use super::DecodeError;
use crate::pixel::{ColourMap, PixelFormat, PixelReader};

/// A cursor shape as straight (not premultiplied) R, G, B, A rows;
/// transparent pixels are all zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CursorImage {
    pub width: u16,
    pub height: u16,
    /// The hotspot; the decoders leave it 0 for the caller to set from the
    /// pseudo-rectangle's position.
    pub hot_x: u16,
    pub hot_y: u16,
    pub rgba: Vec<u8>,
}

/// Bytes of one row of a 1-bit mask or bitmap.
fn mask_row(width: u16) -> usize {
    usize::from(width).div_ceil(8)
}

/// Bytes of a rich cursor's data: pixels, then the validity bitmask.
pub fn rich_len(width: u16, height: u16, bytes_per_pixel: usize) -> usize {
    let pixels = usize::from(width) * usize::from(height);
    pixels * bytes_per_pixel + mask_row(width) * usize::from(height)
}

/// Bytes of an X cursor's data: two RGB colours, then bitmap and bitmask;
/// nothing when the cursor is empty.
pub fn x_len(width: u16, height: u16) -> usize {
    if width == 0 || height == 0 {
        0
    } else {
        6 + 2 * mask_row(width) * usize::from(height)
    }
}

fn too_short(encoding: &'static str) -> DecodeError {
    DecodeError::Malformed {
        encoding,
        reason: "the cursor data is shorter than its size needs",
    }
}

/// Whether bit `x` of a mask row is set (most significant bit leftmost).
fn bit(row: &[u8], x: usize) -> bool {
    row.get(x / 8).is_some_and(|b| b & (0x80 >> (x % 8)) != 0)
}

/// Decodes a rich cursor: `width × height` pixels of `format`, then a mask
/// whose 1 bits mark visible pixels. Extra bytes are ignored.
pub fn rich(
    data: &[u8],
    width: u16,
    height: u16,
    format: &PixelFormat,
    map: &ColourMap,
) -> Result<CursorImage, DecodeError> {
    if format.validate().is_err() {
        return Err(DecodeError::Malformed {
            encoding: "Cursor",
            reason: "the cursor's pixel format is not valid",
        });
    }
    let bpp = format.bytes_per_pixel();
    if data.len() < rich_len(width, height, bpp) {
        return Err(too_short("Cursor"));
    }
    let (w, h) = (usize::from(width), usize::from(height));
    let mut rgba = vec![0; w * h * 4];
    if w > 0 && h > 0 {
        let (pixels, mask) = data.split_at(w * h * bpp);
        let reader = PixelReader::new(format, map);
        let rows = pixels
            .chunks_exact(w * bpp)
            .zip(mask.chunks_exact(mask_row(width)));
        for ((src, mask), out) in rows.zip(rgba.chunks_exact_mut(w * 4)) {
            for (x, (px, dst)) in src
                .chunks_exact(bpp)
                .zip(out.chunks_exact_mut(4))
                .enumerate()
            {
                if bit(mask, x) {
                    let [b, g, r, _] = reader.read(px);
                    dst.copy_from_slice(&[r, g, b, 255]);
                }
            }
        }
    }
    Ok(CursorImage {
        width,
        height,
        rgba,
        ..CursorImage::default()
    })
}

/// Decodes an X cursor: primary and secondary R, G, B, then a bitmap (1 =
/// primary) and a mask (1 = visible). Extra bytes are ignored.
pub fn x_cursor(data: &[u8], width: u16, height: u16) -> Result<CursorImage, DecodeError> {
    if data.len() < x_len(width, height) {
        return Err(too_short("XCursor"));
    }
    let (w, h) = (usize::from(width), usize::from(height));
    let mut rgba = vec![0; w * h * 4];
    if let Some((&[pr, pg, pb, sr, sg, sb], rest)) = data.split_first_chunk::<6>() {
        let row = mask_row(width);
        if w > 0 && h > 0 {
            let (bitmap, mask) = rest.split_at(row * h);
            let rows = bitmap.chunks_exact(row).zip(mask.chunks_exact(row));
            for ((bits, mask), out) in rows.zip(rgba.chunks_exact_mut(w * 4)) {
                for (x, dst) in out.chunks_exact_mut(4).enumerate() {
                    if bit(mask, x) {
                        let [r, g, b] = if bit(bits, x) {
                            [pr, pg, pb]
                        } else {
                            [sr, sg, sb]
                        };
                        dst.copy_from_slice(&[r, g, b, 255]);
                    }
                }
            }
        }
    }
    Ok(CursorImage {
        width,
        height,
        rgba,
        ..CursorImage::default()
    })
}
