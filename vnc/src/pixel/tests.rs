#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn rgb565(big_endian: bool) -> PixelFormat {
    PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    }
}

#[test]
fn native_wire_bytes_and_round_trip() {
    let bytes = PixelFormat::NATIVE.to_bytes();
    assert_eq!(
        bytes,
        [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]
    );
    assert_eq!(PixelFormat::parse(&bytes).unwrap(), PixelFormat::NATIVE);
    let be565 = rgb565(true);
    assert_eq!(PixelFormat::parse(&be565.to_bytes()).unwrap(), be565);
    assert_eq!(be565.bytes_per_pixel(), 2);
}

#[test]
fn parse_ignores_padding_and_reads_any_nonzero_flag_as_set() {
    let mut bytes = rgb565(false).to_bytes();
    bytes[2] = 7;
    bytes[13..].copy_from_slice(&[9, 9, 9]);
    assert!(PixelFormat::parse(&bytes).unwrap().big_endian);
}

#[test]
fn validate_refuses_what_decoding_cannot_use() {
    let bad_bpp = PixelFormat {
        bits_per_pixel: 24,
        ..PixelFormat::NATIVE
    };
    assert_eq!(bad_bpp.validate(), Err(PixelFormatError::BitsPerPixel(24)));
    let deep = PixelFormat {
        depth: 17,
        ..rgb565(false)
    };
    assert!(matches!(
        deep.validate(),
        Err(PixelFormatError::Depth { depth: 17, .. })
    ));
    let overflowing = PixelFormat {
        red_shift: 12,
        ..rgb565(false)
    };
    assert!(matches!(
        overflowing.validate(),
        Err(PixelFormatError::Channel { channel: "red", .. })
    ));
    let zero = PixelFormat {
        blue_max: 0,
        ..PixelFormat::NATIVE
    };
    assert!(matches!(
        zero.validate(),
        Err(PixelFormatError::Channel {
            channel: "blue",
            ..
        })
    ));
    // Colour-mapped formats carry no channel fields.
    let mapped = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        true_colour: false,
        red_max: 0,
        green_max: 0,
        blue_max: 0,
        ..PixelFormat::NATIVE
    };
    assert_eq!(mapped.validate(), Ok(()));
    assert!(PixelFormat::parse(&bad_bpp.to_bytes()).is_err());
}

/// `read` and `convert` must agree on every format.
fn check(format: &PixelFormat, map: &ColourMap, wire: &[u8], want: [u8; 4]) {
    let reader = PixelReader::new(format, map);
    assert_eq!(reader.read(wire), want, "read {format:?}");
    let mut out = [0u8; 8];
    let twice = [wire, wire].concat();
    assert_eq!(reader.convert(&twice, &mut out), 2);
    assert_eq!(out, [want, want].concat().as_slice(), "convert {format:?}");
}

#[test]
fn every_true_colour_size_and_byte_order() {
    let map = ColourMap::new();
    check(&PixelFormat::NATIVE, &map, &[1, 2, 3, 77], [1, 2, 3, 255]);
    let xrgb_be = PixelFormat {
        big_endian: true,
        ..PixelFormat::NATIVE
    };
    check(&xrgb_be, &map, &[77, 3, 2, 1], [1, 2, 3, 255]);
    // R, G, B, X in memory: little-endian with red at 0.
    let rgbx = PixelFormat {
        red_shift: 0,
        blue_shift: 16,
        ..PixelFormat::NATIVE
    };
    check(&rgbx, &map, &[3, 2, 1, 0], [1, 2, 3, 255]);
    // 565: red 31 → 255, green 1 → 4 (1*255/63 = 4.05), blue 16 → 132.
    let v: u16 = (31 << 11) | (1 << 5) | 16;
    check(&rgb565(false), &map, &v.to_le_bytes(), [132, 4, 255, 255]);
    check(&rgb565(true), &map, &v.to_be_bytes(), [132, 4, 255, 255]);
    // 555 with blue on top.
    let bgr555 = PixelFormat {
        depth: 15,
        red_max: 31,
        green_max: 31,
        blue_max: 31,
        red_shift: 0,
        green_shift: 5,
        blue_shift: 10,
        ..rgb565(true)
    };
    let v: u16 = (1 << 10) | (2 << 5) | 3;
    check(&bgr555, &map, &v.to_be_bytes(), [8, 16, 25, 255]);
    // 3-3-2 in 8 bits: red 7 → 255, green 3 → 109, blue 1 → 85.
    let rgb332 = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 5,
        green_shift: 2,
        blue_shift: 0,
        ..PixelFormat::NATIVE
    };
    check(
        &rgb332,
        &map,
        &[(7 << 5) | (3 << 2) | 1],
        [85, 109, 255, 255],
    );
    // 10 bits per channel in 32 bits, big-endian.
    let x2rgb10 = PixelFormat {
        depth: 30,
        big_endian: true,
        red_max: 1023,
        green_max: 1023,
        blue_max: 1023,
        red_shift: 20,
        green_shift: 10,
        blue_shift: 0,
        ..PixelFormat::NATIVE
    };
    let v: u32 = (1023 << 20) | (512 << 10) | 2;
    // 512*255/1023 = 127.6 → 128; 2*255/1023 = 0.5 → 0 (rounds half down at 0.498).
    check(&x2rgb10, &map, &v.to_be_bytes(), [0, 128, 255, 255]);
}

#[test]
fn colour_maps_of_every_size() {
    let mut map = ColourMap::new();
    map.set_entries(254, &[(0xffff, 0, 0), (0, 0x8000, 0xffff), (1, 1, 1)]);
    assert_eq!(map.entry(254), [0, 0, 255, 255]);
    assert_eq!(map.entry(255), [255, 128, 0, 255]);
    assert_eq!(map.entries().len(), 256, "entries past 255 are ignored");
    let mapped = |bits_per_pixel, big_endian| PixelFormat {
        bits_per_pixel,
        depth: 8,
        big_endian,
        true_colour: false,
        ..PixelFormat::NATIVE
    };
    check(&mapped(8, false), &map, &[255], [255, 128, 0, 255]);
    check(&mapped(16, true), &map, &[0, 254], [0, 0, 255, 255]);
    check(&mapped(16, false), &map, &[254, 0], [0, 0, 255, 255]);
    check(&mapped(32, true), &map, &[0, 0, 0, 255], [255, 128, 0, 255]);
    // Values the map cannot hold are black, not a panic.
    check(&mapped(16, true), &map, &[1, 0], [0, 0, 0, 255]);
    check(&mapped(32, false), &map, &[0, 0, 0, 1], [0, 0, 0, 255]);
}

#[test]
fn compact_pixel_rules() {
    let native = PixelFormat::NATIVE;
    assert_eq!(native.compact_pixel_offset(), Some(0));
    let be = PixelFormat {
        big_endian: true,
        ..native
    };
    assert_eq!(be.compact_pixel_offset(), Some(1));
    let high = PixelFormat {
        red_shift: 24,
        green_shift: 16,
        blue_shift: 8,
        ..native
    };
    assert_eq!(high.compact_pixel_offset(), Some(1));
    assert_eq!(
        PixelFormat {
            big_endian: true,
            ..high
        }
        .compact_pixel_offset(),
        Some(0)
    );
    assert_eq!(
        PixelFormat {
            depth: 32,
            ..native
        }
        .compact_pixel_offset(),
        None
    );
    assert_eq!(
        PixelFormat {
            true_colour: false,
            ..native
        }
        .compact_pixel_offset(),
        None
    );
    assert_eq!(rgb565(false).compact_pixel_offset(), None);
    // Colours spread over all four bytes cannot be compacted.
    let spread = PixelFormat {
        red_shift: 24,
        green_shift: 8,
        blue_shift: 0,
        ..native
    };
    assert_eq!(spread.compact_pixel_offset(), None);
}

#[test]
fn compact_readers_read_three_bytes() {
    let map = ColourMap::new();
    let native = PixelReader::compact(&PixelFormat::NATIVE, &map);
    assert_eq!(native.len(), 3);
    assert_eq!(native.read(&[1, 2, 3]), [1, 2, 3, 255]);
    let be = PixelFormat {
        big_endian: true,
        ..PixelFormat::NATIVE
    };
    let reader = PixelReader::compact(&be, &map);
    assert_eq!(reader.len(), 3);
    let mut out = [0; 8];
    assert_eq!(reader.convert(&[3, 2, 1, 6, 5, 4], &mut out), 2);
    assert_eq!(out, [1, 2, 3, 255, 4, 5, 6, 255]);
    assert_eq!(PixelReader::compact(&rgb565(true), &map).len(), 2);
}

#[test]
fn short_input_reads_black_and_convert_stops_at_the_shorter_side() {
    let reader = PixelReader::new(&PixelFormat::NATIVE, &ColourMap::new());
    assert_eq!(reader.read(&[1, 2]), [0, 0, 0, 255]);
    let mut out = [9u8; 6];
    assert_eq!(reader.convert(&[1, 2, 3, 4, 5, 6, 7, 8], &mut out), 1);
    assert_eq!(out, [1, 2, 3, 255, 9, 9]);
}

#[test]
fn invalid_formats_convert_without_panicking() {
    let map = ColourMap::new();
    for bits_per_pixel in [0, 1, 24, 255] {
        for shift in [0, 31, 32, 255] {
            let format = PixelFormat {
                bits_per_pixel,
                red_shift: shift,
                red_max: u16::MAX,
                green_max: 0,
                ..PixelFormat::NATIVE
            };
            let reader = PixelReader::new(&format, &map);
            let mut out = [0; 16];
            reader.convert(&[0xff; 16], &mut out);
            assert!(out.chunks_exact(4).all(|p| p[3] == 255));
            let _ = PixelReader::compact(&format, &map).read(&[0xff; 4]);
        }
    }
}
