//! The X11 backend of the pointer lock: warps the pointer within the
//! widget's X window through an X connection of the widget's own (GDK's is
//! not reachable without unsafe code), opened on the first lock and kept
//! for the next ones. The server orders its warps with GDK's events all
//! the same, which is what matters.

use gtk::gdk;
use gtk::prelude::*;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::ConnectionExt;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The widget's X connection, once opened.
#[derive(Default)]
pub struct X11 {
    /// The connection and the display name it went to.
    connection: Option<(RustConnection, String)>,
    /// Connecting failed once: do not try again for this widget; relative
    /// motion then works as without a lock.
    failed: bool,
}

/// Where the warps of one lock go.
#[derive(Debug)]
pub struct Warper {
    window: u32,
    scale: f64,
}

impl X11 {
    pub fn supports(&self, surface: &gdk::Surface) -> bool {
        !self.failed && surface.is::<gdk4_x11::X11Surface>()
    }

    /// A warper for `surface`'s window, connecting to its X server unless
    /// already connected there. `None` for other surfaces or when the
    /// connection fails.
    pub fn warper(&mut self, surface: &gdk::Surface) -> Option<Warper> {
        if !self.supports(surface) {
            return None;
        }
        let x11 = surface.downcast_ref::<gdk4_x11::X11Surface>()?;
        let window = u32::try_from(x11.xid()).ok()?;
        let name = surface.display().name().to_string();
        if self.connection.as_ref().is_none_or(|(_, n)| *n != name) {
            match x11rb::connect(Some(&name)) {
                Ok((connection, _)) => self.connection = Some((connection, name)),
                Err(_) => {
                    self.connection = None;
                    self.failed = true;
                    return None;
                }
            }
        }
        Some(Warper {
            window,
            scale: f64::from(surface.scale_factor().max(1)),
        })
    }

    /// Moves the pointer to `to` (surface coordinates); returns where it
    /// went, rounded to the device pixel.
    pub fn warp(&self, warper: &Warper, to: (f64, f64)) -> Option<(f64, f64)> {
        let (connection, _) = self.connection.as_ref()?;
        let x = (to.0 * warper.scale).round();
        let y = (to.1 * warper.scale).round();
        let range = f64::from(i16::MIN)..=f64::from(i16::MAX);
        if !range.contains(&x) || !range.contains(&y) {
            return None;
        }
        connection
            .warp_pointer(x11rb::NONE, warper.window, 0, 0, 0, 0, x as i16, y as i16)
            .ok()?
            .ignore_error();
        connection.flush().ok()?;
        // Nothing is asked of the server; drop whatever it sent (errors
        // for a window already gone) so it does not pile up.
        while let Ok(Some(_)) = connection.poll_for_event() {}
        Some((x / warper.scale, y / warper.scale))
    }

    /// Waits until the server has done the warps asked for.
    pub fn wait(&self) {
        if let Some((connection, _)) = &self.connection {
            // Failing means the connection is gone, and the warps with it.
            let _ = connection.sync();
        }
    }
}
