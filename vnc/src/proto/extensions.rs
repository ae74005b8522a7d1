//! What the server has confirmed of the extensions this client announces,
//! and the small ones that need no module of their own: xvp power actions
//! (-309, messages 250), extended mouse buttons (-316) and the QEMU pointer
//! motion mode (-257).

use std::collections::VecDeque;

use super::clipboard::Clipboard;
use super::ext_desktop::Screen;
use super::fence::Continuous;
use super::qemu::AudioFormat;
use super::{client, Error, Event, Session};
use crate::pixel::PixelFormat;

/// An extension the server confirmed ([`Event::Supported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    /// QEMU extended key events: [`Session::key_event_scancode`] sends XT
    /// scancodes.
    ExtendedKeys,
    /// QEMU audio: [`Session::audio_set_format`] and
    /// [`Session::audio_enable`] work.
    Audio,
    /// xvp: [`Session::xvp`] works.
    Xvp,
    /// Buttons past the seventh reach the server
    /// ([`Session::pointer_event_buttons`]).
    ExtendedMouseButtons,
    /// UTF-8 clipboard in both directions.
    ExtendedClipboard,
}

/// Power actions of the xvp extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XvpAction {
    /// A clean shutdown.
    Shutdown,
    /// A clean reboot.
    Reboot,
    /// An abrupt reset.
    Reset,
}

/// xvp message codes.
pub(super) mod xvp_code {
    pub const FAIL: u8 = 0;
    pub const INIT: u8 = 1;
    pub const SHUTDOWN: u8 = 2;
    pub const REBOOT: u8 = 3;
    pub const RESET: u8 = 4;
}

/// Per-connection extension state.
#[derive(Debug, Default)]
pub(super) struct Extensions {
    pub(super) can_resize: bool,
    pub(super) screens: Vec<Screen>,
    pub(super) extended_keys: bool,
    pub(super) audio: bool,
    pub(super) audio_format: AudioFormat,
    pub(super) extended_mouse_buttons: bool,
    pub(super) relative_pointer: bool,
    /// The xvp version the server offers, once it did.
    pub(super) xvp: Option<u8>,
    /// The server has sent a fence, so it answers ours.
    pub(super) fence: bool,
    pub(super) continuous: Continuous,
    /// Formats asked for behind a fence, applied in order as each fence
    /// comes back.
    pub(super) pending_formats: VecDeque<PixelFormat>,
    pub(super) clipboard: Clipboard,
    /// The update being read has rectangles, and none changed pixels.
    pub(super) update_pseudo_only: bool,
    /// The update being read has had a rectangle other than LastRect.
    pub(super) update_rects: bool,
}

impl Session {
    /// Whether the server takes [`Session::xvp`] power actions.
    pub fn has_xvp(&self) -> bool {
        self.ext.xvp.is_some()
    }

    /// Asks the server to shut down, reboot or reset the machine it shows.
    /// A failure comes back as [`Event::XvpFailed`]; success is the machine
    /// doing it.
    pub fn xvp(&mut self, action: XvpAction) -> Result<(), Error> {
        if !self.is_connected() || self.ext.xvp.is_none() {
            return Err(Error::Unsupported("power actions (xvp)"));
        }
        let code = match action {
            XvpAction::Shutdown => xvp_code::SHUTDOWN,
            XvpAction::Reboot => xvp_code::REBOOT,
            XvpAction::Reset => xvp_code::RESET,
        };
        // Version 1 is the only one defined, and every server supports it.
        self.transmit
            .extend_from_slice(&[client::message::XVP, 0, 1, code]);
        Ok(())
    }

    /// An xvp server message.
    pub(super) fn xvp_message(&mut self, version: u8, code: u8) -> Result<(), Error> {
        match code {
            xvp_code::INIT => {
                if self.ext.xvp.is_none() {
                    self.event(Event::Supported(Extension::Xvp));
                }
                self.ext.xvp = Some(version);
            }
            xvp_code::FAIL => self.event(Event::XvpFailed),
            other => {
                return Err(Error::Protocol(format!(
                    "the server sent xvp message code {other}, which only clients send"
                )))
            }
        }
        Ok(())
    }

    /// Whether pointer positions are relative deltas now (QEMU asked for
    /// them with [`Event::PointerMode`]).
    pub fn relative_pointer(&self) -> bool {
        self.ext.relative_pointer
    }

    pub(super) fn pointer_mode(&mut self, relative: bool) {
        self.ext.relative_pointer = relative;
        self.event(Event::PointerMode { relative });
    }

    pub(super) fn extended_mouse_buttons_confirmed(&mut self) {
        if !self.ext.extended_mouse_buttons {
            self.ext.extended_mouse_buttons = true;
            self.event(Event::Supported(Extension::ExtendedMouseButtons));
        }
    }

    /// Sends the pointer position with up to 15 buttons: bits 0–6 as in
    /// [`Session::pointer_event`] (left, middle, right, wheel up, down,
    /// left, right), bit 7 back, bit 8 forward. Back and forward need the
    /// server's extended mouse buttons; without them back still goes as
    /// bit 7 of the plain message and forward is dropped. Dropped before
    /// the session is connected.
    pub fn pointer_event_buttons(&mut self, x: u16, y: u16, buttons: u16) {
        if !self.is_connected() {
            return;
        }
        let [high, low] = buttons.to_be_bytes();
        if self.ext.extended_mouse_buttons && buttons > 0x7f {
            // The marker bit says an extra byte follows; back moves there.
            let extended = u8::from(low & 0x80 != 0) | (high << 1);
            client::pointer_event(&mut self.transmit, x, y, (low & 0x7f) | 0x80);
            self.transmit.push(extended);
        } else {
            client::pointer_event(&mut self.transmit, x, y, low);
        }
    }
}

/// Pseudo-encoding numbers of the extensions (rfbproto); the basic ones
/// are in [`crate::decode::encoding`].
pub mod pseudo_encoding {
    pub const QEMU_POINTER_MOTION_CHANGE: i32 = -257;
    pub const QEMU_EXTENDED_KEY_EVENT: i32 = -258;
    pub const QEMU_AUDIO: i32 = -259;
    pub const QEMU_LED_STATE: i32 = -261;
    pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
    pub const XVP: i32 = -309;
    pub const FENCE: i32 = -312;
    pub const CONTINUOUS_UPDATES: i32 = -313;
    pub const CURSOR_WITH_ALPHA: i32 = -314;
    pub const EXTENDED_MOUSE_BUTTONS: i32 = -316;
    /// VMware's display mode change ("WMVi"): a new size and pixel format.
    pub const VMWARE_DISPLAY_MODE_CHANGE: i32 = 0x574d_5669;
    /// The extended clipboard (0xc0a1e5ce as a signed number).
    pub const EXTENDED_CLIPBOARD: i32 = i32::from_be_bytes([0xc0, 0xa1, 0xe5, 0xce]);
}
