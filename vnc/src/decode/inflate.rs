//! The per-connection zlib streams of the Zlib and ZRLE encodings, and the
//! driving of a rectangle's compressed block through one of them.
//!
//! Compressed bytes are inflated as they arrive, a bounded chunk at a time,
//! and handed to the rectangle's parser straight away: nothing is inflated
//! beyond what the parser needs plus one chunk, and output left over once
//! the rectangle is complete is an error. A zlib bomb therefore costs at
//! most one chunk of work past the rectangle's real size.

use flate2::{Decompress, FlushDecompress, Status};

use super::{DecodeError, Progress};

/// Output inflated per call beyond what the parser asked for.
const CHUNK: usize = 256 * 1024;

/// One zlib stream that lives as long as the connection, with the output it
/// produced that no parser has taken yet.
#[derive(Debug)]
pub(super) struct Stream {
    zlib: Decompress,
    out: Vec<u8>,
    /// Start of the output not yet parsed.
    start: usize,
}

impl Stream {
    pub(super) fn new() -> Self {
        Self {
            zlib: Decompress::new(true),
            out: Vec::new(),
            start: 0,
        }
    }

    /// Starts the stream afresh, dropping output nobody took (Tight's
    /// reset bits).
    pub(super) fn reset(&mut self) {
        self.zlib.reset(true);
        self.out.clear();
        self.start = 0;
    }

    fn pending(&self) -> &[u8] {
        self.out.get(self.start..).unwrap_or_default()
    }

    fn take(&mut self, n: usize) {
        self.start = (self.start + n).min(self.out.len());
    }

    /// Feeds `input`, inflating up to `want` bytes (or a little more);
    /// returns (bytes of input used, bytes produced).
    fn inflate(&mut self, input: &[u8], want: usize) -> Result<(usize, usize), DecodeError> {
        if self.start == self.out.len() {
            self.out.clear();
            self.start = 0;
        } else if self.start > CHUNK {
            self.out.drain(..self.start);
            self.start = 0;
        }
        self.out.reserve(want);
        let (in_before, out_before) = (self.zlib.total_in(), self.zlib.total_out());
        let status = self
            .zlib
            .decompress_vec(input, &mut self.out, FlushDecompress::None)
            .map_err(|e| DecodeError::Zlib(e.to_string()))?;
        let used = usize::try_from(self.zlib.total_in() - in_before).unwrap_or(usize::MAX);
        let produced = usize::try_from(self.zlib.total_out() - out_before).unwrap_or(usize::MAX);
        if status == Status::StreamEnd {
            // rfbproto keeps one stream per connection, but a server that
            // finishes it instead of flushing has its next block start a
            // fresh stream: accept that rather than fail.
            self.zlib.reset(true);
        }
        Ok((used, produced))
    }
}

/// A rectangle's compressed block: a 4-byte length, then that many bytes of
/// zlib data whose inflated content `parse` consumes.
#[derive(Debug, Default)]
pub(super) struct Block {
    /// Compressed bytes of the block not yet fed; `None` before the length.
    remaining: Option<usize>,
}

impl Block {
    /// A block whose length was already read (Tight's compact lengths).
    pub(super) fn with_len(len: usize) -> Self {
        Self {
            remaining: Some(len),
        }
    }

    /// Feeds what `input` holds of the block through `stream` into `parse`,
    /// which must be resumable and, once complete, report `Done` with
    /// nothing consumed on every later call.
    pub(super) fn step(
        &mut self,
        input: &[u8],
        max_len: usize,
        stream: &mut Stream,
        encoding: &'static str,
        mut parse: impl FnMut(&[u8]) -> Result<Progress, DecodeError>,
    ) -> Result<Progress, DecodeError> {
        let mut rest = input;
        let mut remaining = match self.remaining {
            Some(r) => r,
            None => {
                let Some((&len, tail)) = rest.split_first_chunk::<4>() else {
                    return Ok(super::need(0, 4, rest.len()));
                };
                let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
                if len > max_len {
                    return Err(DecodeError::TooLarge {
                        got: len,
                        limit: max_len,
                    });
                }
                rest = tail;
                len
            }
        };
        let malformed = |reason| DecodeError::Malformed { encoding, reason };
        loop {
            let consumed = input.len() - rest.len();
            let progress = parse(stream.pending())?;
            let (parsed, want) = match progress {
                Progress::Done { consumed } => (consumed, None),
                Progress::NeedMore { consumed, need } => (consumed, Some(need)),
            };
            stream.take(parsed);
            let Some(want) = want else {
                // The rectangle is complete: what is left of the block may
                // only end the deflate block (a sync flush), never hold data.
                if !stream.pending().is_empty() {
                    return Err(malformed(
                        "the compressed data holds more than the rectangle",
                    ));
                }
                let take = remaining.min(rest.len());
                let (block, tail) = rest.split_at(take);
                let mut block = block;
                while !block.is_empty() || remaining == take {
                    let (used, produced) = stream.inflate(block, 64)?;
                    if produced > 0 {
                        return Err(malformed(
                            "the compressed data holds more than the rectangle",
                        ));
                    }
                    if used == 0 {
                        break;
                    }
                    block = block.get(used..).unwrap_or_default();
                }
                if !block.is_empty() {
                    return Err(DecodeError::Zlib("the zlib stream stalled".into()));
                }
                remaining -= take;
                rest = tail;
                let consumed = input.len() - rest.len();
                self.remaining = Some(remaining);
                return Ok(if remaining == 0 {
                    Progress::Done { consumed }
                } else {
                    Progress::NeedMore { consumed, need: 1 }
                });
            };
            if remaining == 0 {
                // The block is all fed; zlib may still hold output back.
                let (_, produced) = stream.inflate(&[], want.max(CHUNK))?;
                if produced == 0 {
                    return Err(malformed(
                        "the compressed data ends before the rectangle does",
                    ));
                }
                continue;
            }
            if rest.is_empty() {
                self.remaining = Some(remaining);
                return Ok(Progress::NeedMore { consumed, need: 1 });
            }
            let block = rest.get(..remaining.min(rest.len())).unwrap_or_default();
            let (used, produced) = stream.inflate(block, want.max(CHUNK))?;
            if used == 0 && produced == 0 {
                return Err(DecodeError::Zlib("the zlib stream stalled".into()));
            }
            rest = rest.get(used..).unwrap_or_default();
            remaining -= used;
        }
    }
}
