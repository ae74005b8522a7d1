//! Decoder throughput in pixels per second on a generated 1920×1080
//! desktop (flat areas, text-like strips, a photo-like region), each
//! encoding produced by the simple encoders in `decoders/encode.rs`.
//!
//! Run with `cargo bench -p porthole-vnc --bench decoders`; criterion
//! reports "thrpt" in elements (pixels) per second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use porthole_vnc::decode::{encoding, Decoders, Progress, RectDecoder, Target};
use porthole_vnc::pixel::ColourMap;
use porthole_vnc::{Framebuffer, PixelFormat, Rect};

#[path = "decoders/encode.rs"]
mod encode;

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;

const RGB565: PixelFormat = PixelFormat {
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

/// An encoded update: rectangles and the bytes that carry them.
struct Workload {
    name: &'static str,
    format: PixelFormat,
    rects: Vec<(Rect, i32)>,
    stream: Vec<u8>,
}

impl Workload {
    fn pixels(&self) -> u64 {
        self.rects.iter().map(|(r, _)| r.area() as u64).sum()
    }
}

/// Decodes the whole update with fresh per-connection state, as the first
/// update of a connection would be.
fn decode(w: &Workload, fb: &mut Framebuffer, map: &ColourMap) {
    let mut decoders = Decoders::new(usize::MAX);
    let mut rest = w.stream.as_slice();
    for &(rect, enc) in &w.rects {
        let mut decoder = RectDecoder::new(rect, enc, fb).unwrap();
        let mut target = Target {
            framebuffer: fb,
            format: &w.format,
            colour_map: map,
        };
        match decoder.step(rest, &mut decoders, &mut target).unwrap() {
            Progress::Done { consumed } => rest = &rest[consumed..],
            Progress::NeedMore { .. } => panic!("{}: the stream is short", w.name),
        }
    }
    assert!(rest.is_empty(), "{}: bytes left over", w.name);
}

fn workloads() -> Vec<Workload> {
    let img = encode::desktop(WIDTH, HEIGHT, 1);
    let full = Rect::new(0, 0, WIDTH as u16, HEIGHT as u16);
    let mut out = Vec::new();
    for (suffix, format) in [("", PixelFormat::NATIVE), ("/rgb565", RGB565)] {
        let values = encode::values(&format, &img, WIDTH);
        let whole = |name, enc, stream| Workload {
            name,
            format,
            rects: vec![(full, enc)],
            stream,
        };
        let name = |base: &'static str| -> &'static str {
            if suffix.is_empty() {
                base
            } else {
                Box::leak(format!("{base}{suffix}").into_boxed_str())
            }
        };
        out.push(whole(
            name("raw"),
            encoding::RAW,
            encode::raw(&format, &values),
        ));
        out.push(whole(
            name("zrle"),
            encoding::ZRLE,
            encode::zrle(&mut encode::compressor(), &format, &values),
        ));
        if !suffix.is_empty() {
            continue;
        }
        out.push(whole(
            "hextile",
            encoding::HEXTILE,
            encode::hextile(&format, &values),
        ));
        out.push(whole(
            "trle",
            encoding::TRLE,
            encode::trle(&format, &values),
        ));
        out.push(whole(
            "zlib",
            encoding::ZLIB,
            encode::zlib(&mut encode::compressor(), &format, &values),
        ));
        out.push(whole(
            "rre",
            encoding::RRE,
            encode::rre(&format, &values, false),
        ));
        // CoRRE rectangles are at most 255×255.
        let mut corre = Workload {
            name: "corre",
            format,
            rects: Vec::new(),
            stream: Vec::new(),
        };
        for y in (0..HEIGHT).step_by(240) {
            for x in (0..WIDTH).step_by(240) {
                let (w, h) = (240.min(WIDTH - x), 240.min(HEIGHT - y));
                let part = values.crop(x, y, w, h);
                corre.stream.extend(encode::rre(&format, &part, true));
                corre.rects.push((
                    Rect::new(x as u16, y as u16, w as u16, h as u16),
                    encoding::CORRE,
                ));
            }
        }
        out.push(corre);
        tight_workloads(&img, &values, &mut out);
        // A scroll: the screen moves up by one text line, from (0, 16) to (0, 0).
        out.push(Workload {
            name: "copyrect",
            format,
            rects: vec![(
                Rect::new(0, 0, WIDTH as u16, HEIGHT as u16 - 16),
                encoding::COPY_RECT,
            )],
            stream: vec![0, 0, 0, 16],
        });
    }
    out
}

/// Tight as servers send it (256×128 rectangles, each filled, palettised
/// or gradient-filtered), each filter over the whole screen, and JPEG of a
/// photo-like screen at quality 80, in Tight and in the JPEG encoding.
fn tight_workloads(img: &[[u8; 3]], values: &encode::Values, out: &mut Vec<Workload>) {
    let format = PixelFormat::NATIVE;
    let full = Rect::new(0, 0, WIDTH as u16, HEIGHT as u16);
    let mut tight = Workload {
        name: "tight",
        format,
        rects: Vec::new(),
        stream: Vec::new(),
    };
    let mut zlibs = encode::tight_compressors();
    for y in (0..HEIGHT).step_by(128) {
        for x in (0..WIDTH).step_by(256) {
            let (w, h) = (256.min(WIDTH - x), 128.min(HEIGHT - y));
            let part = values.crop(x, y, w, h);
            tight
                .stream
                .extend(encode::tight(&mut zlibs, &format, &part));
            tight.rects.push((
                Rect::new(x as u16, y as u16, w as u16, h as u16),
                encoding::TIGHT,
            ));
        }
    }
    out.push(tight);
    // A 256-colour version of the desktop for the palette filter.
    let quantised: Vec<[u8; 3]> = img
        .iter()
        .map(|&[r, g, b]| [r & 0xe0, g & 0xe0, b & 0xc0])
        .collect();
    let palette_values = encode::values(&format, &quantised, WIDTH);
    for (name, filter, values) in [
        ("tight/copy", encode::TightFilter::Copy, values),
        (
            "tight/palette",
            encode::TightFilter::Palette,
            &palette_values,
        ),
        ("tight/gradient", encode::TightFilter::Gradient, values),
    ] {
        let mut zlibs = encode::tight_compressors();
        out.push(Workload {
            name,
            format,
            rects: vec![(full, encoding::TIGHT)],
            stream: encode::tight_basic(&mut zlibs, &format, values, filter, 0, 0),
        });
    }
    let jpeg = encode::jpeg(&encode::photo(WIDTH, HEIGHT, 3), WIDTH, 80);
    out.push(Workload {
        name: "tight/jpeg",
        format,
        rects: vec![(full, encoding::TIGHT)],
        stream: encode::tight_image(0x90, &jpeg),
    });
    out.push(Workload {
        name: "jpeg",
        format,
        rects: vec![(full, encoding::JPEG)],
        stream: jpeg,
    });
}

fn decoders(c: &mut Criterion) {
    let map = ColourMap::new();
    let mut group = c.benchmark_group("decode_1920x1080");
    for w in workloads() {
        let mut fb = Framebuffer::new(WIDTH as u16, HEIGHT as u16);
        eprintln!(
            "{:>14}: {:>9} bytes on the wire for {} pixels",
            w.name,
            w.stream.len(),
            w.pixels()
        );
        group.throughput(Throughput::Elements(w.pixels()));
        group.bench_function(w.name, |b| {
            b.iter(|| {
                decode(&w, &mut fb, &map);
                black_box(fb.data().first().copied())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = decoders
}
criterion_main!(benches);
