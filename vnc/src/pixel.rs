//! RFB pixel formats (the 16-byte PIXEL_FORMAT structure), colour maps, and
//! conversion of wire pixels into the framebuffer's native B, G, R, A bytes.

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

/// An 8-bit colour map set by `SetColourMapEntries`: up to 256 entries of
/// native B, G, R, A.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColourMap {
    entries: Vec<[u8; 4]>,
}
