//! What the pointer looks like over the widget: the server's cursor shape
//! as the local GDK cursor (so the pointer moves with no round trip), the
//! server drawing it into the picture instead, or a dot when the server
//! hides its cursor. Owns the conversion and the choice; the widget's
//! events call [`server_cursor`] and [`refresh`].

use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};

use super::VncDisplay;
use crate::decode::cursor::CursorImage;

/// How the remote cursor is shown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, glib::Enum)]
#[enum_type(name = "PortholeVncCursorMode")]
pub enum CursorMode {
    /// The server's cursor shape becomes the local cursor (no lag).
    #[default]
    Local,
    /// The server draws the cursor into the picture (as it moves there);
    /// the local pointer is hidden over the widget.
    Remote,
    /// Like `Local`, but a small dot stands in when the server's cursor
    /// is empty or fully transparent, so the pointer is never lost.
    Dot,
}

/// The cursor side of the widget's state.
#[derive(Debug, Default)]
pub struct CursorState {
    /// The server's last shape, `None` until it sent one.
    server: Option<CursorImage>,
    /// Relative pointer mode hides the local pointer whatever the mode.
    pub(super) relative: bool,
}

impl CursorState {
    /// Forgets the server's shape (a new connection).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The server sent a new cursor shape.
pub fn server_cursor(display: &VncDisplay, image: CursorImage) {
    display.imp().input.borrow_mut().cursor.server = Some(image);
    refresh(display);
}

/// Sets the widget's cursor from the mode, the pointer mode and the
/// server's shape.
pub fn refresh(display: &VncDisplay) {
    let cursor = {
        let input = display.imp().input.borrow();
        let state = &input.cursor;
        if state.relative {
            hidden()
        } else {
            match (display.cursor_mode(), &state.server) {
                (CursorMode::Remote, _) => hidden(),
                (_, None) => None,
                (CursorMode::Dot, Some(image)) if is_invisible(image) => dot(),
                (_, Some(image)) if is_invisible(image) => hidden(),
                (_, Some(image)) => from_image(image),
            }
        }
    };
    display.set_cursor(cursor.as_ref());
}

fn hidden() -> Option<gdk::Cursor> {
    gdk::Cursor::from_name("none", None)
}

/// Whether a shape shows nothing: empty, or every pixel transparent.
pub fn is_invisible(image: &CursorImage) -> bool {
    image.width == 0
        || image.height == 0
        || image.rgba.chunks_exact(4).all(|p| p.get(3) == Some(&0))
}

/// A 5×5 black dot with a white rim, hotspot in the middle (what TigerVNC
/// shows for "dot when no cursor").
pub fn dot() -> Option<gdk::Cursor> {
    const SIZE: usize = 5;
    let mut rgba = Vec::with_capacity(SIZE * SIZE * 4);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let edge = x == 0 || y == 0 || x == SIZE - 1 || y == SIZE - 1;
            let corner = (x == 0 || x == SIZE - 1) && (y == 0 || y == SIZE - 1);
            rgba.extend_from_slice(match (corner, edge) {
                (true, _) => &[0, 0, 0, 0],
                (false, true) => &[255, 255, 255, 255],
                (false, false) => &[0, 0, 0, 255],
            });
        }
    }
    let image = CursorImage {
        width: SIZE as u16,
        height: SIZE as u16,
        hot_x: 2,
        hot_y: 2,
        rgba,
    };
    from_image(&image)
}

/// The GDK cursor for a server cursor shape; an empty shape hides the
/// pointer, as the server asked for no cursor.
pub fn from_image(image: &CursorImage) -> Option<gdk::Cursor> {
    let (width, height) = (usize::from(image.width), usize::from(image.height));
    if width == 0 || height == 0 || image.rgba.len() != width * height * 4 {
        return hidden();
    }
    let bytes = glib::Bytes::from(image.rgba.as_slice());
    // The decoder gives straight (not premultiplied) alpha.
    let texture = gdk::MemoryTexture::new(
        i32::from(image.width),
        i32::from(image.height),
        gdk::MemoryFormat::R8g8b8a8,
        &bytes,
        width * 4,
    );
    let hot_x = i32::from(image.hot_x.min(image.width.saturating_sub(1)));
    let hot_y = i32::from(image.hot_y.min(image.height.saturating_sub(1)));
    Some(gdk::Cursor::from_texture(
        &texture.upcast::<gdk::Texture>(),
        hot_x,
        hot_y,
        None,
    ))
}
