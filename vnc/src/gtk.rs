//! `VncDisplay`, a GTK 4 widget that shows a VNC session and sends the
//! user's input to it (feature `gtk`, GTK 4.8 or newer).
//!
//! The session and its decoding run in the [`crate::driver`] on a shared
//! background tokio runtime; the widget, on the GTK main thread, only
//! uploads the damaged rectangles of the driver's shared framebuffer into
//! a GL texture and draws one scaled quad (or, without GL, a
//! `gdk::MemoryTexture`). The main thread never waits on the network.
//!
//! Split by concern: [`display`] (the GObject, properties, signals, the
//! connection), `render` (GL and software drawing, the crate's only
//! `unsafe` code), `input` (keyboard, pointer, grab), [`scaling`]
//! (geometry), `cursor`, `clipboard` and `audio`.

mod audio;
mod clipboard;
mod cursor;
pub mod display;
mod input;
mod render;
pub mod scaling;

use std::io;
use std::sync::OnceLock;

pub use audio::AUDIO_SINK_ENV;
pub use cursor::CursorMode;
pub use display::VncDisplay;
pub use render::RENDERER_ENV;
pub use scaling::ScalingMode;

/// The runtime every `VncDisplay` runs its connections on: one worker is
/// plenty for the sockets and decoding of a few consoles, and it keeps the
/// GTK thread free.
fn runtime() -> io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("porthole-vnc")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("cannot start the connection thread: {e}")))
}

/// Keysyms for [`VncDisplay::send_keys`]: the combinations a remote
/// machine needs that the local desktop would take for itself.
pub mod keys {
    pub const CONTROL_L: u32 = 0xffe3;
    pub const ALT_L: u32 = 0xffe9;
    pub const DELETE: u32 = 0xffff;
    pub const BACKSPACE: u32 = 0xff08;
    pub const PRINT: u32 = 0xff61;
    /// F1; F2…F12 follow in order.
    pub const F1: u32 = 0xffbe;

    pub const CTRL_ALT_DEL: [u32; 3] = [CONTROL_L, ALT_L, DELETE];
    pub const CTRL_ALT_BACKSPACE: [u32; 3] = [CONTROL_L, ALT_L, BACKSPACE];

    /// Ctrl+Alt+F`n` (1–12) to switch the remote machine's virtual
    /// terminal; `None` for other numbers.
    pub fn ctrl_alt_f(n: u32) -> Option<[u32; 3]> {
        (1..=12)
            .contains(&n)
            .then(|| [CONTROL_L, ALT_L, F1 + n - 1])
    }
}
