//! The server's cursor shape as the local GDK cursor, so the pointer moves
//! with no round trip. Owns only the conversion; the widget sets it.

use gtk::prelude::*;
use gtk::{gdk, glib};

use crate::decode::cursor::CursorImage;

/// The GDK cursor for a server cursor shape; an empty shape hides the
/// pointer, as the server asked for no cursor.
pub fn from_image(image: &CursorImage) -> Option<gdk::Cursor> {
    let (width, height) = (usize::from(image.width), usize::from(image.height));
    if width == 0 || height == 0 || image.rgba.len() != width * height * 4 {
        return gdk::Cursor::from_name("none", None);
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
