//! JPEG images in rectangles: Tight's and TightPNG's JpegCompression, and
//! the JPEG encoding (21), whose frames may leave out their quantisation and
//! Huffman tables and reuse the last ones sent. Owns the remembered tables,
//! the marker-level framing of encoding 21, and decoding into the
//! framebuffer; knows nothing of Tight's control bytes.
//!
//! Decoding is zune-jpeg's (chosen by measured speed: about 100 MP/s on a
//! 1920×1080 photo at quality 80 here, against about 40 for jpeg-decoder).
//! The image's size is read from its frame header and must be the
//! rectangle's before anything is decoded, so no JPEG can make the decoder
//! allocate more than the rectangle it fills.

use std::panic::{self, AssertUnwindSafe};

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::image::{Compressed, Kind, Out, Outcome};
use super::{DecodeError, Progress};
use crate::framebuffer::Rect;

const SOI: u8 = 0xd8;
const EOI: u8 = 0xd9;
const SOS: u8 = 0xda;
const DQT: u8 = 0xdb;
const DHT: u8 = 0xc4;

/// Per-connection JPEG state: the tables of the last frame that carried
/// them, and a reusable buffer for decoded RGB pixels.
#[derive(Debug, Default)]
pub(super) struct JpegState {
    /// Every DQT segment (marker included) of the last frame that had one.
    dqt: Vec<u8>,
    /// Every DHT segment of the last frame that had one.
    dht: Vec<u8>,
    rgb: Vec<u8>,
}

fn malformed(reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        encoding: "JPEG",
        reason,
    }
}

/// What the segments before the first scan say.
struct Header {
    /// Frame size from the SOF segment: (width, height).
    size: (usize, usize),
    dqt: Vec<u8>,
    dht: Vec<u8>,
}

/// Walks the segments of `data` from SOI to the first SOS.
fn header(data: &[u8]) -> Result<Header, DecodeError> {
    let Some(([0xff, SOI], mut rest)) = data.split_first_chunk::<2>().map(|(m, r)| (*m, r)) else {
        return Err(malformed("the image does not start with a JPEG marker"));
    };
    let (mut size, mut dqt, mut dht) = (None, Vec::new(), Vec::new());
    loop {
        // Markers may be padded with any number of 0xff bytes.
        let skip = rest.iter().take_while(|&&b| b == 0xff).count();
        if skip == 0 {
            return Err(malformed("a JPEG segment does not start with a marker"));
        }
        let Some((&code, tail)) = rest.get(skip..).and_then(<[u8]>::split_first) else {
            return Err(malformed("the JPEG image ends before its first scan"));
        };
        if matches!(code, 0x01 | 0xd0..=0xd7) {
            rest = tail;
            continue;
        }
        if matches!(code, SOI | EOI) {
            return Err(malformed("the JPEG image ends before its first scan"));
        }
        let Some((&len, _)) = tail.split_first_chunk::<2>() else {
            return Err(malformed("the JPEG image ends before its first scan"));
        };
        let len = usize::from(u16::from_be_bytes(len));
        let (Some(body), Some(next)) = (tail.get(2..len), tail.get(len..)) else {
            return Err(malformed("a JPEG segment is longer than the image"));
        };
        match code {
            SOS => break,
            DQT => {
                dqt.extend_from_slice(&[0xff, code]);
                dqt.extend_from_slice(tail.get(..len).unwrap_or_default());
            }
            DHT => {
                dht.extend_from_slice(&[0xff, code]);
                dht.extend_from_slice(tail.get(..len).unwrap_or_default());
            }
            // SOF0…SOF15 except DHT (c4), JPG (c8) and DAC (cc).
            0xc0..=0xcf if !matches!(code, 0xc8 | 0xcc) => {
                let Some(&[_, h0, h1, w0, w1]) = body.first_chunk::<5>() else {
                    return Err(malformed("the JPEG frame header is short"));
                };
                size = Some((
                    usize::from(u16::from_be_bytes([w0, w1])),
                    usize::from(u16::from_be_bytes([h0, h1])),
                ));
            }
            _ => {}
        }
        rest = next;
    }
    let size = size.ok_or(malformed("the JPEG image has no frame header"))?;
    Ok(Header { size, dqt, dht })
}

/// Decodes the complete JPEG image `data`, which must fill `rect` exactly,
/// into `out`; tables it leaves out are the last ones `state` saw.
pub(super) fn decode(
    data: &[u8],
    rect: Rect,
    state: &mut JpegState,
    mut out: Out<'_>,
) -> Result<(), DecodeError> {
    let (width, height) = (usize::from(rect.width), usize::from(rect.height));
    let header = header(data)?;
    if header.size != (width, height) {
        return Err(malformed("the JPEG image is not the size of its rectangle"));
    }
    if !header.dqt.is_empty() {
        state.dqt = header.dqt;
    }
    if !header.dht.is_empty() {
        state.dht = header.dht;
    }
    if rect.is_empty() {
        return Ok(());
    }
    let missing_dqt = !data_has(data, DQT);
    let missing_dht = !data_has(data, DHT);
    let spliced;
    let data = if missing_dqt || missing_dht {
        // An abbreviated frame: put the remembered tables right after SOI.
        if (missing_dqt && state.dqt.is_empty()) || (missing_dht && state.dht.is_empty()) {
            return Err(malformed(
                "the JPEG image reuses tables the server never sent",
            ));
        }
        let mut full = Vec::with_capacity(data.len() + state.dqt.len() + state.dht.len());
        full.extend_from_slice(&[0xff, SOI]);
        if missing_dqt {
            full.extend_from_slice(&state.dqt);
        }
        if missing_dht {
            full.extend_from_slice(&state.dht);
        }
        full.extend_from_slice(data.get(2..).unwrap_or_default());
        spliced = full;
        spliced.as_slice()
    } else {
        data
    };
    out.prepare();
    let rgb = &mut state.rgb;
    // Kept from image to image: the decoder writes every byte.
    rgb.resize(width * height * 3, 0);
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(width)
        .set_max_height(height)
        .set_strict_mode(false);
    // zune-jpeg is fuzzed and returns errors, but a panic inside a
    // dependency must still end only this session, never the program.
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
        decoder.decode_headers()?;
        if decoder.dimensions() != Some((width, height))
            || decoder.output_buffer_size() != Some(rgb.len())
        {
            return Ok(false);
        }
        decoder.decode_into(rgb).map(|()| true)
    }));
    match result {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Err(malformed("the JPEG image is not the size of its rectangle")),
        Ok(Err(e)) => return Err(DecodeError::Image(format!("JPEG: {e:?}"))),
        Err(_) => return Err(malformed("the JPEG decoder failed on this image")),
    }
    for (y, src) in rgb.chunks_exact(width * 3).enumerate() {
        let row = out.row(y)?;
        for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
            if let [r, g, b] = *s {
                d.copy_from_slice(&[b, g, r, 255]);
            }
        }
    }
    Ok(())
}

/// Whether the segments before the first scan hold a `code` segment.
fn data_has(data: &[u8], code: u8) -> bool {
    let mut rest = data.get(2..).unwrap_or_default();
    while let Some(([0xff, c], tail)) = rest.split_first_chunk::<2>().map(|(m, t)| (*m, t)) {
        if c == 0xff {
            rest = rest.get(1..).unwrap_or_default();
            continue;
        }
        if c == code {
            return true;
        }
        if c == SOS {
            return false;
        }
        if matches!(c, 0x01 | 0xd0..=0xd7) {
            rest = tail;
            continue;
        }
        let Some(&len) = tail.first_chunk::<2>() else {
            return false;
        };
        rest = tail
            .get(usize::from(u16::from_be_bytes(len))..)
            .unwrap_or_default();
    }
    false
}

/// Where the framing of a JPEG-encoded (21) rectangle has got to. The
/// rectangle has no length field: it ends at the image's EOI marker, found
/// by walking segment lengths and scanning entropy-coded data for markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Expecting byte `n` of SOI.
    Start(u8),
    /// Expecting the 0xff of a marker.
    Marker,
    /// After 0xff: expecting a marker code (or more 0xff fill).
    Code,
    /// Expecting the high (`None`) or low byte of a segment length.
    Length { sos: bool, high: Option<u8> },
    /// Skipping a segment's body; a scan's entropy-coded data follows SOS.
    Skip { left: usize, sos: bool },
    /// In entropy-coded data.
    Entropy,
    /// In entropy-coded data, after 0xff.
    EntropyFf,
}

/// A JPEG-encoded (21) rectangle: its bytes are gathered until EOI, then
/// decoded (see [`super::image`]).
#[derive(Debug)]
pub(super) struct JpegRect {
    scan: Scan,
    data: Vec<u8>,
}

impl JpegRect {
    pub(super) fn new() -> Self {
        Self {
            scan: Scan::Start(0),
            data: Vec::new(),
        }
    }

    /// Gathers the image; once its EOI has arrived, hands it over whole
    /// for the caller to decode.
    pub(super) fn step(&mut self, input: &[u8], max_len: usize) -> Result<Outcome, DecodeError> {
        let mut used = 0;
        let mut done = false;
        while used < input.len() && !done {
            let rest = input.get(used..).unwrap_or_default();
            let Some(&byte) = rest.first() else { break };
            // Runs without markers are taken in one go.
            let run = match self.scan {
                Scan::Skip { left, .. } => left.min(rest.len()),
                Scan::Entropy => rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len()),
                _ => 0,
            };
            if run > 0 {
                self.scan = match self.scan {
                    Scan::Skip { left, sos } if left == run => {
                        if sos {
                            Scan::Entropy
                        } else {
                            Scan::Marker
                        }
                    }
                    Scan::Skip { left, sos } => Scan::Skip {
                        left: left - run,
                        sos,
                    },
                    other => other,
                };
                used += run;
                continue;
            }
            self.scan = match (self.scan, byte) {
                (Scan::Start(0), 0xff) => Scan::Start(1),
                (Scan::Start(1), SOI) => Scan::Marker,
                (Scan::Start(_), _) => {
                    return Err(malformed("the image does not start with a JPEG marker"))
                }
                (Scan::Marker, 0xff) => Scan::Code,
                (Scan::Marker, _) => {
                    return Err(malformed("a JPEG segment does not start with a marker"))
                }
                (Scan::Code | Scan::EntropyFf, 0xff) => self.scan,
                (Scan::Code | Scan::EntropyFf, EOI) => {
                    done = true;
                    self.scan
                }
                (Scan::Code, SOI) => return Err(malformed("a JPEG image starts inside another")),
                (Scan::Code, 0x01 | 0xd0..=0xd7) => Scan::Marker,
                (Scan::EntropyFf, 0x00 | 0xd0..=0xd7) => Scan::Entropy,
                (Scan::Code | Scan::EntropyFf, code) => Scan::Length {
                    sos: code == SOS,
                    high: None,
                },
                (Scan::Length { sos, high: None }, b) => Scan::Length { sos, high: Some(b) },
                (Scan::Length { sos, high: Some(h) }, l) => {
                    let len = usize::from(u16::from_be_bytes([h, l]));
                    if len < 2 {
                        return Err(malformed("a JPEG segment length is below 2"));
                    }
                    if len == 2 {
                        if sos {
                            Scan::Entropy
                        } else {
                            Scan::Marker
                        }
                    } else {
                        Scan::Skip { left: len - 2, sos }
                    }
                }
                (Scan::Entropy, _) => Scan::EntropyFf,
                (Scan::Skip { .. }, _) => self.scan,
            };
            used += 1;
        }
        let taken = input.get(..used).unwrap_or_default();
        if self.data.len() + taken.len() > max_len {
            return Err(DecodeError::TooLarge {
                got: self.data.len() + taken.len(),
                limit: max_len,
            });
        }
        self.data.extend_from_slice(taken);
        if !done {
            return Ok(Outcome::Progress(Progress::NeedMore {
                consumed: used,
                need: 1,
            }));
        }
        let image = Compressed {
            kind: Kind::Jpeg,
            data: std::mem::take(&mut self.data),
        };
        Ok(Outcome::Image {
            consumed: used,
            image,
        })
    }
}
