//! ExtendedDesktopSize (-308) and SetDesktopSize (251): the server's screen
//! layout, why it changed, and the client's requests to change it. Owns the
//! wire form of screens and the request API; the session's message parser
//! only hands the bytes over.

use super::wire::Reader;
use super::{client, Error, Event, Session};
use crate::framebuffer::Rect;

/// Bytes of one SCREEN structure.
pub(super) const SCREEN_LEN: usize = 16;

/// One head inside the framebuffer. `id` and `flags` are the server's and
/// go back unchanged in requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Screen {
    pub id: u32,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub flags: u32,
}

/// Why an ExtendedDesktopSize rectangle was sent (its x-position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeReason {
    /// The server changed it, or this is the initial layout (also every
    /// reason this client does not know, as rfbproto asks).
    Server,
    /// This client asked for it.
    ThisClient,
    /// Another client asked for it.
    OtherClient,
}

/// The outcome of a change a client asked for (its y-position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeStatus {
    Ok,
    /// Resizing is administratively prohibited.
    Prohibited,
    OutOfResources,
    InvalidLayout,
    /// Handed to someone else (QEMU: the guest); a success arrives later.
    Forwarded,
    Unknown(u16),
}

impl ResizeReason {
    fn from_wire(x: u16) -> Self {
        match x {
            1 => Self::ThisClient,
            2 => Self::OtherClient,
            _ => Self::Server,
        }
    }
}

impl ResizeStatus {
    fn from_wire(y: u16) -> Self {
        match y {
            0 => Self::Ok,
            1 => Self::Prohibited,
            2 => Self::OutOfResources,
            3 => Self::InvalidLayout,
            4 => Self::Forwarded,
            other => Self::Unknown(other),
        }
    }
}

/// Reads `count` screens; `None` if `bytes` is short.
pub(super) fn parse_screens(bytes: &[u8], count: usize) -> Option<Vec<Screen>> {
    let mut wire = Reader::new(bytes);
    (0..count)
        .map(|_| {
            Some(Screen {
                id: wire.u32()?,
                x: wire.u16()?,
                y: wire.u16()?,
                width: wire.u16()?,
                height: wire.u16()?,
                flags: wire.u32()?,
            })
        })
        .collect()
}

/// SetDesktopSize; a list longer than 255 screens is cut.
pub(super) fn set_desktop_size(out: &mut Vec<u8>, width: u16, height: u16, screens: &[Screen]) {
    let count = u8::try_from(screens.len()).unwrap_or(u8::MAX);
    out.push(client::message::SET_DESKTOP_SIZE);
    out.push(0);
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[count, 0]);
    for s in screens.iter().take(usize::from(count)) {
        out.extend_from_slice(&s.id.to_be_bytes());
        for v in [s.x, s.y, s.width, s.height] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&s.flags.to_be_bytes());
    }
}

impl Session {
    /// Whether the server takes [`Session::request_desktop_size`]: it sent
    /// an ExtendedDesktopSize rectangle (servers do so in answer to the
    /// first full update request).
    pub fn can_resize(&self) -> bool {
        self.ext.can_resize
    }

    /// The server's screens, as last reported (empty before the first
    /// ExtendedDesktopSize rectangle).
    pub fn screens(&self) -> &[Screen] {
        &self.ext.screens
    }

    /// Asks the server for a `width`×`height` framebuffer with one screen
    /// covering it, keeping the id and flags of the server's first screen.
    /// The answer comes as [`Event::DesktopLayout`] with reason
    /// [`ResizeReason::ThisClient`].
    pub fn request_desktop_size(&mut self, width: u16, height: u16) -> Result<(), Error> {
        let first = self.ext.screens.first().copied().unwrap_or_default();
        let screen = Screen {
            x: 0,
            y: 0,
            width,
            height,
            ..first
        };
        self.set_desktop_layout(width, height, &[screen])
    }

    /// Asks for a framebuffer size and screen layout of the caller's
    /// choosing (multi-head). Screen ids must be the server's for screens
    /// that stay, new ones for new screens.
    pub fn set_desktop_layout(
        &mut self,
        width: u16,
        height: u16,
        screens: &[Screen],
    ) -> Result<(), Error> {
        if !self.is_connected() || !self.ext.can_resize {
            return Err(Error::Unsupported("changing the desktop size"));
        }
        let limits = self.config.limits;
        if width == 0 || height == 0 || width > limits.max_width || height > limits.max_height {
            return Err(Error::InvalidRequest(format!(
                "a desktop of {width}×{height} pixels is outside 1×1 to {}×{}",
                limits.max_width, limits.max_height
            )));
        }
        set_desktop_size(&mut self.transmit, width, height, screens);
        Ok(())
    }

    /// An ExtendedDesktopSize rectangle is complete.
    pub(super) fn desktop_layout(&mut self, rect: Rect, screens: Vec<Screen>) -> Result<(), Error> {
        let reason = ResizeReason::from_wire(rect.x);
        let status = ResizeStatus::from_wire(rect.y);
        self.ext.can_resize = true;
        let refused = reason == ResizeReason::ThisClient && status != ResizeStatus::Ok;
        if refused {
            // The other fields are undefined in a failure: report what the
            // screen still is.
            self.event(Event::DesktopLayout {
                reason,
                status,
                width: self.framebuffer.width(),
                height: self.framebuffer.height(),
                screens: self.ext.screens.clone(),
            });
            return Ok(());
        }
        self.resize_framebuffer(rect.width, rect.height)?;
        self.ext.screens.clone_from(&screens);
        self.event(Event::DesktopLayout {
            reason,
            status,
            width: rect.width,
            height: rect.height,
            screens,
        });
        Ok(())
    }

    /// Gives the framebuffer a size the server announced (DesktopSize,
    /// ExtendedDesktopSize, WMVi): checked against the limits, reported if
    /// it changed, and updates asked for over the new area.
    pub(super) fn resize_framebuffer(&mut self, width: u16, height: u16) -> Result<(), Error> {
        let limits = self.config.limits;
        if width > limits.max_width {
            return Err(Error::limit("framebuffer width", width, limits.max_width));
        }
        if height > limits.max_height {
            return Err(Error::limit(
                "framebuffer height",
                height,
                limits.max_height,
            ));
        }
        if (width, height) == (self.framebuffer.width(), self.framebuffer.height()) {
            return Ok(());
        }
        self.framebuffer.resize(width, height);
        self.event(Event::Resized { width, height });
        // The request sent when this update started covers the old size;
        // ask again for the new one, or a grown area would never be
        // updated. Incremental: a full request would bring another
        // ExtendedDesktopSize rectangle, and so on forever.
        self.screen_area_changed();
        Ok(())
    }
}
