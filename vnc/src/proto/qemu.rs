//! QEMU's extensions: extended key events with XT scancodes (-258), audio
//! (-259, QEMU messages 255/1 both ways), LED state (-261) and the pointer
//! motion mode (-257). Owns their wire forms and the calls that use them;
//! none of their messages goes out before the server confirmed it.

use super::extensions::Extension;
use super::{client, Error, Event, Session};

/// QEMU client submessage types.
mod submessage {
    pub const EXTENDED_KEY_EVENT: u8 = 0;
    pub const AUDIO: u8 = 1;
}

/// Audio operations, client to server.
mod client_audio {
    pub const ENABLE: u16 = 0;
    pub const DISABLE: u16 = 1;
    pub const SET_FORMAT: u16 = 2;
}

/// Audio operations, server to client.
pub(super) mod server_audio {
    pub const END: u16 = 0;
    pub const BEGIN: u16 = 1;
    pub const DATA: u16 = 2;
}

/// Largest audio chunk accepted; QEMU sends a few KB at a time.
pub(super) const MAX_AUDIO_CHUNK: usize = 4 * 1024 * 1024;

/// How audio samples are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
}

impl SampleFormat {
    fn wire(self) -> u8 {
        match self {
            Self::U8 => 0,
            Self::S8 => 1,
            Self::U16 => 2,
            Self::S16 => 3,
            Self::U32 => 4,
            Self::S32 => 5,
        }
    }

    /// Bytes of one sample of one channel.
    pub fn bytes(self) -> usize {
        match self {
            Self::U8 | Self::S8 => 1,
            Self::U16 | Self::S16 => 2,
            Self::U32 | Self::S32 => 4,
        }
    }
}

/// The audio format the client asks QEMU for. Samples are little-endian
/// (QEMU sends its host's order, and its hosts are little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFormat {
    pub sample: SampleFormat,
    /// 1 (mono) or 2 (stereo).
    pub channels: u8,
    /// Samples per second.
    pub frequency: u32,
}

impl Default for AudioFormat {
    /// 44.1 kHz stereo signed 16-bit, QEMU's own default.
    fn default() -> Self {
        Self {
            sample: SampleFormat::S16,
            channels: 2,
            frequency: 44100,
        }
    }
}

pub(super) fn extended_key_event(out: &mut Vec<u8>, down: bool, keysym: u32, keycode: u32) {
    out.extend_from_slice(&[client::message::QEMU, submessage::EXTENDED_KEY_EVENT]);
    out.extend_from_slice(&u16::from(down).to_be_bytes());
    out.extend_from_slice(&keysym.to_be_bytes());
    out.extend_from_slice(&keycode.to_be_bytes());
}

fn audio(out: &mut Vec<u8>, operation: u16) {
    out.extend_from_slice(&[client::message::QEMU, submessage::AUDIO]);
    out.extend_from_slice(&operation.to_be_bytes());
}

impl Session {
    /// Whether the server takes XT scancodes
    /// ([`Session::key_event_scancode`] sends them then).
    pub fn has_extended_keys(&self) -> bool {
        self.ext.extended_keys
    }

    /// Sends a key press or release with the XT scancode that produced it
    /// (see [`crate::keymap`]), so the guest applies its own keyboard
    /// layout. Without the QEMU extension, or with keycode 0 (unknown), it
    /// is a plain key event with `keysym`. Dropped before the session is
    /// connected.
    pub fn key_event_scancode(&mut self, down: bool, keysym: u32, xt_keycode: u32) {
        if !self.is_connected() {
            return;
        }
        if self.ext.extended_keys && xt_keycode != 0 {
            extended_key_event(&mut self.transmit, down, keysym, xt_keycode);
        } else {
            client::key_event(&mut self.transmit, down, keysym);
        }
    }

    /// Whether the server sends audio (it acknowledged the extension).
    pub fn has_audio(&self) -> bool {
        self.ext.audio
    }

    /// Sets the format of the samples QEMU sends; do this before
    /// [`Session::audio_enable`]. Fails until the server acknowledged audio.
    pub fn audio_set_format(&mut self, format: AudioFormat) -> Result<(), Error> {
        if !self.ext.audio {
            return Err(Error::Unsupported("audio"));
        }
        if !matches!(format.channels, 1 | 2) || format.frequency == 0 {
            return Err(Error::InvalidRequest(format!(
                "audio with {} channels at {} Hz; use 1 or 2 channels and a frequency above 0",
                format.channels, format.frequency
            )));
        }
        audio(&mut self.transmit, client_audio::SET_FORMAT);
        self.transmit
            .extend_from_slice(&[format.sample.wire(), format.channels]);
        self.transmit
            .extend_from_slice(&format.frequency.to_be_bytes());
        self.ext.audio_format = format;
        Ok(())
    }

    /// Starts (`true`) or stops audio capture on the server. Fails until
    /// the server acknowledged audio.
    pub fn audio_enable(&mut self, enable: bool) -> Result<(), Error> {
        if !self.ext.audio {
            return Err(Error::Unsupported("audio"));
        }
        let operation = if enable {
            client_audio::ENABLE
        } else {
            client_audio::DISABLE
        };
        audio(&mut self.transmit, operation);
        Ok(())
    }

    /// A QEMU pseudo-rectangle that confirms an extension.
    pub(super) fn qemu_confirmed(&mut self, extension: Extension) {
        let flag = match extension {
            Extension::ExtendedKeys => &mut self.ext.extended_keys,
            Extension::Audio => &mut self.ext.audio,
            _ => return,
        };
        if !*flag {
            *flag = true;
            self.event(Event::Supported(extension));
        }
    }

    /// The LED state byte of a -261 rectangle.
    pub(super) fn leds(&mut self, state: u8) {
        self.event(Event::Leds {
            scroll: state & 1 != 0,
            num: state & 2 != 0,
            caps: state & 4 != 0,
        });
    }
}
