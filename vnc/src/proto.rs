//! The sans-IO RFB client session: the handshake, the security negotiation
//! (through [`crate::security`]), the server messages after it, and the
//! client messages the user's input becomes. It owns the framebuffer and the
//! per-connection decoder state, and no socket, clock or runtime: bytes go
//! in with [`Session::feed`], bytes to send come out of
//! [`Session::poll_transmit`], and what happened comes out of
//! [`Session::poll_event`].
//!
//! Parsing is a state machine over [`State`]: each state says how many
//! bytes it needs before it can make progress (`need`); the session feeds
//! states straight from the caller's slice and buffers only the tail that a
//! state cannot use yet, so it never holds more than what the current step
//! needs plus one read's worth. Every length a server declares is checked
//! against [`Limits`] before anything is allocated or waited for.
//!
//! Growing it (part 2): a security type that needs TLS (VeNCrypt, type 18)
//! returns a step asking for it from its [`crate::security`] negotiation;
//! the session then keeps a sans-IO TLS connection between `feed` /
//! `poll_transmit` and this parser, and the rest of the handshake and all
//! messages run over its plaintext unchanged. New server messages and
//! pseudo-encodings are new `Incoming` states and `rect_header` arms.

mod alpha_cursor;
mod client;
mod clipboard;
mod error;
mod event;
mod ext_desktop;
mod extensions;
mod fence;
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod limits;
mod messages;
mod qemu;
mod quality;
mod tls_layer;
mod wire;

use std::collections::VecDeque;
use std::mem;

pub use error::Error;
pub use event::Event;
pub use ext_desktop::{ResizeReason, ResizeStatus, Screen};
pub use extensions::{pseudo_encoding, Extension, XvpAction};
pub use handshake::ProtocolVersion;
pub use limits::Limits;
pub use qemu::{AudioFormat, SampleFormat};
pub use quality::Quality;

use crate::decode::{encoding, Decoders, RectDecoder};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{ColourMap, PixelFormat};
use crate::security::{Credentials, SecurityPolicy, SecurityType, TlsConfig};

/// How a session behaves; everything has a sensible default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub limits: Limits,
    pub security: SecurityPolicy,
    /// What a TLS connection trusts (set `server_name` to the host the
    /// user connected to).
    pub tls: TlsConfig,
    /// Real encodings in preference order. The session appends the
    /// pseudo-encodings it supports ([`Config::PSEUDO_ENCODINGS`]).
    pub encodings: Vec<i32>,
    /// The format to ask the server for; `None` asks for
    /// [`PixelFormat::NATIVE`], which decodes fastest.
    pub pixel_format: Option<PixelFormat>,
    /// Keep the server's own pixel format instead (send no SetPixelFormat).
    pub use_server_format: bool,
    /// Let other clients stay connected (ClientInit's shared flag).
    pub shared: bool,
    /// Whether JPEG is allowed; [`Quality::auto_for`] picks it by address.
    pub quality: Quality,
    /// The compression level (0–9) asked of the server; `None` leaves
    /// the server's own default.
    pub compress_level: Option<u8>,
    /// Ask for the cursor shape (Cursor, XCursor, alpha cursor) to draw it
    /// locally; `false` leaves the server to draw it into the picture.
    pub local_cursor: bool,
}

impl Config {
    /// Every real encoding this client decodes, CopyRect first (servers use
    /// it whenever it is listed) and then from the most to the least
    /// compact.
    pub const ENCODINGS: [i32; 9] = [
        encoding::COPY_RECT,
        encoding::TIGHT,
        encoding::ZRLE,
        encoding::TRLE,
        encoding::HEXTILE,
        encoding::ZLIB,
        encoding::CORRE,
        encoding::RRE,
        encoding::RAW,
    ];

    /// The pseudo-encodings every session announces after the real ones.
    /// The alpha cursor comes before Cursor and XCursor, ExtendedDesktopSize
    /// before DesktopSize: servers take the first they support.
    pub const PSEUDO_ENCODINGS: [i32; 18] = [
        pseudo_encoding::EXTENDED_DESKTOP_SIZE,
        encoding::DESKTOP_SIZE,
        encoding::LAST_RECT,
        pseudo_encoding::CURSOR_WITH_ALPHA,
        encoding::CURSOR,
        encoding::X_CURSOR,
        encoding::DESKTOP_NAME,
        encoding::POINTER_POS,
        pseudo_encoding::VMWARE_DISPLAY_MODE_CHANGE,
        pseudo_encoding::FENCE,
        pseudo_encoding::CONTINUOUS_UPDATES,
        pseudo_encoding::EXTENDED_CLIPBOARD,
        pseudo_encoding::XVP,
        pseudo_encoding::EXTENDED_MOUSE_BUTTONS,
        pseudo_encoding::QEMU_EXTENDED_KEY_EVENT,
        pseudo_encoding::QEMU_LED_STATE,
        pseudo_encoding::QEMU_AUDIO,
        pseudo_encoding::QEMU_POINTER_MOTION_CHANGE,
    ];
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            security: SecurityPolicy::default(),
            tls: TlsConfig::default(),
            encodings: Self::ENCODINGS.to_vec(),
            pixel_format: None,
            use_server_format: false,
            shared: true,
            quality: Quality::Lossless,
            compress_level: None,
            local_cursor: true,
        }
    }
}

/// The pseudo-encodings that carry the cursor shape.
const CURSOR_ENCODINGS: [i32; 3] = [
    pseudo_encoding::CURSOR_WITH_ALPHA,
    encoding::CURSOR,
    encoding::X_CURSOR,
];

/// Where the parser is.
#[derive(Debug)]
enum State {
    Handshake(handshake::Phase),
    Connected(messages::Incoming),
    Closed,
}

/// An RFB client connection, without the connection: see the module docs.
#[derive(Debug)]
pub struct Session {
    config: Config,
    state: State,
    /// Bytes the current state needs in one slice before it can run.
    need: usize,
    /// Received bytes the current state could not use yet.
    input: Vec<u8>,
    transmit: Vec<u8>,
    events: VecDeque<Event>,
    version: Option<ProtocolVersion>,
    security_type: Option<SecurityType>,
    /// Given by the user ahead of time or on request; taken by the security
    /// handshake that uses them.
    credentials: Option<Credentials>,
    framebuffer: Framebuffer,
    server_format: Option<PixelFormat>,
    format: PixelFormat,
    colour_map: ColourMap,
    decoders: Decoders,
    /// The rectangle being decoded, kept out of [`State`] so that moving
    /// the state from step to step stays cheap.
    decoder: Option<RectDecoder>,
    name: String,
    /// What the server confirmed of the extensions, and their state.
    ext: extensions::Extensions,
    /// TLS below the parser, once a security type started it.
    tls: tls_layer::Transport,
    /// Where an image the parser stopped at is (see
    /// [`Session::feed_until_image`]).
    image: ImageWait,
    /// Received (plaintext) bytes after that image, run once it is
    /// written; those from `held_at` on are still to run.
    held: Vec<u8>,
    held_at: usize,
}

/// An image the parser stopped at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageWait {
    None,
    /// Waiting for [`Session::decode_image`].
    Stopped,
    /// Decoded: the parser writes it (or its next band) first thing next
    /// time.
    Resume,
}

/// What [`Session::feed_until_image`] left to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Fed {
    /// Every byte was processed.
    All,
    /// The session stopped at an image (JPEG or PNG) whose bytes have all
    /// arrived: [`Session::decode_image`] decodes it without the
    /// framebuffer, and the next `feed_until_image` (no new bytes needed)
    /// writes it and goes on with the bytes after it, which the session
    /// holds meanwhile. A large image is written in bands of about 1 MB,
    /// stopping with `Image` again after each band but the last (the
    /// `decode_image` call between them does nothing), so that a driver
    /// holds a shared framebuffer's lock for one band at a time.
    Image,
}

impl Session {
    /// A session about to read the server's greeting.
    pub fn new(config: Config) -> Self {
        let decoders = Decoders::new(config.limits.max_compressed_len);
        Self {
            state: State::Handshake(handshake::Phase::Greeting),
            need: handshake::Phase::GREETING_LEN,
            input: Vec::new(),
            transmit: Vec::new(),
            events: VecDeque::new(),
            version: None,
            security_type: None,
            credentials: None,
            framebuffer: Framebuffer::default(),
            server_format: None,
            format: PixelFormat::NATIVE,
            colour_map: ColourMap::new(),
            decoders,
            decoder: None,
            name: String::new(),
            ext: extensions::Extensions::default(),
            tls: tls_layer::Transport::default(),
            image: ImageWait::None,
            held: Vec::new(),
            held_at: 0,
            config,
        }
    }

    /// Processes bytes received from the server, split anywhere. An error
    /// closes the session: later calls return [`Error::Closed`].
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut fed = self.feed_until_image(bytes)?;
        while fed == Fed::Image {
            self.decode_image()?;
            fed = self.feed_until_image(&[])?;
        }
        Ok(())
    }

    /// Like [`Session::feed`], but stops before decoding an image (JPEG or
    /// PNG, the slowest rectangles: about 10 ms for a 1080p JPEG) and says
    /// so with [`Fed::Image`]. Decoding it ([`Session::decode_image`])
    /// needs no framebuffer, so a driver that lends the session a shared
    /// one ([`Session::swap_framebuffer`]) can take it back meanwhile and
    /// lend it again only for what writes pixels: the other rectangles, and
    /// the copy of the decoded image's rows that the next call starts with.
    pub fn feed_until_image(&mut self, bytes: &[u8]) -> Result<Fed, Error> {
        if matches!(self.state, State::Closed) {
            return Err(self.tls.take_error().unwrap_or(Error::Closed));
        }
        let result = self.run_held().and_then(|()| self.receive(bytes));
        if result.is_err() {
            self.close();
        }
        result?;
        Ok(if self.image == ImageWait::Stopped {
            Fed::Image
        } else {
            Fed::All
        })
    }

    /// Decodes the image [`Fed::Image`] stopped at, touching no
    /// framebuffer; does nothing if none waits or it is decoded already
    /// (between bands). An error closes the session.
    pub fn decode_image(&mut self) -> Result<(), Error> {
        if self.image != ImageWait::Stopped {
            return Ok(());
        }
        self.image = ImageWait::Resume;
        let result = match self.decoder.as_mut() {
            Some(decoder) => decoder
                .decode_image(&mut self.decoders)
                .map_err(Error::from),
            None => Err(Error::Protocol(
                "an image to decode without its rectangle (a bug in porthole-vnc)".to_owned(),
            )),
        };
        if result.is_err() {
            self.close();
        }
        result
    }

    /// The next thing that happened, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends every byte waiting to be sent to `out`; returns how many.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.send_out(out)
    }

    /// Gives the session credentials: either in answer to
    /// [`Event::CredentialsRequired`], or ahead of time (e.g. from a password
    /// file), in which case they are used if a security type needs them and
    /// no event is raised. They are dropped once used.
    ///
    /// Fails, and closes the session, if the handshake waiting for them
    /// cannot use them (e.g. no password in them).
    pub fn provide_credentials(&mut self, credentials: Credentials) -> Result<(), Error> {
        self.credentials = Some(credentials);
        let result = self.resume_with_credentials();
        if result.is_err() {
            self.close();
        }
        result
    }

    /// The client's copy of the remote screen (empty before ServerInit).
    pub fn framebuffer(&self) -> &Framebuffer {
        &self.framebuffer
    }

    /// Exchanges the session's framebuffer with `other` (no pixel is
    /// copied), so a driver can lend the session a framebuffer it shares
    /// and have rectangles decoded straight into it. The session must get
    /// its own back before it works on anything else, except
    /// [`Session::decode_image`], which needs none.
    pub fn swap_framebuffer(&mut self, other: &mut Framebuffer) {
        std::mem::swap(&mut self.framebuffer, other);
    }

    /// The format rectangles arrive in.
    pub fn pixel_format(&self) -> &PixelFormat {
        &self.format
    }

    /// The server's own pixel format, once ServerInit arrived.
    pub fn server_pixel_format(&self) -> Option<&PixelFormat> {
        self.server_format.as_ref()
    }

    /// The colour map set by the server, for colour-mapped formats.
    pub fn colour_map(&self) -> &ColourMap {
        &self.colour_map
    }

    /// The desktop name (empty before ServerInit).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol version both sides speak, once agreed.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The security type in use, once chosen.
    pub fn security_type(&self) -> Option<SecurityType> {
        self.security_type
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the handshake is over and the session not closed.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// Whether the session ended (after an error).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Received bytes held until the current step can use them; bounded by
    /// what that step needs plus one `feed`'s worth (plus what was fed
    /// while an image waited for [`Session::decode_image`]).
    pub fn buffered_input(&self) -> usize {
        self.input.len() + self.held.len().saturating_sub(self.held_at)
    }

    /// Sends a key press or release. Input before the session is connected
    /// is dropped: the server could not take it.
    pub fn key_event(&mut self, down: bool, keysym: u32) {
        if self.is_connected() {
            client::key_event(&mut self.transmit, down, keysym);
        }
    }

    /// Sends the pointer position and button mask (bit 0 left, 1 middle,
    /// 2 right, 3/4 wheel up/down). Dropped before the session is connected.
    pub fn pointer_event(&mut self, x: u16, y: u16, buttons: u8) {
        // Once the server takes extended mouse buttons, bit 7 (back) is a
        // marker there: that call knows how to send it.
        self.pointer_event_buttons(x, y, u16::from(buttons));
    }

    /// Sends the local clipboard text, as Latin-1 (characters outside it
    /// become '?'). Dropped before the session is connected.
    pub fn client_cut_text(&mut self, text: &str) {
        if self.is_connected() {
            client::client_cut_text(&mut self.transmit, text);
        }
    }

    /// Asks for an update of `rect` (`None`: the whole screen). The session
    /// already asks for the next incremental update whenever one starts
    /// arriving; this is for a full refresh or a region.
    pub fn request_update(&mut self, incremental: bool, rect: Option<Rect>) {
        if self.is_connected() {
            self.send_update_request(incremental, rect);
        }
    }

    /// Queues a FramebufferUpdateRequest (`None`: the whole screen).
    fn send_update_request(&mut self, incremental: bool, rect: Option<Rect>) {
        let rect = rect.unwrap_or_else(|| self.screen());
        client::framebuffer_update_request(&mut self.transmit, incremental, rect);
    }

    /// Asks the server for rectangles in `format` from now on. With a
    /// server that speaks fences, the session switches exactly where the
    /// server's stream does (also under continuous updates); without, it
    /// switches at once, so rectangles already under way in the old format
    /// would be misread: change formats between updates then.
    pub fn set_pixel_format(&mut self, format: PixelFormat) -> Result<(), Error> {
        format
            .validate()
            .map_err(|e| Error::InvalidPixelFormat(e.to_string()))?;
        if self.is_connected() {
            self.change_pixel_format(format)?;
        } else {
            self.config.pixel_format = Some(format);
            self.config.use_server_format = false;
        }
        Ok(())
    }

    /// Replaces the list of real encodings (the supported pseudo-encodings
    /// are appended).
    pub fn set_encodings(&mut self, encodings: Vec<i32>) {
        self.config.encodings = encodings;
        if self.is_connected() {
            self.send_encodings();
        }
    }

    /// Whether to ask for the cursor shape (see [`Config::local_cursor`]);
    /// a connected session announces its encodings again.
    pub fn set_local_cursor(&mut self, local: bool) {
        self.config.local_cursor = local;
        if self.is_connected() {
            self.send_encodings();
        }
    }

    /// The whole framebuffer as a rectangle.
    fn screen(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: self.framebuffer.width(),
            height: self.framebuffer.height(),
        }
    }

    fn send_encodings(&mut self) {
        let list: Vec<i32> = self
            .config
            .encodings
            .iter()
            .copied()
            .filter(|e| !Config::PSEUDO_ENCODINGS.contains(e))
            .chain(Config::PSEUDO_ENCODINGS)
            .filter(|e| self.config.local_cursor || !CURSOR_ENCODINGS.contains(e))
            .chain(self.config.quality_encodings())
            .collect();
        client::set_encodings(&mut self.transmit, &list);
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.need = 0;
        self.input = Vec::new();
        self.credentials = None;
        self.decoder = None;
        self.image = ImageWait::None;
        self.held = Vec::new();
        self.held_at = 0;
    }

    /// Moves to `state`, which needs `need` bytes before it can run.
    fn go(&mut self, state: State, need: usize) {
        self.state = state;
        self.need = need;
    }

    fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Runs plaintext `bytes` through the parser, or holds them while an
    /// image waits (and holds what the parser leaves when it stops at one).
    fn parse_or_hold(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.image != ImageWait::None || self.held_at < self.held.len() {
            self.held.extend_from_slice(bytes);
            return Ok(());
        }
        let used = self.parse(bytes)?;
        self.held
            .extend_from_slice(bytes.get(used..).unwrap_or_default());
        Ok(())
    }

    /// Writes a decoded image and runs the held bytes after it, unless
    /// the image still waits to be decoded. (Without an image the parser
    /// is not run: a step that needs no bytes may be waiting for TLS.)
    fn run_held(&mut self) -> Result<(), Error> {
        match self.image {
            ImageWait::Stopped => return Ok(()),
            ImageWait::None if self.held_at == self.held.len() => return Ok(()),
            ImageWait::None | ImageWait::Resume => self.image = ImageWait::None,
        }
        let held = mem::take(&mut self.held);
        let result = self.parse(held.get(self.held_at..).unwrap_or_default());
        self.held = held;
        self.held_at += *result.as_ref().unwrap_or(&0);
        if self.held_at >= self.held.len() {
            // Kept for the next image's bytes.
            self.held.clear();
            self.held_at = 0;
        }
        result.map(drop)
    }

    /// Runs states over `bytes`, buffering only what the current state
    /// cannot use yet; returns how many bytes it took, which is all of
    /// them unless it stopped at an image (see [`Session::feed_until_image`]).
    fn parse(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let total = bytes.len();
        let mut bytes = bytes;
        // Every step either consumes bytes, or moves to a state that needs
        // more than is available, or to another state that will; this
        // counter turns a broken promise into an error instead of a hang.
        let mut idle_steps = 0u32;
        loop {
            if self.image == ImageWait::Stopped {
                return Ok(total - bytes.len());
            }
            let consumed = if self.input.is_empty() {
                if bytes.len() < self.need {
                    self.input.extend_from_slice(bytes);
                    return Ok(total);
                }
                let consumed = self.step(bytes)?;
                bytes = bytes.get(consumed..).unwrap_or_default();
                consumed
            } else {
                let missing = self.need.saturating_sub(self.input.len());
                let (top_up, rest) = bytes.split_at(missing.min(bytes.len()));
                self.input.extend_from_slice(top_up);
                bytes = rest;
                if self.input.len() < self.need {
                    return Ok(total);
                }
                let buffered = mem::take(&mut self.input);
                let result = self.step(&buffered);
                self.input = buffered;
                let consumed = result?;
                self.input.drain(..consumed.min(self.input.len()));
                consumed
            };
            if consumed == 0 {
                idle_steps += 1;
                if idle_steps > 16 {
                    return Err(Error::Protocol(
                        "the parser stopped making progress (a bug in porthole-vnc)".to_owned(),
                    ));
                }
            } else {
                idle_steps = 0;
            }
        }
    }

    /// Runs the current state on `input` (at least `need` bytes); returns
    /// how many bytes it used and leaves the next state in place.
    fn step(&mut self, input: &[u8]) -> Result<usize, Error> {
        match mem::replace(&mut self.state, State::Closed) {
            State::Handshake(phase) => self.step_handshake(phase, input),
            State::Connected(incoming) => self.step_connected(incoming, input),
            State::Closed => Err(Error::Closed),
        }
    }
}

#[cfg(test)]
mod tests;
