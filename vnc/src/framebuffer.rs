//! The client's copy of the remote screen, in the one native pixel layout
//! the widget uploads as-is. Owns pixel storage and rectangle arithmetic;
//! knows nothing of the wire format.

/// A rectangle in framebuffer coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, width: u16, height: u16) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether it covers no pixel.
    pub const fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Pixels it covers (saturating where `usize` is 32 bits).
    pub const fn area(&self) -> usize {
        (self.width as usize).saturating_mul(self.height as usize)
    }

    /// One past the last column, without overflow.
    pub const fn right(&self) -> u32 {
        self.x as u32 + self.width as u32
    }

    /// One past the last row, without overflow.
    pub const fn bottom(&self) -> u32 {
        self.y as u32 + self.height as u32
    }
}

/// The remote screen: `width × height` pixels, 4 bytes each, in memory
/// order B, G, R, A with A always 255 (`GL_BGRA` / `gdk::MemoryFormat::B8g8r8a8`),
/// rows packed (`stride == width * 4`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Framebuffer {
    width: u16,
    height: u16,
    data: Vec<u8>,
}

/// Opaque black, the colour of pixels the server has not drawn yet.
const BLACK: [u8; 4] = [0, 0, 0, 255];

impl Framebuffer {
    /// A black screen. Allocates `width * height * 4` bytes: callers check
    /// sizes from the network against their limits first.
    pub fn new(width: u16, height: u16) -> Self {
        let pixels = usize::from(width) * usize::from(height);
        Self {
            width,
            height,
            data: BLACK.repeat(pixels),
        }
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        usize::from(self.width) * 4
    }

    /// All pixels, row after row, B, G, R, A.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether `rect` lies wholly inside the screen (an empty rectangle on
    /// its edge counts as inside).
    pub fn contains(&self, rect: Rect) -> bool {
        rect.right() <= u32::from(self.width) && rect.bottom() <= u32::from(self.height)
    }

    /// Changes the size, keeping the pixels that stay on screen; new areas
    /// are black.
    pub fn resize(&mut self, width: u16, height: u16) {
        if (width, height) == (self.width, self.height) {
            return;
        }
        let mut resized = Self::new(width, height);
        let keep = usize::from(width.min(self.width)) * 4;
        if keep > 0 {
            let rows = self.data.chunks_exact(self.stride());
            let new_stride = resized.stride();
            for (old, new) in rows.zip(resized.data.chunks_exact_mut(new_stride)) {
                if let (Some(src), Some(dst)) = (old.get(..keep), new.get_mut(..keep)) {
                    dst.copy_from_slice(src);
                }
            }
        }
        *self = resized;
    }

    /// Byte range of `width` pixels of row `y` from column `x`, if on screen.
    fn span(&self, x: u16, y: u16, width: u16) -> Option<std::ops::Range<usize>> {
        if u32::from(x) + u32::from(width) > u32::from(self.width) || y >= self.height {
            return None;
        }
        let start = (usize::from(y) * usize::from(self.width) + usize::from(x)) * 4;
        Some(start..start + usize::from(width) * 4)
    }

    /// `width` pixels of row `y` from column `x`, or `None` if any of them is
    /// off screen.
    pub fn row(&self, x: u16, y: u16, width: u16) -> Option<&[u8]> {
        self.span(x, y, width).and_then(|r| self.data.get(r))
    }

    /// Mutable `width` pixels of row `y` from column `x`, or `None` if any of
    /// them is off screen. Writers must keep A = 255.
    pub fn row_mut(&mut self, x: u16, y: u16, width: u16) -> Option<&mut [u8]> {
        self.span(x, y, width).and_then(|r| self.data.get_mut(r))
    }

    /// Paints `rect` with one B, G, R, A colour; returns false (and paints
    /// nothing) if it is not wholly on screen.
    pub fn fill(&mut self, rect: Rect, colour: [u8; 4]) -> bool {
        if !self.contains(rect) {
            return false;
        }
        if rect.is_empty() {
            return true;
        }
        let stride = self.stride();
        let row_len = usize::from(rect.width) * 4;
        let Some(first) = self.span(rect.x, rect.y, rect.width) else {
            return false;
        };
        if let Some(row) = self.data.get_mut(first.clone()) {
            for px in row.chunks_exact_mut(4) {
                px.copy_from_slice(&colour);
            }
        }
        // The other rows copy the first: memcpy beats pixel stores.
        for row in 1..usize::from(rect.height) {
            let dst = first.start + row * stride;
            if dst + row_len <= self.data.len() {
                self.data.copy_within(first.clone(), dst);
            }
        }
        true
    }

    /// Copies the `dst.width × dst.height` pixels at (`src_x`, `src_y`) to
    /// `dst` (CopyRect); overlapping areas copy as if through a temporary.
    /// Returns false (and copies nothing) unless both areas are on screen.
    pub fn copy_rect(&mut self, src_x: u16, src_y: u16, dst: Rect) -> bool {
        let src = Rect::new(src_x, src_y, dst.width, dst.height);
        if !self.contains(src) || !self.contains(dst) {
            return false;
        }
        let (Some(src_row), Some(dst_row)) = (
            self.span(src.x, src.y, src.width),
            self.span(dst.x, dst.y, dst.width),
        ) else {
            return true;
        };
        let stride = self.stride();
        let copy_row = |data: &mut Vec<u8>, row: usize| {
            let from = src_row.start + row * stride..src_row.end + row * stride;
            let to = dst_row.start + row * stride;
            if from.end <= data.len() && to + from.len() <= data.len() {
                data.copy_within(from, to);
            }
        };
        // Copying downwards must start at the bottom so rows are read before
        // they are overwritten; `copy_within` handles overlap inside a row.
        if src.y < dst.y {
            for row in (0..usize::from(dst.height)).rev() {
                copy_row(&mut self.data, row);
            }
        } else {
            for row in 0..usize::from(dst.height) {
                copy_row(&mut self.data, row);
            }
        }
        true
    }

    /// The whole screen as straight R, G, B, A rows (for PNG).
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        for px in out.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        out
    }

    /// A copy of the pixels of `rect` (B, G, R, A, rows packed), clipped to
    /// the screen: pixels of the rectangle that are off screen are left out.
    pub fn pixels_of(&self, rect: Rect) -> Vec<u8> {
        let width = u16::try_from(
            (u32::from(self.width).min(rect.right())).saturating_sub(u32::from(rect.x)),
        )
        .unwrap_or(0);
        let bottom = u32::from(self.height).min(rect.bottom());
        let mut out = Vec::with_capacity(usize::from(width) * 4 * rect.height as usize);
        for y in u32::from(rect.y)..bottom {
            if let Some(row) = u16::try_from(y)
                .ok()
                .and_then(|y| self.row(rect.x, y, width))
            {
                out.extend_from_slice(row);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
