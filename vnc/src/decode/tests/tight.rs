//! Tight, TightPNG and JPEG: byte vectors for every subtype and filter, the
//! reset bits, compact lengths, TPIXEL rules, table reuse, and images.

use super::*;
use crate::decode::tight::compact_len;
use encode::{
    put_compact_len, tight_basic, tight_compressors, tight_fill, tight_image, TightFilter,
};

/// 32 bpp, depth 24, 8-bit channels in the top three bytes: still 3-byte
/// R, G, B TPIXELs.
const RGB_HIGH: PixelFormat = BGRX_HIGH_LE;

/// 32 bpp but depth 32: TPIXELs are whole PIXELs.
const DEPTH32: PixelFormat = PixelFormat {
    depth: 32,
    ..PixelFormat::NATIVE
};

/// 32 bpp depth 24 with 10-bit green: whole PIXELs too.
const WIDE_GREEN: PixelFormat = PixelFormat {
    red_max: 127,
    green_max: 1023,
    blue_max: 127,
    red_shift: 17,
    green_shift: 7,
    blue_shift: 0,
    ..PixelFormat::NATIVE
};

fn tight(w: u16, h: u16, format: &PixelFormat, data: &[u8]) -> Framebuffer {
    decode(w, h, encoding::TIGHT, format, data)
}

fn tight_err(w: u16, h: u16, data: &[u8]) -> DecodeError {
    decode_err(w, h, encoding::TIGHT, &PixelFormat::NATIVE, data)
}

#[test]
fn compact_lengths_take_one_two_or_three_bytes() {
    assert_eq!(compact_len(&[0]), Ok((0, 1)));
    assert_eq!(compact_len(&[0x7f, 0xff]), Ok((127, 1)));
    assert_eq!(compact_len(&[0x80, 0x01]), Ok((128, 2)));
    // rfbproto's example: 10000 is 90 4E.
    assert_eq!(compact_len(&[0x90, 0x4e]), Ok((10000, 2)));
    assert_eq!(compact_len(&[0xff, 0x7f]), Ok((16383, 2)));
    assert_eq!(compact_len(&[0x80, 0x80, 0x01]), Ok((16384, 3)));
    assert_eq!(compact_len(&[0xff, 0xff, 0xff]), Ok((4_194_303, 3)));
    assert_eq!(compact_len(&[]), Err(1));
    assert_eq!(compact_len(&[0x80]), Err(2));
    assert_eq!(compact_len(&[0x80, 0x80]), Err(3));
    for len in [0, 1, 127, 128, 10000, 16383, 16384, 4_194_303] {
        let mut out = Vec::new();
        put_compact_len(&mut out, len);
        assert_eq!(compact_len(&out), Ok((len, out.len())), "{len}");
    }
}

#[test]
fn fill_uses_three_byte_rgb_tpixels_only_for_32bpp_depth_24() {
    // R, G, B whatever the shifts.
    for format in [PixelFormat::NATIVE, RGB_HIGH, XRGB_BE] {
        let fb = tight(3, 2, &format, &[0x80, 0x10, 0x20, 0x30]);
        assert_eq!(
            fb.data(),
            solid(3, 2, [0x30, 0x20, 0x10, 255]),
            "{format:?}"
        );
    }
    // Depth 32: a whole 4-byte little-endian PIXEL.
    let fb = tight(2, 2, &DEPTH32, &[0x80, 0x30, 0x20, 0x10, 0x00]);
    assert_eq!(fb.data(), solid(2, 2, [0x30, 0x20, 0x10, 255]));
    // Channels wider than 8 bits: a whole PIXEL too (green at full scale).
    let fb = tight(1, 1, &WIDE_GREEN, &[0x80, 0x80, 0xff, 0x01, 0x00]);
    assert_eq!(px(&fb, 0, 0), [0, 255, 0, 255]);
    // 16 bpp: two bytes, red in RGB565.
    let fb = tight(2, 1, &RGB565_LE, &[0x80, 0x00, 0xf8]);
    assert_eq!(fb.data(), solid(2, 1, RED));
    // 8 bpp through the colour map.
    let mut map = ColourMap::new();
    map.set_entries(7, &[(0, 0xffff, 0)]);
    let fb = decode_pieces(
        (2, 2),
        &[(Rect::new(0, 0, 2, 2), encoding::TIGHT)],
        &MAPPED8,
        &map,
        &[0x80, 7],
        1,
    )
    .unwrap();
    assert_eq!(fb.data(), solid(2, 2, GREEN));
}

#[test]
fn copy_filter_under_12_bytes_is_not_compressed() {
    // 2×1 RGB: 6 bytes, sent as is, no length.
    let fb = tight(2, 1, &PixelFormat::NATIVE, &[0x00, 255, 0, 0, 0, 0, 255]);
    assert_eq!(fb.data(), [RED, BLUE].concat());
    // The explicit copy filter id, on stream 3.
    let fb = tight(2, 1, &PixelFormat::NATIVE, &[0x70, 0, 0, 255, 0, 255, 0, 0]);
    assert_eq!(fb.data(), [GREEN, RED].concat());
    // 16 bpp: 2×2 = 8 bytes, still raw.
    let fb = tight(
        2,
        2,
        &RGB565_BE,
        &[0x00, 0xf8, 0, 0x07, 0xe0, 0, 0x1f, 0xff, 0xff],
    );
    assert_eq!(fb.data(), [RED, GREEN, BLUE, WHITE].concat());
}

#[test]
fn two_colour_palettes_are_1_bit_rows_padded_to_bytes() {
    // 10×2: rows of 2 bytes each (4 bytes < 12, so raw).
    let data = [
        0x40,
        1,
        1,
        255,
        0,
        0,
        0,
        0,
        255, // palette: red, blue
        0b1010_0000,
        0b0100_0000, // row 0: b r b r r r r r r b
        0b0000_0000,
        0b1100_0000, // row 1: r … r b b
    ];
    let fb = tight(10, 2, &PixelFormat::NATIVE, &data);
    let row0: Vec<[u8; 4]> = (0..10).map(|x| px(&fb, x, 0)).collect();
    let row1: Vec<[u8; 4]> = (0..10).map(|x| px(&fb, x, 1)).collect();
    let (r, b) = (RED, BLUE);
    assert_eq!(row0, [b, r, b, r, r, r, r, r, r, b]);
    assert_eq!(row1, [r, r, r, r, r, r, r, r, b, b]);
}

#[test]
fn larger_palettes_are_one_byte_per_pixel() {
    // 3 colours, 3×3 = 9 index bytes (raw).
    let data = [
        0x40, 1, 2, 255, 0, 0, 0, 255, 0, 0, 0, 255, // red, green, blue
        0, 1, 2, 2, 1, 0, 1, 1, 1,
    ];
    let fb = tight(3, 3, &PixelFormat::NATIVE, &data);
    assert_eq!(
        fb.data(),
        [RED, GREEN, BLUE, BLUE, GREEN, RED, GREEN, GREEN, GREEN].concat()
    );
    // 256 colours, compressed, round trip.
    let values = Values {
        width: 32,
        height: 16,
        v: (0..512u32)
            .map(|i| ((i * 37 % 256) * 0x010101) ^ 0x00ff00)
            .collect(),
    };
    let mut zlibs = tight_compressors();
    let data = tight_basic(
        &mut zlibs,
        &PixelFormat::NATIVE,
        &values,
        TightFilter::Palette,
        2,
        0,
    );
    assert_eq!(data[2], 255, "a 256-colour palette");
    let fb = tight(32, 16, &PixelFormat::NATIVE, &data);
    assert_eq!(fb.data(), encode::expected(&PixelFormat::NATIVE, &values));
}

#[test]
fn palette_index_past_the_palette_is_malformed() {
    let data = [0x40, 1, 2, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 1, 3];
    assert!(matches!(
        tight_err(3, 1, &data),
        DecodeError::Malformed { .. }
    ));
}

#[test]
fn gradient_filter_adds_differences_to_the_prediction() {
    // 2×2 RGB. V = (10,20,30) (15,10,40) / (5,5,5) (200,100,0).
    // P(0,0)=0; P(1,0)=left; P(0,1)=up; P(1,1)=left+up-ul clamped.
    let v = [[10u8, 20, 30], [15, 10, 40], [5, 5, 5], [200, 100, 0]];
    let p = [
        [0u8, 0, 0],
        [10, 20, 30],
        [10, 20, 30],
        // (5 + 15 - 10, 5 + 10 - 20 → 0, 5 + 40 - 30)
        [10, 0, 15],
    ];
    let mut data = vec![0x40, 2];
    for (v, p) in v.iter().zip(&p) {
        data.extend((0..3).map(|c| v[c].wrapping_sub(p[c])));
    }
    // 12 bytes: compressed.
    let mut zlib = compressor();
    let block = zlib_block(&mut zlib, &data[2..]);
    let mut stream = data[..2].to_vec();
    put_compact_len(&mut stream, block.len() - 4);
    stream.extend_from_slice(&block[4..]);
    let fb = tight(2, 2, &PixelFormat::NATIVE, &stream);
    let got: Vec<[u8; 4]> = [(0, 0), (1, 0), (0, 1), (1, 1)]
        .iter()
        .map(|&(x, y)| px(&fb, x, y))
        .collect();
    let want: Vec<[u8; 4]> = v.iter().map(|c| [c[2], c[1], c[0], 255]).collect();
    assert_eq!(got, want);
}

#[test]
fn gradient_filter_in_16bpp_works_on_channel_values() {
    let img = encode::desktop(37, 21, 5);
    for format in [RGB565_LE, RGB565_BE, XRGB_BE, DEPTH32, WIDE_GREEN] {
        let values = encode::values(&format, &img, 37);
        let data = tight_basic(
            &mut tight_compressors(),
            &format,
            &values,
            TightFilter::Gradient,
            1,
            0,
        );
        let fb = tight(37, 21, &format, &data);
        assert!(
            fb.data() == encode::expected(&format, &values),
            "{format:?}"
        );
    }
}

#[test]
fn gradient_filter_needs_true_colour() {
    let err = decode_err(2, 1, encoding::TIGHT, &MAPPED8, &[0x40, 2, 0, 0]);
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err}");
}

#[test]
fn lengths_of_two_and_three_bytes_carry_large_rectangles() {
    // Noise does not compress: 100×100×3 bytes need a 3-byte length.
    let mut rng = encode::Rng::new(9);
    let values = Values {
        width: 100,
        height: 100,
        v: (0..10000).map(|_| rng.next() as u32 & 0xffffff).collect(),
    };
    let data = tight_basic(
        &mut tight_compressors(),
        &PixelFormat::NATIVE,
        &values,
        TightFilter::Copy,
        0,
        0,
    );
    assert!(
        data[1] & 0x80 != 0 && data[2] & 0x80 != 0,
        "a 3-byte length"
    );
    let fb = tight(100, 100, &PixelFormat::NATIVE, &data);
    assert_eq!(fb.data(), encode::expected(&PixelFormat::NATIVE, &values));
    // 20×20 noise: 1200 bytes, a 2-byte length.
    let small = values.crop(0, 0, 20, 20);
    let data = tight_basic(
        &mut tight_compressors(),
        &PixelFormat::NATIVE,
        &small,
        TightFilter::Copy,
        0,
        0,
    );
    assert!(
        data[1] & 0x80 != 0 && data[2] & 0x80 == 0,
        "a 2-byte length"
    );
    let fb = tight(20, 20, &PixelFormat::NATIVE, &data);
    assert_eq!(fb.data(), encode::expected(&PixelFormat::NATIVE, &small));
}

/// `(rect, stream)` parts of one 64×48 screen, decoded in order.
fn decode_tight_stream(parts: &[(Rect, Vec<u8>)]) -> Result<Framebuffer, DecodeError> {
    let rects: Vec<(Rect, i32)> = parts.iter().map(|(r, _)| (*r, encoding::TIGHT)).collect();
    let stream: Vec<u8> = parts.iter().flat_map(|(_, d)| d.clone()).collect();
    decode_pieces(
        (64, 48),
        &rects,
        &PixelFormat::NATIVE,
        &ColourMap::new(),
        &stream,
        1,
    )
}

#[test]
fn reset_bits_restart_streams_before_every_subtype() {
    let img = encode::desktop(64, 48, 3);
    let values = encode::values(&PixelFormat::NATIVE, &img, 64);
    let top = Rect::new(0, 0, 64, 24);
    let bottom = Rect::new(0, 24, 64, 24);
    let (v_top, v_bottom) = (values.crop(0, 0, 64, 24), values.crop(0, 24, 64, 24));
    let expected = encode::expected(&PixelFormat::NATIVE, &values);
    let mut fill_expected = expected.clone();
    fill_expected[64 * 24 * 4..].copy_from_slice(&solid(64, 24, RED));
    for stream in 0..4 {
        let reset = 1u8 << stream;
        // Basic, then basic with the reset bit: the server's compressor
        // starts afresh, so ours must too.
        let mut z = tight_compressors();
        let a = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        let b = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_bottom,
            TightFilter::Copy,
            stream,
            reset,
        );
        let fb = decode_tight_stream(&[(top, a.clone()), (bottom, b)]).unwrap();
        assert!(fb.data() == expected.as_slice(), "stream {stream}");
        // The reset bit on a fill rectangle still resets the stream.
        let mut z = tight_compressors();
        let a = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        let fill = tight_fill(&PixelFormat::NATIVE, 0xff0000, reset);
        z[stream].reset();
        let c = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        let fb = decode_tight_stream(&[(top, a.clone()), (bottom, fill), (top, c)]).unwrap();
        assert!(
            fb.data() == fill_expected.as_slice(),
            "fill resets stream {stream}"
        );
        // And on a JPEG rectangle.
        let mut z = tight_compressors();
        let a = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        let mut jpeg = tight_image(0x90, &encode::jpeg(&img[64 * 24..], 64, 90));
        jpeg[0] |= reset;
        z[stream].reset();
        let c = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        decode_tight_stream(&[(top, a), (bottom, jpeg), (top, c)]).unwrap();
        // Without the reset bit the continued stream would not parse.
        let mut z = tight_compressors();
        let a = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        z[stream].reset();
        let c = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &v_top,
            TightFilter::Copy,
            stream,
            0,
        );
        assert!(
            decode_tight_stream(&[(top, a), (top, c)]).is_err(),
            "stream {stream}"
        );
    }
}

#[test]
fn the_four_streams_are_independent() {
    let img = encode::desktop(64, 48, 11);
    let values = encode::values(&PixelFormat::NATIVE, &img, 64);
    let mut z = tight_compressors();
    let mut parts = Vec::new();
    for (i, y) in (0..48).step_by(6).enumerate() {
        let part = values.crop(0, y, 64, 6);
        let data = tight_basic(
            &mut z,
            &PixelFormat::NATIVE,
            &part,
            TightFilter::Copy,
            (i * 3) % 4,
            0,
        );
        parts.push((Rect::new(0, y as u16, 64, 6), data));
    }
    let fb = decode_tight_stream(&parts).unwrap();
    assert_eq!(fb.data(), encode::expected(&PixelFormat::NATIVE, &values));
}

#[test]
fn unknown_methods_and_filters_are_malformed() {
    for control in [0xb0, 0xc0, 0xd0, 0xf0] {
        assert!(matches!(
            tight_err(1, 1, &[control, 0, 0, 0, 0]),
            DecodeError::Malformed { .. }
        ));
    }
    assert!(matches!(
        tight_err(1, 1, &[0x40, 3, 0, 0, 0]),
        DecodeError::Malformed { .. }
    ));
    // TightPNG has no "basic without zlib"; its 0xE is invalid.
    let err = decode_err(
        1,
        1,
        encoding::TIGHT_PNG,
        &PixelFormat::NATIVE,
        &[0xe0, 0, 1, 2, 3],
    );
    assert!(matches!(err, DecodeError::Malformed { .. }));
}

#[test]
fn basic_compression_without_zlib_is_sent_as_is() {
    // 0xA0: copy, never compressed even past 12 bytes.
    let mut data = vec![0xa0];
    data.extend([255, 0, 0].repeat(6));
    let fb = tight(6, 1, &PixelFormat::NATIVE, &data);
    assert_eq!(fb.data(), solid(6, 1, RED));
    // 0xE0: with a filter id (a 2-colour palette).
    let fb = tight(
        8,
        1,
        &PixelFormat::NATIVE,
        &[0xe0, 1, 1, 0, 0, 255, 0, 255, 0, 0x0f],
    );
    assert_eq!(fb.data(), [solid(4, 1, BLUE), solid(4, 1, GREEN)].concat());
}

#[test]
fn compressed_lengths_past_the_limit_are_refused() {
    let mut data = vec![0x00];
    put_compact_len(&mut data, 4_000_000);
    let err = tight_err(40, 40, &data);
    assert!(
        matches!(err, DecodeError::TooLarge { got: 4_000_000, .. }),
        "{err}"
    );
    let mut data = vec![0x90];
    put_compact_len(&mut data, 4_000_000);
    assert!(matches!(
        tight_err(40, 40, &data),
        DecodeError::TooLarge { .. }
    ));
}

/// Peak signal-to-noise ratio of two BGRA buffers, in dB.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let (mut sum, mut n) = (0f64, 0f64);
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..3 {
            let d = f64::from(pa[c]) - f64::from(pb[c]);
            sum += d * d;
            n += 1.0;
        }
    }
    10.0 * (255.0f64 * 255.0 / (sum / n).max(1e-9)).log10()
}

fn bgra(img: &[[u8; 3]]) -> Vec<u8> {
    img.iter().flat_map(|&[r, g, b]| [b, g, r, 255]).collect()
}

#[test]
fn tight_jpeg_decodes_into_the_rectangle() {
    let (w, h) = (96usize, 64usize);
    let img = encode::desktop(w, h, 2);
    let data = tight_image(0x90, &encode::jpeg(&img, w, 90));
    for format in [PixelFormat::NATIVE, RGB565_LE] {
        for piece in [1, 4096] {
            let fb = decode_pieces(
                (w as u16 + 4, h as u16),
                &[(Rect::new(4, 0, w as u16, h as u16), encoding::TIGHT)],
                &format,
                &ColourMap::new(),
                &data,
                piece,
            )
            .unwrap();
            let got = fb.pixels_of(Rect::new(4, 0, w as u16, h as u16));
            let q = psnr(&got, &bgra(&img));
            assert!(q > 30.0, "PSNR {q:.1} dB");
            assert_eq!(px(&fb, 0, 0), BLACK, "nothing outside the rectangle");
        }
    }
}

#[test]
fn a_jpeg_of_another_size_is_refused_before_decoding() {
    let img = encode::desktop(32, 32, 2);
    let data = tight_image(0x90, &encode::jpeg(&img, 32, 80));
    assert!(matches!(
        tight_err(32, 16, &data),
        DecodeError::Malformed { .. }
    ));
    let data = tight_image(0x90, b"\xff\xd8\xff\xe0garbage that is no jpeg");
    assert!(tight_err(32, 16, &data).to_string().contains("JPEG"));
}

#[test]
fn tightpng_decodes_png_exactly() {
    let (w, h) = (50usize, 20usize);
    let img = encode::desktop(w, h, 4);
    let data = tight_image(0xa0, &encode::png(&img, w));
    for piece in [1, 4096] {
        let fb = decode_pieces(
            (w as u16, h as u16),
            &[(Rect::new(0, 0, w as u16, h as u16), encoding::TIGHT_PNG)],
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &data,
            piece,
        )
        .unwrap();
        assert!(fb.data() == bgra(&img).as_slice());
    }
    // Fill works in TightPNG too; a PNG of the wrong size does not.
    let fb = decode(
        2,
        2,
        encoding::TIGHT_PNG,
        &PixelFormat::NATIVE,
        &[0x80, 0, 0, 255],
    );
    assert_eq!(fb.data(), solid(2, 2, BLUE));
    let err = decode_err(50, 21, encoding::TIGHT_PNG, &PixelFormat::NATIVE, &data);
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err}");
    let err = decode_err(
        50,
        20,
        encoding::TIGHT_PNG,
        &PixelFormat::NATIVE,
        &tight_image(0xa0, b"\x89PNG nope"),
    );
    assert!(matches!(err, DecodeError::Image(_)), "{err}");
}

/// A JPEG without its DQT and DHT segments (an abbreviated frame).
fn without_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut i = 2;
    loop {
        let code = jpeg[i + 1];
        if code == 0xda {
            out.extend_from_slice(&jpeg[i..]);
            return out;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if code != 0xdb && code != 0xc4 {
            out.extend_from_slice(&jpeg[i..i + 2 + len]);
        }
        i += 2 + len;
    }
}

#[test]
fn jpeg_encoding_finds_the_end_and_reuses_earlier_tables() {
    let (w, h) = (64usize, 40usize);
    let first = encode::desktop(w, h, 1);
    let second = encode::desktop(w, h, 8);
    let full = encode::jpeg(&first, w, 85);
    let abbreviated = without_tables(&encode::jpeg(&second, w, 85));
    assert!(abbreviated.len() < encode::jpeg(&second, w, 85).len());
    let rect = Rect::new(0, 0, w as u16, h as u16);
    for piece in [1, 2, 7, 1 << 20] {
        // The first frame's tables serve the second, abbreviated one.
        let mut stream = full.clone();
        stream.extend_from_slice(&abbreviated);
        let fb = decode_pieces(
            (w as u16, h as u16),
            &[(rect, encoding::JPEG), (rect, encoding::JPEG)],
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &stream,
            piece,
        )
        .unwrap();
        let q = psnr(fb.data(), &bgra(&second));
        assert!(q > 30.0, "fed {piece} at a time: PSNR {q:.1} dB");
    }
    // Without earlier tables the abbreviated frame cannot be decoded.
    let err = decode_err(
        w as u16,
        h as u16,
        encoding::JPEG,
        &PixelFormat::NATIVE,
        &abbreviated,
    );
    assert!(err.to_string().contains("tables"), "{err}");
}

#[test]
fn jpeg_encoding_is_bounded_and_checks_its_markers() {
    assert!(matches!(
        decode_err(8, 8, encoding::JPEG, &PixelFormat::NATIVE, b"GIF89a"),
        DecodeError::Malformed { .. }
    ));
    // A JPEG that never ends stops at the compressed-data limit.
    let mut endless = b"\xff\xd8\xff\xda\x00\x02".to_vec();
    endless.resize(2 << 20, 0x11);
    let err = decode_err(8, 8, encoding::JPEG, &PixelFormat::NATIVE, &endless);
    assert!(matches!(err, DecodeError::TooLarge { .. }), "{err}");
}

#[test]
fn the_tight_fuzz_seed_is_a_valid_session() {
    // fuzz/seeds/session_feed/tight: a 3.8 handshake, then one update with
    // Tight fill, palettes, copy, gradient (with a reset bit), Tight JPEG,
    // TightPNG and JPEG rectangles; the fuzzer mutates from there.
    let seed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/seeds/session_feed/tight"
    ))
    .unwrap();
    let mut session = crate::proto::Session::new(crate::proto::Config::default());
    for byte in &seed[2..] {
        session.feed(std::slice::from_ref(byte)).unwrap();
    }
    let mut updates = 0;
    while let Some(event) = session.poll_event() {
        if matches!(event, crate::proto::Event::UpdateComplete) {
            updates += 1;
        }
    }
    assert_eq!(updates, 1, "the update completed");
    let fb = session.framebuffer();
    // The fill's colour survives where nothing else was drawn.
    assert_eq!(px(fb, 15, 15), [30, 20, 10, 255]);
    // The 2×2 red PNG.
    assert_eq!(px(fb, 2, 2), RED);
}

#[test]
fn images_are_taken_as_they_arrive_not_buffered_by_the_session() {
    // Asking for the rest of a 4 MB image at once would make the session
    // hold it all in its input buffer.
    let img = encode::desktop(32, 32, 2);
    let jpeg = encode::jpeg(&img, 32, 80);
    for (encoding, data) in [
        (encoding::TIGHT, tight_image(0x90, &jpeg)),
        (encoding::JPEG, jpeg.clone()),
    ] {
        let half = data.len() / 2;
        let mut fb = Framebuffer::new(32, 32);
        let progress = decode_with(
            &mut Decoders::new(1 << 20),
            &mut fb,
            Rect::new(0, 0, 32, 32),
            encoding,
            &PixelFormat::NATIVE,
            &ColourMap::new(),
            &data[..half],
        )
        .unwrap();
        assert_eq!(
            progress,
            Progress::NeedMore {
                consumed: half,
                need: 1
            },
            "encoding {encoding}"
        );
    }
}

/// Decodes `data` as one `w`×`h` rectangle with the image deferred: the
/// step that completes the image consumes it all and writes nothing; the
/// decode needs no framebuffer; the next step writes it.
fn decode_deferred(w: u16, h: u16, encoding: i32, data: &[u8]) -> Result<Framebuffer, DecodeError> {
    let mut fb = Framebuffer::new(w, h);
    let mut decoders = Decoders::new(1 << 24);
    let rect = Rect::new(0, 0, w, h);
    let mut decoder = RectDecoder::new(rect, encoding, &fb)?;
    let (format, map) = (PixelFormat::NATIVE, ColourMap::new());
    let mut target = Target {
        framebuffer: &mut fb,
        format: &format,
        colour_map: &map,
    };
    let step = decoder.step_deferring(data, &mut decoders, &mut target)?;
    assert_eq!(
        step,
        Step::Image {
            consumed: data.len()
        }
    );
    // Until it is decoded, asking again consumes nothing.
    let again = decoder.step_deferring(data, &mut decoders, &mut target)?;
    assert_eq!(again, Step::Image { consumed: 0 });
    assert_eq!(*target.framebuffer, Framebuffer::new(w, h), "written early");
    decoder.decode_image(&mut decoders)?;
    assert_eq!(*target.framebuffer, Framebuffer::new(w, h), "written early");
    // Then it is written a band of rows at a time, in order.
    let rows = (image::BLIT_BAND / (usize::from(w) * 4)).max(1);
    for band in 1..usize::from(h).div_ceil(rows) {
        let step = decoder.step_deferring(data, &mut decoders, &mut target)?;
        assert_eq!(step, Step::Image { consumed: 0 }, "band {band}");
        // Decoding again between bands does nothing.
        decoder.decode_image(&mut decoders)?;
        let fb = &*target.framebuffer;
        let (written, blank) = fb.data().split_at(band * rows * usize::from(w) * 4);
        assert!(
            written.chunks_exact(4).any(|px| px != [0, 0, 0, 255]),
            "band {band}"
        );
        assert!(
            blank.chunks_exact(4).all(|px| px == [0, 0, 0, 255]),
            "band {band}"
        );
    }
    let done = decoder.step_deferring(data, &mut decoders, &mut target)?;
    assert_eq!(done, Step::Progress(Progress::Done { consumed: 0 }));
    // Done for good.
    let after = decoder.step_deferring(b"more", &mut decoders, &mut target)?;
    assert_eq!(after, Step::Progress(Progress::Done { consumed: 0 }));
    Ok(fb)
}

#[test]
fn deferred_images_decode_without_the_framebuffer_to_the_same_pixels() {
    let (w, h) = (96usize, 64usize);
    let img = encode::desktop(w, h, 3);
    let jpeg = encode::jpeg(&img, w, 85);
    let png = encode::png(&img, w);
    for (name, encoding, data) in [
        ("Tight JPEG", encoding::TIGHT, tight_image(0x90, &jpeg)),
        (
            "TightPNG JPEG",
            encoding::TIGHT_PNG,
            tight_image(0x90, &jpeg),
        ),
        ("TightPNG PNG", encoding::TIGHT_PNG, tight_image(0xa0, &png)),
        ("JPEG", encoding::JPEG, jpeg.clone()),
    ] {
        let deferred = decode_deferred(w as u16, h as u16, encoding, &data).unwrap();
        let direct = decode(w as u16, h as u16, encoding, &PixelFormat::NATIVE, &data);
        assert_eq!(
            deferred, direct,
            "{name}: deferred and direct decodes differ"
        );
        if encoding == encoding::TIGHT_PNG && data[0] == 0xa0 {
            assert_eq!(deferred.data(), bgra(&img), "{name}: PNG is lossless");
        } else {
            let q = psnr(deferred.data(), &bgra(&img));
            assert!(q > 30.0, "{name}: PSNR {q:.1} dB");
        }
    }
}

#[test]
fn large_deferred_images_are_written_in_bands() {
    // 1100×700: 3 MB of pixels, so three bands of about 1 MB.
    let (w, h) = (1100usize, 700usize);
    let img = encode::desktop(w, h, 5);
    let png = tight_image(0xa0, &encode::png(&img, w));
    let fb = decode_deferred(w as u16, h as u16, encoding::TIGHT_PNG, &png).unwrap();
    assert_eq!(fb.data(), bgra(&img));
    // `step` on a decoder left half-way by `step_deferring` finishes it.
    let mut fb = Framebuffer::new(w as u16, h as u16);
    let mut decoders = Decoders::new(1 << 24);
    let rect = Rect::new(0, 0, w as u16, h as u16);
    let mut decoder = RectDecoder::new(rect, encoding::TIGHT_PNG, &fb).unwrap();
    let (format, map) = (PixelFormat::NATIVE, ColourMap::new());
    let mut target = Target {
        framebuffer: &mut fb,
        format: &format,
        colour_map: &map,
    };
    let first = decoder.step_deferring(&png, &mut decoders, &mut target);
    assert_eq!(
        first.unwrap(),
        Step::Image {
            consumed: png.len()
        }
    );
    decoder.decode_image(&mut decoders).unwrap();
    let band = decoder.step_deferring(&[], &mut decoders, &mut target);
    assert_eq!(band.unwrap(), Step::Image { consumed: 0 });
    let rest = decoder.step(&[], &mut decoders, &mut target).unwrap();
    assert_eq!(rest, Progress::Done { consumed: 0 });
    assert_eq!(fb.data(), bgra(&img));
}

#[test]
fn a_broken_deferred_image_fails_in_its_decode() {
    // Framing intact, picture data cut: gathering succeeds, decoding fails.
    let img = encode::desktop(16, 16, 1);
    let mut jpeg = encode::jpeg(&img, 16, 80);
    let sos = jpeg.windows(2).position(|m| m == [0xff, 0xda]).unwrap();
    jpeg.truncate(sos);
    jpeg.extend_from_slice(&[0xff, 0xd9]);
    let err = decode_deferred(16, 16, encoding::TIGHT, &tight_image(0x90, &jpeg)).unwrap_err();
    assert!(
        matches!(err, DecodeError::Malformed { .. } | DecodeError::Image(_)),
        "{err}"
    );
}
