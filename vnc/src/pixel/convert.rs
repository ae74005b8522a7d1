//! Turning wire pixels of any supported format into native B, G, R, A.
//! Everything is precomputed per format so the per-pixel work is a table
//! look-up or a few shifts.

use super::{ColourMap, PixelFormat};

/// Converts wire pixels (`PIXEL`, or ZRLE's `CPIXEL`) of one pixel format
/// and colour map into native B, G, R, A bytes with A = 255.
///
/// Building one costs up to a 65536-entry table (16 bpp), so keep it while
/// the format and colour map stay the same.
#[derive(Clone, Debug)]
pub struct PixelReader {
    len: usize,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// 4 wire bytes B, G, R, X ([`PixelFormat::NATIVE`]).
    Native,
    /// 3 wire bytes B, G, R (NATIVE's compact pixel).
    Native3,
    /// 1 wire byte, looked up.
    Table8(Box<[u32; 256]>),
    /// 2 wire bytes, looked up.
    Table16 {
        table: Box<[u32; 65536]>,
        big_endian: bool,
    },
    /// 4 wire bytes, or 3 of them (`pad` says where the missing zero byte
    /// goes), then channel extraction or a colour-map look-up.
    Wide {
        big_endian: bool,
        pad: Pad,
        map: WideMap,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pad {
    /// All four bytes are on the wire.
    None,
    /// The first three wire bytes are sent; the fourth is zero.
    Last,
    /// The last three wire bytes are sent; the first is zero.
    First,
}

#[derive(Clone, Debug)]
enum WideMap {
    True(Box<[Channel; 3]>),
    Mapped(Box<[u32; 256]>),
}

/// One colour channel: where it sits and how to widen it to 8 bits.
#[derive(Clone, Debug)]
struct Channel {
    shift: u32,
    max: u32,
    /// `max + 1` entries scaling a value to 0..=255; `None` when max is 255.
    scale: Option<Box<[u8]>>,
}

impl Channel {
    fn new(max: u16, shift: u8) -> Self {
        let scale = (max != 255).then(|| (0..=u32::from(max)).map(|v| scale(v, max)).collect());
        Self {
            shift: u32::from(shift),
            max: u32::from(max),
            scale,
        }
    }

    #[inline]
    fn extract(&self, value: u32) -> u32 {
        let v = value.checked_shr(self.shift).unwrap_or(0) & self.max;
        match &self.scale {
            None => v,
            Some(table) => u32::from(table.get(v as usize).copied().unwrap_or(0)),
        }
    }
}

/// `v` of a channel whose maximum is `max`, as 0..=255, rounded.
fn scale(v: u32, max: u16) -> u8 {
    let max = u32::from(max);
    if max == 0 {
        return 0;
    }
    let scaled = (v.min(max) * 255 + max / 2) / max;
    u8::try_from(scaled).unwrap_or(u8::MAX)
}

const OPAQUE: u32 = 0xff00_0000;

/// A native pixel as the little-endian u32 whose bytes are B, G, R, A.
#[inline]
fn pack(r: u32, g: u32, b: u32) -> u32 {
    OPAQUE | (r << 16) | (g << 8) | b
}

fn colour_map_table(map: &ColourMap) -> Box<[u32; 256]> {
    let mut table = Box::new([OPAQUE; 256]);
    for (slot, entry) in table.iter_mut().zip(map.entries()) {
        *slot = u32::from_le_bytes(*entry) | OPAQUE;
    }
    table
}

impl PixelReader {
    /// A reader for `PIXEL`s of `format`.
    pub fn new(format: &PixelFormat, map: &ColourMap) -> Self {
        Self::build(format, map, None)
    }

    /// A reader for ZRLE/TRLE `CPIXEL`s of `format`: 3 bytes when
    /// [`PixelFormat::compact_pixel_offset`] says so, else like [`Self::new`].
    pub fn compact(format: &PixelFormat, map: &ColourMap) -> Self {
        Self::build(format, map, format.compact_pixel_offset())
    }

    fn build(format: &PixelFormat, map: &ColourMap, compact: Option<usize>) -> Self {
        let channels = || {
            Box::new([
                Channel::new(format.red_max, format.red_shift),
                Channel::new(format.green_max, format.green_shift),
                Channel::new(format.blue_max, format.blue_shift),
            ])
        };
        match format.bits_per_pixel {
            8 => {
                let table = if format.true_colour {
                    let [r, g, b] = *channels();
                    let mut table = Box::new([0; 256]);
                    for (v, slot) in (0u32..).zip(table.iter_mut()) {
                        *slot = pack(r.extract(v), g.extract(v), b.extract(v));
                    }
                    table
                } else {
                    colour_map_table(map)
                };
                Self {
                    len: 1,
                    kind: Kind::Table8(table),
                }
            }
            16 => {
                let mut table: Box<[u32; 65536]> = vec![OPAQUE; 65536]
                    .into_boxed_slice()
                    .try_into()
                    .unwrap_or_else(|_| Box::new([OPAQUE; 65536]));
                if format.true_colour {
                    let [r, g, b] = *channels();
                    for (v, slot) in (0u32..).zip(table.iter_mut()) {
                        *slot = pack(r.extract(v), g.extract(v), b.extract(v));
                    }
                } else {
                    let map = colour_map_table(map);
                    for (slot, entry) in table.iter_mut().zip(map.iter()) {
                        *slot = *entry;
                    }
                }
                Self {
                    len: 2,
                    kind: Kind::Table16 {
                        table,
                        big_endian: format.big_endian,
                    },
                }
            }
            _ => {
                let pad = match compact {
                    None => Pad::None,
                    Some(0) => Pad::Last,
                    Some(_) => Pad::First,
                };
                let len = if pad == Pad::None { 4 } else { 3 };
                let native_like = format.true_colour
                    && !format.big_endian
                    && (format.red_max, format.green_max, format.blue_max) == (255, 255, 255)
                    && (format.red_shift, format.green_shift, format.blue_shift) == (16, 8, 0);
                let kind = match (native_like, pad) {
                    (true, Pad::None) => Kind::Native,
                    (true, Pad::Last) => Kind::Native3,
                    _ => Kind::Wide {
                        big_endian: format.big_endian,
                        pad,
                        map: if format.true_colour {
                            WideMap::True(channels())
                        } else {
                            WideMap::Mapped(colour_map_table(map))
                        },
                    },
                };
                Self { len, kind }
            }
        }
    }

    /// Bytes of one wire pixel: 1, 2, 3 or 4.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The first wire pixel of `src` as B, G, R, A; black if `src` is
    /// shorter than one pixel.
    #[inline]
    pub fn read(&self, src: &[u8]) -> [u8; 4] {
        self.read_u32(src).to_le_bytes()
    }

    #[inline]
    fn read_u32(&self, src: &[u8]) -> u32 {
        match &self.kind {
            Kind::Native => match *src {
                [b, g, r, _, ..] => u32::from_le_bytes([b, g, r, 255]),
                _ => OPAQUE,
            },
            Kind::Native3 => match *src {
                [b, g, r, ..] => u32::from_le_bytes([b, g, r, 255]),
                _ => OPAQUE,
            },
            Kind::Table8(table) => match src.first() {
                Some(&v) => table.get(usize::from(v)).copied().unwrap_or(OPAQUE),
                None => OPAQUE,
            },
            Kind::Table16 { table, big_endian } => match *src {
                [a, b, ..] => {
                    let v = if *big_endian {
                        u16::from_be_bytes([a, b])
                    } else {
                        u16::from_le_bytes([a, b])
                    };
                    table.get(usize::from(v)).copied().unwrap_or(OPAQUE)
                }
                _ => OPAQUE,
            },
            Kind::Wide {
                big_endian,
                pad,
                map,
            } => {
                let bytes = match (*pad, src) {
                    (Pad::None, [a, b, c, d, ..]) => [*a, *b, *c, *d],
                    (Pad::Last, [a, b, c, ..]) => [*a, *b, *c, 0],
                    (Pad::First, [a, b, c, ..]) => [0, *a, *b, *c],
                    _ => return OPAQUE,
                };
                wide(*big_endian, map, bytes)
            }
        }
    }

    /// Converts as many whole pixels as both `src` (wire pixels) and `dst`
    /// (4 bytes each) hold; returns that count.
    pub fn convert(&self, src: &[u8], dst: &mut [u8]) -> usize {
        let pixels = (src.len() / self.len).min(dst.len() / 4);
        let dst = dst.chunks_exact_mut(4).take(pixels);
        match &self.kind {
            Kind::Native => {
                // Whole-word operations let the compiler vectorise this loop.
                for (d, s) in dst.zip(src.chunks_exact(4)) {
                    if let Ok(s) = <[u8; 4]>::try_from(s) {
                        d.copy_from_slice(&(u32::from_le_bytes(s) | OPAQUE).to_le_bytes());
                    }
                }
            }
            Kind::Native3 => {
                for (d, s) in dst.zip(src.chunks_exact(3)) {
                    if let [b, g, r] = *s {
                        d.copy_from_slice(&[b, g, r, 255]);
                    }
                }
            }
            Kind::Table8(table) => {
                for (d, &s) in dst.zip(src) {
                    let v = table.get(usize::from(s)).copied().unwrap_or(OPAQUE);
                    d.copy_from_slice(&v.to_le_bytes());
                }
            }
            Kind::Table16 { table, big_endian } => {
                let big_endian = *big_endian;
                for (d, s) in dst.zip(src.chunks_exact(2)) {
                    if let [a, b] = *s {
                        let v = if big_endian {
                            u16::from_be_bytes([a, b])
                        } else {
                            u16::from_le_bytes([a, b])
                        };
                        let v = table.get(usize::from(v)).copied().unwrap_or(OPAQUE);
                        d.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            Kind::Wide { .. } => {
                for (d, s) in dst.zip(src.chunks_exact(self.len)) {
                    d.copy_from_slice(&self.read_u32(s).to_le_bytes());
                }
            }
        }
        pixels
    }
}

#[inline]
fn wide(big_endian: bool, map: &WideMap, bytes: [u8; 4]) -> u32 {
    let value = if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    };
    match map {
        WideMap::True(channels) => {
            let [r, g, b] = &**channels;
            pack(r.extract(value), g.extract(value), b.extract(value))
        }
        WideMap::Mapped(table) => usize::try_from(value)
            .ok()
            .and_then(|i| table.get(i))
            .copied()
            .unwrap_or(OPAQUE),
    }
}
