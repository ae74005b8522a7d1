//! The tokio driver shares its framebuffer with the widget behind a lock;
//! the widget takes it on the GTK main thread to upload each frame. A
//! JPEG is the slowest rectangle there is to decode, so the driver must
//! not hold the lock while it decodes one, only while it copies the
//! decoded rows in: otherwise a frame is late by the whole decode.
//!
//! A crafted server sends full-screen 4K Tight JPEG updates of a grainy
//! photo-like picture; another thread locks the framebuffer every
//! millisecond, as a busy receiver would, and the longest it ever waits
//! must stay well below the time one decode of that JPEG takes (measured
//! here, with the same decoder). The picture must arrive intact. Then the
//! same against TigerVNC's Xvnc sending Tight JPEG at 1080p, as real
//! servers do (in rectangles of at most 64K pixels), in the clear and
//! inside TLS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::tools_available;
use porthole_harness::rfb;
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};
use porthole_vnc::address::Address;
use porthole_vnc::decode::encoding;
use porthole_vnc::driver::{self, DriverEvent};
use porthole_vnc::proto::Quality;
use porthole_vnc::{Config, Event};

const WIDTH: u16 = 3840;
const HEIGHT: u16 = 2160;
const UPDATES: usize = 6;

/// Smooth colour waves with grain: what servers send as JPEG, and slow to
/// decode (every block has detail).
fn photo(width: u32, height: u32) -> RgbImage {
    let mut seed = 0x9e37_79b9u32;
    RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = (seed % 33) as f32 - 16.0;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let channel = |v: f32| (v + grain).clamp(0.0, 255.0) as u8;
        image::Rgb([
            channel(128.0 + 100.0 * (fx * 9.0 + fy * 4.0).sin()),
            channel(120.0 + 90.0 * (fy * 7.0 - fx * 3.0).cos()),
            channel(110.0 + 80.0 * ((fx - 0.7) * (fy - 0.5) * 30.0).sin()),
        ])
    })
}

/// Tight's compact length.
fn compact_len(len: usize) -> Vec<u8> {
    assert!(len < 1 << 22, "a Tight length has 22 bits");
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0x3fff => vec![len as u8 | 0x80, (len >> 7) as u8],
        _ => vec![len as u8 | 0x80, (len >> 7) as u8 | 0x80, (len >> 14) as u8],
    }
}

/// Serves RFB 3.8 with no security and a `WIDTH`×`HEIGHT` screen, then
/// `UPDATES` updates of one full-screen Tight JPEG rectangle each; holds
/// the connection until the client closes it.
fn serve(jpeg: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        rfb::serve_handshake(&mut socket, WIDTH, HEIGHT, b"jpeg4").unwrap();
        let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0];
        update.extend_from_slice(&WIDTH.to_be_bytes());
        update.extend_from_slice(&HEIGHT.to_be_bytes());
        update.extend_from_slice(&7i32.to_be_bytes());
        update.push(0x90);
        update.extend(compact_len(jpeg.len()));
        update.extend_from_slice(&jpeg);
        for _ in 0..UPDATES {
            if socket.write_all(&update).is_err() {
                return;
            }
        }
        let mut rest = [0u8; 4096];
        while socket.read(&mut rest).unwrap_or(0) > 0 {}
    });
    port
}

/// What a receiver saw while the driver took `updates` updates.
struct Watched {
    /// The longest a lock of the framebuffer waited.
    max_wait: Duration,
    locks: usize,
    /// The screen at the end.
    picture: RgbImage,
}

/// Connects to `address` with `config` and takes `updates` updates (asking
/// for a full one after each when `refresh`), while another thread locks
/// the framebuffer every millisecond and times each wait.
fn watch(address: &str, config: Config, updates: usize, refresh: bool) -> Watched {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let address = Address::parse(address).unwrap();
        let stream = driver::connect(&address, driver::DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        let (handle, mut events, join) = driver::spawn(stream, config, None);
        let stop = Arc::new(AtomicBool::new(false));
        // Started once connected: allocating the screen at ServerInit (33 MB
        // at 4K) is not what this measures.
        let mut receiver = None;
        let mut completed = 0;
        let deadline = Duration::from_secs(120);
        while completed < updates {
            if receiver.is_none() && handle.lock_framebuffer().width() > 0 {
                let (handle, stop) = (handle.clone(), Arc::clone(&stop));
                receiver = Some(thread::spawn(move || {
                    let mut waits = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        let fb = handle.lock_framebuffer();
                        waits.push(start.elapsed());
                        drop(fb);
                        thread::sleep(Duration::from_millis(1));
                    }
                    waits
                }));
            }
            match tokio::time::timeout(deadline, events.recv()).await {
                Ok(Some(DriverEvent::Session(Event::UpdateComplete))) => {
                    completed += 1;
                    if refresh {
                        handle.request_update(false, None);
                    }
                }
                Ok(Some(DriverEvent::Closed(result))) => panic!("closed early: {result:?}"),
                Ok(Some(DriverEvent::Session(_))) => {}
                Ok(None) => panic!("the driver ended without Closed"),
                Err(_) => panic!("only {completed} of {updates} updates in {deadline:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let waits = receiver.expect("connected").join().unwrap();
        let picture = {
            let fb = handle.lock_framebuffer();
            let (width, stride) = (u32::from(fb.width()), fb.stride());
            RgbImage::from_fn(width, u32::from(fb.height()), |x, y| {
                let i = y as usize * stride + x as usize * 4;
                let px = &fb.data()[i..i + 4];
                image::Rgb([px[2], px[1], px[0]])
            })
        };
        handle.shutdown();
        while !matches!(events.recv().await, Some(DriverEvent::Closed(_)) | None) {}
        join.await.unwrap();
        Watched {
            max_wait: waits.iter().max().copied().unwrap_or_default(),
            locks: waits.len(),
            picture,
        }
    })
}

#[test]
fn a_receiver_never_waits_for_a_jpeg_decode() {
    let picture = photo(u32::from(WIDTH), u32::from(HEIGHT));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&picture)
        .unwrap();
    // What one decode of it costs here and now (image's JPEG decoder is
    // zune-jpeg, the driver's too), the best of three.
    let decode_time = (0..3)
        .map(|_| {
            let start = Instant::now();
            image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
            start.elapsed()
        })
        .min()
        .unwrap();
    let port = serve(jpeg);
    let address = format!("127.0.0.1::{port}");
    let watched = watch(&address, Config::default(), UPDATES, false);
    eprintln!(
        "{UPDATES} updates of a {WIDTH}×{HEIGHT} JPEG: one decode takes {:.1} ms; \
         the longest of {} framebuffer locks waited {:.1} ms",
        decode_time.as_secs_f64() * 1e3,
        watched.locks,
        watched.max_wait.as_secs_f64() * 1e3,
    );
    let psnr = images::psnr(&picture, &watched.picture).unwrap();
    assert!(
        psnr >= 30.0,
        "the decoded picture is {psnr:.1} dB from the original"
    );
    assert!(
        watched.max_wait < decode_time / 2,
        "a framebuffer lock waited {:?}, while one decode takes {decode_time:?}: \
         the driver holds the lock while it decodes",
        watched.max_wait
    );
}

#[test]
fn xvnc_tight_jpeg_keeps_the_framebuffer_lock_free() {
    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    // In the clear and inside anonymous TLS (where the session holds
    // decrypted bytes while it waits for an image's decode).
    for (what, security) in [
        ("no security", XvncSecurity::None),
        (
            "TLSNone",
            XvncSecurity::Custom {
                types: "TLSNone".to_owned(),
                password: None,
                plain_users: Vec::new(),
                x509: None,
            },
        ),
    ] {
        let server = Xvnc::start(&XvncOptions {
            width: 1920,
            height: 1080,
            security,
            ..XvncOptions::default()
        })
        .unwrap();
        server.show_image(&photo(1920, 1080)).unwrap();
        let truth = server.screenshot().unwrap();
        let config = Config {
            encodings: vec![encoding::TIGHT],
            quality: Quality::Jpeg(6),
            ..Config::default()
        };
        let watched = watch(&server.address(), config, 20, true);
        eprintln!(
            "Xvnc ({what}), 20 full 1920×1080 Tight JPEG updates: the longest of {} \
             framebuffer locks waited {:.2} ms",
            watched.locks,
            watched.max_wait.as_secs_f64() * 1e3,
        );
        let psnr = images::psnr(&truth, &watched.picture).unwrap();
        assert!(
            psnr >= 30.0,
            "{what}: the picture is {psnr:.1} dB from Xvnc's"
        );
        assert!(
            images::compare(&truth, &watched.picture).is_err(),
            "{what}: the picture is exact, so Xvnc sent no JPEG"
        );
    }
}
