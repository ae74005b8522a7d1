#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use super::*;
use crate::pixel::PixelFormat;

#[path = "../../benches/decoders/encode.rs"]
mod encode;

use encode::{compressor, zlib_block, Values};

const RGB565_LE: PixelFormat = PixelFormat {
    bits_per_pixel: 16,
    depth: 16,
    big_endian: false,
    true_colour: true,
    red_max: 31,
    green_max: 63,
    blue_max: 31,
    red_shift: 11,
    green_shift: 5,
    blue_shift: 0,
};

const RGB565_BE: PixelFormat = PixelFormat {
    big_endian: true,
    ..RGB565_LE
};

/// 32 bpp big-endian, red at 16: wire bytes X, R, G, B.
const XRGB_BE: PixelFormat = PixelFormat {
    big_endian: true,
    ..PixelFormat::NATIVE
};

/// 32 bpp little-endian with colours in the top three bytes.
const BGRX_HIGH_LE: PixelFormat = PixelFormat {
    red_shift: 24,
    green_shift: 16,
    blue_shift: 8,
    ..PixelFormat::NATIVE
};

const BGR233: PixelFormat = PixelFormat {
    bits_per_pixel: 8,
    depth: 8,
    big_endian: false,
    true_colour: true,
    red_max: 7,
    green_max: 7,
    blue_max: 3,
    red_shift: 0,
    green_shift: 3,
    blue_shift: 6,
};

const MAPPED8: PixelFormat = PixelFormat {
    bits_per_pixel: 8,
    depth: 8,
    big_endian: false,
    true_colour: false,
    red_max: 0,
    green_max: 0,
    blue_max: 0,
    red_shift: 0,
    green_shift: 0,
    blue_shift: 0,
};

/// Every true-colour format the round-trip tests run through.
const FORMATS: [PixelFormat; 6] = [
    PixelFormat::NATIVE,
    XRGB_BE,
    BGRX_HIGH_LE,
    RGB565_LE,
    RGB565_BE,
    BGR233,
];

/// Decodes one rectangle from `data` in one call, the way a session with all
/// bytes already buffered would.
fn decode_with(
    decoders: &mut Decoders,
    fb: &mut Framebuffer,
    rect: Rect,
    encoding: i32,
    format: &PixelFormat,
    map: &ColourMap,
    data: &[u8],
) -> Result<Progress, DecodeError> {
    let mut decoder = RectDecoder::new(rect, encoding, fb)?;
    let mut target = Target {
        framebuffer: fb,
        format,
        colour_map: map,
    };
    decoder.step(data, decoders, &mut target)
}

/// Decodes `data` into a fresh `w`×`h` framebuffer as one rectangle that
/// covers it, expecting every byte to be consumed.
fn decode(w: u16, h: u16, encoding: i32, format: &PixelFormat, data: &[u8]) -> Framebuffer {
    let mut fb = Framebuffer::new(w, h);
    let mut decoders = Decoders::new(1 << 24);
    let progress = decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(0, 0, w, h),
        encoding,
        format,
        &ColourMap::new(),
        data,
    )
    .unwrap();
    assert_eq!(
        progress,
        Progress::Done {
            consumed: data.len()
        }
    );
    fb
}

fn decode_err(w: u16, h: u16, encoding: i32, format: &PixelFormat, data: &[u8]) -> DecodeError {
    let mut fb = Framebuffer::new(w, h);
    let mut decoders = Decoders::new(1 << 20);
    decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(0, 0, w, h),
        encoding,
        format,
        &ColourMap::new(),
        data,
    )
    .unwrap_err()
}

/// Feeds `stream` to `decoder` the way a session does: `piece` bytes arrive
/// at a time, unconsumed bytes stay buffered, and the decoder is only called
/// again once the bytes it asked for are there. Returns the progress at the
/// end and the total bytes handed to `step` (to check the work is linear).
fn feed_session(
    decoder: &mut RectDecoder,
    decoders: &mut Decoders,
    target: &mut Target<'_>,
    stream: &[u8],
    piece: usize,
) -> Result<(usize, usize), DecodeError> {
    let mut buffered: Vec<u8> = Vec::new();
    let mut arrived = 0;
    let mut wait_for = 0;
    let mut consumed_total = 0;
    let mut handed = 0;
    loop {
        if buffered.len() < wait_for || (buffered.is_empty() && arrived < stream.len()) {
            if arrived == stream.len() {
                return Ok((consumed_total, handed));
            }
            let end = (arrived + piece).min(stream.len());
            buffered.extend_from_slice(&stream[arrived..end]);
            arrived = end;
            continue;
        }
        handed += buffered.len();
        match decoder.step(&buffered, decoders, target)? {
            Progress::Done { consumed } => {
                assert!(consumed <= buffered.len());
                return Ok((consumed_total + consumed, handed));
            }
            Progress::NeedMore { consumed, need } => {
                assert!(consumed <= buffered.len());
                assert!(need > 0, "a decoder asked for zero more bytes");
                buffered.drain(..consumed);
                consumed_total += consumed;
                wait_for = buffered.len() + need;
            }
        }
    }
}

/// Decodes a sequence of rectangles from one stream fed in `piece`-byte
/// pieces; returns the framebuffer.
fn decode_pieces(
    fb_size: (u16, u16),
    rects: &[(Rect, i32)],
    format: &PixelFormat,
    map: &ColourMap,
    stream: &[u8],
    piece: usize,
) -> Result<Framebuffer, DecodeError> {
    let mut fb = Framebuffer::new(fb_size.0, fb_size.1);
    let mut decoders = Decoders::new(1 << 24);
    let mut offset = 0;
    for &(rect, encoding) in rects {
        let mut decoder = RectDecoder::new(rect, encoding, &fb)?;
        let mut target = Target {
            framebuffer: &mut fb,
            format,
            colour_map: map,
        };
        let (consumed, handed) = feed_session(
            &mut decoder,
            &mut decoders,
            &mut target,
            &stream[offset..],
            piece,
        )?;
        // Linear: each byte is handed over about once, plus at most one
        // partial unit (≤ a few KB) per call.
        let rest = stream.len() - offset;
        assert!(
            handed <= 2 * rest + 8192 * rest.div_ceil(piece),
            "{handed} bytes handed over for {rest}"
        );
        offset += consumed;
    }
    assert_eq!(offset, stream.len(), "the stream was not consumed exactly");
    Ok(fb)
}

/// The framebuffer bytes of `w`×`h` pixels of one colour.
fn solid(w: usize, h: usize, bgra: [u8; 4]) -> Vec<u8> {
    bgra.repeat(w * h)
}

fn px(fb: &Framebuffer, x: u16, y: u16) -> [u8; 4] {
    fb.row(x, y, 1).unwrap().try_into().unwrap()
}

const RED: [u8; 4] = [0, 0, 255, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];
const BLUE: [u8; 4] = [255, 0, 0, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];
const BLACK: [u8; 4] = [0, 0, 0, 255];

// ---- RectDecoder::new ----

#[test]
fn rectangles_outside_the_screen_are_refused() {
    let fb = Framebuffer::new(100, 50);
    for rect in [
        Rect::new(90, 0, 11, 1),
        Rect::new(0, 50, 1, 1),
        Rect::new(65535, 65535, 2, 2),
        Rect::new(0, 0, 101, 51),
    ] {
        let err = RectDecoder::new(rect, encoding::RAW, &fb).unwrap_err();
        assert_eq!(
            err,
            DecodeError::OutOfBounds {
                rect,
                fb_width: 100,
                fb_height: 50
            }
        );
    }
    assert!(RectDecoder::new(Rect::new(0, 0, 100, 50), encoding::ZRLE, &fb).is_ok());
    assert!(RectDecoder::new(Rect::new(100, 50, 0, 0), encoding::RAW, &fb).is_ok());
}

#[test]
fn unknown_and_pseudo_encodings_are_refused() {
    let fb = Framebuffer::new(10, 10);
    for enc in [3, encoding::CURSOR, 50, 1000] {
        assert_eq!(
            RectDecoder::new(Rect::new(0, 0, 1, 1), enc, &fb).unwrap_err(),
            DecodeError::UnsupportedEncoding(enc)
        );
    }
}

// ---- Raw in every pixel format ----

#[test]
fn raw_native_copies_bgr_and_sets_alpha() {
    let fb = decode(
        2,
        1,
        encoding::RAW,
        &PixelFormat::NATIVE,
        &[1, 2, 3, 0, 4, 5, 6, 99],
    );
    assert_eq!(fb.data(), &[1, 2, 3, 255, 4, 5, 6, 255]);
}

#[test]
fn raw_32bpp_big_endian() {
    // X, R, G, B on the wire.
    let fb = decode(1, 1, encoding::RAW, &XRGB_BE, &[0, 10, 20, 30]);
    assert_eq!(fb.data(), &[30, 20, 10, 255]);
}

#[test]
fn raw_16bpp_565_both_byte_orders_scale_channels() {
    // r=31 g=32 b=1: 0xFC01.
    let value: u16 = (31 << 11) | (32 << 5) | 1;
    let expect = [8, 130, 255, 255]; // 1*255/31=8.2, 32*255/63=129.5→130
    let le = decode(1, 1, encoding::RAW, &RGB565_LE, &value.to_le_bytes());
    let be = decode(1, 1, encoding::RAW, &RGB565_BE, &value.to_be_bytes());
    assert_eq!(le.data(), &expect);
    assert_eq!(be.data(), &expect);
}

#[test]
fn raw_8bpp_true_colour_332() {
    // BGR233: r=5 (bits 0-2), g=2 (bits 3-5), b=1 (bits 6-7).
    let value = 5 | (2 << 3) | (1 << 6);
    let fb = decode(1, 1, encoding::RAW, &BGR233, &[value]);
    // 5*255/7=182.1, 2*255/7=72.9, 1*255/3=85
    assert_eq!(fb.data(), &[85, 73, 182, 255]);
}

#[test]
fn raw_8bpp_colour_map() {
    let mut map = ColourMap::new();
    map.set_entries(7, &[(0xffff, 0x8000, 0)]);
    let mut fb = Framebuffer::new(2, 1);
    let mut decoders = Decoders::new(1024);
    decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(0, 0, 2, 1),
        encoding::RAW,
        &MAPPED8,
        &map,
        &[7, 8],
    )
    .unwrap();
    assert_eq!(fb.data(), &[0, 128, 255, 255, 0, 0, 0, 255]);
    // A new map takes effect on the next rectangle.
    map.set_entries(8, &[(0, 0, 0xffff)]);
    decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(0, 0, 2, 1),
        encoding::RAW,
        &MAPPED8,
        &map,
        &[7, 8],
    )
    .unwrap();
    assert_eq!(fb.data(), &[0, 128, 255, 255, 255, 0, 0, 255]);
}

#[test]
fn raw_into_a_subrectangle_leaves_the_rest() {
    let mut fb = Framebuffer::new(4, 3);
    let mut decoders = Decoders::new(1024);
    let data = [RED, GREEN, BLUE, WHITE].concat();
    decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(1, 1, 2, 2),
        encoding::RAW,
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &data,
    )
    .unwrap();
    assert_eq!(px(&fb, 1, 1), RED);
    assert_eq!(px(&fb, 2, 1), GREEN);
    assert_eq!(px(&fb, 1, 2), BLUE);
    assert_eq!(px(&fb, 2, 2), WHITE);
    assert_eq!(px(&fb, 0, 0), BLACK);
    assert_eq!(px(&fb, 3, 2), BLACK);
}

#[test]
fn raw_reports_exactly_what_it_needs() {
    let mut fb = Framebuffer::new(2, 1);
    let mut decoders = Decoders::new(1024);
    let mut decoder = RectDecoder::new(Rect::new(0, 0, 2, 1), encoding::RAW, &fb).unwrap();
    let map = ColourMap::new();
    let mut target = Target {
        framebuffer: &mut fb,
        format: &PixelFormat::NATIVE,
        colour_map: &map,
    };
    assert_eq!(
        decoder
            .step(&[1, 2, 3, 4, 5], &mut decoders, &mut target)
            .unwrap(),
        Progress::NeedMore {
            consumed: 4,
            need: 3
        }
    );
    assert_eq!(
        decoder
            .step(&[5, 6, 7, 8, 0xaa], &mut decoders, &mut target)
            .unwrap(),
        Progress::Done { consumed: 4 }
    );
    assert_eq!(target.framebuffer.data(), &[1, 2, 3, 255, 5, 6, 7, 255]);
}

#[test]
fn empty_rectangles_need_no_data() {
    for enc in [encoding::RAW, encoding::HEXTILE, encoding::TRLE] {
        let mut fb = Framebuffer::new(4, 4);
        let mut decoders = Decoders::new(1024);
        let p = decode_with(
            &mut decoders,
            &mut fb,
            Rect::new(2, 2, 0, 2),
            enc,
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &[9, 9],
        )
        .unwrap();
        assert_eq!(p, Progress::Done { consumed: 0 });
    }
}

// ---- CopyRect ----

fn numbered(w: u16, h: u16) -> Framebuffer {
    let mut fb = Framebuffer::new(w, h);
    let data: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [i as u8, (i >> 8) as u8, 7, 255])
        .collect();
    let mut decoders = Decoders::new(1024);
    decode_with(
        &mut decoders,
        &mut fb,
        Rect::new(0, 0, w, h),
        encoding::RAW,
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &data,
    )
    .unwrap();
    fb
}

#[test]
fn copyrect_overlapping_in_every_direction_matches_a_copy_through_a_temporary() {
    for (sx, sy, dx, dy) in [
        (0u16, 0u16, 2u16, 3u16),
        (2, 3, 0, 0),
        (1, 0, 0, 0),
        (0, 0, 1, 0),
        (0, 1, 0, 0),
        (0, 0, 0, 1),
    ] {
        let mut fb = numbered(12, 10);
        let before = fb.clone();
        let dst = Rect::new(dx, dy, 8, 6);
        let mut decoders = Decoders::new(1024);
        let mut data = sx.to_be_bytes().to_vec();
        data.extend_from_slice(&sy.to_be_bytes());
        let p = decode_with(
            &mut decoders,
            &mut fb,
            dst,
            encoding::COPY_RECT,
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &data,
        )
        .unwrap();
        assert_eq!(p, Progress::Done { consumed: 4 });
        for y in 0..10u16 {
            for x in 0..12u16 {
                let inside = x >= dx && x < dx + 8 && y >= dy && y < dy + 6;
                let want = if inside {
                    px(&before, x - dx + sx, y - dy + sy)
                } else {
                    px(&before, x, y)
                };
                assert_eq!(
                    px(&fb, x, y),
                    want,
                    "({x},{y}) copying ({sx},{sy})→({dx},{dy})"
                );
            }
        }
    }
}

#[test]
fn copyrect_from_outside_the_screen_is_refused() {
    let err = decode_err(
        10,
        10,
        encoding::COPY_RECT,
        &PixelFormat::NATIVE,
        &[0, 5, 0, 0],
    );
    assert!(
        matches!(err, DecodeError::OutOfBounds { rect, .. } if rect == Rect::new(5, 0, 10, 10))
    );
}

// ---- RRE / CoRRE ----

#[test]
fn rre_paints_background_then_subrectangles() {
    let mut data = vec![0, 0, 0, 2];
    data.extend_from_slice(&WHITE); // background (NATIVE wire B,G,R,X)
    data.extend_from_slice(&RED);
    data.extend_from_slice(&[0, 1, 0, 0, 0, 2, 0, 1]); // x=1 y=0 w=2 h=1
    data.extend_from_slice(&BLUE);
    data.extend_from_slice(&[0, 0, 0, 2, 0, 4, 0, 1]); // bottom row
    let fb = decode(4, 3, encoding::RRE, &PixelFormat::NATIVE, &data);
    let mut want = solid(4, 3, WHITE);
    want[4..12].copy_from_slice(&[RED, RED].concat());
    want[32..48].copy_from_slice(&solid(4, 1, BLUE));
    assert_eq!(fb.data(), want.as_slice());
}

#[test]
fn corre_uses_one_byte_geometry() {
    // 16 bpp big-endian: pure red is 0xF800.
    let mut data = vec![0, 0, 0, 1, 0, 0];
    data.extend_from_slice(&[0xf8, 0x00, 1, 1, 1, 1]);
    let fb = decode(3, 3, encoding::CORRE, &RGB565_BE, &data);
    assert_eq!(px(&fb, 1, 1), RED);
    assert_eq!(px(&fb, 0, 0), BLACK);
    assert_eq!(px(&fb, 2, 2), BLACK);
}

#[test]
fn rre_subrectangles_outside_the_rectangle_are_malformed() {
    let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0];
    data.extend_from_slice(&[1, 2, 3, 4, 0, 3, 0, 0, 0, 2, 0, 1]);
    let err = decode_err(4, 4, encoding::RRE, &PixelFormat::NATIVE, &data);
    assert!(matches!(
        err,
        DecodeError::Malformed {
            encoding: "RRE",
            ..
        }
    ));
    let err = decode_err(
        4,
        4,
        encoding::CORRE,
        &BGR233,
        &[0, 0, 0, 1, 0, 9, 0, 4, 1, 1],
    );
    assert!(matches!(
        err,
        DecodeError::Malformed {
            encoding: "CoRRE",
            ..
        }
    ));
}

// ---- Hextile ----

#[test]
fn hextile_raw_tile() {
    let mut data = vec![1];
    data.extend_from_slice(&[RED, GREEN, BLUE, WHITE].concat());
    let fb = decode(2, 2, encoding::HEXTILE, &PixelFormat::NATIVE, &data);
    assert_eq!(fb.data(), [RED, GREEN, BLUE, WHITE].concat().as_slice());
}

#[test]
fn hextile_background_foreground_and_coloured_subrectangles() {
    // 8-bit BGR233: red=7, green=7<<3, blue=3<<6, white=255.
    let (r, g, b, w) = (7u8, 7 << 3, 3 << 6, 255);
    let data = [
        // background white, foreground red, 1 subrect at (1,1) 2×3
        2 | 4 | 8,
        w,
        r,
        1,
        0x11,
        0x12,
    ];
    let fb = decode(4, 4, encoding::HEXTILE, &BGR233, &data);
    for y in 0..4 {
        for x in 0..4 {
            let inside = (1..3).contains(&x) && (1..4).contains(&y);
            assert_eq!(px(&fb, x, y), if inside { RED } else { WHITE });
        }
    }
    // Coloured subrectangles: (0,0) 1×1 green, (3,3) 1×1 blue.
    let data = [2 | 8 | 16, w, 2, g, 0x00, 0x00, b, 0x33, 0x00];
    let fb = decode(4, 4, encoding::HEXTILE, &BGR233, &data);
    assert_eq!(px(&fb, 0, 0), GREEN);
    assert_eq!(px(&fb, 3, 3), BLUE);
    assert_eq!(px(&fb, 1, 0), WHITE);
}

#[test]
fn hextile_background_and_foreground_carry_across_tiles() {
    // 34×17 → tiles of 16×16, 16×16, 2×16, then 16×1, 16×1, 2×1.
    let native = |c: [u8; 4]| c.to_vec();
    let mut data = vec![2 | 4]; // tile 1: bg blue, fg red, no subrects
    data.extend(native(BLUE));
    data.extend(native(RED));
    data.extend([8, 1, 0x00, 0xf0]); // tile 2: bg, fg carried; subrect x0 y0 16×1
    data.extend([0]); // tile 3: plain carried background
    data.extend([2]); // tile 4: new background green
    data.extend(native(GREEN));
    data.extend([8, 1, 0x50, 0x00]); // tile 5: carried green bg, carried red fg at (5,0)
    data.extend([1]); // tile 6: raw 2×1
    data.extend(native(WHITE));
    data.extend(native(WHITE));
    let fb = decode(34, 17, encoding::HEXTILE, &PixelFormat::NATIVE, &data);
    assert_eq!(px(&fb, 3, 3), BLUE);
    assert_eq!(px(&fb, 20, 0), RED, "tile 2 uses the carried foreground");
    assert_eq!(px(&fb, 20, 1), BLUE, "tile 2 uses the carried background");
    assert_eq!(
        px(&fb, 33, 15),
        BLUE,
        "tile 3 (an edge tile) uses the carried background"
    );
    assert_eq!(px(&fb, 0, 16), GREEN);
    assert_eq!(px(&fb, 21, 16), RED);
    assert_eq!(px(&fb, 22, 16), GREEN);
    assert_eq!(px(&fb, 32, 16), WHITE);
    assert_eq!(px(&fb, 33, 16), WHITE);
}

#[test]
fn hextile_subrectangle_outside_an_edge_tile_is_malformed() {
    // A 4×4 rectangle is one 4×4 tile: a 5-wide subrect does not fit.
    let err = decode_err(
        4,
        4,
        encoding::HEXTILE,
        &BGR233,
        &[2 | 4 | 8, 0, 1, 1, 0x00, 0x40],
    );
    assert!(matches!(
        err,
        DecodeError::Malformed {
            encoding: "Hextile",
            ..
        }
    ));
}

// ---- Zlib ----

#[test]
fn zlib_shares_one_stream_across_rectangles() {
    let mut z = compressor();
    let first = [RED, GREEN, BLUE, WHITE].concat();
    let second = [WHITE, BLUE, GREEN, RED].concat();
    let mut stream = zlib_block(&mut z, &first);
    stream.extend(zlib_block(&mut z, &second));
    let rect = Rect::new(0, 0, 2, 2);
    let rects = [
        (rect, encoding::ZLIB),
        (Rect::new(1, 1, 2, 2), encoding::ZLIB),
    ];
    let fb = decode_pieces(
        (3, 3),
        &rects,
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &stream,
        1 << 20,
    )
    .unwrap();
    assert_eq!(px(&fb, 0, 0), RED);
    assert_eq!(px(&fb, 1, 0), GREEN);
    assert_eq!(px(&fb, 1, 1), WHITE);
    assert_eq!(px(&fb, 2, 1), BLUE);
    assert_eq!(px(&fb, 2, 2), RED);
}

#[test]
fn zlib_garbage_is_a_zlib_error() {
    let err = decode_err(
        2,
        2,
        encoding::ZLIB,
        &PixelFormat::NATIVE,
        &[0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef],
    );
    assert!(matches!(err, DecodeError::Zlib(_)), "{err:?}");
}

#[test]
fn zlib_more_data_than_the_rectangle_is_malformed() {
    let mut z = compressor();
    let block = zlib_block(&mut z, &[0; 17]);
    let err = decode_err(2, 2, encoding::ZLIB, &PixelFormat::NATIVE, &block);
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                encoding: "Zlib",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn zlib_less_data_than_the_rectangle_is_malformed() {
    let mut z = compressor();
    let block = zlib_block(&mut z, &[0; 15]);
    let err = decode_err(2, 2, encoding::ZLIB, &PixelFormat::NATIVE, &block);
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                encoding: "Zlib",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn compressed_blocks_longer_than_the_limit_are_refused_before_buffering() {
    let mut fb = Framebuffer::new(4, 4);
    let mut decoders = Decoders::new(1000);
    for enc in [encoding::ZLIB, encoding::ZRLE] {
        let err = decode_with(
            &mut decoders,
            &mut fb,
            Rect::new(0, 0, 4, 4),
            enc,
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &1001u32.to_be_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                got: 1001,
                limit: 1000
            }
        );
    }
}

#[test]
fn a_zlib_bomb_stops_at_the_rectangle() {
    // 64 MB of zeros compress to ~64 KB; a 2×2 rectangle needs 16 bytes.
    let mut z = compressor();
    let block = zlib_block(&mut z, &vec![0; 64 << 20]);
    let started = std::time::Instant::now();
    let err = decode_err(2, 2, encoding::ZLIB, &PixelFormat::NATIVE, &block);
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

// ---- ZRLE and TRLE tiles, byte vectors ----

/// Wraps uncompressed ZRLE tile data in a fresh zlib block.
fn zrle_block(tiles: &[u8]) -> Vec<u8> {
    zlib_block(&mut compressor(), tiles)
}

/// Decodes the same tile bytes as ZRLE and as TRLE (when the rectangle is
/// one tile in both) and checks they agree.
fn rle_both(w: u16, h: u16, format: &PixelFormat, tiles: &[u8]) -> Framebuffer {
    let zrle = decode(w, h, encoding::ZRLE, format, &zrle_block(tiles));
    if w <= 16 && h <= 16 {
        let trle = decode(w, h, encoding::TRLE, format, tiles);
        assert_eq!(zrle, trle);
    }
    zrle
}

#[test]
fn zrle_raw_and_solid_tiles_with_3_byte_cpixels() {
    // NATIVE: CPIXEL is B, G, R.
    let mut tiles = vec![0];
    tiles.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
    let fb = rle_both(2, 1, &PixelFormat::NATIVE, &tiles);
    assert_eq!(fb.data(), &[1, 2, 3, 255, 4, 5, 6, 255]);
    let fb = rle_both(3, 2, &PixelFormat::NATIVE, &[1, 9, 8, 7]);
    assert_eq!(fb.data(), solid(3, 2, [9, 8, 7, 255]).as_slice());
}

#[test]
fn cpixel_takes_the_right_three_bytes_for_each_byte_order() {
    // Big-endian, colours in the low three bytes: the wire pixel is
    // X, R, G, B and the CPIXEL its last three bytes R, G, B.
    let fb = rle_both(1, 1, &XRGB_BE, &[1, 30, 20, 10]);
    assert_eq!(fb.data(), &[10, 20, 30, 255]);
    // Little-endian, colours in the high three bytes: wire X, B, G, R,
    // CPIXEL B, G, R.
    let fb = rle_both(1, 1, &BGRX_HIGH_LE, &[1, 10, 20, 30]);
    assert_eq!(fb.data(), &[10, 20, 30, 255]);
    // Big-endian, high three bytes: wire R, G, B, X, CPIXEL R, G, B.
    let rgbx_be = PixelFormat {
        big_endian: true,
        ..BGRX_HIGH_LE
    };
    let fb = rle_both(1, 1, &rgbx_be, &[1, 30, 20, 10]);
    assert_eq!(fb.data(), &[10, 20, 30, 255]);
    // Depth 32: no compaction, all four bytes.
    let deep = PixelFormat {
        depth: 32,
        ..PixelFormat::NATIVE
    };
    let fb = rle_both(1, 1, &deep, &[1, 10, 20, 30, 0]);
    assert_eq!(fb.data(), &[10, 20, 30, 255]);
    // 16 bpp: CPIXEL is the 2-byte pixel.
    let fb = rle_both(1, 1, &RGB565_BE, &[1, 0x00, 0x1f]);
    assert_eq!(fb.data(), &BLUE);
}

#[test]
fn cpixel_fits_both_ways_takes_the_first_three_wire_bytes() {
    // 4 bits per channel at shifts 8, 12, 16: inside bytes 1 and 2, which
    // are in both the low and the high three bytes.
    let mid = |big_endian| PixelFormat {
        bits_per_pixel: 32,
        depth: 12,
        big_endian,
        true_colour: true,
        red_max: 15,
        green_max: 15,
        blue_max: 15,
        red_shift: 16,
        green_shift: 12,
        blue_shift: 8,
    };
    // value 0x0F_F0_00 | 0x00_0F_00 = red 15, green 15, blue 15 → white.
    let value: u32 = 0x000f_ff00;
    let le = value.to_le_bytes();
    let fb = rle_both(1, 1, &mid(false), &[1, le[0], le[1], le[2]]);
    assert_eq!(fb.data(), &WHITE);
    let be = value.to_be_bytes();
    let fb = rle_both(1, 1, &mid(true), &[1, be[0], be[1], be[2]]);
    assert_eq!(fb.data(), &WHITE);
}

#[test]
fn packed_palettes_of_1_2_and_4_bits_with_row_padding() {
    let palette16: Vec<[u8; 4]> = (0..16u8).map(|i| [i * 16, 255 - i, i, 255]).collect();
    for size in [2usize, 3, 4, 5, 16] {
        let bits = match size {
            2 => 1,
            3 | 4 => 2,
            _ => 4,
        };
        // A 5×2 tile so every row needs padding bits.
        let (w, h) = (5usize, 2usize);
        let index = |x: usize, y: usize| (x + 2 * y) % size;
        let mut tiles = vec![size as u8];
        for c in &palette16[..size] {
            tiles.extend_from_slice(&c[..3]);
        }
        for y in 0..h {
            let mut bitsrow = Vec::new();
            let (mut byte, mut used) = (0u8, 0);
            for x in 0..w {
                byte |= (index(x, y) as u8) << (8 - bits - used);
                used += bits;
                if used == 8 {
                    bitsrow.push(byte);
                    (byte, used) = (0, 0);
                }
            }
            if used > 0 {
                bitsrow.push(byte);
            }
            tiles.extend(bitsrow);
        }
        let fb = rle_both(w as u16, h as u16, &PixelFormat::NATIVE, &tiles);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(
                    px(&fb, x as u16, y as u16),
                    palette16[index(x, y)],
                    "size {size} ({x},{y})"
                );
            }
        }
    }
}

#[test]
fn packed_index_beyond_the_palette_is_malformed() {
    // Palette of 3 (2-bit indices), pixel index 3.
    let tiles = [3, 0, 0, 0, 1, 1, 1, 2, 2, 2, 0b1100_0000];
    let err = decode_err(1, 1, encoding::TRLE, &PixelFormat::NATIVE, &tiles);
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                encoding: "TRLE",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn plain_rle_runs_cross_rows_and_use_long_lengths() {
    // 20×20 = 400 pixels: a run of 300 (bytes 255, 44), then 99, then 1.
    let mut tiles = vec![128];
    tiles.extend_from_slice(&[0, 0, 255, 255, 44]);
    tiles.extend_from_slice(&[0, 255, 0, 98]);
    tiles.extend_from_slice(&[255, 0, 0, 0]);
    let fb = rle_both(20, 20, &PixelFormat::NATIVE, &tiles);
    let mut want = solid(20, 20, RED);
    want[300 * 4..399 * 4].copy_from_slice(&solid(99, 1, GREEN));
    want[399 * 4..].copy_from_slice(&BLUE);
    assert_eq!(fb.data(), want.as_slice());
}

#[test]
fn rle_lengths_255_and_256_per_rfbproto() {
    // A 64×8 tile (512 px): red ×255 [254], green ×256 [255, 0], blue ×1 [0].
    let tiles = [128, 0, 0, 255, 254, 0, 255, 0, 255, 0, 255, 0, 0, 0];
    let fb = decode(
        64,
        8,
        encoding::ZRLE,
        &PixelFormat::NATIVE,
        &zrle_block(&tiles),
    );
    let data = fb.data();
    assert_eq!(&data[254 * 4..255 * 4], &RED);
    assert_eq!(&data[255 * 4..256 * 4], &GREEN);
    assert_eq!(&data[510 * 4..511 * 4], &GREEN);
    assert_eq!(&data[511 * 4..], &BLUE);
}

#[test]
fn a_run_past_the_tile_is_malformed() {
    let err = decode_err(
        2,
        2,
        encoding::TRLE,
        &PixelFormat::NATIVE,
        &[128, 1, 2, 3, 4],
    );
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
    // Long length bytes are refused as soon as they pass the tile.
    let mut tiles = vec![128, 1, 2, 3];
    tiles.extend(std::iter::repeat_n(255, 10_000));
    let err = decode_err(16, 16, encoding::TRLE, &PixelFormat::NATIVE, &tiles);
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
}

#[test]
fn palette_rle_single_pixels_and_runs() {
    // 16 bpp little-endian palette of 2: red 0xF800, blue 0x001F.
    let tiles = [130, 0x00, 0xf8, 0x1f, 0x00, 0x01, 0x80, 1, 0x81, 0];
    // blue ×1, red ×2, blue ×1 over a 2×2 tile.
    let fb = rle_both(2, 2, &RGB565_LE, &tiles);
    assert_eq!(fb.data(), [BLUE, RED, RED, BLUE].concat().as_slice());
    let err = decode_err(
        2,
        2,
        encoding::ZRLE,
        &RGB565_LE,
        &zrle_block(&[130, 0, 0, 0, 0, 2, 2, 2, 2]),
    );
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
}

#[test]
fn zrle_tiles_are_64_square_with_smaller_edges() {
    // 70×65: tiles 64×64, 6×64, 64×1, 6×1, each solid in its own colour.
    let colours = [[1u8, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]];
    let tiles: Vec<u8> = colours.iter().flat_map(|c| [1, c[0], c[1], c[2]]).collect();
    let fb = decode(
        70,
        65,
        encoding::ZRLE,
        &PixelFormat::NATIVE,
        &zrle_block(&tiles),
    );
    assert_eq!(px(&fb, 63, 63), [1, 0, 0, 255]);
    assert_eq!(px(&fb, 64, 0), [2, 0, 0, 255]);
    assert_eq!(px(&fb, 69, 63), [2, 0, 0, 255]);
    assert_eq!(px(&fb, 0, 64), [3, 0, 0, 255]);
    assert_eq!(px(&fb, 69, 64), [4, 0, 0, 255]);
}

#[test]
fn trle_tiles_are_16_square() {
    let tiles = [1, 1, 0, 0, 1, 2, 0, 0, 1, 3, 0, 0, 1, 4, 0, 0];
    let fb = decode(17, 17, encoding::TRLE, &PixelFormat::NATIVE, &tiles);
    assert_eq!(px(&fb, 15, 15), [1, 0, 0, 255]);
    assert_eq!(px(&fb, 16, 15), [2, 0, 0, 255]);
    assert_eq!(px(&fb, 15, 16), [3, 0, 0, 255]);
    assert_eq!(px(&fb, 16, 16), [4, 0, 0, 255]);
}

#[test]
fn trle_reuses_the_previous_palette() {
    // 48×1: three 16×1 tiles. Tile 1 packed (palette red, blue), tile 2
    // reuses it packed (127), tile 3 reuses it as palette RLE (129).
    let mut tiles = vec![2, 0, 0, 255, 255, 0, 0, 0b1010_1010, 0b1010_1010];
    tiles.extend_from_slice(&[127, 0b0000_0000, 0b1111_1111]);
    tiles.extend_from_slice(&[129, 0x81, 15]);
    let fb = decode(48, 1, encoding::TRLE, &PixelFormat::NATIVE, &tiles);
    for x in 0..16 {
        assert_eq!(px(&fb, x, 0), if x % 2 == 0 { BLUE } else { RED }, "x={x}");
        assert_eq!(px(&fb, 16 + x, 0), if x < 8 { RED } else { BLUE });
        assert_eq!(px(&fb, 32 + x, 0), BLUE);
    }
    // After a solid tile, 127 repeats its colour.
    let fb = decode(
        32,
        1,
        encoding::TRLE,
        &PixelFormat::NATIVE,
        &[1, 0, 255, 0, 127],
    );
    assert_eq!(fb.data(), solid(32, 1, GREEN).as_slice());
}

#[test]
fn palette_reuse_without_a_palette_or_in_zrle_is_malformed() {
    for tiles in [&[127u8][..], &[129], &[128, 0, 0, 0, 15, 129], &[17]] {
        let err = decode_err(32, 1, encoding::TRLE, &PixelFormat::NATIVE, tiles);
        assert!(
            matches!(
                err,
                DecodeError::Malformed {
                    encoding: "TRLE",
                    ..
                }
            ),
            "{tiles:?}: {err:?}"
        );
    }
    let err = decode_err(
        2,
        1,
        encoding::ZRLE,
        &PixelFormat::NATIVE,
        &zrle_block(&[2, 0, 0, 0, 1, 1, 1, 0, 127, 0]),
    );
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                encoding: "ZRLE",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn zrle_truncated_compressed_data_is_malformed() {
    // One solid tile is missing its last pixel byte.
    let err = decode_err(
        4,
        4,
        encoding::ZRLE,
        &PixelFormat::NATIVE,
        &zrle_block(&[1, 2, 3]),
    );
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                encoding: "ZRLE",
                ..
            }
        ),
        "{err:?}"
    );
}

// ---- Round trips of realistic content in every format ----

struct Sample {
    name: &'static str,
    encoding: i32,
    stream: Vec<u8>,
    rects: Vec<(Rect, i32)>,
}

/// The desktop image encoded in every encoding, split into a few
/// rectangles so per-connection zlib state spans several.
fn samples(format: &PixelFormat, w: usize, h: usize) -> (Vec<u8>, Vec<Sample>) {
    let img = encode::desktop(w, h, 7);
    let values = encode::values(format, &img, w);
    let expected = encode::expected(format, &values);
    let parts = [
        (0, 0, w, h / 3),
        (0, h / 3, w / 2, h - h / 3),
        (w / 2, h / 3, w - w / 2, h - h / 3),
    ];
    let mut out = Vec::new();
    let mut add = |name, encoding, enc: &mut dyn FnMut(&Values) -> Vec<u8>| {
        let mut stream = Vec::new();
        let mut rects = Vec::new();
        for &(x, y, pw, ph) in &parts {
            stream.extend(enc(&values.crop(x, y, pw, ph)));
            rects.push((
                Rect::new(x as u16, y as u16, pw as u16, ph as u16),
                encoding,
            ));
        }
        out.push(Sample {
            name,
            encoding,
            stream,
            rects,
        });
    };
    add("raw", encoding::RAW, &mut |v| encode::raw(format, v));
    add("rre", encoding::RRE, &mut |v| encode::rre(format, v, false));
    add("hextile", encoding::HEXTILE, &mut |v| {
        encode::hextile(format, v)
    });
    add("trle", encoding::TRLE, &mut |v| encode::trle(format, v));
    let mut z = compressor();
    add("zlib", encoding::ZLIB, &mut |v| {
        encode::zlib(&mut z, format, v)
    });
    let mut z = compressor();
    add("zrle", encoding::ZRLE, &mut |v| {
        encode::zrle(&mut z, format, v)
    });
    let mut zs = encode::tight_compressors();
    add("tight", encoding::TIGHT, &mut |v| {
        encode::tight(&mut zs, format, v)
    });
    // CoRRE needs rectangles of at most 255×255.
    let mut stream = Vec::new();
    let mut rects = Vec::new();
    for y in (0..h).step_by(200) {
        for x in (0..w).step_by(250) {
            let (cw, ch) = (250.min(w - x), 200.min(h - y));
            stream.extend(encode::rre(format, &values.crop(x, y, cw, ch), true));
            rects.push((
                Rect::new(x as u16, y as u16, cw as u16, ch as u16),
                encoding::CORRE,
            ));
        }
    }
    out.push(Sample {
        name: "corre",
        encoding: encoding::CORRE,
        stream,
        rects,
    });
    (expected, out)
}

#[test]
fn every_encoding_in_every_format_reproduces_the_image() {
    let (w, h) = (150, 90);
    for format in FORMATS {
        let (expected, samples) = samples(&format, w, h);
        for s in samples {
            let fb = decode_pieces(
                (w as u16, h as u16),
                &s.rects,
                &format,
                &ColourMap::new(),
                &s.stream,
                1 << 30,
            )
            .unwrap_or_else(|e| panic!("{} in {format:?}: {e}", s.name));
            assert!(
                fb.data() == expected.as_slice(),
                "{} in {format:?} differs",
                s.name
            );
        }
    }
}

#[test]
fn colour_mapped_rectangles_decode_in_every_encoding() {
    // Indices 0..=255 through a map; encoders treat them as plain values.
    let mut map = ColourMap::new();
    let colours: Vec<(u16, u16, u16)> = (0..256u32)
        .map(|i| {
            (
                (i * 257) as u16,
                ((255 - i) * 257) as u16,
                ((i * 7 % 256) * 257) as u16,
            )
        })
        .collect();
    map.set_entries(0, &colours);
    let (w, h) = (40usize, 30usize);
    let img = encode::desktop(w, h, 3);
    let values = Values {
        width: w,
        height: h,
        v: img.iter().map(|c| u32::from(c[0] ^ c[2])).collect(),
    };
    let expected: Vec<u8> = values
        .v
        .iter()
        .flat_map(|&i| map.entry(i as usize))
        .collect();
    let rect = Rect::new(0, 0, w as u16, h as u16);
    let streams = [
        (encoding::RAW, encode::raw(&MAPPED8, &values)),
        (encoding::HEXTILE, encode::hextile(&MAPPED8, &values)),
        (encoding::RRE, encode::rre(&MAPPED8, &values, false)),
        (encoding::TRLE, encode::trle(&MAPPED8, &values)),
        (
            encoding::ZRLE,
            encode::zrle(&mut compressor(), &MAPPED8, &values),
        ),
    ];
    for (enc, stream) in streams {
        let fb = decode_pieces(
            (w as u16, h as u16),
            &[(rect, enc)],
            &MAPPED8,
            &map,
            &stream,
            1 << 30,
        )
        .unwrap();
        assert!(fb.data() == expected.as_slice(), "encoding {enc}");
    }
}

#[test]
fn feeding_one_byte_at_a_time_gives_the_same_result_as_all_at_once() {
    let (w, h) = (100, 70);
    for format in [PixelFormat::NATIVE, RGB565_BE, BGR233] {
        let (expected, samples) = samples(&format, w, h);
        for s in samples {
            for piece in [1, 3, 4096] {
                let fb = decode_pieces(
                    (w as u16, h as u16),
                    &s.rects,
                    &format,
                    &ColourMap::new(),
                    &s.stream,
                    piece,
                )
                .unwrap_or_else(|e| panic!("{} by {piece}: {e}", s.name));
                assert!(
                    fb.data() == expected.as_slice(),
                    "{} fed {piece} bytes at a time",
                    s.name
                );
            }
            let _ = s.encoding;
        }
    }
}

#[test]
fn a_large_raw_rectangle_in_4k_pieces_is_linear() {
    // 1000×1000 × 4 bytes = 4 MB; the session helper asserts that each byte
    // is handed over about once.
    let (w, h) = (1000u16, 1000u16);
    let data: Vec<u8> = (0..usize::from(w) * usize::from(h) * 4)
        .map(|i| (i % 251) as u8)
        .collect();
    let rect = Rect::new(0, 0, w, h);
    let fb = decode_pieces(
        (w, h),
        &[(rect, encoding::RAW)],
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &data,
        4096,
    )
    .unwrap();
    assert_eq!(&fb.data()[..4], &[0, 1, 2, 255]);
}

// ---- Hostile input ----

/// Random rectangles and formats; random or mutated bytes. Nothing may
/// panic, and every call must make progress or finish.
#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = encode::Rng::new(0x5eed);
    let encodings = [
        encoding::RAW,
        encoding::COPY_RECT,
        encoding::RRE,
        encoding::CORRE,
        encoding::HEXTILE,
        encoding::ZLIB,
        encoding::ZRLE,
        encoding::TRLE,
        encoding::TIGHT,
        encoding::TIGHT_PNG,
        encoding::JPEG,
    ];
    let formats = [PixelFormat::NATIVE, XRGB_BE, RGB565_LE, BGR233, MAPPED8];
    let (valid_raw, valid) = samples(&PixelFormat::NATIVE, 40, 30);
    drop(valid_raw);
    // PORTHOLE_FUZZ_ROUNDS runs more for a deeper local check.
    let rounds = std::env::var("PORTHOLE_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000);
    for round in 0..rounds {
        let format = formats[rng.below(formats.len() as u64) as usize];
        let enc = encodings[rng.below(encodings.len() as u64) as usize];
        let mut data: Vec<u8> = if round % 2 == 0 {
            let len = rng.below(600) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let s = &valid[rng.below(valid.len() as u64) as usize];
            let mut d = s.stream.clone();
            for _ in 0..=rng.below(4) {
                if d.is_empty() {
                    break;
                }
                let i = rng.below(d.len() as u64) as usize;
                d[i] = rng.next() as u8;
            }
            d.truncate(rng.below(d.len() as u64 + 1) as usize + 8);
            d
        };
        if rng.below(4) == 0 {
            // Make compressed lengths plausible so the zlib paths run.
            let len = (data.len().saturating_sub(4) as u32).to_be_bytes();
            data.iter_mut().zip(len).for_each(|(d, l)| *d = l);
        }
        let rect = Rect::new(
            rng.below(8) as u16,
            rng.below(8) as u16,
            rng.below(33) as u16,
            rng.below(33) as u16,
        );
        let mut fb = Framebuffer::new(40, 40);
        let mut decoders = Decoders::new(1 << 16);
        let map = ColourMap::new();
        let Ok(mut decoder) = RectDecoder::new(rect, enc, &fb) else {
            continue;
        };
        let mut target = Target {
            framebuffer: &mut fb,
            format: &format,
            colour_map: &map,
        };
        let piece = [1, 7, 4096][rng.below(3) as usize];
        let _ = feed_session(&mut decoder, &mut decoders, &mut target, &data, piece);
        assert!(
            target
                .framebuffer
                .data()
                .chunks_exact(4)
                .all(|p| p[3] == 255),
            "alpha stays opaque"
        );
    }
}

// ---- Cursor pseudo-encodings ----

#[test]
fn rich_cursor_pixels_through_the_mask_as_straight_rgba() {
    // 2×2 NATIVE pixels red, green, blue, white; mask rows 10…, 01….
    let mut data = [RED, GREEN, BLUE, WHITE].concat();
    data.extend_from_slice(&[0b1000_0000, 0b0100_0000]);
    assert_eq!(cursor::rich_len(2, 2, 4), data.len());
    let image = cursor::rich(&data, 2, 2, &PixelFormat::NATIVE, &ColourMap::new()).unwrap();
    assert_eq!((image.width, image.height), (2, 2));
    assert_eq!(
        image.rgba,
        [[255, 0, 0, 255], [0; 4], [0; 4], [255, 255, 255, 255]].concat()
    );
    // The same in 16 bpp big-endian.
    let mut data = vec![0xf8, 0x00, 0x07, 0xe0, 0x00, 0x1f, 0xff, 0xff];
    data.extend_from_slice(&[0b1100_0000, 0b1100_0000]);
    let image = cursor::rich(&data, 2, 2, &RGB565_BE, &ColourMap::new()).unwrap();
    assert_eq!(
        image.rgba,
        [
            [255, 0, 0, 255],
            [0, 255, 0, 255],
            [0, 0, 255, 255],
            [255, 255, 255, 255]
        ]
        .concat()
    );
}

#[test]
fn rich_cursor_short_data_or_bad_format_is_malformed() {
    let err = cursor::rich(&[0; 10], 2, 2, &PixelFormat::NATIVE, &ColourMap::new()).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Malformed {
            encoding: "Cursor",
            ..
        }
    ));
    let bad = PixelFormat {
        bits_per_pixel: 0,
        ..PixelFormat::NATIVE
    };
    assert!(cursor::rich(&[0; 64], 2, 2, &bad, &ColourMap::new()).is_err());
    let empty = cursor::rich(&[], 0, 0, &PixelFormat::NATIVE, &ColourMap::new()).unwrap();
    assert!(empty.rgba.is_empty());
}

#[test]
fn x_cursor_uses_primary_secondary_bitmap_and_mask() {
    // 9×1: rows are 2 bytes. Pixels 0 and 8 primary, 1 secondary, rest hidden.
    assert_eq!(cursor::x_len(9, 1), 10);
    assert_eq!(cursor::x_len(0, 7), 0);
    let data = [
        10,
        20,
        30,
        40,
        50,
        60,
        0b1000_0000,
        0b1000_0000,
        0b1100_0000,
        0b1000_0000,
    ];
    let image = cursor::x_cursor(&data, 9, 1).unwrap();
    let px = |i: usize| &image.rgba[i * 4..i * 4 + 4];
    assert_eq!(px(0), &[10, 20, 30, 255]);
    assert_eq!(px(1), &[40, 50, 60, 255]);
    assert_eq!(px(2), &[0, 0, 0, 0]);
    assert_eq!(px(8), &[10, 20, 30, 255]);
    assert!(cursor::x_cursor(&data[..9], 9, 1).is_err());
    assert!(cursor::x_cursor(&[], 0, 0).unwrap().rgba.is_empty());
}

#[test]
fn a_zlib_stream_finished_per_rectangle_starts_afresh() {
    use flate2::{Compress, Compression, FlushCompress};
    let block = |data: &[u8]| {
        let mut z = Compress::new(Compression::default(), true);
        let mut out = Vec::with_capacity(256);
        z.compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        let mut b = (out.len() as u32).to_be_bytes().to_vec();
        b.extend(out);
        b
    };
    let mut stream = block(&[RED, GREEN].concat());
    stream.extend(block(&[BLUE, WHITE].concat()));
    let rects = [
        (Rect::new(0, 0, 2, 1), encoding::ZLIB),
        (Rect::new(0, 1, 2, 1), encoding::ZLIB),
    ];
    let fb = decode_pieces(
        (2, 2),
        &rects,
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &stream,
        5,
    )
    .unwrap();
    assert_eq!(fb.data(), [RED, GREEN, BLUE, WHITE].concat().as_slice());
}

mod tight;
