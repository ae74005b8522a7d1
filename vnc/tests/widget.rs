//! The `VncDisplay` widget in a real GTK window under Xvfb, connected to a
//! real Xvnc showing a known picture: what our window shows must be the
//! server's screen, pixel for pixel at 100%, and a nearest-neighbour
//! scaling of it at 50% and 200%, with the GL renderer and the software
//! one; typing, resizing and the clipboard through the same widget.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::{Duration, Instant};

use gtk::glib;
use gtk::prelude::*;
use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{in_ci, run, tools_available, ServerProcess};
use porthole_harness::xvnc::{self, Xvnc, XvncOptions};
use porthole_vnc::address::Address;
use porthole_vnc::gtk::{ScalingMode, VncDisplay, RENDERER_ENV};

#[path = "support/main_loop.rs"]
mod main_loop;
use main_loop::{pump_until, settle};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// Our window's own pixels, taken by the X server.
fn window_screenshot(display: &str, title: &str) -> RgbImage {
    let mut search = Command::new("xdotool");
    search
        .env("DISPLAY", display)
        .args(["search", "--name", title]);
    let ids = String::from_utf8(run(search).unwrap()).unwrap();
    let id = ids
        .lines()
        .next()
        .expect("our window is on the display")
        .trim()
        .to_owned();
    let mut import = Command::new("import");
    import
        .arg("-display")
        .arg(display)
        .args(["-window", &id, "png:-"]);
    images::load_png(&run(import).unwrap()).unwrap()
}

fn crop(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    assert!(
        image.width() >= width && image.height() >= height,
        "the window is {}×{}, smaller than the {width}×{height} expected",
        image.width(),
        image.height()
    );
    image::imageops::crop_imm(image, 0, 0, width, height).to_image()
}

/// One window with one widget, connected to `server`.
struct Viewer {
    window: gtk::Window,
    display: VncDisplay,
    title: String,
}

impl Viewer {
    /// Opens a viewer; with `exact`, waits until the widget holds
    /// exactly the server's screen, otherwise just for a first update.
    fn open(server: &Xvnc, title: &str, exact: bool) -> Self {
        Self::open_sized(server, title, exact, (WIDTH as i32, HEIGHT as i32))
    }

    /// Like [`Viewer::open`], in a window of `size` (logical pixels).
    fn open_sized(server: &Xvnc, title: &str, exact: bool, size: (i32, i32)) -> Self {
        let display = VncDisplay::new();
        display.set_scaling_mode(ScalingMode::Zoom);
        display.set_zoom(1.0);
        display.set_smooth(false);
        display.set_resize_guest(false);
        let window = gtk::Window::builder()
            .title(title)
            .decorated(false)
            .default_width(size.0)
            .default_height(size.1)
            .child(&display)
            .build();
        window.present();
        let address = Address::parse(&format!("127.0.0.1::{}", server.port)).unwrap();
        display.connect_address(&address);
        // The shared framebuffer holds the whole screen once its first
        // update arrived (the server's screen is read again each time, as
        // a client on it may still be drawing).
        let arrived = pump_until(Duration::from_secs(20), || {
            if !exact {
                // TigerVNC draws the cursor into the picture when the
                // pointer was moved by someone else, so it may differ.
                return display.screenshot().is_some();
            }
            let expected = xvnc::screenshot(&server.display_name()).unwrap();
            display
                .screenshot()
                .is_some_and(|t| texture_rgb(&t) == expected)
        });
        if !arrived {
            if let Ok(dir) = std::env::var("PORTHOLE_WIDGET_SHOTS") {
                let expected = xvnc::screenshot(&server.display_name()).unwrap();
                expected.save(format!("{dir}/server.png")).unwrap();
                if let Some(t) = display.screenshot() {
                    texture_rgb(&t).save(format!("{dir}/widget.png")).unwrap();
                }
            }
        }
        assert!(arrived, "the server's screen never arrived in the widget");
        settle(Duration::from_millis(500));
        Self {
            window,
            display,
            title: title.to_owned(),
        }
    }

    /// Shows the screen at `zoom` in a window of just that size.
    fn zoom(&self, zoom: f64) {
        self.display.set_zoom(zoom);
        self.window.set_default_size(
            (f64::from(WIDTH) * zoom) as i32,
            (f64::from(HEIGHT) * zoom) as i32,
        );
        settle(Duration::from_millis(700));
    }
}

fn texture_rgb(texture: &gtk::gdk::Texture) -> RgbImage {
    images::load_png(&texture.save_to_png_bytes()).unwrap()
}

fn nearest(image: &RgbImage, zoom: f64) -> RgbImage {
    image::imageops::resize(
        image,
        (f64::from(image.width()) * zoom) as u32,
        (f64::from(image.height()) * zoom) as u32,
        image::imageops::FilterType::Nearest,
    )
}

#[test]
fn the_window_shows_the_server_screen_at_every_zoom_with_gl_and_in_software() {
    if !tools_available(&["Xvfb", "Xvnc", "import", "display", "xdotool"]) {
        assert!(
            !in_ci(),
            "Xvfb, Xvnc, ImageMagick and xdotool are needed in CI"
        );
        eprintln!("SKIPPED: Xvfb, Xvnc, ImageMagick or xdotool is missing");
        return;
    }
    let xvfb = porthole_harness::display::Display::start(2000, 1200).unwrap();
    let x_display = xvfb.name();
    let server = Xvnc::start(&XvncOptions {
        width: WIDTH as u16,
        height: HEIGHT as u16,
        ..XvncOptions::default()
    })
    .unwrap();
    xvnc::show_image(&server.display_name(), &images::test_pattern(WIDTH, HEIGHT)).unwrap();
    let expected = xvnc::screenshot(&server.display_name()).unwrap();
    let pattern_expected = expected.clone();

    // GTK reads these when it starts and when a widget is made.
    std::env::set_var("DISPLAY", &x_display);
    std::env::set_var("GDK_BACKEND", "x11");
    std::env::remove_var(RENDERER_ENV);
    gtk::init().unwrap();

    for renderer in ["gl", "software"] {
        if renderer == "software" {
            std::env::set_var(RENDERER_ENV, "software");
            xvnc::show_image(&server.display_name(), &images::test_pattern(WIDTH, HEIGHT)).unwrap();
        }
        let expected = &pattern_expected;
        let viewer = Viewer::open(&server, &format!("porthole-widget-test-{renderer}"), true);
        let name = viewer.display.renderer_name();
        if renderer == "gl" && name != "gl" {
            // Without GL the widget falls back; say so rather than fail.
            eprintln!("GL is not available here, the widget drew in {name}");
        } else {
            assert_eq!(name, renderer);
        }
        let shown = window_screenshot(&x_display, &viewer.title);
        images::assert_same(
            expected,
            &crop(&shown, WIDTH, HEIGHT),
            &format!("our window at 100% ({name})"),
        );

        // GTK 4.8 snapshots have no filter choice: software scaling is
        // always smooth, so only GL is held to nearest-neighbour.
        if name == "gl" {
            // At 50% every sample falls on the edge between two pixels,
            // where nearest may take either: 4×4 blocks make both right.
            let pattern = images::test_pattern(WIDTH, HEIGHT);
            let blocks = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
                *pattern.get_pixel(x / 4 * 4, y / 4 * 4)
            });
            xvnc::show_image(&server.display_name(), &blocks).unwrap();
            let expected = xvnc::screenshot(&server.display_name()).unwrap();
            let display = viewer.display.clone();
            let arrived = pump_until(Duration::from_secs(20), || {
                display
                    .screenshot()
                    .is_some_and(|t| texture_rgb(&t) == expected)
            });
            assert!(arrived, "the server's change never arrived in the widget");
            for zoom in [0.25, 0.5, 2.0, 4.0] {
                viewer.zoom(zoom);
                let reference = nearest(&expected, zoom);
                let shown = window_screenshot(&x_display, &viewer.title);
                let shown = crop(&shown, reference.width(), reference.height());
                let psnr = images::psnr(&reference, &shown).unwrap_or(f64::INFINITY);
                eprintln!("{name} at {}%: PSNR {psnr:.1} dB", zoom * 100.0);
                if let Ok(dir) = std::env::var("PORTHOLE_WIDGET_SHOTS") {
                    shown.save(format!("{dir}/{name}-{zoom}.png")).unwrap();
                    reference
                        .save(format!("{dir}/reference-{zoom}.png"))
                        .unwrap();
                }
                assert!(
                    psnr >= 30.0,
                    "at {}% our window differs from a nearest scaling (PSNR {psnr:.1} dB)",
                    zoom * 100.0
                );
            }
            smooth_scaling_is_linear_and_stretch_fills(&viewer, &expected, &x_display);
        }
        viewer.display.disconnect();
        let display = viewer.display.clone();
        let closed = pump_until(Duration::from_secs(10), || !display.connected());
        assert!(closed, "disconnect did not end the session");
        viewer.window.destroy();
        one_to_one_scrolls_a_screen_larger_than_the_window(&server, &x_display, renderer);
    }

    typing_reaches_an_xterm_and_the_server_follows_the_window_size(&server, &x_display);
    drop(server);
    full_screen_updates_reach_the_screen_quickly();
}

/// With `smooth` the picture is filtered linearly (closer to a bilinear
/// scaling than to a nearest one); `Stretch` fills a window of another
/// aspect ratio exactly.
fn smooth_scaling_is_linear_and_stretch_fills(
    viewer: &Viewer,
    expected: &RgbImage,
    x_display: &str,
) {
    viewer.display.set_smooth(true);
    viewer.zoom(2.0);
    let shown = window_screenshot(x_display, &viewer.title);
    let shown = crop(&shown, WIDTH * 2, HEIGHT * 2);
    let linear = image::imageops::resize(
        expected,
        WIDTH * 2,
        HEIGHT * 2,
        image::imageops::FilterType::Triangle,
    );
    let to_linear = images::psnr(&linear, &shown).unwrap_or(f64::INFINITY);
    let to_nearest = images::psnr(&nearest(expected, 2.0), &shown).unwrap_or(f64::INFINITY);
    eprintln!("smooth at 200%: PSNR {to_linear:.1} dB to bilinear, {to_nearest:.1} dB to nearest");
    assert!(
        to_linear >= 30.0 && to_linear > to_nearest,
        "smooth scaling is not linear (PSNR {to_linear:.1} dB to bilinear, {to_nearest:.1} dB to nearest)"
    );
    viewer.display.set_smooth(false);

    let (width, height) = (400, 200);
    viewer.display.set_scaling_mode(ScalingMode::Stretch);
    viewer.window.set_default_size(width as i32, height as i32);
    settle(Duration::from_millis(700));
    let shown = window_screenshot(x_display, &viewer.title);
    assert_eq!(
        shown.dimensions(),
        (width, height),
        "the window did not take the stretched size"
    );
    let reference = image::imageops::resize(
        expected,
        width,
        height,
        image::imageops::FilterType::Nearest,
    );
    let psnr = images::psnr(&reference, &shown).unwrap_or(f64::INFINITY);
    eprintln!("stretched to {width}×{height}: PSNR {psnr:.1} dB");
    assert!(
        psnr >= 25.0,
        "stretched to {width}×{height} our window differs from the screen stretched (PSNR {psnr:.1} dB)"
    );
    viewer.display.set_scaling_mode(ScalingMode::Zoom);
}

/// At 1:1 in a scrolled window smaller than the server's screen, the part
/// scrolled to is shown pixel for pixel.
fn one_to_one_scrolls_a_screen_larger_than_the_window(
    server: &Xvnc,
    x_display: &str,
    renderer: &str,
) {
    let display = VncDisplay::new();
    display.set_scaling_mode(ScalingMode::OneToOne);
    display.set_smooth(false);
    display.set_resize_guest(false);
    let scrolled = gtk::ScrolledWindow::builder()
        .hscrollbar_policy(gtk::PolicyType::External)
        .vscrollbar_policy(gtk::PolicyType::External)
        .child(&display)
        .build();
    let title = format!("porthole-widget-test-scroll-{renderer}");
    let window = gtk::Window::builder()
        .title(&title)
        .decorated(false)
        .default_width(200)
        .default_height(150)
        .child(&scrolled)
        .build();
    window.present();
    display.connect_address(&Address::parse(&format!("127.0.0.1::{}", server.port)).unwrap());
    let expected = xvnc::screenshot(&server.display_name()).unwrap();
    let arrived = pump_until(Duration::from_secs(20), || {
        display
            .screenshot()
            .is_some_and(|t| texture_rgb(&t) == expected)
    });
    assert!(arrived, "the server's screen never arrived in the widget");
    settle(Duration::from_millis(300));
    let (h, v) = (scrolled.hadjustment(), scrolled.vadjustment());
    assert_eq!(
        (h.upper(), v.upper()),
        (f64::from(WIDTH), f64::from(HEIGHT)),
        "at 1:1 the widget must ask for the server's whole screen"
    );
    h.set_value(100.0);
    v.set_value(80.0);
    settle(Duration::from_millis(500));
    let shown = window_screenshot(x_display, &title);
    let part = image::imageops::crop_imm(&expected, 100, 80, 200, 150).to_image();
    images::assert_same(
        &part,
        &crop(&shown, 200, 150),
        &format!("1:1 scrolled to (100, 80) ({renderer})"),
    );
    display.disconnect();
    pump_until(Duration::from_secs(10), || !display.connected());
    window.destroy();
}

/// The HiDPI checks run in a child process with `GDK_SCALE=2` (GTK reads
/// it once, when it starts).
#[test]
fn at_scale_2_one_remote_pixel_is_one_device_pixel() {
    if !tools_available(&["Xvfb", "Xvnc", "import", "xdotool"]) {
        assert!(
            !in_ci(),
            "Xvfb, Xvnc, ImageMagick and xdotool are needed in CI"
        );
        eprintln!("SKIPPED: Xvfb, Xvnc, ImageMagick or xdotool is missing");
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "--nocapture", "hidpi_child"])
        .env("GDK_SCALE", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the scale-2 checks failed:\n{stdout}\n{stderr}"
    );
}

/// Run by [`at_scale_2_one_remote_pixel_is_one_device_pixel`] with
/// `GDK_SCALE=2`: at 100% the window's device pixels are the server's
/// pixels with either renderer, and a resize asks the server for the
/// widget's size in device pixels.
#[test]
#[ignore = "run by at_scale_2_one_remote_pixel_is_one_device_pixel with GDK_SCALE=2"]
fn hidpi_child() {
    assert_eq!(std::env::var("GDK_SCALE").as_deref(), Ok("2"));
    let xvfb = porthole_harness::display::Display::start(2000, 1200).unwrap();
    let x_display = xvfb.name();
    let server = Xvnc::start(&XvncOptions {
        width: WIDTH as u16,
        height: HEIGHT as u16,
        ..XvncOptions::default()
    })
    .unwrap();
    xvnc::show_image(&server.display_name(), &images::test_pattern(WIDTH, HEIGHT)).unwrap();
    let expected = xvnc::screenshot(&server.display_name()).unwrap();
    std::env::set_var("DISPLAY", &x_display);
    std::env::set_var("GDK_BACKEND", "x11");
    std::env::remove_var(RENDERER_ENV);
    gtk::init().unwrap();
    for renderer in ["gl", "software"] {
        if renderer == "software" {
            std::env::set_var(RENDERER_ENV, "software");
        }
        let title = format!("porthole-widget-test-hidpi-{renderer}");
        let size = (WIDTH as i32 / 2, HEIGHT as i32 / 2);
        let viewer = Viewer::open_sized(&server, &title, true, size);
        assert_eq!(
            viewer.display.scale_factor(),
            2,
            "GDK_SCALE=2 is not in effect"
        );
        let name = viewer.display.renderer_name();
        let shown = window_screenshot(&x_display, &title);
        assert_eq!(
            shown.dimensions(),
            (WIDTH, HEIGHT),
            "a {}×{} window at scale 2 has twice as many device pixels",
            size.0,
            size.1
        );
        images::assert_same(&expected, &shown, &format!("100% at scale 2 ({name})"));
        viewer.display.disconnect();
        let display = viewer.display.clone();
        pump_until(Duration::from_secs(10), || !display.connected());
        viewer.window.destroy();
    }

    // The server is asked for device pixels: 200×150 logical is 400×300.
    std::env::remove_var(RENDERER_ENV);
    let viewer = Viewer::open_sized(
        &server,
        "porthole-widget-test-hidpi-resize",
        false,
        (160, 120),
    );
    viewer.display.set_scaling_mode(ScalingMode::Fit);
    viewer.display.set_resize_guest(true);
    viewer.window.set_default_size(200, 150);
    let display = viewer.display.clone();
    let followed = pump_until(Duration::from_secs(10), || {
        (display.remote_width(), display.remote_height()) == (400, 300)
    });
    assert!(
        followed,
        "the server is {}×{}, not the 400×300 device pixels of a 200×150 widget at scale 2",
        display.remote_width(),
        display.remote_height()
    );
    let on_server = xvnc::screenshot(&server.display_name()).unwrap();
    assert_eq!(on_server.dimensions(), (400, 300), "Xvnc's own screen size");
    viewer.window.destroy();
}

/// CPU time of this process so far (all threads), from /proc.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15, in clock ticks (100 Hz here).
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Full-screen changes at 1920×1080: how long from the moment the driver
/// read the update's last byte to the end of the frame that shows it, and
/// the CPU this process (decoding and drawing) spends per change
/// (`benches/latency.rs` measures this at a steady rate).
fn full_screen_updates_reach_the_screen_quickly() {
    let server = Xvnc::start(&XvncOptions {
        width: 1920,
        height: 1080,
        ..XvncOptions::default()
    })
    .unwrap();
    let viewer = Viewer::open(&server, "porthole-widget-test-latency", false);
    viewer.window.set_default_size(1920, 1080);
    settle(Duration::from_millis(500));
    let pictures = [
        images::test_pattern(1920, 1080),
        RgbImage::from_fn(1920, 1080, |x, y| {
            image::Rgb([(x / 7) as u8, (y / 5) as u8, 90])
        }),
    ];
    let mut latencies = Vec::new();
    let mut cpu = Duration::ZERO;
    for round in 0..6 {
        let picture = &pictures[round % 2];
        let mut show = Command::new("display");
        let dir = porthole_harness::process::TempDir::new("porthole-latency").unwrap();
        let path = dir.path().join("p.png");
        picture.save(&path).unwrap();
        show.arg("-display")
            .arg(server.display_name())
            .args(["-window", "root"])
            .arg(&path);
        let before = viewer.display.frame_latency_us();
        let cpu_before = process_cpu();
        let showing = std::thread::spawn(move || {
            let _ = show.output();
        });
        let display = viewer.display.clone();
        // Only the cheap property is polled while frames are measured.
        let painted = pump_until(Duration::from_secs(20), || {
            display.frame_latency_us() != before
        });
        showing.join().unwrap();
        // Xvnc may send the change in more than one update.
        settle(Duration::from_millis(300));
        cpu += process_cpu().saturating_sub(cpu_before);
        assert!(painted, "a full-screen change was never painted");
        let expected = *picture.get_pixel(1900, 1060);
        let shown = pump_until(Duration::from_secs(10), || {
            display
                .screenshot()
                .is_some_and(|t| *texture_rgb(&t).get_pixel(1900, 1060) == expected)
        });
        assert!(shown, "a full-screen change did not reach our window");
        latencies.push(viewer.display.frame_latency_us());
    }
    let mean = latencies.iter().sum::<u64>() / latencies.len() as u64;
    let max = latencies.iter().copied().max().unwrap_or(0);
    eprintln!(
        "1920×1080 full-screen updates ({}): last byte read to frame painted {:.1} ms mean, {:.1} ms max; {} ms CPU per change (decode, upload, draw)",
        viewer.display.renderer_name(),
        mean as f64 / 1000.0,
        max as f64 / 1000.0,
        cpu.as_millis() / latencies.len() as u128,
    );
    assert!(latencies.iter().all(|l| *l > 0), "no frame was measured");
    viewer.window.destroy();
}

/// Typing into our window (xdotool on our display) reaches an xterm in
/// Xvnc; then resizing our window resizes Xvnc's screen to match, and
/// with resize off the server keeps its size.
fn typing_reaches_an_xterm_and_the_server_follows_the_window_size(server: &Xvnc, x_display: &str) {
    std::env::remove_var(RENDERER_ENV);
    let dir = porthole_harness::process::TempDir::new("porthole-widget").unwrap();
    let typed = dir.path().join("typed.txt");
    let mut xterm = Command::new("xterm");
    xterm
        .env("DISPLAY", server.display_name())
        .args(["-geometry", "40x10+0+0", "-e", "sh", "-c"])
        .arg(format!("cat > {}", typed.display()));
    let _xterm = ServerProcess::spawn("xterm", xterm).unwrap();
    std::thread::sleep(Duration::from_secs(1));

    let viewer = Viewer::open(server, "porthole-widget-test-input", false);
    let widest_cursor = std::rc::Rc::new(std::cell::Cell::new(0));
    let widest = widest_cursor.clone();
    viewer
        .display
        .connect_notify_local(Some("cursor"), move |display, _| {
            let width = display
                .cursor()
                .and_then(|c| c.texture())
                .map_or(0, |t| t.width());
            widest.set(widest.get().max(width));
        });
    // Move the remote pointer onto the xterm (Xvnc has no window manager:
    // the keyboard follows the pointer), then type on our display.
    let mut xdotool = Command::new("xdotool");
    xdotool.env("DISPLAY", x_display).args([
        "search",
        "--name",
        &viewer.title,
        "windowfocus",
        "--sync",
        "mousemove",
        "--window",
        "%1",
        "40",
        "40",
        "click",
        "1",
    ]);
    run(xdotool).unwrap();
    settle(Duration::from_millis(300));
    let mut xdotool = Command::new("xdotool");
    xdotool
        .env("DISPLAY", x_display)
        .args(["type", "--delay", "20", "hello vnc\n"]);
    let typing = std::thread::spawn(move || run(xdotool));
    let arrived = pump_until(Duration::from_secs(15), || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.contains("hello vnc"))
    });
    typing.join().unwrap().unwrap();
    assert!(
        arrived,
        "typing into our window did not reach the xterm; it got {:?}",
        std::fs::read_to_string(&typed).unwrap_or_default()
    );
    // The pointer went over the xterm, whose I-beam the server sent as a
    // cursor shape: it became our window's local cursor.
    let widest = widest_cursor.get();
    assert!(widest > 1, "the server's cursor shape never became ours");
    typing_gets_through_a_flood_of_updates(&viewer, server, x_display, &typed);

    viewer.display.set_scaling_mode(ScalingMode::Fit);
    viewer.display.set_resize_guest(true);
    viewer.window.set_default_size(400, 300);
    let display = viewer.display.clone();
    let followed = pump_until(Duration::from_secs(10), || {
        (display.remote_width(), display.remote_height()) == (400, 300)
    });
    assert!(
        followed,
        "the server stayed at {}×{} after our window became 400×300",
        display.remote_width(),
        display.remote_height()
    );
    let on_server = xvnc::screenshot(&server.display_name()).unwrap();
    assert_eq!(on_server.dimensions(), (400, 300), "Xvnc's own screen size");

    viewer.display.set_resize_guest(false);
    viewer.window.set_default_size(360, 280);
    settle(Duration::from_secs(1));
    assert_eq!(
        (display.remote_width(), display.remote_height()),
        (400, 300),
        "with resize off the server must keep its size"
    );

    clipboard_goes_both_ways(server, x_display);
    viewer.window.destroy();
}

/// While the server floods us with updates (its root window repainted in
/// a loop), typed keys still reach it and frames are still drawn: neither
/// input nor drawing waits behind the updates.
fn typing_gets_through_a_flood_of_updates(
    viewer: &Viewer,
    server: &Xvnc,
    x_display: &str,
    typed: &std::path::Path,
) {
    if !tools_available(&["xsetroot"]) {
        assert!(!in_ci(), "xsetroot is needed in CI");
        eprintln!("SKIPPED: xsetroot is missing, typing during a flood is not tested");
        return;
    }
    let mut flood = Command::new("sh");
    flood.env("DISPLAY", server.display_name()).args([
        "-c",
        "while :; do xsetroot -solid red; xsetroot -solid blue; done",
    ]);
    let _flood = ServerProcess::spawn("xsetroot loop", flood).unwrap();
    let frames = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let counter = frames.clone();
    let handler = viewer
        .display
        .connect_notify_local(Some("frame-latency-us"), move |_, _| {
            counter.set(counter.get() + 1)
        });
    settle(Duration::from_secs(1));
    let before = frames.get();
    let mut xdotool = Command::new("xdotool");
    xdotool
        .env("DISPLAY", x_display)
        .args(["type", "--delay", "20", "flooded\n"]);
    let started = Instant::now();
    let typing = std::thread::spawn(move || run(xdotool));
    let arrived = pump_until(Duration::from_secs(30), || {
        std::fs::read_to_string(typed).is_ok_and(|t| t.contains("flooded"))
    });
    let took = started.elapsed();
    typing.join().unwrap().unwrap();
    let drawn = frames.get() - before;
    glib::prelude::ObjectExt::disconnect(&viewer.display, handler);
    eprintln!(
        "during a flood of updates: typing reached Xvnc after {} ms; {drawn} frames drawn meanwhile",
        took.as_millis()
    );
    assert!(
        arrived,
        "typing during a flood of updates did not reach the xterm; it got {:?}",
        std::fs::read_to_string(typed).unwrap_or_default()
    );
    assert!(drawn > 0, "no frame was drawn during the flood");
}

/// Reads `display`'s clipboard with xclip in a thread while our main loop
/// runs (our process may own the selection and must answer).
fn read_clipboard(display: &str) -> String {
    let mut xclip = Command::new("xclip");
    xclip
        .env("DISPLAY", display)
        .args(["-o", "-selection", "clipboard"]);
    let reading = std::thread::spawn(move || run(xclip).unwrap_or_default());
    while !reading.is_finished() {
        settle(Duration::from_millis(20));
    }
    String::from_utf8(reading.join().unwrap()).unwrap_or_default()
}

/// Owns `display`'s clipboard with `text` until dropped.
fn own_clipboard(display: &str, text: &str) -> ServerProcess {
    let mut xclip = Command::new("sh");
    xclip.env("DISPLAY", display).args([
        "-c",
        "printf %s \"$1\" | exec xclip -quiet -i -selection clipboard",
        "sh",
        text,
    ]);
    ServerProcess::spawn("xclip", xclip).unwrap()
}

/// Non-Latin text copied on the server shows up on our desktop's
/// clipboard, and text copied on our desktop reaches the server's.
fn clipboard_goes_both_ways(server: &Xvnc, x_display: &str) {
    if !tools_available(&["xclip"]) {
        assert!(!in_ci(), "xclip is needed in CI");
        eprintln!("SKIPPED: xclip is missing, the clipboard is not tested");
        return;
    }
    let remote_text = "Grüße aus der Ferne ✓ 日本語";
    let _owner = own_clipboard(&server.display_name(), remote_text);
    let mut seen = String::new();
    let arrived = pump_until(Duration::from_secs(10), || {
        seen = read_clipboard(x_display);
        seen == remote_text
    });
    assert!(
        arrived,
        "the server's clipboard did not reach ours: {seen:?}"
    );

    let local_text = "Ελληνικά και Ӂ from our side";
    let _owner = own_clipboard(x_display, local_text);
    let arrived = pump_until(Duration::from_secs(10), || {
        seen = read_clipboard(&server.display_name());
        seen == local_text
    });
    assert!(
        arrived,
        "our clipboard did not reach the server's: {seen:?}"
    );
}
