//! The tokio driver: connects to a server (TCP over IPv4/IPv6, a Unix
//! socket, or a socket someone else connected, such as libvirt's
//! `OpenGraphicsFD`), runs a [`Session`] over it in a task, and gives the
//! caller an async handle. It owns sockets and tasks; it knows nothing of
//! the protocol beyond handing bytes to the session and its events out.
//!
//! # Sharing the framebuffer
//!
//! The session (and so decoding) lives in the driver task, off the caller's
//! thread, and decodes straight into the framebuffer it shares with the
//! caller ([`Handle::framebuffer`], an `Arc<Mutex<Framebuffer>>`): while it
//! works on bytes the task holds the lock and lends the shared pixels to
//! the session (an O(1) swap), so no pixel is copied between the decoder
//! and a receiver. A receiver that sees an [`Event::Damage`] finds its
//! pixels already there, and copies just the rectangles it was told about
//! (a GL texture upload, a thumbnail). The lock is held for at most
//! [`FEED_SLICE`] bytes of input at a time, and never while an image
//! (JPEG, PNG) is decoded, only while a band of its rows is copied in
//! ([`Session::feed_until_image`]), so a receiver waits for a little
//! decoding, never for the network or a whole image. The shared pixels run ahead of
//! the events by what one read brought in: pixels of the next update can be
//! there when `UpdateComplete` of the previous one arrives.
//!
//! The driver also notes when it read the last byte of each update
//! ([`Handle::update_read_at`]), so a viewer can tell how long the update
//! took from the network to the screen.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::address::Address;
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelFormat;
use crate::proto::{self, AudioFormat, Config, Event, Fed, Session, XvpAction};
use crate::security::{Credentials, SecuritySummary};

/// How long [`connect`] waits by default for a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How many events may wait for the receiver before the driver stops
/// reading the socket (which in turn slows the server down).
const EVENT_QUEUE: usize = 1024;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 256 * 1024;

/// Input decoded per hold of the framebuffer lock: at most about 0.1 ms of
/// Raw, a few ms of the best-compressed zlib, so a receiver drawing a frame
/// never waits long for the decoder.
const FEED_SLICE: usize = 64 * 1024;

/// How many of the latest updates' read times are kept for
/// [`Handle::update_read_at`].
const UPDATE_TIMES_KEPT: usize = 256;

/// When the last byte of each recent update was read.
#[derive(Debug, Default)]
struct UpdateTimes {
    /// Updates completed so far; `recent` ends with the latest.
    completed: u64,
    recent: VecDeque<Instant>,
}

/// Why a connection could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot resolve host name {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("host name {host} resolves to no address")]
    NoAddress { host: String },
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: io::Error },
    #[error("connecting to {address} timed out after {} s; check the host, the port and any firewall", timeout.as_secs_f32())]
    ConnectTimeout { address: String, timeout: Duration },
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection during the handshake")]
    ClosedDuringHandshake,
    #[error("the server closed the connection")]
    ClosedByServer,
    #[error(transparent)]
    Session(#[from] proto::Error),
}

/// What the driver reports, in order: the session's events, then exactly
/// one `Closed` as the last event.
#[derive(Debug)]
pub enum DriverEvent {
    Session(Event),
    /// The connection is over: `Ok` after [`Handle::shutdown`] (or when
    /// every handle was dropped), the reason otherwise.
    Closed(Result<(), DriverError>),
}

/// Something that carries the RFB byte stream.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A connected byte stream, before the session runs on it.
pub struct Stream(Pin<Box<dyn Transport>>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

impl Stream {
    /// Wraps any async byte stream (a TLS layer, an SSH channel, a test pipe).
    pub fn new(transport: impl Transport) -> Self {
        Self(Box::pin(transport))
    }

    /// Takes over an already-connected stream socket, such as the one
    /// libvirt's `OpenGraphicsFD` returns. Must be called within a tokio
    /// runtime.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        // Plain read/write work on any stream socket, so the Unix socket
        // type serves for TCP descriptors too.
        let socket = std::os::unix::net::UnixStream::from(fd);
        socket.set_nonblocking(true)?;
        Ok(Self::new(UnixStream::from_std(socket)?))
    }
}

/// Connects to `address`: over TCP (every address the name resolves to,
/// IPv6 and IPv4, in the resolver's order, each given `timeout`) or a
/// Unix socket.
pub async fn connect(address: &Address, timeout: Duration) -> Result<Stream, DriverError> {
    match address {
        Address::Tcp { host, port } => connect_tcp(host, *port, timeout).await.map(Stream::new),
        Address::Unix(path) => connect_unix(path, timeout).await.map(Stream::new),
    }
}

/// Connects to `host:port` over TCP with TCP_NODELAY set (RFB messages are
/// small and latency-bound: input events must not wait for Nagle).
pub async fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, DriverError> {
    let addresses: Vec<SocketAddr> =
        tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| DriverError::ConnectTimeout {
                address: format!("{host}::{port}"),
                timeout,
            })?
            .map_err(|source| DriverError::Resolve {
                host: host.to_owned(),
                source,
            })?
            .collect();
    let mut last_error = None;
    for address in &addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Ok(Err(source)) => {
                last_error = Some(DriverError::Connect {
                    address: address.to_string(),
                    source,
                })
            }
            Err(_) => {
                last_error = Some(DriverError::ConnectTimeout {
                    address: address.to_string(),
                    timeout,
                })
            }
        }
    }
    Err(last_error.unwrap_or_else(|| DriverError::NoAddress {
        host: host.to_owned(),
    }))
}

/// Connects to a Unix socket at `path`.
pub async fn connect_unix(path: &Path, timeout: Duration) -> Result<UnixStream, DriverError> {
    let address = format!("unix:{}", path.display());
    match tokio::time::timeout(timeout, UnixStream::connect(path)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(DriverError::Connect { address, source }),
        Err(_) => Err(DriverError::ConnectTimeout { address, timeout }),
    }
}

/// What the handle asks the task to do.
#[derive(Debug)]
enum Command {
    Key {
        down: bool,
        keysym: u32,
    },
    Pointer {
        x: u16,
        y: u16,
        buttons: u8,
    },
    CutText(String),
    RequestUpdate {
        incremental: bool,
        rect: Option<Rect>,
    },
    Credentials(Credentials),
    SetEncodings(Vec<i32>),
    SetPixelFormat(PixelFormat),
    KeyScancode {
        down: bool,
        keysym: u32,
        keycode: u32,
    },
    PointerButtons {
        x: u16,
        y: u16,
        buttons: u16,
    },
    ClipboardText(String),
    DesktopSize {
        width: u16,
        height: u16,
    },
    Xvp(XvpAction),
    AudioFormat(AudioFormat),
    Audio(bool),
    LocalCursor(bool),
    Shutdown,
}

/// The caller's side of a running connection. Cheap to clone; the
/// connection ends when [`Handle::shutdown`] is called, when the server or
/// an error ends it, or when every handle and the event receiver are gone.
#[derive(Clone, Debug)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    framebuffer: Arc<Mutex<Framebuffer>>,
    /// Set when the session connects (see [`Handle::security_summary`]).
    security: Arc<Mutex<SecuritySummary>>,
    update_times: Arc<Mutex<UpdateTimes>>,
}

/// The receiving end of a connection's [`DriverEvent`]s.
pub type Events = mpsc::Receiver<DriverEvent>;

/// Starts a session over `stream` in a new task on the current tokio
/// runtime (call it from within one). `credentials`, if
/// given, answer the server's first request for them without an event
/// (e.g. a password from a file).
pub fn spawn(
    stream: Stream,
    config: Config,
    credentials: Option<Credentials>,
) -> (Handle, Events, JoinHandle<()>) {
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    let framebuffer = Arc::new(Mutex::new(Framebuffer::default()));
    let security = Arc::new(Mutex::new(SecuritySummary::Unencrypted));
    let update_times = Arc::new(Mutex::new(UpdateTimes::default()));
    let mut session = Session::new(config);
    let early_error = credentials.and_then(|c| session.provide_credentials(c).err());
    let task = Task {
        session,
        stream: stream.0,
        commands: command_rx,
        events: event_tx,
        framebuffer: Arc::clone(&framebuffer),
        security: Arc::clone(&security),
        update_times: Arc::clone(&update_times),
    };
    let join = tokio::spawn(task.run(early_error));
    let handle = Handle {
        commands: command_tx,
        framebuffer,
        security,
        update_times,
    };
    (handle, event_rx, join)
}

impl Handle {
    /// The shared copy of the remote screen (see the module docs).
    pub fn framebuffer(&self) -> &Arc<Mutex<Framebuffer>> {
        &self.framebuffer
    }

    /// Locks the shared framebuffer (a poisoned lock still holds pixels).
    pub fn lock_framebuffer(&self) -> MutexGuard<'_, Framebuffer> {
        self.framebuffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How the connection is protected (TLS, verified or not), known by
    /// the time [`Event::Connected`] arrives; for the UI's padlock.
    pub fn security_summary(&self) -> SecuritySummary {
        *self.security.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the driver read the last byte of the update that
    /// `Event::UpdateComplete` number `number` (counting from 0) ends;
    /// `None` once [`UPDATE_TIMES_KEPT`] newer updates were read, or before
    /// that update arrived.
    pub fn update_read_at(&self, number: u64) -> Option<Instant> {
        let times = self
            .update_times
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let back = times.completed.checked_sub(number)?;
        let index = times
            .recent
            .len()
            .checked_sub(usize::try_from(back).ok()?)?;
        times.recent.get(index).copied()
    }

    /// Whether the connection's task is still running.
    pub fn is_open(&self) -> bool {
        !self.commands.is_closed()
    }

    pub fn key_event(&self, down: bool, keysym: u32) {
        self.send(Command::Key { down, keysym });
    }

    pub fn pointer_event(&self, x: u16, y: u16, buttons: u8) {
        self.send(Command::Pointer { x, y, buttons });
    }

    /// Sends clipboard text to the server.
    pub fn client_cut_text(&self, text: impl Into<String>) {
        self.send(Command::CutText(text.into()));
    }

    /// Asks for an update of `rect` (`None`: the whole screen).
    pub fn request_update(&self, incremental: bool, rect: Option<Rect>) {
        self.send(Command::RequestUpdate { incremental, rect });
    }

    /// Answers [`Event::CredentialsRequired`].
    pub fn provide_credentials(&self, credentials: Credentials) {
        self.send(Command::Credentials(credentials));
    }

    pub fn set_encodings(&self, encodings: Vec<i32>) {
        self.send(Command::SetEncodings(encodings));
    }

    pub fn set_pixel_format(&self, format: PixelFormat) {
        self.send(Command::SetPixelFormat(format));
    }

    /// A key with its XT scancode ([`Session::key_event_scancode`]).
    pub fn key_event_scancode(&self, down: bool, keysym: u32, keycode: u32) {
        self.send(Command::KeyScancode {
            down,
            keysym,
            keycode,
        });
    }

    /// The pointer with up to 15 buttons ([`Session::pointer_event_buttons`]).
    pub fn pointer_event_buttons(&self, x: u16, y: u16, buttons: u16) {
        self.send(Command::PointerButtons { x, y, buttons });
    }

    /// Offers clipboard text, UTF-8 where the server can take it
    /// ([`Session::send_clipboard_text`]).
    pub fn send_clipboard_text(&self, text: impl Into<String>) {
        self.send(Command::ClipboardText(text.into()));
    }

    /// Asks for a new desktop size; nothing happens if the server cannot
    /// resize (watch for [`Event::DesktopLayout`] to know it can).
    pub fn request_desktop_size(&self, width: u16, height: u16) {
        self.send(Command::DesktopSize { width, height });
    }

    /// A power action; ignored unless the server offered xvp.
    pub fn xvp(&self, action: XvpAction) {
        self.send(Command::Xvp(action));
    }

    /// Sets the audio format; ignored until QEMU acknowledged audio.
    pub fn audio_set_format(&self, format: AudioFormat) {
        self.send(Command::AudioFormat(format));
    }

    /// Starts or stops audio; ignored until QEMU acknowledged audio.
    pub fn audio_enable(&self, enable: bool) {
        self.send(Command::Audio(enable));
    }

    /// Whether to ask for the cursor shape or let the server draw the
    /// cursor into the picture ([`Session::set_local_cursor`]).
    pub fn set_local_cursor(&self, local: bool) {
        self.send(Command::LocalCursor(local));
    }

    /// Flushes what is queued for the server, closes the connection, and
    /// ends the event stream with `Closed(Ok(()))`.
    pub fn shutdown(&self) {
        self.send(Command::Shutdown);
    }

    fn send(&self, command: Command) {
        // A closed connection has already said why in its last event.
        let _ = self.commands.send(command);
    }
}

/// The state of one connection's task.
struct Task {
    session: Session,
    stream: Pin<Box<dyn Transport>>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<DriverEvent>,
    framebuffer: Arc<Mutex<Framebuffer>>,
    security: Arc<Mutex<SecuritySummary>>,
    update_times: Arc<Mutex<UpdateTimes>>,
}

/// Why the loop stopped.
enum Stop {
    /// Asked to, or nobody listens any more.
    Shutdown,
    Failed(DriverError),
}

impl From<DriverError> for Stop {
    fn from(error: DriverError) -> Self {
        Self::Failed(error)
    }
}

impl Task {
    async fn run(mut self, early_error: Option<proto::Error>) {
        let result = match early_error {
            Some(error) => Err(DriverError::Session(error)),
            None => match self.serve().await {
                Stop::Shutdown => {
                    let _ = self.flush().await;
                    let _ = self.stream.shutdown().await;
                    Ok(())
                }
                Stop::Failed(error) => Err(error),
            },
        };
        let _ = self.events.send(DriverEvent::Closed(result)).await;
    }

    async fn serve(&mut self) -> Stop {
        let mut buffer = vec![0u8; READ_SIZE];
        let mut outgoing = Vec::new();
        loop {
            if let Err(error) = self.flush_into(&mut outgoing).await {
                return error.into();
            }
            tokio::select! {
                read = self.stream.read(&mut buffer) => {
                    let read_at = Instant::now();
                    let n = match read {
                        Ok(n) => n,
                        Err(error) => return DriverError::Io(error).into(),
                    };
                    if n == 0 {
                        return if self.session.is_connected() {
                            DriverError::ClosedByServer.into()
                        } else {
                            DriverError::ClosedDuringHandshake.into()
                        };
                    }
                    let mut fed = Ok(());
                    for slice in buffer.get(..n).unwrap_or_default().chunks(FEED_SLICE) {
                        fed = self.feed(slice);
                        if fed.is_err() {
                            break;
                        }
                    }
                    // Events before the error (the greeting, offered types)
                    // still tell the caller something.
                    if !self.forward_events(read_at).await {
                        return Stop::Shutdown;
                    }
                    if let Err(error) = fed {
                        return DriverError::Session(error).into();
                    }
                }
                command = self.commands.recv() => {
                    match command {
                        Some(Command::Shutdown) => return Stop::Shutdown,
                        // Every handle is gone: nobody can use the screen.
                        None => return Stop::Shutdown,
                        Some(command) => {
                            // Input needs no screen: it does not wait for
                            // the lock (and so for the widget's uploads).
                            let applied = if command.needs_framebuffer() {
                                self.with_framebuffer(|session| apply(session, command))
                            } else {
                                apply(&mut self.session, command)
                            };
                            if let Err(error) = applied {
                                return DriverError::Session(error).into();
                            }
                        }
                    }
                }
            }
        }
    }

    /// Feeds `bytes` to the session with the shared framebuffer lent to
    /// it, except while it decodes an image (JPEG, PNG): that is the
    /// slowest work there is, and needs no framebuffer, so the lock is
    /// taken again only to copy the decoded rows in, a band of about 1 MB
    /// per hold.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), proto::Error> {
        let mut fed = self.with_framebuffer(|session| session.feed_until_image(bytes))?;
        while fed == Fed::Image {
            self.session.decode_image()?;
            fed = self.with_framebuffer(|session| session.feed_until_image(&[]))?;
        }
        Ok(())
    }

    /// Runs `f` with the shared framebuffer lent to the session (which
    /// decoders and size requests use), holding its lock meanwhile; between
    /// calls the session holds an empty placeholder.
    fn with_framebuffer<R>(&mut self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut shared = self
            .framebuffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.session.swap_framebuffer(&mut shared);
        let result = f(&mut self.session);
        self.session.swap_framebuffer(&mut shared);
        result
    }

    async fn flush(&mut self) -> io::Result<()> {
        let mut outgoing = Vec::new();
        self.flush_into(&mut outgoing).await.map_err(|e| match e {
            DriverError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })
    }

    async fn flush_into(&mut self, outgoing: &mut Vec<u8>) -> Result<(), DriverError> {
        outgoing.clear();
        if self.session.poll_transmit(outgoing) > 0 {
            self.stream.write_all(outgoing).await?;
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Notes when completed updates were read, then sends the events
    /// (their pixels are already in the shared framebuffer). Returns
    /// `false` when nobody receives events any more.
    async fn forward_events(&mut self, read_at: Instant) -> bool {
        let mut batch = Vec::new();
        while let Some(event) = self.session.poll_event() {
            batch.push(event);
        }
        if batch.is_empty() {
            return true;
        }
        let completed = batch
            .iter()
            .filter(|e| matches!(e, Event::UpdateComplete))
            .count();
        if completed > 0 {
            let mut times = self
                .update_times
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for _ in 0..completed {
                times.completed += 1;
                if times.recent.len() == UPDATE_TIMES_KEPT {
                    times.recent.pop_front();
                }
                times.recent.push_back(read_at);
            }
        }
        if batch.iter().any(|e| matches!(e, Event::Connected { .. })) {
            *self.security.lock().unwrap_or_else(PoisonError::into_inner) =
                self.session.security_summary();
        }
        for event in batch {
            if self.events.send(DriverEvent::Session(event)).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// Applies a caller's command to the session.
impl Command {
    /// Whether the session may read or resize the framebuffer to carry it
    /// out: update requests, size and format changes, and credentials
    /// (which can finish the handshake and size the screen).
    fn needs_framebuffer(&self) -> bool {
        matches!(
            self,
            Command::RequestUpdate { .. }
                | Command::Credentials(_)
                | Command::SetEncodings(_)
                | Command::SetPixelFormat(_)
                | Command::DesktopSize { .. }
                | Command::LocalCursor(_)
        )
    }
}

fn apply(session: &mut Session, command: Command) -> Result<(), proto::Error> {
    match command {
        Command::Key { down, keysym } => session.key_event(down, keysym),
        Command::Pointer { x, y, buttons } => session.pointer_event(x, y, buttons),
        Command::CutText(text) => session.client_cut_text(&text),
        Command::RequestUpdate { incremental, rect } => session.request_update(incremental, rect),
        Command::Credentials(credentials) => session.provide_credentials(credentials)?,
        Command::SetEncodings(list) => session.set_encodings(list),
        Command::SetPixelFormat(format) => session.set_pixel_format(format)?,
        Command::KeyScancode {
            down,
            keysym,
            keycode,
        } => session.key_event_scancode(down, keysym, keycode),
        Command::PointerButtons { x, y, buttons } => session.pointer_event_buttons(x, y, buttons),
        Command::ClipboardText(text) => session.send_clipboard_text(&text),
        // A request the server cannot take is the caller's mistake, not
        // the connection's: it is dropped and the session goes on.
        Command::DesktopSize { width, height } => {
            let _ = session.request_desktop_size(width, height);
        }
        Command::Xvp(action) => {
            let _ = session.xvp(action);
        }
        Command::AudioFormat(format) => {
            let _ = session.audio_set_format(format);
        }
        Command::Audio(enable) => {
            let _ = session.audio_enable(enable);
        }
        Command::LocalCursor(local) => session.set_local_cursor(local),
        Command::Shutdown => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Accepts one client and takes it through an RFB 3.8 handshake with
    /// None security to a `size` screen called `name`.
    async fn accept_client(
        listener: TcpListener,
        size: (u16, u16),
        name: &[u8],
    ) -> tokio::net::TcpStream {
        let (mut socket, _) = listener.accept().await.unwrap();
        socket.write_all(b"RFB 003.008\n").await.unwrap();
        let mut version = [0u8; 12];
        socket.read_exact(&mut version).await.unwrap();
        socket.write_all(&[1, 1]).await.unwrap();
        let mut chosen = [0u8; 1];
        socket.read_exact(&mut chosen).await.unwrap();
        assert_eq!(chosen[0], 1, "the client chose None");
        socket.write_all(&[0, 0, 0, 0]).await.unwrap();
        let mut client_init = [0u8; 1];
        socket.read_exact(&mut client_init).await.unwrap();
        let mut init = Vec::new();
        init.extend_from_slice(&size.0.to_be_bytes());
        init.extend_from_slice(&size.1.to_be_bytes());
        init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
        init.extend_from_slice(&u32::try_from(name.len()).unwrap().to_be_bytes());
        init.extend_from_slice(name);
        socket.write_all(&init).await.unwrap();
        socket
    }

    /// A minimal RFB 3.8 server with None security and a 4×2 screen that
    /// sends one Raw update of a 2×1 rectangle after the client's request.
    async fn tiny_server(listener: TcpListener) {
        let mut socket = accept_client(listener, (4, 2), b"tiny").await;
        let mut update = vec![0, 0, 0, 1, 0, 1, 0, 1, 0, 2, 0, 1, 0, 0, 0, 0];
        update.extend_from_slice(&[10, 20, 30, 0, 40, 50, 60, 0]);
        socket.write_all(&update).await.unwrap();
        // Hold the connection until the client closes it.
        let mut rest = [0u8; 256];
        while socket.read(&mut rest).await.unwrap_or(0) > 0 {}
    }

    #[tokio::test]
    async fn damage_arrives_with_its_pixels_and_shutdown_is_clean() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(tiny_server(listener));
        let address = Address::parse(&format!("127.0.0.1::{port}")).unwrap();
        let stream = connect(&address, DEFAULT_CONNECT_TIMEOUT).await.unwrap();
        let (handle, mut events, join) = spawn(stream, Config::default(), None);
        let mut connected = false;
        loop {
            match events.recv().await.unwrap() {
                DriverEvent::Session(Event::Connected {
                    name,
                    width,
                    height,
                    ..
                }) => {
                    assert_eq!((name.as_str(), width, height), ("tiny", 4, 2));
                    connected = true;
                }
                DriverEvent::Session(Event::UpdateComplete) => break,
                DriverEvent::Closed(result) => panic!("closed early: {result:?}"),
                DriverEvent::Session(_) => {}
            }
        }
        assert!(connected);
        let read_at = handle.update_read_at(0).expect("the update's read time");
        assert!(read_at.elapsed() < Duration::from_secs(10));
        assert_eq!(handle.update_read_at(1), None, "no second update yet");
        {
            let fb = handle.lock_framebuffer();
            assert_eq!(
                fb.row(1, 1, 2).unwrap(),
                &[10, 20, 30, 255, 40, 50, 60, 255]
            );
        }
        handle.shutdown();
        loop {
            if let DriverEvent::Closed(result) = events.recv().await.unwrap() {
                assert!(result.is_ok(), "{result:?}");
                break;
            }
        }
        join.await.unwrap();
        server.await.unwrap();
    }

    /// A compact length of Tight.
    fn compact_len(len: usize) -> Vec<u8> {
        match len {
            0..=0x7f => vec![len as u8],
            0x80..=0x3fff => vec![len as u8 | 0x80, (len >> 7) as u8],
            _ => vec![len as u8 | 0x80, (len >> 7) as u8 | 0x80, (len >> 14) as u8],
        }
    }

    /// A server with a 64×48 screen that sends `updates` updates, each a
    /// Tight JPEG of the whole screen in one colour and then a Raw pixel
    /// of another colour on top of it at (0, 0).
    async fn jpeg_server(listener: TcpListener, updates: usize) {
        let mut socket = accept_client(listener, (64, 48), b"jpeg").await;
        let picture = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 100, 50]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode_image(&picture)
            .unwrap();
        let mut update = vec![0, 0, 0, 2, 0, 0, 0, 0, 0, 64, 0, 48, 0, 0, 0, 7, 0x90];
        update.extend(compact_len(jpeg.len()));
        update.extend_from_slice(&jpeg);
        update.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 2, 3, 0]);
        for _ in 0..updates {
            socket.write_all(&update).await.unwrap();
        }
        let mut rest = [0u8; 256];
        while socket.read(&mut rest).await.unwrap_or(0) > 0 {}
    }

    /// The driver decodes images without holding the shared framebuffer's
    /// lock: a receiver drawing a frame waits for the copy of the decoded
    /// rows at most, never for the decoder. (A decoder hook looks at the
    /// lock as each image starts decoding: this test does not depend on
    /// timing. The runtime has one thread, so the hook runs on the
    /// driver's.)
    #[tokio::test]
    async fn images_are_decoded_without_the_framebuffer_lock() {
        const UPDATES: usize = 3;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(jpeg_server(listener, UPDATES));
        let address = Address::parse(&format!("127.0.0.1::{port}")).unwrap();
        let stream = connect(&address, DEFAULT_CONNECT_TIMEOUT).await.unwrap();
        let (handle, mut events, join) = spawn(stream, Config::default(), None);
        let lock_free = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let (seen, shared) = (lock_free.clone(), Arc::clone(handle.framebuffer()));
        crate::decode::ON_DECODE.set(Some(Box::new(move || {
            seen.borrow_mut().push(shared.try_lock().is_ok());
        })));
        let mut damage = Vec::new();
        let mut completed = 0;
        while completed < UPDATES {
            match events.recv().await.unwrap() {
                DriverEvent::Session(Event::Damage(rect)) => damage.push(rect),
                DriverEvent::Session(Event::UpdateComplete) => completed += 1,
                DriverEvent::Closed(result) => panic!("closed early: {result:?}"),
                DriverEvent::Session(_) => {}
            }
        }
        crate::decode::ON_DECODE.set(None);
        assert_eq!(
            *lock_free.borrow(),
            vec![true; UPDATES],
            "whether the framebuffer lock was free as each image started decoding"
        );
        let (screen, pixel) = (Rect::new(0, 0, 64, 48), Rect::new(0, 0, 1, 1));
        assert_eq!(damage, [screen, pixel].repeat(UPDATES));
        {
            let fb = handle.lock_framebuffer();
            // The Raw pixel after the image landed on top of it, and the
            // image is everywhere else (JPEG: within a few levels).
            assert_eq!(fb.row(0, 0, 1).unwrap(), &[1, 2, 3, 255]);
            for (x, y) in [(1, 0), (63, 47), (30, 20)] {
                let px = fb.row(x, y, 1).unwrap();
                let near = |got: u8, want: u8| got.abs_diff(want) <= 4;
                assert!(
                    near(px[0], 50) && near(px[1], 100) && near(px[2], 200) && px[3] == 255,
                    "pixel ({x}, {y}) is {px:?}, not the image's colour"
                );
            }
        }
        handle.shutdown();
        while !matches!(events.recv().await.unwrap(), DriverEvent::Closed(_)) {}
        join.await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn refused_port_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = connect_tcp("127.0.0.1", port, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(error, DriverError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("refused"), "{error}");
    }

    #[tokio::test]
    async fn every_resolved_address_is_tried() {
        // `localhost` resolves to ::1 and 127.0.0.1; only the latter listens.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = connect_tcp("localhost", port, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.peer_addr().unwrap().port(), port);
    }

    #[tokio::test]
    async fn unknown_host_is_a_resolve_error() {
        let error = connect_tcp("no-such-host.invalid", 5900, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(error, DriverError::Resolve { .. }), "{error}");
    }
}
