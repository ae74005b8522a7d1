//! What a session reports to its driver, in the order it happened.

use crate::framebuffer::Rect;
use crate::pixel::PixelFormat;

use super::ext_desktop::{ResizeReason, ResizeStatus, Screen};
use super::extensions::Extension;
use super::qemu::AudioFormat;
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
    /// An ExtendedDesktopSize rectangle: the server's screen layout, why it
    /// was sent and, for a change this client asked for
    /// ([`Session::request_desktop_size`](super::Session::request_desktop_size)),
    /// whether it worked. A refused request leaves the size and screens as
    /// they were (they are repeated here); [`ResizeStatus::Forwarded`]
    /// (QEMU) means the guest decides later, and a success then arrives as
    /// a server-initiated change. A size change also comes as
    /// [`Event::Resized`], just before this.
    DesktopLayout {
        reason: ResizeReason,
        status: ResizeStatus,
        width: u16,
        height: u16,
        screens: Vec<Screen>,
    },
    /// These framebuffer pixels changed.
    Damage(Rect),
    /// The last rectangle of a FramebufferUpdate message was applied: the
    /// framebuffer is a consistent picture again. An update of
    /// pseudo-rectangles only (a screen layout, which servers send without
    /// pixels before the first picture, LED state, a cursor…) does not end
    /// with this: it changed no pixels.
    UpdateComplete,
    /// The server's cursor shape (empty: no cursor), from Cursor, XCursor
    /// or the alpha cursor, always straight RGBA with its hotspot.
    Cursor(CursorImage),
    /// The server moved the pointer.
    PointerPos {
        x: u16,
        y: u16,
    },
    Bell,
    /// The server's clipboard changed, as legacy Latin-1 text (servers
    /// without the extended clipboard).
    ServerCutText(String),
    /// The server's clipboard holds this text (extended clipboard, UTF-8,
    /// line ends as `\n`). The session fetches the text by itself when the
    /// server only announces it, so this is the one clipboard event to
    /// handle besides [`Event::ServerCutText`].
    ClipboardText(String),
    /// The desktop has a new name.
    DesktopName(String),
    /// The server confirmed an extension; the matching session calls work
    /// from now on.
    Supported(Extension),
    /// The keyboard LEDs of the remote machine (QEMU).
    Leds {
        caps: bool,
        num: bool,
        scroll: bool,
    },
    /// The server wants relative pointer motion (`true`, QEMU with a PS/2
    /// mouse) or absolute positions (`false`).
    PointerMode {
        relative: bool,
    },
    /// An audio stream starts, in the format last set with
    /// [`Session::audio_set_format`](super::Session::audio_set_format).
    AudioStarted(AudioFormat),
    /// Samples of the running audio stream.
    AudioData(Vec<u8>),
    /// The audio stream ended.
    AudioStopped,
    /// The server could not carry out the last xvp power action.
    XvpFailed,
}
