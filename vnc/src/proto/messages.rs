//! Server-to-client messages after the handshake: FramebufferUpdate (its
//! rectangle headers and pseudo-encodings; real encodings go to
//! [`crate::decode`]), SetColourMapEntries, Bell, ServerCutText and the
//! extension messages (EndOfContinuousUpdates, Fence, xvp, QEMU). Reads
//! their bytes and hands them to the module that owns each extension.
//! Also owns update pacing: the next incremental request goes out as soon
//! as an update starts arriving (none with continuous updates).

use super::alpha_cursor::AlphaCursor;
use super::ext_desktop::{self, SCREEN_LEN};
use super::extensions::{pseudo_encoding as pseudo, Extension};
use super::qemu::{self, server_audio};
use super::wire::Reader;
use super::{client, fence, Error, Event, Session, State};
use crate::decode::{encoding, Progress, RectDecoder, Step, Target};
use crate::framebuffer::Rect;
use crate::pixel::PixelFormat;

use crate::decode::cursor::{self, CursorImage};

/// Server message types (rfbproto "Server to Client Messages").
mod message {
    pub const FRAMEBUFFER_UPDATE: u8 = 0;
    pub const SET_COLOUR_MAP_ENTRIES: u8 = 1;
    pub const BELL: u8 = 2;
    pub const SERVER_CUT_TEXT: u8 = 3;
    pub const END_OF_CONTINUOUS_UPDATES: u8 = 150;
    pub const FENCE: u8 = 248;
    pub const XVP: u8 = 250;
    pub const QEMU: u8 = 255;
}

/// QEMU server submessage types.
const QEMU_AUDIO: u8 = 1;

/// Bytes of one SetColourMapEntries entry (16-bit red, green, blue).
const COLOUR_LEN: usize = 6;
const RECT_HEADER_LEN: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CursorShape {
    /// Cursor (-239): pixels in the session's format, then a bitmask.
    Rich,
    /// XCursor (-240): two colours, a bitmap and a bitmask.
    X,
}

/// Where the parser is between or inside server messages. `left` counts
/// the rectangles of the current FramebufferUpdate still to come after the
/// one being read.
#[derive(Debug)]
pub(super) enum Incoming {
    MessageType,
    UpdateHeader,
    RectHeader {
        /// Rectangles still to come, including this one (at least 1).
        left: u16,
    },
    /// A rectangle in a real encoding, decoded by `Session::decoder`.
    Rect {
        left: u16,
        rect: Rect,
    },
    Cursor {
        left: u16,
        shape: CursorShape,
        rect: Rect,
        len: usize,
    },
    NameLength {
        left: u16,
    },
    Name {
        left: u16,
        len: usize,
    },
    ColourMapHeader,
    ColourMapEntries {
        next: u32,
        left: u16,
    },
    CutTextHeader,
    CutText {
        left: usize,
        text: String,
    },
    /// An extended clipboard message of `left` more bytes.
    ExtendedCutText {
        left: usize,
        data: Vec<u8>,
    },
    DesktopLayoutHeader {
        left: u16,
        rect: Rect,
    },
    DesktopLayoutScreens {
        left: u16,
        rect: Rect,
        count: usize,
    },
    /// WMVi: the pixel format that follows the header.
    DisplayMode {
        left: u16,
        rect: Rect,
    },
    Leds {
        left: u16,
    },
    AlphaCursorEncoding {
        left: u16,
        rect: Rect,
    },
    AlphaCursor {
        left: u16,
        cursor: Box<AlphaCursor>,
    },
    FenceHeader,
    FencePayload {
        flags: u32,
        len: usize,
    },
    Xvp,
    QemuHeader,
    AudioLength,
    AudioData {
        left: usize,
        data: Vec<u8>,
    },
}

fn short() -> Error {
    Error::Protocol("a message step ran out of bytes (a bug in porthole-vnc)".to_owned())
}

impl Session {
    pub(super) fn step_connected(
        &mut self,
        incoming: Incoming,
        input: &[u8],
    ) -> Result<usize, Error> {
        let mut wire = Reader::new(input);
        match incoming {
            Incoming::MessageType => {
                match wire.u8().ok_or_else(short)? {
                    message::FRAMEBUFFER_UPDATE => self.expect(Incoming::UpdateHeader, 3),
                    message::SET_COLOUR_MAP_ENTRIES => self.expect(Incoming::ColourMapHeader, 5),
                    message::BELL => {
                        self.event(Event::Bell);
                        self.expect(Incoming::MessageType, 1);
                    }
                    message::SERVER_CUT_TEXT => self.expect(Incoming::CutTextHeader, 7),
                    message::END_OF_CONTINUOUS_UPDATES => {
                        self.end_of_continuous_updates();
                        self.expect(Incoming::MessageType, 1);
                    }
                    message::FENCE => self.expect(Incoming::FenceHeader, 8),
                    message::XVP => self.expect(Incoming::Xvp, 3),
                    message::QEMU => self.expect(Incoming::QemuHeader, 3),
                    other => {
                        return Err(Error::Protocol(format!(
                            "the server sent message type {other}, which this client does not know"
                        )))
                    }
                }
                Ok(1)
            }
            Incoming::UpdateHeader => {
                let (_padding, count) = wire.u8().zip(wire.u16()).ok_or_else(short)?;
                // Pacing: ask for the next update now, so the server can
                // prepare it while this one is decoded (one round trip less
                // per frame than asking at the end, and one request per
                // update rather than per rectangle).
                self.request_next_update();
                self.ext.update_pseudo_only = count > 0;
                self.ext.update_rects = false;
                self.next_rect(count);
                Ok(3)
            }
            Incoming::RectHeader { left } => {
                let header = (wire.u16(), wire.u16(), wire.u16(), wire.u16(), wire.i32());
                let (Some(x), Some(y), Some(width), Some(height), Some(encoding)) = header else {
                    return Err(short());
                };
                let rect = Rect {
                    x,
                    y,
                    width,
                    height,
                };
                if encoding != encoding::LAST_RECT {
                    self.ext.update_rects = true;
                }
                self.rect_header(left.saturating_sub(1), rect, encoding)?;
                Ok(RECT_HEADER_LEN)
            }
            Incoming::Rect { left, rect } => {
                let mut target = Target {
                    framebuffer: &mut self.framebuffer,
                    format: &self.format,
                    colour_map: &self.colour_map,
                };
                let decoder = self.decoder.as_mut().ok_or_else(short)?;
                match decoder.step_deferring(input, &mut self.decoders, &mut target)? {
                    Step::Image { consumed } => {
                        // The parser stops here until the image is decoded
                        // (`Session::decode_image`); then this state writes
                        // it (a band of it per stop), needing no more bytes.
                        self.image = super::ImageWait::Stopped;
                        self.expect(Incoming::Rect { left, rect }, 0);
                        Ok(consumed.min(input.len()))
                    }
                    Step::Progress(Progress::Done { consumed }) => {
                        self.decoder = None;
                        if rect.width > 0 && rect.height > 0 {
                            self.event(Event::Damage(rect));
                        }
                        self.next_rect(left);
                        Ok(consumed.min(input.len()))
                    }
                    Step::Progress(Progress::NeedMore { consumed, need }) => {
                        let consumed = consumed.min(input.len());
                        // The decoder sees the bytes it left again next time,
                        // plus at least `need` new ones.
                        let need = (input.len() - consumed).saturating_add(need.max(1));
                        self.expect(Incoming::Rect { left, rect }, need);
                        Ok(consumed)
                    }
                }
            }
            Incoming::Cursor {
                left,
                shape,
                rect,
                len,
            } => {
                let data = wire.bytes(len).ok_or_else(short)?;
                let image = if rect.width == 0 || rect.height == 0 {
                    CursorImage::default()
                } else {
                    let image = match shape {
                        CursorShape::Rich => cursor::rich(
                            data,
                            rect.width,
                            rect.height,
                            &self.format,
                            &self.colour_map,
                        )?,
                        CursorShape::X => cursor::x_cursor(data, rect.width, rect.height)?,
                    };
                    // The hotspot is inside the image by definition; a
                    // server that says otherwise gets it clamped.
                    CursorImage {
                        hot_x: rect.x.min(rect.width - 1),
                        hot_y: rect.y.min(rect.height - 1),
                        ..image
                    }
                };
                self.event(Event::Cursor(image));
                self.next_rect(left);
                Ok(len)
            }
            Incoming::NameLength { left } => {
                let len = wire.u32().ok_or_else(short)?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let max = self.config.limits.max_name_len;
                if len > max {
                    return Err(Error::limit("desktop name length in bytes", len, max));
                }
                self.expect(Incoming::Name { left, len }, len);
                Ok(4)
            }
            Incoming::Name { left, len } => {
                let name = client::decode_name(wire.bytes(len).ok_or_else(short)?);
                self.name.clone_from(&name);
                self.event(Event::DesktopName(name));
                self.next_rect(left);
                Ok(len)
            }
            Incoming::ColourMapHeader => {
                let header = (wire.u8(), wire.u16(), wire.u16());
                let (Some(_padding), Some(first), Some(count)) = header else {
                    return Err(short());
                };
                if count == 0 {
                    self.expect(Incoming::MessageType, 1);
                } else {
                    let next = u32::from(first);
                    self.expect(Incoming::ColourMapEntries { next, left: count }, COLOUR_LEN);
                }
                Ok(5)
            }
            Incoming::ColourMapEntries { next, left } => {
                // Entries are applied as they arrive, so a full 65535-entry
                // message is never buffered.
                let n = (input.len() / COLOUR_LEN).min(usize::from(left));
                let mut colours = Vec::with_capacity(n);
                for _ in 0..n {
                    let rgb = (wire.u16(), wire.u16(), wire.u16());
                    let (Some(r), Some(g), Some(b)) = rgb else {
                        return Err(short());
                    };
                    colours.push((r, g, b));
                }
                // An 8-bit pixel can only name entries 0..=255; the map
                // ignores the rest, and an index past u16 is past those.
                if let Ok(first) = u16::try_from(next) {
                    self.colour_map.set_entries(first, &colours);
                }
                let taken = u16::try_from(n).unwrap_or(left);
                let left = left.saturating_sub(taken);
                if left == 0 {
                    self.expect(Incoming::MessageType, 1);
                } else {
                    let next = next.saturating_add(u32::from(taken));
                    self.expect(Incoming::ColourMapEntries { next, left }, COLOUR_LEN);
                }
                Ok(n * COLOUR_LEN)
            }
            Incoming::CutTextHeader => {
                let (_padding, len) = wire.array::<3>().zip(wire.i32()).ok_or_else(short)?;
                let max = self.config.limits.max_cut_text;
                if len < 0 {
                    // A negative length is the extended clipboard's form
                    // (this client always announces it).
                    let len = usize::try_from(len.unsigned_abs()).unwrap_or(usize::MAX);
                    if len > max {
                        return Err(Error::limit("clipboard message length in bytes", len, max));
                    }
                    self.extended_cut_text(len, Vec::with_capacity(len.min(64 * 1024)))?;
                    return Ok(7);
                }
                let len = usize::try_from(len.unsigned_abs()).unwrap_or(usize::MAX);
                // Refused rather than skipped: a text over the limit is a
                // hostile or broken server, and silently dropping a
                // clipboard would hide it (every limit is an error).
                if len > max {
                    return Err(Error::limit("clipboard text length in bytes", len, max));
                }
                self.cut_text(len, String::with_capacity(len.min(64 * 1024)));
                Ok(7)
            }
            Incoming::CutText { left, mut text } => {
                let take = left.min(input.len());
                client::push_latin1(&mut text, wire.bytes(take).ok_or_else(short)?);
                self.cut_text(left - take, text);
                Ok(take)
            }
            Incoming::ExtendedCutText { left, mut data } => {
                let take = left.min(input.len());
                data.extend_from_slice(wire.bytes(take).ok_or_else(short)?);
                self.extended_cut_text(left - take, data)?;
                Ok(take)
            }
            Incoming::DesktopLayoutHeader { left, rect } => {
                let (count, _padding) = wire.u8().zip(wire.array::<3>()).ok_or_else(short)?;
                let count = usize::from(count);
                self.expect(
                    Incoming::DesktopLayoutScreens { left, rect, count },
                    count * SCREEN_LEN,
                );
                Ok(4)
            }
            Incoming::DesktopLayoutScreens { left, rect, count } => {
                let len = count * SCREEN_LEN;
                let screens = ext_desktop::parse_screens(wire.bytes(len).ok_or_else(short)?, count)
                    .ok_or_else(short)?;
                self.desktop_layout(rect, screens)?;
                self.next_rect(left);
                Ok(len)
            }
            Incoming::DisplayMode { left, rect } => {
                let bytes = wire.array::<16>().ok_or_else(short)?;
                let format = PixelFormat::parse(&bytes)
                    .map_err(|e| Error::InvalidPixelFormat(e.to_string()))?;
                self.resize_framebuffer(rect.width, rect.height)?;
                // From here on the server sends this format, whatever this
                // client asked for before.
                self.format = format;
                self.server_format = Some(format);
                self.ext.pending_formats.clear();
                self.next_rect(left);
                Ok(16)
            }
            Incoming::Leds { left } => {
                let state = wire.u8().ok_or_else(short)?;
                self.leds(state);
                self.next_rect(left);
                Ok(1)
            }
            Incoming::AlphaCursorEncoding { left, rect } => {
                let encoding = wire.i32().ok_or_else(short)?;
                let cursor = Box::new(AlphaCursor::new(rect, encoding)?);
                self.expect(Incoming::AlphaCursor { left, cursor }, 0);
                Ok(4)
            }
            Incoming::AlphaCursor { left, mut cursor } => {
                match self.step_alpha_cursor(&mut cursor, input)? {
                    Progress::Done { consumed } => {
                        self.next_rect(left);
                        Ok(consumed.min(input.len()))
                    }
                    Progress::NeedMore { consumed, need } => {
                        let consumed = consumed.min(input.len());
                        let need = (input.len() - consumed).saturating_add(need.max(1));
                        self.expect(Incoming::AlphaCursor { left, cursor }, need);
                        Ok(consumed)
                    }
                }
            }
            Incoming::FenceHeader => {
                let (_padding, flags) = wire.array::<3>().zip(wire.u32()).ok_or_else(short)?;
                let len = usize::from(wire.u8().ok_or_else(short)?);
                if len > fence::MAX_PAYLOAD {
                    return Err(Error::Protocol(format!(
                        "the server sent a fence with {len} bytes of payload, more than the 64 allowed"
                    )));
                }
                self.expect(Incoming::FencePayload { flags, len }, len);
                Ok(8)
            }
            Incoming::FencePayload { flags, len } => {
                let payload = wire.bytes(len).ok_or_else(short)?;
                self.server_fence(flags, payload);
                self.expect(Incoming::MessageType, 1);
                Ok(len)
            }
            Incoming::Xvp => {
                let (_padding, version, code) = (wire.u8(), wire.u8(), wire.u8());
                let (Some(version), Some(code)) = (version, code) else {
                    return Err(short());
                };
                self.xvp_message(version, code)?;
                self.expect(Incoming::MessageType, 1);
                Ok(3)
            }
            Incoming::QemuHeader => {
                let (subtype, operation) = wire.u8().zip(wire.u16()).ok_or_else(short)?;
                if subtype != QEMU_AUDIO {
                    return Err(Error::Protocol(format!(
                        "the server sent QEMU message subtype {subtype}, which this client does not know"
                    )));
                }
                match operation {
                    server_audio::END => {
                        self.event(Event::AudioStopped);
                        self.expect(Incoming::MessageType, 1);
                    }
                    server_audio::BEGIN => {
                        self.event(Event::AudioStarted(self.ext.audio_format));
                        self.expect(Incoming::MessageType, 1);
                    }
                    server_audio::DATA => self.expect(Incoming::AudioLength, 4),
                    other => {
                        return Err(Error::Protocol(format!(
                            "the server sent QEMU audio operation {other}, which this client does not know"
                        )))
                    }
                }
                Ok(3)
            }
            Incoming::AudioLength => {
                let len = wire.u32().ok_or_else(short)?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > qemu::MAX_AUDIO_CHUNK {
                    return Err(Error::limit(
                        "audio chunk length in bytes",
                        len,
                        qemu::MAX_AUDIO_CHUNK,
                    ));
                }
                self.audio_data(len, Vec::with_capacity(len.min(64 * 1024)));
                Ok(4)
            }
            Incoming::AudioData { left, mut data } => {
                let take = left.min(input.len());
                data.extend_from_slice(wire.bytes(take).ok_or_else(short)?);
                self.audio_data(left - take, data);
                Ok(take)
            }
        }
    }

    /// Waits for `left` more bytes of an extended clipboard message, or
    /// handles it.
    fn extended_cut_text(&mut self, left: usize, data: Vec<u8>) -> Result<(), Error> {
        if left == 0 {
            self.extended_clipboard(&data)?;
            self.expect(Incoming::MessageType, 1);
        } else {
            self.expect(Incoming::ExtendedCutText { left, data }, 1);
        }
        Ok(())
    }

    /// Waits for `left` more bytes of audio, or reports them.
    fn audio_data(&mut self, left: usize, data: Vec<u8>) {
        if left == 0 {
            self.event(Event::AudioData(data));
            self.expect(Incoming::MessageType, 1);
        } else {
            self.expect(Incoming::AudioData { left, data }, 1);
        }
    }

    fn expect(&mut self, incoming: Incoming, need: usize) {
        self.go(State::Connected(incoming), need);
    }

    /// Moves to the next rectangle of an update, `left` of which remain, or
    /// ends the update.
    fn next_rect(&mut self, left: u16) {
        if left == 0 {
            // An update of pseudo-rectangles only (a screen layout, which
            // rfbproto sends without pixels, LED state, a cursor…) leaves
            // the picture as it was: it completes nothing.
            if !self.ext.update_pseudo_only {
                self.event(Event::UpdateComplete);
            }
            self.expect(Incoming::MessageType, 1);
        } else {
            self.expect(Incoming::RectHeader { left }, RECT_HEADER_LEN);
        }
    }

    /// Waits for `left` more bytes of clipboard text, or reports it.
    fn cut_text(&mut self, left: usize, text: String) {
        if left == 0 {
            self.event(Event::ServerCutText(text));
            self.expect(Incoming::MessageType, 1);
        } else {
            self.expect(Incoming::CutText { left, text }, 1);
        }
    }

    /// Starts a rectangle: pseudo-encodings are handled here, real ones by
    /// a decoder. `left` rectangles follow this one.
    fn rect_header(&mut self, left: u16, rect: Rect, encoding: i32) -> Result<(), Error> {
        let limits = self.config.limits;
        match encoding {
            encoding::DESKTOP_SIZE => {
                if rect.width > limits.max_width {
                    return Err(Error::limit(
                        "framebuffer width",
                        rect.width,
                        limits.max_width,
                    ));
                }
                if rect.height > limits.max_height {
                    return Err(Error::limit(
                        "framebuffer height",
                        rect.height,
                        limits.max_height,
                    ));
                }
                self.framebuffer.resize(rect.width, rect.height);
                // The whole (new) screen counts as changed.
                self.ext.update_pseudo_only = false;
                self.event(Event::Resized {
                    width: rect.width,
                    height: rect.height,
                });
                // The request sent when this update started covers the old
                // size; ask again for the new one, or a grown area would
                // never be updated.
                self.screen_area_changed();
                self.next_rect(left);
            }
            encoding::LAST_RECT => {
                // Not a rectangle: an update of nothing but this is empty.
                if !self.ext.update_rects {
                    self.ext.update_pseudo_only = false;
                }
                self.next_rect(0);
            }
            encoding::POINTER_POS => {
                self.event(Event::PointerPos {
                    x: rect.x,
                    y: rect.y,
                });
                self.next_rect(left);
            }
            encoding::DESKTOP_NAME => self.expect(Incoming::NameLength { left }, 4),
            encoding::CURSOR | encoding::X_CURSOR => {
                let max = limits.max_cursor_size;
                if rect.width > max || rect.height > max {
                    return Err(Error::limit(
                        "cursor size in pixels",
                        rect.width.max(rect.height),
                        max,
                    ));
                }
                let (shape, len) = if rect.width == 0 || rect.height == 0 {
                    let shape = if encoding == encoding::CURSOR {
                        CursorShape::Rich
                    } else {
                        CursorShape::X
                    };
                    // A rich cursor of no pixels still has its (empty)
                    // bitmask; an X cursor of no pixels has no data at all.
                    (shape, 0)
                } else if encoding == encoding::CURSOR {
                    let bpp = self.format.bytes_per_pixel();
                    (
                        CursorShape::Rich,
                        cursor::rich_len(rect.width, rect.height, bpp),
                    )
                } else {
                    (CursorShape::X, cursor::x_len(rect.width, rect.height))
                };
                self.expect(
                    Incoming::Cursor {
                        left,
                        shape,
                        rect,
                        len,
                    },
                    len,
                );
            }
            pseudo::EXTENDED_DESKTOP_SIZE => {
                self.expect(Incoming::DesktopLayoutHeader { left, rect }, 4)
            }
            pseudo::VMWARE_DISPLAY_MODE_CHANGE => {
                self.expect(Incoming::DisplayMode { left, rect }, 16);
            }
            pseudo::QEMU_LED_STATE => self.expect(Incoming::Leds { left }, 1),
            pseudo::QEMU_EXTENDED_KEY_EVENT => {
                self.qemu_confirmed(Extension::ExtendedKeys);
                self.next_rect(left);
            }
            pseudo::QEMU_AUDIO => {
                self.qemu_confirmed(Extension::Audio);
                self.next_rect(left);
            }
            pseudo::QEMU_POINTER_MOTION_CHANGE => {
                self.pointer_mode(rect.x == 0);
                self.next_rect(left);
            }
            pseudo::EXTENDED_MOUSE_BUTTONS => {
                self.extended_mouse_buttons_confirmed();
                self.next_rect(left);
            }
            pseudo::CURSOR_WITH_ALPHA => {
                let max = limits.max_cursor_size;
                if rect.width > max || rect.height > max {
                    return Err(Error::limit(
                        "cursor size in pixels",
                        rect.width.max(rect.height),
                        max,
                    ));
                }
                self.expect(Incoming::AlphaCursorEncoding { left, rect }, 4);
            }
            _ => {
                self.ext.update_pseudo_only = false;
                self.decoder = Some(RectDecoder::new(rect, encoding, &self.framebuffer)?);
                self.expect(Incoming::Rect { left, rect }, 0);
            }
        }
        Ok(())
    }
}
