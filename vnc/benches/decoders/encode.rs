//! Simple encoders for every decoded RFB encoding, and a generated
//! desktop-like screen, for the decoder benchmark and round-trip unit tests.
//! Written for clarity, not compression ratio; test and bench code only.
//!
//! Included by path from both places, so it names the pixel format as
//! `super::PixelFormat`, which each includer brings into scope.
#![allow(
    dead_code,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use super::PixelFormat;
use flate2::{Compress, Compression, FlushCompress};
use std::collections::HashMap;

/// Pixel values in some wire format, row-major, with the rectangle size.
#[derive(Clone, Debug)]
pub struct Values {
    pub width: usize,
    pub height: usize,
    pub v: Vec<u32>,
}

impl Values {
    fn at(&self, x: usize, y: usize) -> u32 {
        self.v[y * self.width + x]
    }

    /// The sub-rectangle (x, y, w, h).
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Values {
        let mut v = Vec::with_capacity(w * h);
        for row in y..y + h {
            v.extend_from_slice(&self.v[row * self.width + x..row * self.width + x + w]);
        }
        Values {
            width: w,
            height: h,
            v,
        }
    }
}

/// A small deterministic generator (xorshift), so content is repeatable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A desktop-like screen of R, G, B colours: a flat background, windows with
/// title bars and text-like high-frequency strips, a photo-like gradient
/// with noise, and a taskbar with small icons.
pub fn desktop(width: usize, height: usize, seed: u64) -> Vec<[u8; 3]> {
    let mut rng = Rng::new(seed);
    let mut img = vec![[40u8, 90, 120]; width * height];
    let rect = |img: &mut Vec<[u8; 3]>, x0: usize, y0: usize, w: usize, h: usize, c: [u8; 3]| {
        for y in y0..(y0 + h).min(height) {
            for x in x0..(x0 + w).min(width) {
                img[y * width + x] = c;
            }
        }
    };
    // An editor-like window full of text.
    let (wx, wy, ww, wh) = (width / 20, height / 12, width * 9 / 20, height * 3 / 4);
    rect(&mut img, wx, wy, ww, 24, [200, 200, 205]);
    rect(&mut img, wx, wy + 24, ww, wh, [255, 255, 255]);
    let text = [[20u8, 20, 20], [90, 90, 90], [160, 160, 160], [30, 60, 160]];
    let mut y = wy + 32;
    while y + 14 < wy + wh {
        let line_len = rng.below(ww as u64 * 3 / 4) as usize + 40;
        let mut x = wx + 8;
        while x + 8 < (wx + line_len).min(wx + ww - 8) {
            if rng.below(6) == 0 {
                x += 8; // a space
                continue;
            }
            for gy in 2..12 {
                for gx in 0..7 {
                    if rng.below(3) == 0 {
                        let c = text[rng.below(if gy % 5 == 0 { 4 } else { 2 }) as usize];
                        img[(y + gy) * width + x + gx] = c;
                    }
                }
            }
            x += 8;
        }
        y += 16;
    }
    // A photo-like window: smooth gradients with noise.
    let (px, py, pw, ph) = (width * 11 / 20, height / 8, width * 2 / 5, height / 2);
    rect(&mut img, px, py.saturating_sub(24), pw, 24, [200, 200, 205]);
    for y in py..(py + ph).min(height) {
        for x in px..(px + pw).min(width) {
            let fx = (x - px) as f64 / pw as f64;
            let fy = (y - py) as f64 / ph as f64;
            let noise = rng.below(24) as f64 - 12.0;
            let r = 255.0 * (0.5 + 0.5 * (fx * 6.0 + fy * 2.0).sin()) + noise;
            let g = 200.0 * fy + 40.0 * (fx * 17.0).cos() + noise;
            let b = 255.0 * (1.0 - fx) * 0.8 + noise;
            img[y * width + x] = [
                r.clamp(0.0, 255.0) as u8,
                g.clamp(0.0, 255.0) as u8,
                b.clamp(0.0, 255.0) as u8,
            ];
        }
    }
    // A taskbar with icons.
    let bar = height.saturating_sub(40);
    rect(&mut img, 0, bar, width, 40, [30, 30, 35]);
    for i in 0..12 {
        let c = [
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
        ];
        rect(&mut img, 8 + i * 44, bar + 6, 28, 28, c);
        rect(&mut img, 14 + i * 44, bar + 12, 16, 16, [250, 250, 250]);
    }
    img
}

/// `v` (0..=255) scaled to a channel of maximum `max`, rounded.
fn quantize(v: u8, max: u16) -> u32 {
    ((f64::from(v) * f64::from(max) / 255.0).round()) as u32
}

/// An R, G, B colour as a pixel value of a true-colour `format`.
pub fn value_of(format: &PixelFormat, [r, g, b]: [u8; 3]) -> u32 {
    (quantize(r, format.red_max) << format.red_shift)
        | (quantize(g, format.green_max) << format.green_shift)
        | (quantize(b, format.blue_max) << format.blue_shift)
}

/// An image as pixel values of a true-colour `format`.
pub fn values(format: &PixelFormat, img: &[[u8; 3]], width: usize) -> Values {
    Values {
        width,
        height: img.len() / width.max(1),
        v: img.iter().map(|&c| value_of(format, c)).collect(),
    }
}

/// What a correct decoder writes for `value` of a true-colour `format`:
/// B, G, R, 255, each channel scaled to 0..=255 and rounded.
pub fn expected_bgra(format: &PixelFormat, value: u32) -> [u8; 4] {
    let ch = |max: u16, shift: u8| {
        let c = (value >> shift) & u32::from(max);
        (f64::from(c) * 255.0 / f64::from(max)).round() as u8
    };
    [
        ch(format.blue_max, format.blue_shift),
        ch(format.green_max, format.green_shift),
        ch(format.red_max, format.red_shift),
        255,
    ]
}

/// The framebuffer bytes a correct decoder produces for `values`.
pub fn expected(format: &PixelFormat, values: &Values) -> Vec<u8> {
    values
        .v
        .iter()
        .flat_map(|&v| expected_bgra(format, v))
        .collect()
}

/// Appends `value` as a wire `PIXEL`.
pub fn put_pixel(out: &mut Vec<u8>, format: &PixelFormat, value: u32) {
    let bytes = format.bits_per_pixel as usize / 8;
    if format.big_endian {
        out.extend_from_slice(&value.to_be_bytes()[4 - bytes..]);
    } else {
        out.extend_from_slice(&value.to_le_bytes()[..bytes]);
    }
}

/// Appends `value` as a ZRLE/TRLE `CPIXEL`.
pub fn put_cpixel(out: &mut Vec<u8>, format: &PixelFormat, value: u32) {
    let mut wire = Vec::with_capacity(4);
    put_pixel(&mut wire, format, value);
    match format.compact_pixel_offset() {
        Some(offset) => out.extend_from_slice(&wire[offset..offset + 3]),
        None => out.extend_from_slice(&wire),
    }
}

pub fn raw(format: &PixelFormat, values: &Values) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in &values.v {
        put_pixel(&mut out, format, v);
    }
    out
}

/// The most frequent value.
fn most_common(values: &[u32]) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(v, n)| (n, v))
        .map_or(0, |(v, _)| v)
}

/// Horizontal runs (x, y, len, value) of pixels that differ from `bg`.
fn runs(values: &Values, bg: u32) -> Vec<(usize, usize, usize, u32)> {
    let mut out = Vec::new();
    for y in 0..values.height {
        let mut x = 0;
        while x < values.width {
            let v = values.at(x, y);
            let mut end = x + 1;
            while end < values.width && values.at(end, y) == v {
                end += 1;
            }
            if v != bg {
                out.push((x, y, end - x, v));
            }
            x = end;
        }
    }
    out
}

/// RRE (or CoRRE with `compact`, for rectangles up to 255×255).
pub fn rre(format: &PixelFormat, values: &Values, compact: bool) -> Vec<u8> {
    let bg = most_common(&values.v);
    let subs = runs(values, bg);
    let mut out = (subs.len() as u32).to_be_bytes().to_vec();
    put_pixel(&mut out, format, bg);
    for (x, y, w, v) in subs {
        put_pixel(&mut out, format, v);
        if compact {
            out.extend_from_slice(&[x as u8, y as u8, w as u8, 1]);
        } else {
            for n in [x, y, w, 1] {
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
    }
    out
}

pub fn hextile(format: &PixelFormat, values: &Values) -> Vec<u8> {
    let bpp = format.bits_per_pixel as usize / 8;
    let mut out = Vec::new();
    let (mut last_bg, mut last_fg) = (None, None);
    for ty in (0..values.height).step_by(16) {
        for tx in (0..values.width).step_by(16) {
            let (tw, th) = (16.min(values.width - tx), 16.min(values.height - ty));
            let tile = values.crop(tx, ty, tw, th);
            let bg = most_common(&tile.v);
            // Subrectangles: horizontal runs, merged downwards when the row
            // below has the same run.
            let mut subs: Vec<(usize, usize, usize, usize, u32)> = Vec::new();
            for (x, y, w, v) in runs(&tile, bg) {
                if let Some(s) = subs
                    .iter_mut()
                    .find(|s| s.0 == x && s.2 == w && s.4 == v && s.1 + s.3 == y)
                {
                    s.3 += 1;
                } else {
                    subs.push((x, y, w, 1, v));
                }
            }
            let colours: Vec<u32> = {
                let mut c: Vec<u32> = subs.iter().map(|s| s.4).collect();
                c.sort_unstable();
                c.dedup();
                c
            };
            let coloured = colours.len() > 1;
            let size = 1 + bpp * 2 + 1 + subs.len() * if coloured { bpp + 2 } else { 2 };
            if subs.len() > 255 || size > 1 + tw * th * bpp {
                out.push(1);
                for &v in &tile.v {
                    put_pixel(&mut out, format, v);
                }
                (last_bg, last_fg) = (None, None);
                continue;
            }
            let mut flags = 0;
            let mut body = Vec::new();
            if last_bg != Some(bg) {
                flags |= 2;
                put_pixel(&mut body, format, bg);
                last_bg = Some(bg);
            }
            if !subs.is_empty() {
                flags |= 8;
                if coloured {
                    flags |= 16;
                    last_fg = None;
                } else if last_fg != Some(colours[0]) {
                    flags |= 4;
                    put_pixel(&mut body, format, colours[0]);
                    last_fg = Some(colours[0]);
                }
                body.push(subs.len() as u8);
                for (x, y, w, h, v) in subs {
                    if coloured {
                        put_pixel(&mut body, format, v);
                    }
                    body.push(((x as u8) << 4) | y as u8);
                    body.push((((w - 1) as u8) << 4) | (h - 1) as u8);
                }
            }
            out.push(flags);
            out.extend_from_slice(&body);
        }
    }
    out
}

/// Appends a run length in ZRLE's form.
fn put_run(out: &mut Vec<u8>, len: usize) {
    let mut rest = len - 1;
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    out.push(rest as u8);
}

/// One ZRLE/TRLE tile, choosing the smallest of the subencodings.
pub fn rle_tile(format: &PixelFormat, tile: &Values, out: &mut Vec<u8>) {
    let mut palette: Vec<u32> = Vec::new();
    for &v in &tile.v {
        if !palette.contains(&v) {
            palette.push(v);
            if palette.len() > 127 {
                break;
            }
        }
    }
    if palette.len() == 1 {
        out.push(1);
        put_cpixel(out, format, palette[0]);
        return;
    }
    let mut runs = Vec::new();
    let mut i = 0;
    while i < tile.v.len() {
        let mut end = i + 1;
        while end < tile.v.len() && tile.v[end] == tile.v[i] {
            end += 1;
        }
        runs.push((tile.v[i], end - i));
        i = end;
    }
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    let mut raw = vec![0u8];
    for &v in &tile.v {
        put_cpixel(&mut raw, format, v);
    }
    candidates.push(raw);
    let mut plain = vec![128u8];
    for &(v, len) in &runs {
        put_cpixel(&mut plain, format, v);
        put_run(&mut plain, len);
    }
    candidates.push(plain);
    if palette.len() <= 127 {
        let index = |v: u32| palette.iter().position(|&p| p == v).unwrap() as u8;
        let mut rle = vec![128 + palette.len() as u8];
        for &p in &palette {
            put_cpixel(&mut rle, format, p);
        }
        for &(v, len) in &runs {
            if len == 1 {
                rle.push(index(v));
            } else {
                rle.push(index(v) | 128);
                put_run(&mut rle, len);
            }
        }
        candidates.push(rle);
        if palette.len() <= 16 {
            let bits = match palette.len() {
                2 => 1,
                3 | 4 => 2,
                _ => 4,
            };
            let mut packed = vec![palette.len() as u8];
            for &p in &palette {
                put_cpixel(&mut packed, format, p);
            }
            for y in 0..tile.height {
                let (mut byte, mut used) = (0u8, 0);
                for x in 0..tile.width {
                    byte |= index(tile.at(x, y)) << (8 - bits - used);
                    used += bits;
                    if used == 8 {
                        packed.push(byte);
                        (byte, used) = (0, 0);
                    }
                }
                if used > 0 {
                    packed.push(byte);
                }
            }
            candidates.push(packed);
        }
    }
    out.extend_from_slice(candidates.iter().min_by_key(|c| c.len()).unwrap());
}

/// The tiles of a rectangle, `size`×`size`, uncompressed (TRLE's form).
pub fn rle_tiles(format: &PixelFormat, values: &Values, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for ty in (0..values.height).step_by(size) {
        for tx in (0..values.width).step_by(size) {
            let tile = values.crop(
                tx,
                ty,
                size.min(values.width - tx),
                size.min(values.height - ty),
            );
            rle_tile(format, &tile, &mut out);
        }
    }
    out
}

pub fn trle(format: &PixelFormat, values: &Values) -> Vec<u8> {
    rle_tiles(format, values, 16)
}

/// A fresh compressor, like the one a server keeps per connection.
pub fn compressor() -> Compress {
    Compress::new(Compression::new(6), true)
}

/// `data` through `zlib` with a sync flush, as a length-prefixed block.
pub fn zlib_block(zlib: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let before = zlib.total_in();
        zlib.compress_vec(input, &mut out, FlushCompress::Sync)
            .unwrap();
        input = &input[(zlib.total_in() - before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    let mut block = (out.len() as u32).to_be_bytes().to_vec();
    block.extend_from_slice(&out);
    block
}

pub fn zrle(zlib: &mut Compress, format: &PixelFormat, values: &Values) -> Vec<u8> {
    zlib_block(zlib, &rle_tiles(format, values, 64))
}

pub fn zlib(zlib: &mut Compress, format: &PixelFormat, values: &Values) -> Vec<u8> {
    zlib_block(zlib, &raw(format, values))
}

// ---- Tight ----

/// Whether Tight sends `format`'s pixels as 3-byte R, G, B `TPIXEL`s.
pub fn tight_rgb(format: &PixelFormat) -> bool {
    format.true_colour
        && format.bits_per_pixel == 32
        && format.depth == 24
        && (format.red_max, format.green_max, format.blue_max) == (255, 255, 255)
}

/// The red, green and blue channel values of `value`.
fn channels(format: &PixelFormat, value: u32) -> [u32; 3] {
    [
        (value >> format.red_shift) & u32::from(format.red_max),
        (value >> format.green_shift) & u32::from(format.green_max),
        (value >> format.blue_shift) & u32::from(format.blue_max),
    ]
}

/// Appends `value` as a Tight `TPIXEL`.
pub fn put_tpixel(out: &mut Vec<u8>, format: &PixelFormat, value: u32) {
    if tight_rgb(format) {
        out.extend(channels(format, value).map(|c| c as u8));
    } else {
        put_pixel(out, format, value);
    }
}

/// Appends a Tight compact length (1–3 bytes).
pub fn put_compact_len(out: &mut Vec<u8>, len: usize) {
    out.push((len & 0x7f) as u8 | if len > 0x7f { 0x80 } else { 0 });
    if len > 0x7f {
        out.push((len >> 7 & 0x7f) as u8 | if len > 0x3fff { 0x80 } else { 0 });
        if len > 0x3fff {
            out.push((len >> 14) as u8);
        }
    }
}

/// Tight's basic-compression filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TightFilter {
    Copy,
    Palette,
    Gradient,
}

/// Tight's four zlib streams, as a server keeps them per connection.
pub fn tight_compressors() -> [Compress; 4] {
    std::array::from_fn(|_| compressor())
}

/// Distinct values in order of first appearance.
pub fn palette_of(values: &[u32]) -> Vec<u32> {
    let mut palette = Vec::new();
    for &v in values {
        if !palette.contains(&v) {
            palette.push(v);
            if palette.len() > 256 {
                break;
            }
        }
    }
    palette
}

/// The filtered data of `values` (with the palette header for `Palette`).
fn tight_filtered(
    format: &PixelFormat,
    values: &Values,
    filter: TightFilter,
) -> (Vec<u8>, Vec<u8>) {
    let mut header = Vec::new();
    let mut data = Vec::new();
    match filter {
        TightFilter::Copy => {
            for &v in &values.v {
                put_tpixel(&mut data, format, v);
            }
        }
        TightFilter::Palette => {
            let palette = palette_of(&values.v);
            assert!((2..=256).contains(&palette.len()));
            header.push((palette.len() - 1) as u8);
            for &c in &palette {
                put_tpixel(&mut header, format, c);
            }
            let index = |v: u32| palette.iter().position(|&c| c == v).unwrap() as u8;
            if palette.len() == 2 {
                for row in values.v.chunks(values.width.max(1)) {
                    for bits in row.chunks(8) {
                        let mut byte = 0u8;
                        for (i, &v) in bits.iter().enumerate() {
                            byte |= index(v) << (7 - i);
                        }
                        data.push(byte);
                    }
                }
            } else {
                data.extend(values.v.iter().map(|&v| index(v)));
            }
        }
        TightFilter::Gradient => {
            let rgb = tight_rgb(format);
            let max = if rgb {
                [255; 3]
            } else {
                [format.red_max, format.green_max, format.blue_max].map(u32::from)
            };
            let (w, h) = (values.width, values.height);
            let chan = |x: usize, y: usize| -> [u32; 3] { channels(format, values.v[y * w + x]) };
            for y in 0..h {
                for x in 0..w {
                    let v = chan(x, y);
                    let left = if x > 0 { chan(x - 1, y) } else { [0; 3] };
                    let up = if y > 0 { chan(x, y - 1) } else { [0; 3] };
                    let ul = if x > 0 && y > 0 {
                        chan(x - 1, y - 1)
                    } else {
                        [0; 3]
                    };
                    let mut d = [0u32; 3];
                    for c in 0..3 {
                        let p = (i64::from(left[c]) + i64::from(up[c]) - i64::from(ul[c]))
                            .clamp(0, i64::from(max[c])) as u32;
                        d[c] = (v[c] + max[c] + 1 - p) % (max[c] + 1);
                    }
                    if rgb {
                        data.extend(d.map(|c| c as u8));
                    } else {
                        let value = (d[0] << format.red_shift)
                            | (d[1] << format.green_shift)
                            | (d[2] << format.blue_shift);
                        put_pixel(&mut data, format, value);
                    }
                }
            }
        }
    }
    (header, data)
}

/// A Tight rectangle in basic compression with `filter` through zlib
/// stream `stream`, first resetting the streams whose bits are in `reset`
/// (the server resets its compressors the same way).
pub fn tight_basic(
    zlibs: &mut [Compress; 4],
    format: &PixelFormat,
    values: &Values,
    filter: TightFilter,
    stream: usize,
    reset: u8,
) -> Vec<u8> {
    for (i, z) in zlibs.iter_mut().enumerate() {
        if reset & (1 << i) != 0 {
            z.reset();
        }
    }
    let (header, data) = tight_filtered(format, values, filter);
    let with_filter = filter != TightFilter::Copy;
    let mut out = vec![reset | (stream as u8) << 4 | if with_filter { 0x40 } else { 0 }];
    if with_filter {
        out.push(match filter {
            TightFilter::Copy => 0,
            TightFilter::Palette => 1,
            TightFilter::Gradient => 2,
        });
    }
    out.extend_from_slice(&header);
    if data.len() < 12 {
        out.extend_from_slice(&data);
    } else {
        let block = zlib_block(&mut zlibs[stream], &data);
        put_compact_len(&mut out, block.len() - 4);
        out.extend_from_slice(&block[4..]);
    }
    out
}

/// A Tight fill rectangle.
pub fn tight_fill(format: &PixelFormat, value: u32, reset: u8) -> Vec<u8> {
    let mut out = vec![0x80 | reset];
    put_tpixel(&mut out, format, value);
    out
}

/// A Tight JPEG (`control` 0x90) or TightPNG PNG (0xa0) rectangle.
pub fn tight_image(control: u8, image: &[u8]) -> Vec<u8> {
    let mut out = vec![control];
    put_compact_len(&mut out, image.len());
    out.extend_from_slice(image);
    out
}

/// Tight the way servers choose: fill for one colour, a palette for up to
/// 256, the gradient filter for photo-like 16/32 bpp data, else copy.
/// Each stream is used for one kind of data, as TigerVNC does.
pub fn tight(zlibs: &mut [Compress; 4], format: &PixelFormat, values: &Values) -> Vec<u8> {
    let palette = palette_of(&values.v);
    match palette.len() {
        0 | 1 => tight_fill(format, palette.first().copied().unwrap_or(0), 0),
        2 => tight_basic(zlibs, format, values, TightFilter::Palette, 1, 0),
        3..=256 => tight_basic(zlibs, format, values, TightFilter::Palette, 2, 0),
        _ if format.true_colour && format.bits_per_pixel >= 16 => {
            tight_basic(zlibs, format, values, TightFilter::Gradient, 3, 0)
        }
        _ => tight_basic(zlibs, format, values, TightFilter::Copy, 0, 0),
    }
}

/// An R, G, B image as a baseline JPEG at `quality` (1–100).
pub fn jpeg(img: &[[u8; 3]], width: usize, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let flat: Vec<u8> = img.iter().flatten().copied().collect();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            &flat,
            width as u32,
            (img.len() / width.max(1)) as u32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// An R, G, B image as a PNG.
pub fn png(img: &[[u8; 3]], width: usize) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let flat: Vec<u8> = img.iter().flatten().copied().collect();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            &flat,
            width as u32,
            (img.len() / width.max(1)) as u32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A photo-like picture of R, G, B colours: smooth colour waves with grain,
/// the content JPEG is made for.
pub fn photo(width: usize, height: usize, seed: u64) -> Vec<[u8; 3]> {
    let mut rng = Rng::new(seed);
    let mut img = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let grain = (rng.below(24) as f32) - 12.0;
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let c = |v: f32| (v + grain).clamp(0.0, 255.0) as u8;
            img.push([
                c(128.0 + 100.0 * (fx * 7.0 + fy * 3.0).sin()),
                c(128.0 + 90.0 * (fy * 9.0 - fx * 2.0).cos()),
                c(100.0 + 80.0 * ((fx - 0.5) * (fy - 0.5) * 40.0).sin()),
            ]);
        }
    }
    img
}
