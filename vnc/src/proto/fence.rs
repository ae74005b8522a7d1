//! Fence (-312, messages 248) and ContinuousUpdates (-313, messages 150):
//! echoing the server's fences, synchronising pixel format changes with a
//! fence of our own, and switching to continuous updates when the server
//! offers them, after which no per-update requests are sent.

use super::{client, Error, Session};
use crate::framebuffer::Rect;
use crate::pixel::PixelFormat;

/// Fence flag bits (rfbproto "ClientFence").
pub(super) mod flags {
    pub const BLOCK_BEFORE: u32 = 1;
    pub const BLOCK_AFTER: u32 = 1 << 1;
    pub const SYNC_NEXT: u32 = 1 << 2;
    pub const REQUEST: u32 = 1 << 31;
    /// Every bit this client knows; the rest is cleared in answers.
    pub const KNOWN: u32 = BLOCK_BEFORE | BLOCK_AFTER | SYNC_NEXT;
}

/// Longest fence payload rfbproto allows.
pub(super) const MAX_PAYLOAD: usize = 64;

/// The payload of the fence that brackets a SetPixelFormat.
const PIXEL_FORMAT_FENCE: &[u8] = b"porthole:pixel-format";

/// Continuous updates, as far as the server and this client got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Continuous {
    /// The server has not said it supports them.
    #[default]
    Unknown,
    /// On, for this area.
    Active(Rect),
    /// The server supports them but they are off.
    Off,
}

pub(super) fn fence(out: &mut Vec<u8>, flags: u32, payload: &[u8]) {
    let payload = payload.get(..MAX_PAYLOAD).unwrap_or(payload);
    out.extend_from_slice(&[client::message::FENCE, 0, 0, 0]);
    out.extend_from_slice(&flags.to_be_bytes());
    out.push(u8::try_from(payload.len()).unwrap_or(0));
    out.extend_from_slice(payload);
}

pub(super) fn enable_continuous_updates(out: &mut Vec<u8>, enable: bool, rect: Rect) {
    out.extend_from_slice(&[client::message::ENABLE_CONTINUOUS_UPDATES, u8::from(enable)]);
    for v in [rect.x, rect.y, rect.width, rect.height] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

impl Session {
    /// Whether the server sends updates by itself (continuous updates),
    /// so the session sends no update requests.
    pub fn continuous_updates(&self) -> bool {
        matches!(self.ext.continuous, Continuous::Active(_))
    }

    /// A fence from the server, already read whole.
    pub(super) fn server_fence(&mut self, flags: u32, payload: &[u8]) {
        self.ext.fence = true;
        if flags & flags::REQUEST != 0 {
            // Messages are handled in order as they arrive, which honours
            // every synchronisation flag this client knows: answer at once
            // (TigerVNC times these round trips for congestion control).
            fence(&mut self.transmit, flags & flags::KNOWN, payload);
        } else if payload == PIXEL_FORMAT_FENCE {
            // Everything before this answer was in the old format, and
            // everything after it is in the new one (SyncNext).
            if let Some(format) = self.ext.pending_formats.pop_front() {
                self.format = format;
            }
        }
    }

    /// EndOfContinuousUpdates: the first one says the server supports
    /// them (turn them on); a later one confirms they are off.
    pub(super) fn end_of_continuous_updates(&mut self) {
        match self.ext.continuous {
            Continuous::Unknown => {
                let screen = self.screen();
                enable_continuous_updates(&mut self.transmit, true, screen);
                self.ext.continuous = Continuous::Active(screen);
            }
            Continuous::Active(_) | Continuous::Off => self.ext.continuous = Continuous::Off,
        }
    }

    /// Asks for the next incremental update, unless the server sends them
    /// by itself.
    pub(super) fn request_next_update(&mut self) {
        if !self.continuous_updates() {
            self.send_update_request(true, None);
        }
    }

    /// The framebuffer's size changed: ask for updates over all of it.
    pub(super) fn screen_area_changed(&mut self) {
        match self.ext.continuous {
            Continuous::Active(area) if area != self.screen() => {
                let screen = self.screen();
                enable_continuous_updates(&mut self.transmit, true, screen);
                self.ext.continuous = Continuous::Active(screen);
            }
            Continuous::Active(_) => {}
            Continuous::Unknown | Continuous::Off => self.send_update_request(true, None),
        }
    }

    /// Switches to `format` once connected. With fences, the switch
    /// happens exactly where the server's stream changes format; without
    /// them, at once (rectangles already on their way in the old format
    /// would be misread, so change formats between updates then).
    pub(super) fn change_pixel_format(&mut self, format: PixelFormat) -> Result<(), Error> {
        if self.ext.fence {
            fence(
                &mut self.transmit,
                flags::REQUEST | flags::BLOCK_BEFORE | flags::SYNC_NEXT,
                PIXEL_FORMAT_FENCE,
            );
            client::set_pixel_format(&mut self.transmit, &format);
            self.ext.pending_formats.push_back(format);
        } else {
            client::set_pixel_format(&mut self.transmit, &format);
            self.format = format;
        }
        Ok(())
    }
}
