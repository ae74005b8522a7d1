//! `porthole-vnc record ADDRESS FILE.fbs`: connects like `capture`, drives
//! a real session (so the handshake, SetPixelFormat, SetEncodings and the
//! update requests are what porthole-vnc sends), and saves every byte the
//! server sent, timestamped, as an FBS file (`porthole_vnc::fbs`).
//!
//! The stream is saved byte for byte with one change: the pixel format
//! ServerInit announces is replaced by the one the session asked for, the
//! format every update is then in, so that a player needs no
//! SetPixelFormat of its own to decode the file (rfbproxy files have the
//! same property when their client kept the server's format). Only
//! sessions without encryption can be recorded: None or VNC
//! authentication.
//!
//! So that any viewer can be played the recording (`porthole-vnc serve`),
//! the SetEncodings the session sends is cut down to the pseudo-encodings
//! every viewer knows (desktop size, last rect, cursors, JPEG quality and
//! compression level): a server then sends no fence, continuous-updates or
//! clipboard message that an older viewer would stop at. `--all-extensions`
//! keeps the session's full list.
//!
//! It runs on blocking sockets with no runtime: one connection, one loop.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use porthole_vnc::address::Address;
use porthole_vnc::fbs::{self, RecordedHandshake};
use porthole_vnc::proto::{Config, Event, Quality, Session};
use porthole_vnc::security::{Credentials, SecurityType};

use super::{fail, parse_encodings, prompt_password, read_password_file, Failure};

pub(super) const USAGE: &str = "\
       porthole-vnc record ADDRESS FILE.fbs [--duration SECS] [--updates N] [--encodings LIST] [--quality Q] [--all-extensions] [--password-file FILE]";

pub(super) const HELP: &str = "\
record    save what the server sends (handshake included) as an FBS
          recording, for --duration seconds after the handshake (default 5)
          or until --updates N updates arrived, whichever comes first; only
          pseudo-encodings every viewer knows are announced, unless
          --all-extensions";

const DEFAULT_DURATION: Duration = Duration::from_secs(5);
/// How long connecting and the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const READ_SIZE: usize = 256 * 1024;

#[derive(Debug)]
struct Options {
    address: Address,
    output: PathBuf,
    duration: Duration,
    updates: Option<u64>,
    encodings: Option<Vec<i32>>,
    quality: Option<Quality>,
    all_extensions: bool,
    password_file: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, Failure> {
    let mut positional = Vec::new();
    let mut duration = DEFAULT_DURATION;
    let mut updates = None;
    let mut encodings = None;
    let mut quality = None;
    let mut all_extensions = false;
    let mut password_file = None;
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
            "--duration" => {
                let text = value(name)?;
                duration = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e7)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "--duration takes a number of seconds above 0, not '{text}'"
                        ))
                    })?;
            }
            "--updates" => {
                let text = value(name)?;
                updates = Some(text.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    Failure::usage(format!(
                        "--updates takes a whole number of at least 1, not '{text}'"
                    ))
                })?);
            }
            "--encodings" => encodings = Some(parse_encodings(&value(name)?)?),
            "--quality" => {
                let text = value(name)?;
                quality = Some(Quality::parse(&text).ok_or_else(|| {
                    Failure::usage(format!(
                        "--quality takes lossless or a level from 0 to 9, not '{text}'"
                    ))
                })?);
            }
            "--all-extensions" => all_extensions = true,
            "--password-file" => password_file = Some(PathBuf::from(value(name)?)),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::usage(format!(
                    "unknown option '{flag}' for record"
                )))
            }
            _ => positional.push(arg.clone()),
        }
    }
    let [address, output] = <[String; 2]>::try_from(positional).map_err(|_| {
        Failure::usage("record needs an ADDRESS and an output FILE.fbs, nothing else")
    })?;
    Ok(Options {
        address: Address::parse(&address).map_err(|e| Failure::usage(e.to_string()))?,
        output: PathBuf::from(output),
        duration,
        updates,
        encodings,
        quality,
        all_extensions,
        password_file,
    })
}

/// The socket, TCP or Unix.
enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Connection {
    fn open(address: &Address) -> Result<Self, Failure> {
        match address {
            Address::Tcp { host, port } => {
                let addresses = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| fail(format!("cannot resolve host name {host}: {e}")))?;
                let mut last = None;
                for address in addresses {
                    match TcpStream::connect_timeout(&address, HANDSHAKE_TIMEOUT) {
                        Ok(stream) => {
                            stream.set_nodelay(true)?;
                            return Ok(Self::Tcp(stream));
                        }
                        Err(e) => last = Some(fail(format!("cannot connect to {address}: {e}"))),
                    }
                }
                Err(last
                    .unwrap_or_else(|| fail(format!("host name {host} resolves to no address"))))
            }
            Address::Unix(path) => UnixStream::connect(path)
                .map(Self::Unix)
                .map_err(|e| fail(format!("cannot connect to unix:{}: {e}", path.display()))),
        }
    }

    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        match self {
            Self::Tcp(s) => s.set_read_timeout(timeout),
            Self::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.write_all(buf),
            Self::Unix(s) => s.write_all(buf),
        }
    }
}

pub(super) fn run(args: &[String]) -> Result<(), Failure> {
    let options = parse(args)?;
    let mut password = match &options.password_file {
        Some(path) => Some(read_password_file(path)?),
        None => None,
    };
    let mut config = Config {
        quality: options
            .quality
            .unwrap_or_else(|| Quality::auto_for(&options.address)),
        ..Config::default()
    };
    if let Some(list) = options.encodings.clone() {
        config.encodings = list;
    }
    let file = std::fs::File::create(&options.output)
        .map_err(|e| fail(format!("cannot create {}: {e}", options.output.display())))?;
    // Only a regular file is ours to remove (not /dev/null or a pipe).
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let result = record(&options, config, &mut password, file);
    if result.is_err() && regular {
        // A half-made recording would only fail later, less clearly.
        let _ = std::fs::remove_file(&options.output);
    }
    let summary = result?;
    eprintln!(
        "recorded {} updates, {} bytes in {:.1} s to {}",
        summary.updates,
        summary.bytes,
        summary.elapsed.as_secs_f64(),
        options.output.display()
    );
    Ok(())
}

#[derive(Debug)]
struct Summary {
    updates: u64,
    bytes: u64,
    elapsed: Duration,
}

fn record(
    options: &Options,
    config: Config,
    password: &mut Option<String>,
    file: std::fs::File,
) -> Result<Summary, Failure> {
    let mut writer =
        fbs::Writer::new(io::BufWriter::new(file)).map_err(|e| write_error(&options.output, e))?;
    let mut connection = Connection::open(&options.address)?;
    let mut session = Session::new(config);
    let start = Instant::now();
    // Everything up to ServerInit, held until the session has read it so
    // the format it announces can be replaced (see the module docs).
    let mut handshake: Option<Vec<u8>> = Some(Vec::new());
    let mut deadline = start + HANDSHAKE_TIMEOUT;
    let mut updates = 0u64;
    let mut bytes = 0u64;
    let mut buffer = vec![0u8; READ_SIZE];
    let mut outgoing = Vec::new();
    'recording: loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if handshake.is_some() {
                return Err(fail(format!(
                    "timed out after {} s waiting for the handshake to finish",
                    HANDSHAKE_TIMEOUT.as_secs()
                )));
            }
            break;
        }
        connection.set_read_timeout(left)?;
        let n = match connection.read(&mut buffer) {
            Ok(0) if handshake.is_some() => {
                return Err(fail(
                    "the server closed the connection during the handshake",
                ))
            }
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("the connection failed: {e}"))),
        };
        let received = buffer.get(..n).unwrap_or_default();
        let timestamp = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX);
        bytes += n as u64;
        match &mut handshake {
            Some(held) => held.extend_from_slice(received),
            None => writer
                .write_block(timestamp, received)
                .map_err(|e| write_error(&options.output, e))?,
        }
        session.feed(received)?;
        while let Some(event) = session.poll_event() {
            match event {
                Event::CredentialsRequired { .. } => {
                    let given = match password.take() {
                        Some(password) => password,
                        None => prompt_password()?,
                    };
                    session.provide_credentials(Credentials::password(given))?;
                }
                Event::Connected { .. } => {
                    let mut held = handshake.take().unwrap_or_default();
                    check_recordable(&session, &held)?
                        .set_server_format(&mut held, session.pixel_format());
                    writer
                        .write_block(timestamp, &held)
                        .map_err(|e| write_error(&options.output, e))?;
                    deadline = Instant::now() + options.duration;
                }
                Event::UpdateComplete => {
                    updates += 1;
                    if options.updates.is_some_and(|n| updates >= n) {
                        break 'recording;
                    }
                }
                _ => {}
            }
        }
        session.poll_transmit(&mut outgoing);
        if !options.all_extensions {
            outgoing = portable_encodings(&outgoing);
        }
        if !outgoing.is_empty() {
            connection.write_all(&outgoing)?;
            outgoing.clear();
        }
    }
    if handshake.is_some() {
        return Err(fail("the handshake did not finish"));
    }
    writer
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| match f.sync_all() {
            // /dev/null and pipes cannot be synced, and need not be.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        })
        .map_err(|e| write_error(&options.output, e))?;
    Ok(Summary {
        updates,
        bytes,
        elapsed: start.elapsed(),
    })
}

/// Checks that what was recorded can be replayed: a handshake our player
/// reads the same way, with no encryption.
fn check_recordable(session: &Session, held: &[u8]) -> Result<RecordedHandshake, Failure> {
    let used = session.security_type();
    if !matches!(used, Some(SecurityType::None | SecurityType::VncAuth)) {
        let name = used.map_or_else(|| "unknown".to_owned(), |t| t.to_string());
        return Err(fail(format!(
            "the session uses security type {name}; only sessions with None or VNC authentication can be recorded (an encrypted stream cannot be replayed)"
        )));
    }
    let handshake = RecordedHandshake::parse(held)?;
    if Some(handshake.security) != used {
        return Err(fail(format!(
            "the recorded handshake reads as {} but the session used {}; this server cannot be recorded",
            handshake.security,
            used.map_or_else(String::new, |t| t.to_string())
        )));
    }
    Ok(handshake)
}

/// Whether every viewer knows this encoding: every real one, and the
/// pseudo-encodings for desktop size, last rect, cursors, JPEG quality and
/// compression level.
fn is_portable(encoding: i32) -> bool {
    use porthole_vnc::decode::encoding;
    encoding >= 0
        || matches!(
            encoding,
            encoding::DESKTOP_SIZE
                | encoding::LAST_RECT
                | encoding::CURSOR
                | encoding::X_CURSOR
                | encoding::TIGHT_PNG
                | -32..=-23
                | -256..=-247
        )
}

/// The client messages in `outgoing` with every SetEncodings cut down to
/// the portable encodings. Messages it cannot size pass unchanged.
fn portable_encodings(outgoing: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(outgoing.len());
    let mut rest = outgoing;
    while let Some(Some(len)) = super::serve::message_len(rest) {
        let Some((message, tail)) = rest.split_at_checked(len) else {
            break;
        };
        if message.first() == Some(&2) {
            let kept: Vec<i32> = message
                .get(4..)
                .unwrap_or_default()
                .chunks_exact(4)
                .filter_map(|b| <[u8; 4]>::try_from(b).ok())
                .map(i32::from_be_bytes)
                .filter(|&e| is_portable(e))
                .collect();
            let count = u16::try_from(kept.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&[2, 0]);
            out.extend_from_slice(&count.to_be_bytes());
            for encoding in kept.iter().take(usize::from(count)) {
                out.extend_from_slice(&encoding.to_be_bytes());
            }
        } else {
            out.extend_from_slice(message);
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
    out
}

fn write_error(path: &Path, error: io::Error) -> Failure {
    fail(format!("cannot write {}: {error}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_portable_encodings_are_announced() {
        let mut outgoing = vec![3, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        outgoing.extend_from_slice(&[2, 0, 0, 5]);
        for e in [16i32, -223, -312, -30, -313] {
            outgoing.extend_from_slice(&e.to_be_bytes());
        }
        outgoing.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
        let mut expected = vec![3, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        expected.extend_from_slice(&[2, 0, 0, 3]);
        for e in [16i32, -223, -30] {
            expected.extend_from_slice(&e.to_be_bytes());
        }
        expected.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
        assert_eq!(portable_encodings(&outgoing), expected);
    }

    #[test]
    fn record_arguments() {
        let options = parse(&args(&[
            "host:1",
            "out.fbs",
            "--duration=2.5",
            "--updates",
            "3",
            "--encodings",
            "raw",
            "--quality",
            "6",
        ]))
        .unwrap();
        assert_eq!(options.duration, Duration::from_millis(2500));
        assert_eq!(options.updates, Some(3));
        assert_eq!(options.quality, Some(Quality::Jpeg(6)));
        assert_eq!(options.output, PathBuf::from("out.fbs"));
        for bad in [
            &["host:1"][..],
            &["host:1", "a.fbs", "b.fbs"],
            &["host:1", "a.fbs", "--duration", "0"],
            &["host:1", "a.fbs", "--bench"],
        ] {
            assert!(parse(&args(bad)).unwrap_err().usage, "{bad:?}");
        }
    }
}
