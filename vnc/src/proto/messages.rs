//! Server-to-client messages after the handshake: FramebufferUpdate (its
//! rectangle headers and pseudo-encodings; real encodings go to
//! [`crate::decode`]), SetColourMapEntries, Bell and ServerCutText.
//! Also owns update pacing: the next incremental request goes out as soon
//! as an update starts arriving.

use super::wire::Reader;
use super::{client, Error, Event, Session, State};
use crate::decode::{encoding, Progress, RectDecoder, Target};
use crate::framebuffer::Rect;

use crate::decode::cursor::{self, CursorImage};

/// Server message types (rfbproto "Server to Client Messages").
mod message {
    pub const FRAMEBUFFER_UPDATE: u8 = 0;
    pub const SET_COLOUR_MAP_ENTRIES: u8 = 1;
    pub const BELL: u8 = 2;
    pub const SERVER_CUT_TEXT: u8 = 3;
}

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
                self.send_update_request(true, None);
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
                match decoder.step(input, &mut self.decoders, &mut target)? {
                    Progress::Done { consumed } => {
                        self.decoder = None;
                        if rect.width > 0 && rect.height > 0 {
                            self.event(Event::Damage(rect));
                        }
                        self.next_rect(left);
                        Ok(consumed.min(input.len()))
                    }
                    Progress::NeedMore { consumed, need } => {
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
                let (_padding, len) = wire.array::<3>().zip(wire.u32()).ok_or_else(short)?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let max = self.config.limits.max_cut_text;
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
        }
    }

    fn expect(&mut self, incoming: Incoming, need: usize) {
        self.go(State::Connected(incoming), need);
    }

    /// Moves to the next rectangle of an update, `left` of which remain, or
    /// ends the update.
    fn next_rect(&mut self, left: u16) {
        if left == 0 {
            self.event(Event::UpdateComplete);
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
                self.event(Event::Resized {
                    width: rect.width,
                    height: rect.height,
                });
                // The request sent when this update started covers the old
                // size; ask again for the new one, or a grown area would
                // never be updated.
                self.send_update_request(true, None);
                self.next_rect(left);
            }
            encoding::LAST_RECT => self.next_rect(0),
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
            _ => {
                self.decoder = Some(RectDecoder::new(rect, encoding, &self.framebuffer)?);
                self.expect(Incoming::Rect { left, rect }, 0);
            }
        }
        Ok(())
    }
}
