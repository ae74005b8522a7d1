//! `porthole-vnc serve FILE.fbs --listen HOST:PORT`: plays a recording to
//! any VNC client that connects, as fast as the client reads it, and says
//! how long the client took. This is how other viewers are measured on
//! exactly the input `porthole-vnc replay` decodes.
//!
//! Each client gets a fresh handshake (its own version, security None),
//! then the recorded ServerInit and everything after it, byte for byte.
//! What the client sends is read on its own thread and discarded, after
//! parsing enough of it to find message boundaries: update requests mark
//! when the client came back for more, and a SetPixelFormat other than the
//! recording's earns a warning (the client would decode the bytes wrongly).
//!
//! The time reported runs from the first update byte (ServerInit's, with
//! no `--delay`) to the first
//! update request the client sends after the last byte was handed to the
//! socket (or until it closes). Viewers that ask for the next update only
//! after drawing the last one are timed to the end of their work; one that
//! asks as soon as an update starts arriving (as porthole-vnc does) is
//! timed to the start of its last update. CPU time, measured from outside
//! (`vnc/benches/compare-viewers.sh`), does not depend on that.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use porthole_vnc::PixelFormat;

use super::replay::Recording;
use super::{fail, Failure};

pub(super) const USAGE: &str = "\
       porthole-vnc serve FILE.fbs --listen HOST:PORT [--once] [--linger SECS] [--delay SECS]";

pub(super) const HELP: &str = "\
serve     play a recording to every VNC client that connects (security
          None), as fast as it reads, and print how long it took; --once
          exits after the first client; --linger is how long to wait for
          the client's next request after the last byte (default 5);
          --delay waits this long between ServerInit and the updates, so a
          viewer's start-up is over before they come";

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Options {
    file: PathBuf,
    listen: SocketAddr,
    once: bool,
    linger: Duration,
    delay: Duration,
}

fn parse(args: &[String]) -> Result<Options, Failure> {
    let mut file = None;
    let mut listen = None;
    let mut once = false;
    let mut linger = Duration::from_secs(5);
    let mut delay = Duration::ZERO;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match name {
            "--listen" => {
                let text = value(name)?;
                listen = Some(text.parse::<SocketAddr>().map_err(|_| {
                    Failure::usage(format!(
                        "--listen takes an IP address and port like 127.0.0.1:5999, not '{text}'"
                    ))
                })?);
            }
            "--once" => once = true,
            "--linger" | "--delay" => {
                let text = value(name)?;
                let seconds = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e7)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Failure::usage(format!("{name} takes a number of seconds, not '{text}'"))
                    })?;
                if name == "--linger" {
                    linger = seconds;
                } else {
                    delay = seconds;
                }
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::usage(format!("unknown option '{flag}' for serve")))
            }
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return Err(Failure::usage(format!("unexpected argument '{arg}'"))),
        }
    }
    Ok(Options {
        file: file.ok_or_else(|| Failure::usage("serve needs a recording FILE.fbs"))?,
        listen: listen.ok_or_else(|| Failure::usage("serve needs --listen HOST:PORT"))?,
        once,
        linger,
        delay,
    })
}

pub(super) fn run(args: &[String]) -> Result<(), Failure> {
    let options = parse(args)?;
    let recording = Arc::new(Recording::load(&options.file)?);
    let listener = TcpListener::bind(options.listen)
        .map_err(|e| fail(format!("cannot listen on {}: {e}", options.listen)))?;
    // The real address, for --listen with port 0; scripts read this line.
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("porthole-vnc: cannot accept a client: {e}");
                continue;
            }
        };
        if options.once {
            return play(stream, &recording, options.linger, options.delay);
        }
        let recording = Arc::clone(&recording);
        let (linger, delay) = (options.linger, options.delay);
        std::thread::spawn(move || {
            if let Err(failure) = play(stream, &recording, linger, delay) {
                eprintln!("porthole-vnc: {}", failure.message);
            }
        });
    }
    Ok(())
}

/// What the client's reader thread saw.
#[derive(Debug)]
enum Seen {
    UpdateRequest(Instant),
    PixelFormat(PixelFormat),
    Closed(Instant),
}

/// Plays the recording to one client and prints how it went.
fn play(
    mut stream: TcpStream,
    recording: &Recording,
    linger: Duration,
    delay: Duration,
) -> Result<(), Failure> {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "a client".to_owned(), |a| a.to_string());
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    handshake(&mut stream).map_err(|e| fail(format!("{peer}: the handshake failed: {e}")))?;
    stream.set_read_timeout(None)?;

    let (seen_tx, seen) = mpsc::channel();
    let reader = stream.try_clone()?;
    std::thread::spawn(move || read_client(reader, &seen_tx));

    let mut sent = 0usize;
    if !delay.is_zero() {
        // ServerInit alone first: its fixed part, then the name.
        let head: Vec<u8> = recording
            .stream_from_server_init()
            .flat_map(|(bytes, _)| bytes.iter().copied())
            .take(24)
            .collect();
        let name_len = head
            .get(20..24)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_be_bytes);
        let init_len = 24 + usize::try_from(name_len).unwrap_or(usize::MAX);
        let init: Vec<u8> = recording
            .stream_from_server_init()
            .flat_map(|(bytes, _)| bytes.iter().copied())
            .take(init_len)
            .collect();
        stream.write_all(&init)?;
        sent = init.len();
        std::thread::sleep(delay);
    }
    println!("{peer}: streaming updates");
    io::stdout().flush()?;
    let started = Instant::now();
    let mut skip = sent;
    for (bytes, _) in recording.stream_from_server_init() {
        let cut = skip.min(bytes.len());
        skip -= cut;
        let bytes = bytes.get(cut..).unwrap_or_default();
        if let Err(e) = stream.write_all(bytes) {
            println!(
                "{peer}: closed after {:.3} s having taken {sent} of {} bytes ({e})",
                started.elapsed().as_secs_f64(),
                recording.len
            );
            return Ok(());
        }
        sent += bytes.len();
    }
    let written = Instant::now();
    let recorded = recording.format();
    let deadline = written + linger;
    let mut end = None;
    while end.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(Seen::UpdateRequest(at)) if at >= written => end = Some(("request", at)),
            Ok(Seen::UpdateRequest(_)) => {}
            Ok(Seen::Closed(at)) => end = Some(("close", at)),
            Ok(Seen::PixelFormat(format)) => {
                if recorded.is_some_and(|r| r != format) {
                    eprintln!(
                        "porthole-vnc: {peer} asked for another pixel format than the recording's; it will decode it wrongly"
                    );
                }
            }
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    let written_after = written.duration_since(started).as_secs_f64();
    match end {
        Some((how, at)) => println!(
            "{peer}: sent {sent} bytes in {written_after:.3} s; consumed: {:.3} s (until its {how})",
            at.saturating_duration_since(started).as_secs_f64()
        ),
        None => println!(
            "{peer}: sent {sent} bytes in {written_after:.3} s; no request or close within {} s after that",
            linger.as_secs_f64()
        ),
    }
    io::stdout().flush()?;
    Ok(())
}

/// A server handshake in the client's version with security None, up to
/// and including ClientInit.
fn handshake(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(b"RFB 003.008\n")?;
    let mut version = [0u8; 12];
    stream.read_exact(&mut version)?;
    let minor = std::str::from_utf8(&version)
        .ok()
        .and_then(|v| {
            v.strip_prefix("RFB 003.")?
                .strip_suffix('\n')?
                .parse::<u16>()
                .ok()
        })
        .ok_or_else(|| {
            io::Error::other(format!(
                "the client sent \"{}\", not an RFB 3.x version",
                version.escape_ascii()
            ))
        })?;
    if minor < 7 {
        stream.write_all(&1u32.to_be_bytes())?;
    } else {
        stream.write_all(&[1, 1])?;
        let mut choice = [0u8; 1];
        stream.read_exact(&mut choice)?;
        if choice != [1] {
            return Err(io::Error::other(format!(
                "the client chose security type {choice:?}, not None (1)"
            )));
        }
        if minor >= 8 {
            stream.write_all(&0u32.to_be_bytes())?;
        }
    }
    let mut client_init = [0u8; 1];
    stream.read_exact(&mut client_init)
}

/// Reads the client's messages until it closes, reporting update requests
/// and pixel formats. A message it cannot size stops the parsing, not the
/// reading.
fn read_client(mut stream: TcpStream, seen: &mpsc::Sender<Seen>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut parsing = true;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !parsing {
            continue;
        }
        pending.extend_from_slice(buffer.get(..n).unwrap_or_default());
        loop {
            match message_len(&pending) {
                Some(Some(len)) if len <= pending.len() => {
                    match pending.first() {
                        Some(3) => {
                            let _ = seen.send(Seen::UpdateRequest(Instant::now()));
                        }
                        Some(0) => {
                            let format = pending
                                .get(4..20)
                                .and_then(|b| <&[u8; 16]>::try_from(b).ok())
                                .and_then(|b| PixelFormat::parse(b).ok());
                            if let Some(format) = format {
                                let _ = seen.send(Seen::PixelFormat(format));
                            }
                        }
                        _ => {}
                    }
                    pending.drain(..len);
                }
                Some(Some(_)) | None => break,
                Some(None) => {
                    parsing = false;
                    pending = Vec::new();
                    break;
                }
            }
        }
    }
    let _ = seen.send(Seen::Closed(Instant::now()));
}

/// The length of the client message at the start of `buf`: `None` if more
/// bytes are needed to tell, `Some(None)` for a message type it cannot
/// size.
pub(super) fn message_len(buf: &[u8]) -> Option<Option<usize>> {
    let byte = |i: usize| buf.get(i).copied().map(usize::from);
    let u16_at = |i: usize| Some(byte(i)? << 8 | byte(i + 1)?);
    let len = match buf.first()? {
        0 => 20,                 // SetPixelFormat
        2 => 4 + 4 * u16_at(2)?, // SetEncodings
        3 => 10,                 // FramebufferUpdateRequest
        4 => 8,                  // KeyEvent
        5 => 6,                  // PointerEvent
        6 => {
            // ClientCutText; a negative length is the extended clipboard's.
            let bytes: [u8; 4] = buf.get(4..8)?.try_into().ok()?;
            8 + usize::try_from(i32::from_be_bytes(bytes).unsigned_abs()).ok()?
        }
        150 => 10,                // EnableContinuousUpdates
        248 => 9 + byte(8)?,      // ClientFence
        250 => 4,                 // xvp
        251 => 8 + 16 * byte(6)?, // SetDesktopSize
        255 => match byte(1)? {
            0 => 12, // QEMU extended key event
            1 => {
                // QEMU audio: set-format carries 6 more bytes.
                if u16_at(2)? == 2 {
                    10
                } else {
                    4
                }
            }
            _ => return Some(None),
        },
        _ => return Some(None),
    };
    Some(Some(len))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_sized() {
        assert_eq!(message_len(&[]), None);
        assert_eq!(message_len(&[3]), Some(Some(10)));
        assert_eq!(message_len(&[2, 0]), None);
        assert_eq!(message_len(&[2, 0, 0, 3]), Some(Some(16)));
        assert_eq!(message_len(&[6, 0, 0, 0, 0, 0, 0, 5]), Some(Some(13)));
        assert_eq!(
            message_len(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc]),
            Some(Some(12))
        );
        assert_eq!(message_len(&[248, 0, 0, 0, 0, 0, 0, 0, 4]), Some(Some(13)));
        assert_eq!(message_len(&[255, 1, 0, 2]), Some(Some(10)));
        assert_eq!(message_len(&[77]), Some(None));
    }

    #[test]
    fn serve_arguments() {
        let args: Vec<String> = ["a.fbs", "--listen", "127.0.0.1:0", "--once"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = parse(&args).unwrap();
        assert!(options.once);
        assert_eq!(options.listen.port(), 0);
        assert!(parse(&args[..1]).unwrap_err().usage);
    }
}
