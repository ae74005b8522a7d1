//! Session recordings in the FBS format of rfbproxy, vncrec and the
//! TightVNC/TigerVNC players: the header `FBS 001.000\n`, then blocks of a
//! big-endian u32 length, that many bytes of the server-to-client stream
//! padded with zeros to a multiple of 4, and a big-endian u32 timestamp in
//! milliseconds since the recording started. It owns writing and reading
//! that container, and reading the RFB handshake at the start of a recorded
//! stream so a recording can be replayed without its server.
//!
//! A recording cannot be replayed as it was received: a VNC-authentication
//! challenge cannot be answered offline, and the players we feed (our own
//! session, other viewers through `porthole-vnc serve`) need a handshake
//! they can finish. So [`RecordedHandshake::parse`] finds where ServerInit
//! starts, and players put a fresh RFB 3.8 handshake with security None
//! ([`NONE_HANDSHAKE`]) in front of the recorded bytes from there on.
//!
//! The file is untrusted input like the network: every length is checked
//! against a limit before anything waits for or keeps it, and a corrupt or
//! truncated file is an [`FbsError`], never a panic.

use std::io::{self, Read, Write};

use crate::pixel::PixelFormat;
use crate::proto::ProtocolVersion;
use crate::security::SecurityType;

/// The header every FBS file starts with (the version we write).
pub const MAGIC: &[u8; 12] = b"FBS 001.000\n";

/// A complete RFB 3.8 server handshake up to ServerInit, security None:
/// the version, one offered type (None), and SecurityResult OK.
pub const NONE_HANDSHAKE: &[u8; 18] = b"RFB 003.008\n\x01\x01\0\0\0\0";

/// The largest block [`Reader`] accepts by default. Recorders write what
/// one socket read returned (at most a few MiB); a larger length means a
/// corrupt file.
pub const DEFAULT_MAX_BLOCK: u32 = 64 << 20;

/// The largest recording [`read_all`] keeps in memory by default.
pub const DEFAULT_MAX_TOTAL: u64 = 1 << 30;

/// Why a recording cannot be read or replayed.
#[derive(Debug, thiserror::Error)]
pub enum FbsError {
    #[error("not an FBS recording (it starts with \"{0}\"); make one with porthole-vnc record")]
    NotFbs(String),
    #[error("the recording is truncated in block {block}: the file ends {what}; it was probably not finished, record it again")]
    Truncated { block: u64, what: &'static str },
    #[error("block {block} of the recording claims {len} bytes, over the limit of {limit}; the file is corrupt")]
    BlockTooLarge { block: u64, len: u32, limit: u32 },
    #[error("the recording holds more than {limit} bytes of stream, over the limit")]
    TooLarge { limit: u64 },
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    #[error("the recorded handshake cannot be replayed: {0}")]
    Handshake(String),
}

/// One block: bytes the server sent, and when they arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Milliseconds since the recording started.
    pub timestamp_ms: u32,
    pub data: Vec<u8>,
}

/// Writes an FBS file: the header at once, then one block per call.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
}

impl<W: Write> Writer<W> {
    /// Writes the header.
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        Ok(Self { inner })
    }

    /// Appends `data` as received `timestamp_ms` after the start. Empty
    /// data writes nothing; data longer than a u32 length can say is split
    /// into several blocks with the same timestamp.
    pub fn write_block(&mut self, timestamp_ms: u32, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(u32::MAX as usize & !3) {
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            self.inner.write_all(&len.to_be_bytes())?;
            self.inner.write_all(chunk)?;
            let padding = (4 - chunk.len() % 4) % 4;
            self.inner
                .write_all([0; 3].get(..padding).unwrap_or_default())?;
            self.inner.write_all(&timestamp_ms.to_be_bytes())?;
        }
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Reads an FBS file block by block, with every length checked.
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    /// Blocks read so far, for error messages.
    blocks: u64,
    max_block: u32,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the header: `FBS 001.` and three digits (players
    /// accept any minor version; the block layout is the same).
    pub fn new(mut inner: R) -> Result<Self, FbsError> {
        let mut header = [0u8; 12];
        let got = read_up_to(&mut inner, &mut header)?;
        let header = header.get(..got).unwrap_or_default();
        let valid = header.len() == 12
            && header.starts_with(b"FBS 001.")
            && header
                .get(8..11)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && header.get(11) == Some(&b'\n');
        if !valid {
            return Err(FbsError::NotFbs(printable(header)));
        }
        Ok(Self {
            inner,
            blocks: 0,
            max_block: DEFAULT_MAX_BLOCK,
        })
    }

    /// Sets the largest block length accepted.
    pub fn with_max_block(mut self, max_block: u32) -> Self {
        self.max_block = max_block;
        self
    }

    /// The next block, or `None` at the end of the file.
    pub fn next_block(&mut self) -> Result<Option<Block>, FbsError> {
        let block = self.blocks;
        let mut word = [0u8; 4];
        match read_up_to(&mut self.inner, &mut word)? {
            0 => return Ok(None),
            4 => {}
            _ => {
                return Err(FbsError::Truncated {
                    block,
                    what: "inside a block's length",
                })
            }
        }
        let len = u32::from_be_bytes(word);
        if len > self.max_block {
            return Err(FbsError::BlockTooLarge {
                block,
                len,
                limit: self.max_block,
            });
        }
        // Read what is there rather than allocating what the length claims.
        let mut data = Vec::new();
        let wanted = u64::from(len);
        (&mut self.inner).take(wanted).read_to_end(&mut data)?;
        if data.len() as u64 != wanted {
            return Err(FbsError::Truncated {
                block,
                what: "inside a block's data",
            });
        }
        let padding = (4 - len % 4) % 4;
        let mut pad = [0u8; 3];
        let pad = pad.get_mut(..padding as usize).unwrap_or_default();
        if read_up_to(&mut self.inner, pad)? != pad.len() {
            return Err(FbsError::Truncated {
                block,
                what: "inside a block's padding",
            });
        }
        if read_up_to(&mut self.inner, &mut word)? != 4 {
            return Err(FbsError::Truncated {
                block,
                what: "before a block's timestamp",
            });
        }
        self.blocks += 1;
        Ok(Some(Block {
            timestamp_ms: u32::from_be_bytes(word),
            data,
        }))
    }
}

/// Reads every block of a recording, keeping at most `max_total` bytes of
/// stream.
pub fn read_all(inner: impl Read, max_total: u64) -> Result<Vec<Block>, FbsError> {
    let mut reader = Reader::new(inner)?;
    let mut blocks = Vec::new();
    let mut total = 0u64;
    while let Some(block) = reader.next_block()? {
        total += block.data.len() as u64;
        if total > max_total {
            return Err(FbsError::TooLarge { limit: max_total });
        }
        blocks.push(block);
    }
    Ok(blocks)
}

/// Reads into `buf` until it is full or the input ends; returns how many
/// bytes were read.
fn read_up_to(inner: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match inner.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn printable(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// What the handshake at the start of a recorded stream said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedHandshake {
    /// The protocol version the recorded client and server spoke.
    pub version: ProtocolVersion,
    /// The security type used: None or VNC authentication (a recording of
    /// an encrypted session would be of no use).
    pub security: SecurityType,
    /// Where ServerInit starts in the stream.
    pub server_init_offset: usize,
}

/// ServerInit's fixed part: size, pixel format, name length.
const SERVER_INIT_LEN: usize = 24;

impl RecordedHandshake {
    /// Finds the handshake's end in `stream`, the concatenated recorded
    /// bytes (the first few blocks are enough). The stream holds only what
    /// the server sent, so which type the client picked from an RFB 3.7+
    /// list is inferred as porthole-vnc picks: VNC authentication when
    /// offered, else None (the recorder refuses anything else).
    pub fn parse(stream: &[u8]) -> Result<Self, FbsError> {
        let mut at = Cursor { stream, at: 0 };
        let greeting = at.take(12, "the server's version")?;
        let version = parse_version(greeting).ok_or_else(|| {
            FbsError::Handshake(format!(
                "it starts with \"{}\", not an RFB version",
                printable(greeting)
            ))
        })?;
        let security = if version == ProtocolVersion::V3_3 {
            let ty = at.u32("the security type")?;
            match ty {
                1 => SecurityType::None,
                2 => SecurityType::VncAuth,
                0 => return Err(refused()),
                other => return Err(unusable(&other.to_string())),
            }
        } else {
            let count = usize::from(at.u8("the security types")?);
            if count == 0 {
                return Err(refused());
            }
            let types = at.take(count, "the security types")?;
            if types.contains(&2) {
                SecurityType::VncAuth
            } else if types.contains(&1) {
                SecurityType::None
            } else {
                let list: Vec<String> = types.iter().map(u8::to_string).collect();
                return Err(unusable(&list.join(", ")));
            }
        };
        if security == SecurityType::VncAuth {
            at.take(16, "the authentication challenge")?;
        }
        if version == ProtocolVersion::V3_8 || security == SecurityType::VncAuth {
            let result = at.u32("the security result")?;
            if result != 0 {
                return Err(FbsError::Handshake(
                    "the recorded authentication failed; record again with the right password"
                        .to_owned(),
                ));
            }
        }
        let server_init_offset = at.at;
        at.take(SERVER_INIT_LEN, "ServerInit")?;
        Ok(Self {
            version,
            security,
            server_init_offset,
        })
    }

    /// The pixel format ServerInit announces, if the stream reaches it.
    pub fn server_format(&self, stream: &[u8]) -> Option<PixelFormat> {
        let start = self.server_init_offset.checked_add(4)?;
        let bytes: &[u8; 16] = stream.get(start..start.checked_add(16)?)?.try_into().ok()?;
        PixelFormat::parse(bytes).ok()
    }

    /// Replaces the pixel format ServerInit announces in `stream` (whose
    /// handshake this is). Returns false when the stream does not reach it.
    pub fn set_server_format(&self, stream: &mut [u8], format: &PixelFormat) -> bool {
        let Some(start) = self.server_init_offset.checked_add(4) else {
            return false;
        };
        match stream.get_mut(start..start.saturating_add(16)) {
            Some(slot) if slot.len() == 16 => {
                slot.copy_from_slice(&format.to_bytes());
                true
            }
            _ => false,
        }
    }
}

fn refused() -> FbsError {
    FbsError::Handshake("the server refused the recorded connection".to_owned())
}

fn unusable(types: &str) -> FbsError {
    FbsError::Handshake(format!(
        "it used security type {types}; only recordings with None or VNC authentication can be replayed"
    ))
}

/// The same version mapping as the session's handshake.
fn parse_version(greeting: &[u8]) -> Option<ProtocolVersion> {
    let text = std::str::from_utf8(greeting).ok()?;
    let rest = text.strip_prefix("RFB ")?.strip_suffix('\n')?;
    let (major, minor) = rest.split_once('.')?;
    if major.len() != 3 || minor.len() != 3 {
        return None;
    }
    let major: u16 = major.parse().ok()?;
    let minor: u16 = minor.parse().ok()?;
    match (major, minor) {
        (3, 3..=6) => Some(ProtocolVersion::V3_3),
        (3, 7) => Some(ProtocolVersion::V3_7),
        (3, 8 | 889) | (4, 0 | 1) | (5, 0) => Some(ProtocolVersion::V3_8),
        _ => None,
    }
}

/// Reads the recorded handshake front to back.
struct Cursor<'a> {
    stream: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FbsError> {
        let end = self.at.checked_add(n);
        let bytes = end.and_then(|end| self.stream.get(self.at..end));
        match (bytes, end) {
            (Some(bytes), Some(end)) => {
                self.at = end;
                Ok(bytes)
            }
            _ => Err(FbsError::Handshake(format!(
                "the recording ends before {what}"
            ))),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, FbsError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    fn u32(&mut self, what: &str) -> Result<u32, FbsError> {
        let bytes = self.take(4, what)?;
        Ok(bytes.iter().fold(0, |v, &b| v << 8 | u32::from(b)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn file(blocks: &[(u32, &[u8])]) -> Vec<u8> {
        let mut writer = Writer::new(Vec::new()).unwrap();
        for (ts, data) in blocks {
            writer.write_block(*ts, data).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn blocks_have_the_rfbproxy_layout() {
        let bytes = file(&[(7, b"RFB 003.008\n"), (0x0102_0304, b"abcde")]);
        let mut expected = b"FBS 001.000\n".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 12]);
        expected.extend_from_slice(b"RFB 003.008\n");
        expected.extend_from_slice(&[0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0, 5]);
        expected.extend_from_slice(b"abcde\0\0\0");
        expected.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn what_is_written_reads_back() {
        let data: Vec<Vec<u8>> = (0..9).map(|n| (0..n).map(|i| i as u8).collect()).collect();
        let blocks: Vec<(u32, &[u8])> = data
            .iter()
            .enumerate()
            .map(|(i, d)| (i as u32 * 40, d.as_slice()))
            .filter(|(_, d)| !d.is_empty())
            .collect();
        let read = read_all(file(&blocks).as_slice(), DEFAULT_MAX_TOTAL).unwrap();
        assert_eq!(read.len(), blocks.len());
        for (block, (ts, data)) in read.iter().zip(&blocks) {
            assert_eq!(block.timestamp_ms, *ts);
            assert_eq!(block.data, *data);
        }
    }

    #[test]
    fn other_minor_versions_are_accepted_and_other_files_are_not() {
        assert!(Reader::new(&b"FBS 001.001\n"[..]).is_ok());
        for bad in [
            &b""[..],
            b"FBS 001.0",
            b"FBS 002.000\n",
            b"RFB 003.008\n",
            b"\x89PNG\r\n\x1a\n\0\0\0\r",
        ] {
            let error = Reader::new(bad).unwrap_err();
            assert!(matches!(error, FbsError::NotFbs(_)), "{bad:?}: {error}");
            assert!(error.to_string().contains("porthole-vnc record"));
        }
    }

    #[test]
    fn every_truncation_is_a_clear_error() {
        let whole = file(&[(1, b"hello"), (2, b"world!!!")]);
        for cut in 13..whole.len() {
            let result = read_all(&whole[..cut], DEFAULT_MAX_TOTAL);
            // Cutting exactly between blocks is a shorter valid file.
            if cut == 12 + 4 + 8 + 4 {
                assert_eq!(result.unwrap().len(), 1);
                continue;
            }
            let error = result.unwrap_err();
            assert!(
                matches!(error, FbsError::Truncated { .. }),
                "cut at {cut}: {error}"
            );
            assert!(error.to_string().contains("truncated"));
        }
    }

    #[test]
    fn absurd_lengths_are_refused_before_reading() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let error = read_all(bytes.as_slice(), DEFAULT_MAX_TOTAL).unwrap_err();
        assert!(matches!(
            error,
            FbsError::BlockTooLarge { len: u32::MAX, .. }
        ));

        let small = Reader::new(file(&[(0, &[0; 100])]).as_slice())
            .unwrap()
            .with_max_block(99)
            .next_block();
        assert!(matches!(
            small,
            Err(FbsError::BlockTooLarge { len: 100, .. })
        ));

        let two = file(&[(0, &[0; 100]), (1, &[0; 100])]);
        assert!(matches!(
            read_all(two.as_slice(), 150),
            Err(FbsError::TooLarge { limit: 150 })
        ));
    }

    /// ServerInit for a 2x1 screen in the native format, named "n".
    fn server_init() -> Vec<u8> {
        let mut init = vec![0, 2, 0, 1];
        init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
        init.extend_from_slice(&[0, 0, 0, 1, b'n']);
        init
    }

    #[test]
    fn handshakes_of_every_version_and_type_are_found() {
        let challenge = [9u8; 16];
        let cases: Vec<(Vec<u8>, ProtocolVersion, SecurityType)> = vec![
            (
                [&b"RFB 003.003\n"[..], &[0, 0, 0, 1]].concat(),
                ProtocolVersion::V3_3,
                SecurityType::None,
            ),
            (
                [&b"RFB 003.003\n"[..], &[0, 0, 0, 2], &challenge, &[0; 4]].concat(),
                ProtocolVersion::V3_3,
                SecurityType::VncAuth,
            ),
            (
                [&b"RFB 003.007\n"[..], &[1, 1]].concat(),
                ProtocolVersion::V3_7,
                SecurityType::None,
            ),
            (
                [&b"RFB 003.007\n"[..], &[2, 1, 2], &challenge, &[0; 4]].concat(),
                ProtocolVersion::V3_7,
                SecurityType::VncAuth,
            ),
            (
                NONE_HANDSHAKE.to_vec(),
                ProtocolVersion::V3_8,
                SecurityType::None,
            ),
            (
                [&b"RFB 003.008\n"[..], &[1, 2], &challenge, &[0; 4]].concat(),
                ProtocolVersion::V3_8,
                SecurityType::VncAuth,
            ),
        ];
        for (prefix, version, security) in cases {
            let stream = [prefix.clone(), server_init(), vec![0, 0, 0, 0]].concat();
            let handshake = RecordedHandshake::parse(&stream).unwrap();
            assert_eq!(
                handshake,
                RecordedHandshake {
                    version,
                    security,
                    server_init_offset: prefix.len()
                }
            );
            assert_eq!(handshake.server_format(&stream), Some(PixelFormat::NATIVE));
        }
    }

    #[test]
    fn unreplayable_handshakes_say_why() {
        let init = server_init();
        for (stream, needle) in [
            ([&b"HTTP/1.1 200"[..], &init].concat(), "not an RFB version"),
            (b"RFB 003.008\n\x01\x13".to_vec(), "security type 19"),
            (b"RFB 003.008\n\x00".to_vec(), "refused"),
            (
                b"RFB 003.008\n\x01\x01\0\0\0\x01".to_vec(),
                "authentication failed",
            ),
            (
                b"RFB 003.008\n\x01\x01\0\0\0\0\0\x02".to_vec(),
                "ends before ServerInit",
            ),
            (
                b"RFB 003.008\n\x05\x01".to_vec(),
                "ends before the security types",
            ),
        ] {
            let error = RecordedHandshake::parse(&stream).unwrap_err();
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn the_announced_format_can_be_replaced() {
        let mut stream = [&b"RFB 003.003\n\0\0\0\x01"[..], &server_init()].concat();
        let handshake = RecordedHandshake::parse(&stream).unwrap();
        let mut format = PixelFormat::NATIVE;
        format.big_endian = true;
        assert!(handshake.set_server_format(&mut stream, &format));
        assert_eq!(handshake.server_format(&stream), Some(format));
        assert!(!handshake.set_server_format(&mut stream[..20], &format));
    }
}
