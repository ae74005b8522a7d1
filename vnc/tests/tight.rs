//! Tight, TightPNG and Tight's JPEG against real servers: TigerVNC's Xvnc,
//! libvncserver's x11vnc and QEMU, showing text-like content next to a
//! photo-like image. Lossless captures (no quality pseudo-encoding sent)
//! must equal the server's own screenshot pixel for pixel; captures with
//! JPEG allowed must stay within 30 dB PSNR of it.
//!
//! A test whose server is not installed says so and passes, unless `CI` is
//! set: there a missing server fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::process::Command;
use std::time::Instant;

use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{tools_available, TempDir};
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::x11vnc::{X11vnc, X11vncOptions};
use porthole_harness::xvnc::{Xvnc, XvncOptions};

/// The harness's test pattern on the left, a photo-like picture (smooth
/// colour waves with grain, where servers pick JPEG) on the right.
fn screen(width: u32, height: u32) -> RgbImage {
    let pattern = images::test_pattern(width / 2, height);
    let mut seed = 0x1234_5678u32;
    RgbImage::from_fn(width, height, |x, y| {
        if x < width / 2 {
            return *pattern.get_pixel(x, y);
        }
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = (seed % 17) as f32 - 8.0;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let channel = |v: f32| (v + grain).clamp(0.0, 255.0) as u8;
        image::Rgb([
            channel(128.0 + 100.0 * (fx * 9.0 + fy * 4.0).sin()),
            channel(120.0 + 90.0 * (fy * 7.0 - fx * 3.0).cos()),
            channel(110.0 + 80.0 * ((fx - 0.7) * (fy - 0.5) * 30.0).sin()),
        ])
    })
}

/// Captures `address` with `args` added; returns the picture.
fn capture(address: &str, args: &[&str], what: &str) -> RgbImage {
    let dir = TempDir::new("porthole-tight").unwrap();
    let out = dir.path().join("shot.png");
    let start = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args(["capture", address, out.to_str().unwrap(), "--timeout", "30"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: porthole-vnc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{what}: captured in {:?}", start.elapsed());
    images::load(&out).unwrap()
}

/// Asserts a lossy capture is close to `truth` (and really lossy, so the
/// JPEG path ran).
fn assert_jpeg_close(truth: &RgbImage, shot: &RgbImage, what: &str) {
    let psnr = images::psnr(truth, shot).unwrap();
    eprintln!("{what}: PSNR {psnr:.1} dB");
    assert!(psnr >= 30.0, "{what}: PSNR {psnr:.1} dB is below 30 dB");
    assert!(
        images::compare(truth, shot).is_err(),
        "{what}: the capture is exact, so the server sent no JPEG"
    );
}

#[test]
fn xvnc_tight_is_exact_without_jpeg_and_close_with_it() {
    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 800,
        height: 600,
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&screen(800, 600)).unwrap();
    let truth = server.screenshot().unwrap();
    let address = server.address();
    let lossless = capture(
        &address,
        &["--encodings", "tight", "--quality", "lossless"],
        "xvnc tight lossless",
    );
    images::assert_same(&truth, &lossless, "xvnc tight without JPEG");
    // The default on loopback is lossless too.
    let default = capture(&address, &["--encodings", "tight"], "xvnc tight default");
    images::assert_same(&truth, &default, "xvnc tight on loopback by default");
    let jpeg = capture(
        &address,
        &["--encodings", "tight", "--quality", "6"],
        "xvnc tight quality 6",
    );
    assert_jpeg_close(&truth, &jpeg, "xvnc tight quality 6");
}

#[test]
fn x11vnc_tight_and_tightpng() {
    if !tools_available(&["Xvfb", "x11vnc", "display", "import"]) {
        return;
    }
    let server = X11vnc::start(&X11vncOptions {
        width: 640,
        height: 480,
        image: Some(screen(640, 480)),
        ..X11vncOptions::default()
    })
    .unwrap();
    let truth = server.screenshot().unwrap();
    let address = server.address();
    let shot = capture(
        &address,
        &["--encodings", "tight", "--quality", "lossless"],
        "x11vnc tight",
    );
    images::assert_same(&truth, &shot, "x11vnc tight without JPEG");
    let shot = capture(
        &address,
        &["--encodings", "tightpng", "--quality", "lossless"],
        "x11vnc tightpng",
    );
    images::assert_same(&truth, &shot, "x11vnc tightpng without JPEG");
    let what = "x11vnc tight quality 6";
    let shot = capture(&address, &["--encodings", "tight", "--quality", "6"], what);
    assert_jpeg_close(&truth, &shot, what);
    // libvncserver's TightPNG may answer with PNG even when JPEG is allowed.
    let what = "x11vnc tightpng quality 6";
    let shot = capture(
        &address,
        &["--encodings", "tightpng", "--quality", "6"],
        what,
    );
    let psnr = images::psnr(&truth, &shot).unwrap_or(0.0);
    eprintln!("{what}: PSNR {psnr:.1} dB");
    assert!(psnr >= 30.0, "{what}: PSNR {psnr:.1} dB is below 30 dB");
}

#[test]
fn qemu_tight_and_tightpng() {
    if !tools_available(&["qemu-system-x86_64"]) {
        return;
    }
    let mut qemu = Qemu::start(&QemuOptions::default()).unwrap();
    let truth = qemu.screendump().unwrap();
    let address = qemu.address();
    for encoding in ["tight", "tightpng"] {
        let what = format!("qemu {encoding}");
        let shot = capture(
            &address,
            &["--encodings", encoding, "--quality", "lossless"],
            &what,
        );
        images::assert_same(&truth, &shot, &what);
        // QEMU's firmware text has too few colours for JPEG: whatever the
        // server picks must still be close.
        let what = format!("qemu {encoding} quality 6");
        let shot = capture(
            &address,
            &["--encodings", encoding, "--quality", "6"],
            &what,
        );
        let psnr = images::psnr(&truth, &shot).unwrap_or(f64::INFINITY);
        eprintln!("{what}: PSNR {psnr:.1} dB");
        assert!(psnr >= 30.0, "{what}: PSNR {psnr:.1} dB is below 30 dB");
    }
}
