//! RFB pixel formats (the 16-byte PIXEL_FORMAT structure), colour maps, and
//! conversion of wire pixels into the framebuffer's native B, G, R, A bytes.
//! Owns no framebuffer and no wire parsing beyond single pixels.

mod convert;

pub use convert::PixelReader;

/// An RFB pixel format as sent in ServerInit and SetPixelFormat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub red_max: u16,
    pub green_max: u16,
    pub blue_max: u16,
    pub red_shift: u8,
    pub green_shift: u8,
    pub blue_shift: u8,
}

/// Why a pixel format cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PixelFormatError {
    #[error("{0} bits per pixel is not a valid RFB pixel size (8, 16 or 32)")]
    BitsPerPixel(u8),
    #[error("a colour depth of {depth} does not fit in {bits_per_pixel} bits per pixel")]
    Depth { depth: u8, bits_per_pixel: u8 },
    #[error("the {channel} channel (maximum {max}, shift {shift}) does not fit in {bits_per_pixel} bits per pixel")]
    Channel {
        channel: &'static str,
        max: u16,
        shift: u8,
        bits_per_pixel: u8,
    },
}

impl PixelFormat {
    /// The framebuffer's own layout: 32 bpp, depth 24, little-endian true
    /// colour with red at bit 16, green at 8 and blue at 0. Its wire bytes are
    /// B, G, R, X — exactly [`crate::Framebuffer`]'s memory order, so raw
    /// pixels in this format are copied as they are.
    pub const NATIVE: Self = Self {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// Reads the 16-byte wire structure (the 3 padding bytes are ignored)
    /// and checks it with [`Self::validate`].
    pub fn parse(bytes: &[u8; 16]) -> Result<Self, PixelFormatError> {
        let [bpp, depth, be, tc, rm0, rm1, gm0, gm1, bm0, bm1, rs, gs, bs, _, _, _] = *bytes;
        let format = Self {
            bits_per_pixel: bpp,
            depth,
            big_endian: be != 0,
            true_colour: tc != 0,
            red_max: u16::from_be_bytes([rm0, rm1]),
            green_max: u16::from_be_bytes([gm0, gm1]),
            blue_max: u16::from_be_bytes([bm0, bm1]),
            red_shift: rs,
            green_shift: gs,
            blue_shift: bs,
        };
        format.validate()?;
        Ok(format)
    }

    /// The 16-byte wire structure, padding zeroed.
    pub fn to_bytes(&self) -> [u8; 16] {
        let [rm0, rm1] = self.red_max.to_be_bytes();
        let [gm0, gm1] = self.green_max.to_be_bytes();
        let [bm0, bm1] = self.blue_max.to_be_bytes();
        [
            self.bits_per_pixel,
            self.depth,
            u8::from(self.big_endian),
            u8::from(self.true_colour),
            rm0,
            rm1,
            gm0,
            gm1,
            bm0,
            bm1,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
            0,
            0,
            0,
        ]
    }

    /// Bytes of one `PIXEL` on the wire (1, 2 or 4 for a valid format).
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Checks what decoding relies on: 8, 16 or 32 bits per pixel, a depth
    /// that fits, and for true colour non-zero channel maxima whose bits,
    /// shifted, stay inside the pixel. Colour-mapped formats of any of the
    /// three sizes are accepted; values past the map's 256 entries are black.
    pub fn validate(&self) -> Result<(), PixelFormatError> {
        if !matches!(self.bits_per_pixel, 8 | 16 | 32) {
            return Err(PixelFormatError::BitsPerPixel(self.bits_per_pixel));
        }
        if self.depth > self.bits_per_pixel {
            return Err(PixelFormatError::Depth {
                depth: self.depth,
                bits_per_pixel: self.bits_per_pixel,
            });
        }
        if self.true_colour {
            for (channel, max, shift) in [
                ("red", self.red_max, self.red_shift),
                ("green", self.green_max, self.green_shift),
                ("blue", self.blue_max, self.blue_shift),
            ] {
                let bits = u16::BITS - max.leading_zeros();
                if max == 0 || u32::from(shift) + bits > u32::from(self.bits_per_pixel) {
                    return Err(PixelFormatError::Channel {
                        channel,
                        max,
                        shift,
                        bits_per_pixel: self.bits_per_pixel,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether ZRLE and TRLE send this format's pixels as 3-byte `CPIXEL`s,
    /// and if so which three of the four wire bytes: `Some(0)` for the first
    /// three, `Some(1)` for the last three.
    ///
    /// rfbproto: true colour, 32 bpp, depth ≤ 24, and every colour bit in the
    /// three least or the three most significant bytes. When both hold, the
    /// first three wire bytes are taken, which is what TigerVNC's, QEMU's and
    /// libvncserver's encoders send.
    pub fn compact_pixel_offset(&self) -> Option<usize> {
        if !self.true_colour || self.bits_per_pixel != 32 || self.depth > 24 {
            return None;
        }
        let used = [
            (self.red_max, self.red_shift),
            (self.green_max, self.green_shift),
            (self.blue_max, self.blue_shift),
        ]
        .iter()
        .fold(0u64, |acc, &(max, shift)| {
            acc | u64::from(max)
                .checked_shl(u32::from(shift))
                .unwrap_or(u64::MAX)
        });
        let fits_low = used < 1 << 24;
        let fits_high = used <= u64::from(u32::MAX) && used & 0xff == 0;
        match (fits_low, fits_high, self.big_endian) {
            (true, _, false) | (_, true, true) => Some(0),
            (true, _, true) | (_, true, false) => Some(1),
            _ => None,
        }
    }
}

/// The colour map used by colour-mapped pixel formats, set by the server's
/// `SetColourMapEntries`: 256 entries of native B, G, R, A (initially black).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColourMap {
    entries: Vec<[u8; 4]>,
}

impl Default for ColourMap {
    fn default() -> Self {
        Self::new()
    }
}

impl ColourMap {
    /// Entries a map holds; pixel values at or past this are drawn black.
    pub const LEN: usize = 256;

    /// A map of 256 black entries.
    pub fn new() -> Self {
        Self {
            entries: vec![[0, 0, 0, 255]; Self::LEN],
        }
    }

    /// Sets entries from `first` on, from the 16-bit red, green, blue values
    /// of `SetColourMapEntries`. Entries past the 256th are ignored: an 8-bit
    /// pixel cannot name them.
    pub fn set_entries(&mut self, first: u16, colours: &[(u16, u16, u16)]) {
        let slots = self.entries.iter_mut().skip(usize::from(first));
        for (slot, &(r, g, b)) in slots.zip(colours) {
            *slot = [scale16(b), scale16(g), scale16(r), 255];
        }
    }

    /// Entry `index` as B, G, R, A; black past the end.
    pub fn entry(&self, index: usize) -> [u8; 4] {
        self.entries.get(index).copied().unwrap_or([0, 0, 0, 255])
    }

    /// All 256 entries as B, G, R, A.
    pub fn entries(&self) -> &[[u8; 4]] {
        &self.entries
    }
}

/// A 16-bit colour-map intensity to 8 bits, rounded.
fn scale16(v: u16) -> u8 {
    let scaled = (u32::from(v) * 255 + 32767) / 65535;
    u8::try_from(scaled).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests;
