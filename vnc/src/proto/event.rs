//! What a session reports to its driver, in the order it happened.

use crate::framebuffer::Rect;
use crate::pixel::PixelFormat;

use crate::decode::cursor::CursorImage;

/// Something the server did, returned by [`Session::poll_event`](super::Session::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The server's greeting. `raw` is its version string with anything
    /// unprintable escaped.
    ServerVersion {
        major: u16,
        minor: u16,
        raw: String,
    },
    /// The security type numbers the server offers (with RFB 3.3, the one
    /// type it imposes).
    SecurityTypesOffered(Vec<u8>),
    /// The chosen security type needs credentials the session was not
    /// given: answer with [`Session::provide_credentials`](super::Session::provide_credentials).
    CredentialsRequired {
        username: bool,
        password: bool,
    },
    /// The handshake is over. `format` is the server's own pixel format;
    /// [`Session::pixel_format`](super::Session::pixel_format) is the one
    /// updates arrive in.
    Connected {
        name: String,
        width: u16,
        height: u16,
        format: PixelFormat,
    },
    /// The framebuffer now has this size; all of it should be redrawn.
    Resized {
        width: u16,
        height: u16,
    },
    /// These framebuffer pixels changed.
    Damage(Rect),
    /// The last rectangle of a FramebufferUpdate message was applied: the
    /// framebuffer is a consistent picture again.
    UpdateComplete,
    /// The server's cursor shape (empty: no cursor).
    Cursor(CursorImage),
    /// The server moved the pointer.
    PointerPos {
        x: u16,
        y: u16,
    },
    Bell,
    /// The server's clipboard changed.
    ServerCutText(String),
    /// The desktop has a new name.
    DesktopName(String),
}
