//! How long full-screen changes at 1920×1080 take from the network to the
//! screen in the `VncDisplay` widget, and the CPU the viewer spends per
//! frame, with the GL renderer and the software one.
//!
//! A crafted server (this same binary, re-run as a child process so its
//! CPU is not counted) sends full-screen updates in Raw, ZRLE or Tight at
//! a steady rate, each only when the client has asked for one, as real
//! servers do. The widget runs in a 1920×1080 window at 100% under Xvfb
//! (Mesa's llvmpipe: software GL). Latency is the widget's
//! `frame-latency-us`: from the moment the driver read the last byte of an
//! update to the end of the frame that shows it (GDK's after-paint, once
//! the frame has been handed to the X server), and, to be sure the pixels
//! are really there, plus a round trip to the X server right after that
//! frame (`gdk::Display::sync`: Xvfb has no compositor, so once it has
//! processed the frame's image, the pixels are on its screen).
//!
//! `cargo bench -p porthole-vnc --features gtk --bench latency
//! [-- --seconds 10 --fps 20 --renderer gl,software --encoding raw,zrle,tight]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::{Compress, FlushCompress};
use gtk::prelude::*;
use porthole_harness::process::{in_ci, tools_available, ServerProcess};
use porthole_vnc::address::Address;
use porthole_vnc::gtk::{ScalingMode, VncDisplay, RENDERER_ENV};
use porthole_vnc::PixelFormat;

#[path = "../tests/support/main_loop.rs"]
mod main_loop;
use main_loop::{pump_until, settle};

#[path = "decoders/encode.rs"]
mod encode;

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;

struct Options {
    seconds: f64,
    fps: f64,
    renderers: Vec<String>,
    encodings: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--crafted-server") {
        crafted_server(&args[1], &args[2]);
        return;
    }
    let mut options = Options {
        seconds: 10.0,
        fps: 20.0,
        renderers: vec!["gl".into(), "software".into()],
        encodings: vec!["raw".into(), "zrle".into(), "tight".into()],
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let list = |v: Option<String>| -> Vec<String> {
            v.unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect()
        };
        match arg.as_str() {
            "--seconds" => options.seconds = args.next().unwrap().parse().unwrap(),
            "--fps" => options.fps = args.next().unwrap().parse().unwrap(),
            "--renderer" => options.renderers = list(args.next()),
            "--encoding" => options.encodings = list(args.next()),
            // cargo bench passes --bench; other harness flags mean nothing here.
            _ => {}
        }
    }
    if !tools_available(&["Xvfb"]) {
        assert!(!in_ci(), "Xvfb is needed in CI");
        eprintln!("SKIPPED: Xvfb is missing");
        return;
    }
    run(&options);
}

/// One measured configuration.
struct Outcome {
    latencies_us: Vec<u64>,
    /// The same, until the X server has processed the frame.
    in_x_us: Vec<u64>,
    cpu: Duration,
    x_cpu: Duration,
    updates_sent: u64,
    seconds: f64,
}

fn run(options: &Options) {
    let xvfb = porthole_harness::display::Display::start(1920, 1080).expect("Xvfb");
    let x_display = xvfb.name();
    std::env::set_var("DISPLAY", &x_display);
    std::env::set_var("GDK_BACKEND", "x11");
    std::env::remove_var(RENDERER_ENV);
    gtk::init().unwrap();
    println!(
        "1920×1080 full-screen updates at {} per second for {} s, window at 100% under Xvfb (llvmpipe)",
        options.fps, options.seconds
    );
    println!();
    println!("| renderer | encoding | frames | latency to painted: mean / median / p95 / max | to in the X server: mean / median / p95 | viewer CPU per frame | Xvfb CPU per frame | updates sent |");
    println!("|---|---|---|---|---|---|---|---|");
    for renderer in &options.renderers {
        for encoding in &options.encodings {
            let outcome = measure(options, renderer, encoding, xvfb.pid());
            let painted = Stats::of(&outcome.latencies_us);
            let in_x = Stats::of(&outcome.in_x_us);
            let frames = outcome.latencies_us.len().max(1);
            println!(
                "| {renderer} | {encoding} | {} ({:.1}/s) | {:.1} / {:.1} / {:.1} / {:.1} ms | {:.1} / {:.1} / {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                outcome.latencies_us.len(),
                outcome.latencies_us.len() as f64 / outcome.seconds,
                painted.mean,
                painted.median,
                painted.p95,
                painted.max,
                in_x.mean,
                in_x.median,
                in_x.p95,
                outcome.cpu.as_secs_f64() * 1000.0 / frames as f64,
                outcome.x_cpu.as_secs_f64() * 1000.0 / frames as f64,
                outcome.updates_sent,
            );
        }
    }
}

/// Milliseconds.
struct Stats {
    mean: f64,
    median: f64,
    p95: f64,
    max: f64,
}

impl Stats {
    fn of(micros: &[u64]) -> Self {
        let mut sorted = micros.to_vec();
        sorted.sort_unstable();
        let n = sorted.len().max(1);
        let ms = |us: u64| us as f64 / 1000.0;
        let pick = |q: f64| {
            ms(sorted
                .get(((n - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0))
        };
        Self {
            mean: ms(sorted.iter().sum::<u64>() / n as u64),
            median: pick(0.5),
            p95: pick(0.95),
            max: ms(sorted.last().copied().unwrap_or(0)),
        }
    }
}

/// CPU time (user + system) of process `pid` ("self" for this one).
fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / 100)
}

fn measure(options: &Options, renderer: &str, encoding: &str, xvfb_pid: u32) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new(std::env::current_exe().unwrap());
    server
        .args(["--crafted-server", encoding])
        .arg(format!("{port}:{}", options.fps))
        .stdout(Stdio::piped());
    let mut server = ServerProcess::spawn("crafted server", server).unwrap();
    server
        .wait_until("listening", Duration::from_secs(120), |p| {
            p.stdout().contains("listening").then_some(())
        })
        .unwrap();

    if renderer == "software" {
        std::env::set_var(RENDERER_ENV, "software");
    } else {
        std::env::remove_var(RENDERER_ENV);
    }
    let display = VncDisplay::new();
    display.set_scaling_mode(ScalingMode::Zoom);
    display.set_zoom(1.0);
    display.set_smooth(false);
    display.set_resize_guest(false);
    let window = gtk::Window::builder()
        .title(format!("latency-{renderer}-{encoding}"))
        .decorated(false)
        .default_width(WIDTH as i32)
        .default_height(HEIGHT as i32)
        .child(&display)
        .build();
    // As the viewer window does while it shows a console: the display
    // draws every pixel, so the window's background under it would be a
    // full-window pass wasted per frame.
    let css = gtk::CssProvider::new();
    css.load_from_data("window.console { background: none; }");
    gtk::style_context_add_provider_for_display(
        &WidgetExt::display(&window),
        &css,
        gtk::STYLE_PROVIDER_PRIORITY_APPLICATION,
    );
    window.add_css_class("console");
    window.present();
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let in_x = Rc::new(RefCell::new(Vec::new()));
    let recording = Rc::new(std::cell::Cell::new(false));
    {
        let latencies = latencies.clone();
        let in_x = in_x.clone();
        let recording = recording.clone();
        let x = gtk::gdk::Display::default().unwrap();
        // Emitted at the end of the frame that showed new updates.
        display.connect_notify_local(Some("frame-latency-us"), move |display, _| {
            if recording.get() {
                let painted = Instant::now();
                x.sync();
                let synced = painted.elapsed().as_micros() as u64;
                latencies.borrow_mut().push(display.frame_latency_us());
                in_x.borrow_mut().push(display.frame_latency_us() + synced);
            }
        });
    }
    display.connect_address(&Address::parse(&format!("127.0.0.1::{port}")).unwrap());
    let shown = pump_until(Duration::from_secs(30), || display.frame_latency_us() > 0);
    assert!(shown, "no update reached the screen");
    assert_eq!(
        display.renderer_name(),
        renderer,
        "the widget drew with another renderer"
    );
    // Past the first frames (shader compilation, texture allocation).
    settle(Duration::from_secs(1));
    let sent_before = updates_sent(&server);
    let (cpu_before, x_before) = (cpu_of("self"), cpu_of(&xvfb_pid.to_string()));
    let started = Instant::now();
    recording.set(true);
    settle(Duration::from_secs_f64(options.seconds));
    recording.set(false);
    let outcome = Outcome {
        latencies_us: latencies.take(),
        in_x_us: in_x.take(),
        cpu: cpu_of("self").saturating_sub(cpu_before),
        x_cpu: cpu_of(&xvfb_pid.to_string()).saturating_sub(x_before),
        updates_sent: updates_sent(&server) - sent_before,
        seconds: started.elapsed().as_secs_f64(),
    };
    display.disconnect();
    pump_until(Duration::from_secs(5), || !display.connected());
    window.destroy();
    settle(Duration::from_millis(200));
    outcome
}

/// How many updates the crafted server has sent (it prints a count per
/// update).
fn updates_sent(server: &ServerProcess) -> u64 {
    server
        .stdout()
        .lines()
        .filter_map(|l| l.strip_prefix("sent "))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0)
}

/// The crafted server: one client, security None, a 1920×1080 screen in
/// the native pixel format; a full-screen update in `encoding` every
/// 1/fps s, sent only when the client has asked for one.
fn crafted_server(encoding: &str, spec: &str) {
    let (port, fps) = spec.split_once(':').unwrap();
    let fps: f64 = fps.parse().unwrap();
    let (intro, looped) = frames(encoding);
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    println!("listening");
    std::io::stdout().flush().unwrap();
    let (mut socket, _) = listener.accept().unwrap();
    socket.set_nodelay(true).unwrap();
    socket.write_all(b"RFB 003.008\n").unwrap();
    let mut version = [0u8; 12];
    socket.read_exact(&mut version).unwrap();
    socket.write_all(&[1, 1]).unwrap();
    let mut chosen = [0u8; 1];
    socket.read_exact(&mut chosen).unwrap();
    socket.write_all(&[0, 0, 0, 0]).unwrap();
    let mut client_init = [0u8; 1];
    socket.read_exact(&mut client_init).unwrap();
    let mut init = Vec::new();
    init.extend_from_slice(&(WIDTH as u16).to_be_bytes());
    init.extend_from_slice(&(HEIGHT as u16).to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    init.extend_from_slice(&7u32.to_be_bytes());
    init.extend_from_slice(b"crafted");
    socket.write_all(&init).unwrap();

    let requested = Arc::new(AtomicBool::new(false));
    let reader = socket.try_clone().unwrap();
    let flag = Arc::clone(&requested);
    std::thread::spawn(move || read_requests(reader, &flag));

    let interval = Duration::from_secs_f64(1.0 / fps);
    let mut next = Instant::now();
    let mut sent = 0u64;
    for frame in intro.iter().chain(looped.iter().cycle()) {
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if !requested.swap(false, Ordering::SeqCst) {
            continue;
        }
        if socket.write_all(frame).is_err() {
            return;
        }
        sent += 1;
        println!("sent {sent}");
        let _ = std::io::stdout().flush();
    }
}

/// Reads client messages, raising `requested` for each update request;
/// returns when the client closes.
fn read_requests(mut socket: TcpStream, requested: &AtomicBool) {
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = match socket.read(&mut buffer) {
            Ok(0) | Err(_) => std::process::exit(0),
            Ok(n) => n,
        };
        pending.extend_from_slice(&buffer[..n]);
        while let Some(len) = client_message_len(&pending) {
            if len > pending.len() {
                break;
            }
            match pending[0] {
                3 => requested.store(true, Ordering::SeqCst),
                0 => assert_eq!(
                    PixelFormat::parse(pending[4..20].try_into().unwrap()).unwrap(),
                    PixelFormat::NATIVE,
                    "the client asked for another pixel format"
                ),
                _ => {}
            }
            pending.drain(..len);
        }
    }
}

fn client_message_len(buf: &[u8]) -> Option<usize> {
    let byte = |i: usize| buf.get(i).copied().map(usize::from);
    let u16_at = |i: usize| Some(byte(i)? << 8 | byte(i + 1)?);
    Some(match *buf.first()? {
        0 => 20,
        2 => 4 + 4 * u16_at(2)?,
        3 => 10,
        4 => 8,
        5 => 6,
        6 => {
            let len = i32::from_be_bytes(buf.get(4..8)?.try_into().ok()?);
            8 + len.unsigned_abs() as usize
        }
        150 => 10,
        248 => 9 + byte(8)?,
        251 => 8 + 16 * byte(6)?,
        255 if byte(1)? == 0 => 12,
        255 if u16_at(2)? == 2 => 10,
        255 => 4,
        other => panic!("the client sent message type {other}, which this server cannot size"),
    })
}

/// A FramebufferUpdate header and rectangle headers.
fn update_header(rects: usize) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&(rects as u16).to_be_bytes());
    out
}

fn rect_header(out: &mut Vec<u8>, x: usize, y: usize, w: usize, h: usize, encoding: i32) {
    for v in [x, y, w, h] {
        out.extend_from_slice(&(v as u16).to_be_bytes());
    }
    out.extend_from_slice(&encoding.to_be_bytes());
}

/// Full-screen updates: those sent once first, then those sent in a loop.
/// Two desktop-like screens take turns. ZRLE's one zlib stream is fully
/// flushed after each update, so from the second round on a screen's
/// bytes do not depend on what came before (checked); Tight resets its
/// streams at each update.
fn frames(encoding: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let format = PixelFormat::NATIVE;
    let screens: Vec<encode::Values> = [1, 2]
        .iter()
        .map(|seed| encode::values(&format, &encode::desktop(WIDTH, HEIGHT, *seed), WIDTH))
        .collect();
    match encoding {
        "raw" => {
            let looped = screens
                .iter()
                .map(|values| {
                    let mut out = update_header(1);
                    rect_header(&mut out, 0, 0, WIDTH, HEIGHT, 0);
                    out.extend_from_slice(&encode::raw(&format, values));
                    out
                })
                .collect();
            (Vec::new(), looped)
        }
        "zrle" => {
            let mut zlib = encode::compressor();
            let mut encoded = |values: &encode::Values| {
                let block = full_flushed_block(&mut zlib, &encode::rle_tiles(&format, values, 64));
                let mut out = update_header(1);
                rect_header(&mut out, 0, 0, WIDTH, HEIGHT, 16);
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
                out
            };
            // The first update carries the zlib header.
            let intro = vec![encoded(&screens[0]), encoded(&screens[1])];
            let looped = vec![encoded(&screens[0]), encoded(&screens[1])];
            assert_eq!(
                encoded(&screens[0]),
                looped[0],
                "ZRLE updates do not repeat"
            );
            assert_eq!(
                encoded(&screens[1]),
                looped[1],
                "ZRLE updates do not repeat"
            );
            (intro, looped)
        }
        "tight" => {
            let looped = screens
                .iter()
                .map(|values| {
                    let mut zlibs = encode::tight_compressors();
                    let mut body = Vec::new();
                    let mut rects = 0;
                    for y in (0..HEIGHT).step_by(128) {
                        for x in (0..WIDTH).step_by(256) {
                            let (w, h) = (256.min(WIDTH - x), 128.min(HEIGHT - y));
                            rect_header(&mut body, x, y, w, h, 7);
                            let start = body.len();
                            let part = values.crop(x, y, w, h);
                            body.extend(encode::tight(&mut zlibs, &format, &part));
                            if rects == 0 {
                                // Fresh compressors for every update: the
                                // client resets all four streams first.
                                body[start] |= 0x0f;
                            }
                            rects += 1;
                        }
                    }
                    let mut out = update_header(rects);
                    out.extend(body);
                    out
                })
                .collect();
            (Vec::new(), looped)
        }
        other => panic!("unknown encoding {other}: raw, zrle or tight"),
    }
}

/// `data` through `zlib` ending with a full flush (no reference to earlier
/// data after it).
fn full_flushed_block(zlib: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity());
        }
        let before = zlib.total_in();
        zlib.compress_vec(input, &mut out, FlushCompress::Full)
            .unwrap();
        input = &input[(zlib.total_in() - before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    out
}
