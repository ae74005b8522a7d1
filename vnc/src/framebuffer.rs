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

/// The remote screen: `width × height` pixels, 4 bytes each, in memory
/// order B, G, R, A with A always 255 (`GL_BGRA` / `gdk::MemoryFormat::B8g8r8a8`),
/// rows packed (`stride == width * 4`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Framebuffer {
    width: u16,
    height: u16,
    data: Vec<u8>,
}
