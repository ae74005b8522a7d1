//! The viewer window of the real `porthole` binary, under Xvfb with a
//! private session bus, against a real Xvnc: what it shows (pixel for
//! pixel at 100%, a faithful scaling at 50% and 200%), typing into an
//! xterm inside Xvnc, the clipboard both ways, the server following the
//! window size, every error page for its cause with the app still
//! answering, and the command line's viewer options.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/viewer_app.rs"]
mod viewer_app;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use porthole_harness::images::{self, RgbImage};
use porthole_harness::keyring::Keyring;
use porthole_harness::process::{
    free_tcp_port, in_ci, run, tools_available, ServerProcess, TempDir,
};
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};
use viewer_app::{
    connects_without_asking, default_desktop_name, desktop_name, never_showed, App, Session,
    PORTHOLE, WAIT,
};

/// Room for the server's screen at 200% and the window around it.
const SCREEN: (u32, u32) = (2000, 1400);

/// `porthole ARGS` on a display and bus of its own.
fn viewer(args: &[&str]) -> App {
    Session::start_with(SCREEN, false).launch(args)
}

fn tools_present(extra: &[&str]) -> bool {
    let mut tools = vec![
        "Xvfb",
        "Xvnc",
        "dbus-daemon",
        "xdotool",
        "import",
        "display",
    ];
    tools.extend_from_slice(extra);
    if tools_available(&tools) {
        return true;
    }
    assert!(!in_ci(), "CI must have {tools:?}");
    eprintln!("SKIPPED: needs {tools:?}");
    false
}

/// Where `part` sits inside `whole`, matching exactly (or, with
/// `tolerance`, the position with the fewest differing samples).
fn locate(whole: &RgbImage, part: &RgbImage) -> Option<(u32, u32)> {
    let (w, h) = part.dimensions();
    if whole.width() < w || whole.height() < h {
        return None;
    }
    let samples: Vec<(u32, u32)> = (0..128)
        .map(|i| ((i * 37 + 5) % w, (i * 53 + 11) % h))
        .collect();
    let mut best = None;
    let mut best_misses = usize::MAX;
    for y in 0..=whole.height() - h {
        for x in 0..=whole.width() - w {
            let misses = samples
                .iter()
                .filter(|&&(sx, sy)| {
                    let a = whole.get_pixel(x + sx, y + sy).0;
                    let b = part.get_pixel(sx, sy).0;
                    a.iter().zip(b).any(|(a, b)| a.abs_diff(b) > 24)
                })
                .count();
            if misses < best_misses {
                best_misses = misses;
                best = Some((x, y));
                if misses == 0 {
                    return best;
                }
            }
        }
    }
    best.filter(|_| best_misses < samples.len() / 4)
}

fn crop(image: &RgbImage, (x, y): (u32, u32), (w, h): (u32, u32)) -> RgbImage {
    image::imageops::crop_imm(image, x, y, w, h).to_image()
}

/// 4×4 blocks of the test pattern: at 50% every sample lands on a block,
/// so any faithful downscaling gives the same picture.
fn block_pattern(width: u32, height: u32) -> RgbImage {
    let pattern = images::test_pattern(width, height);
    RgbImage::from_fn(width, height, |x, y| {
        *pattern.get_pixel(x / 4 * 4, y / 4 * 4)
    })
}

fn start_xvnc(width: u16, height: u16) -> Xvnc {
    Xvnc::start(&XvncOptions {
        width,
        height,
        ..XvncOptions::default()
    })
    .unwrap()
}

fn xdpyinfo_size(display: &str) -> (u32, u32) {
    let mut command = Command::new("xdpyinfo");
    command.args(["-display", display]);
    let out = String::from_utf8(run(command).unwrap()).unwrap();
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("dimensions:"))
        .unwrap();
    let size = line.split_whitespace().nth(1).unwrap();
    let (w, h) = size.split_once('x').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

/// Looks until the window shows `expected` somewhere (pixel for pixel,
/// or with `exact` false, nearly: a PSNR of 30 dB); returns where and the
/// last screenshot.
fn wait_for_picture(
    app: &App,
    window: u64,
    expected: &RgbImage,
    exact: bool,
) -> ((u32, u32), RgbImage) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shot = app.screenshot(window);
        if let Some(at) = locate(&shot, expected) {
            let shown = crop(&shot, at, expected.dimensions());
            let good = if exact {
                images::compare(expected, &shown).is_ok()
            } else {
                images::psnr(expected, &shown).unwrap_or(0.0) >= 30.0
            };
            if good {
                return (at, shot);
            }
        }
        if Instant::now() > deadline {
            never_showed(&shot, expected);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_viewer_shows_the_server_screen_at_100_50_and_200_percent() {
    if !tools_present(&[]) {
        return;
    }
    let (width, height) = (640u32, 480u32);
    let server = start_xvnc(width as u16, height as u16);
    server.show_image(&block_pattern(width, height)).unwrap();
    let expected = server.screenshot().unwrap();
    let name = desktop_name(server.port);
    let address = format!("vnc://127.0.0.1:{}", server.port);

    let mut app = viewer(&["--zoom=100", "--auto-resize=never", &address]);
    let window = app.window(&name);
    let (at, _) = wait_for_picture(&app, window, &expected, true);
    eprintln!("at 100% the server's screen is at {at:?} in our window, pixel for pixel");
    drop(app);

    for zoom in [50u32, 200] {
        let mut app = viewer(&[&format!("--zoom={zoom}"), &address]);
        let window = app.window(&name);
        let size = (width * zoom / 100, height * zoom / 100);
        let reference = image::imageops::resize(
            &expected,
            size.0,
            size.1,
            image::imageops::FilterType::Triangle,
        );
        // The window first shows the connecting page: wait for the picture.
        let deadline = Instant::now() + WAIT;
        let (shown, psnr) = loop {
            let shot = app.screenshot(window);
            let found = locate(&shot, &reference).map(|at| {
                let shown = crop(&shot, at, size);
                let psnr = images::psnr(&reference, &shown).unwrap_or(0.0);
                (shown, psnr)
            });
            match found {
                Some((shown, psnr)) if psnr >= 25.0 => break (shown, psnr),
                _ if Instant::now() > deadline => {
                    let _ = shot.save(std::env::temp_dir().join(format!("viewer-{zoom}.png")));
                    panic!("at {zoom}% the window never showed a scaling of the server's screen")
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        eprintln!("at {zoom}%: PSNR {psnr:.1} dB against a reference scaling");
        assert_eq!(shown.dimensions(), size);
        // The server kept its size: zoom never resizes the guest.
        assert_eq!(xdpyinfo_size(&server.display_name()), (width, height));
    }
}

#[test]
fn typing_clipboard_and_resizing_go_through_the_viewer() {
    if !tools_present(&["xterm", "xclip", "xdpyinfo"]) {
        return;
    }
    let server = start_xvnc(640, 480);
    // A picture under the xterm shows where the screen is in our window.
    server.show_image(&block_pattern(640, 480)).unwrap();
    let dir = TempDir::new("porthole-viewer-typing").unwrap();
    let typed = dir.path().join("typed.txt");
    let mut xterm = Command::new("xterm");
    xterm
        .env("DISPLAY", server.display_name())
        .args([
            "-geometry",
            "40x6+0+0",
            "-fa",
            "Monospace",
            "-fs",
            "11",
            "-e",
            "sh",
            "-c",
        ])
        .arg(format!(
            "echo 'Porthole viewer: type here'; read line; echo \"$line\" > {}; cat",
            typed.display()
        ));
    let _xterm = ServerProcess::spawn("xterm", xterm).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let name = desktop_name(server.port);
    let mut app = viewer(&[&format!("vnc://127.0.0.1:{}", server.port)]);
    let window = app.window(&name);
    let expected = server.screenshot().unwrap();
    let (below, _) = wait_for_picture(&app, window, &crop(&expected, (0, 240), (640, 240)), false);
    let at = (below.0, below.1 - 240);

    // Point at the xterm (Xvnc has no window manager: the keyboard
    // follows the pointer), click, and type on our display.
    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    app.xdotool(&[
        "mousemove",
        "--window",
        &window.to_string(),
        &(at.0 + 60).to_string(),
        &(at.1 + 40).to_string(),
        "click",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    app.xdotool(&["type", "--delay", "30", "hello from porthole\n"]);
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&typed).is_ok_and(|t| t.contains("hello from porthole")) {
        assert!(
            Instant::now() < deadline,
            "typing into the viewer did not reach the xterm: {:?}",
            std::fs::read_to_string(&typed)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Ctrl+W belongs to the remote machine while it has the keyboard: the
    // app's own Ctrl+W (close window) must not fire.
    app.xdotool(&["key", "ctrl+w"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        app.window(&name),
        window,
        "Ctrl+W typed into the console closed the viewer"
    );
    if let Ok(dir) = std::env::var("PORTHOLE_SCREENSHOT_DIR") {
        app.screenshot(window)
            .save(Path::new(&dir).join("viewer.png"))
            .unwrap();
    }

    // The clipboard, both ways, with non-Latin text.
    let remote_text = "Grüße aus der Ferne ✓ 日本語";
    let _owner = own_clipboard(&server.display_name(), remote_text);
    wait_for_clipboard(
        &app.session.display.name(),
        remote_text,
        "the server's clipboard to reach ours",
    );
    let local_text = "Ελληνικά και Ӂ from our side";
    let _owner = own_clipboard(&app.session.display.name(), local_text);
    wait_for_clipboard(
        &server.display_name(),
        local_text,
        "our clipboard to reach the server's",
    );

    // The server follows our window's size (resize is on by default).
    // What surrounds the screen in our window (header bar, frame) stays.
    let shot = app.screenshot(window);
    let server_size = xdpyinfo_size(&server.display_name());
    let extra = (shot.width() - server_size.0, shot.height() - server_size.1);
    app.xdotool(&["windowsize", &window.to_string(), "800", "560"]);
    let wanted = (800 - extra.0, 560 - extra.1);
    let deadline = Instant::now() + WAIT;
    loop {
        let size = xdpyinfo_size(&server.display_name());
        if size == wanted {
            eprintln!(
                "our window became 800×560, Xvnc's screen {}×{}",
                size.0, size.1
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Xvnc is {size:?}, not {wanted:?}, after our window became 800×560"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn with_auto_resize_off_the_server_keeps_its_size_and_the_image_scales() {
    if !tools_present(&["xdpyinfo"]) {
        return;
    }
    let server = start_xvnc(640, 480);
    server.show_image(&block_pattern(640, 480)).unwrap();
    let expected = server.screenshot().unwrap();
    let name = desktop_name(server.port);
    let mut app = viewer(&[
        "--auto-resize=never",
        &format!("vnc://127.0.0.1:{}", server.port),
    ]);
    let window = app.window(&name);
    let (at, before) = wait_for_picture(&app, window, &expected, false);
    // What surrounds the screen (header bar, frame) stays when resizing.
    let extra = (before.width() - 640, before.height() - 480);
    app.xdotool(&["windowsize", &window.to_string(), "400", "400"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(xdpyinfo_size(&server.display_name()), (640, 480));
    // Fit: the whole screen, scaled into what the window has left.
    let shot = app.screenshot(window);
    let area = (shot.width() - extra.0, shot.height() - extra.1);
    let scale = (f64::from(area.0) / 640.0).min(f64::from(area.1) / 480.0);
    let size = (
        (640.0 * scale).round() as u32,
        (480.0 * scale).round() as u32,
    );
    let reference = image::imageops::resize(
        &expected,
        size.0,
        size.1,
        image::imageops::FilterType::Triangle,
    );
    let _ = at;
    let at = locate(&shot, &reference).expect("the scaled screen is in the window");
    let psnr = images::psnr(&reference, &crop(&shot, at, size)).unwrap();
    eprintln!("fit into {}×{}: PSNR {psnr:.1} dB", size.0, size.1);
    assert!(
        psnr > 20.0,
        "the scaled screen looks wrong: PSNR {psnr:.1} dB"
    );
}

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

fn wait_for_clipboard(display: &str, text: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    let mut seen = String::new();
    while Instant::now() < deadline {
        let mut xclip = Command::new("xclip");
        xclip
            .env("DISPLAY", display)
            .args(["-o", "-selection", "clipboard"]);
        seen = run(xclip)
            .map(|o| String::from_utf8_lossy(&o).into_owned())
            .unwrap_or_default();
        if seen == text {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("waited for {what}: it holds {seen:?}");
}

/// Accepts one connection and plays a server that completes the
/// handshake, then sends a message type that does not exist.
fn hostile_server(listener: TcpListener, name: &str) -> std::thread::JoinHandle<()> {
    let name = name.to_owned();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut buf = [0u8; 12];
        let _ = s.write_all(b"RFB 003.008\n");
        let _ = s.read_exact(&mut buf);
        let _ = s.write_all(&[1, 1]);
        let mut choice = [0u8; 1];
        let _ = s.read_exact(&mut choice);
        let _ = s.write_all(&[0, 0, 0, 0]);
        let _ = s.read_exact(&mut choice);
        let mut init = Vec::new();
        init.extend_from_slice(&64u16.to_be_bytes());
        init.extend_from_slice(&48u16.to_be_bytes());
        init.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        init.extend_from_slice(&(name.len() as u32).to_be_bytes());
        init.extend_from_slice(name.as_bytes());
        let _ = s.write_all(&init);
        std::thread::sleep(Duration::from_millis(500));
        // Message type 0xEE does not exist: the client must give up cleanly.
        let _ = s.write_all(&[0xee; 64]);
        std::thread::sleep(Duration::from_secs(3));
    })
}

#[test]
fn error_pages_show_their_cause_and_retry_works() {
    if !tools_present(&[]) {
        return;
    }
    // Refused: nothing listens on the port.
    let port = free_tcp_port().unwrap();
    let address = format!("127.0.0.1::{port}");
    let mut app = viewer(&[&address]);
    let title = app.wait_title("Connection Refused");
    let window = app.window(&title);
    // Now a hostile server takes the port; Retry (focused) reaches it.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let hostile = hostile_server(listener, "hostile");
    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    app.xdotool(&["key", "Return"]);
    app.wait_title("Protocol Error");
    hostile.join().unwrap();
    drop(app);

    // Server killed mid-session.
    let server = start_xvnc(320, 240);
    let name = desktop_name(server.port);
    let mut app = viewer(&[&format!("vnc://127.0.0.1:{}", server.port)]);
    app.window(&name);
    drop(server);
    let title = app.wait_title("Server Closed the Connection");
    assert!(title.ends_with(&name), "{title}");
    // It reconnects by itself (and, the server being gone, says so).
    app.wait_title("Connection Refused");
}

#[test]
fn a_wrong_password_shows_authentication_failed_and_the_right_one_connects() {
    if !tools_present(&[]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 320,
        height: 240,
        security: XvncSecurity::VncAuth("sesame".to_owned()),
        ..XvncOptions::default()
    })
    .unwrap();
    let mut app = viewer(&[&format!("vnc://127.0.0.1:{}", server.port)]);
    for (password, outcome) in [("wrong", "Authentication Failed"), ("sesame", "")] {
        let dialog = app.window("Authentication Required");
        app.xdotool(&["windowfocus", "--sync", &dialog.to_string()]);
        std::thread::sleep(Duration::from_millis(300));
        app.xdotool(&["type", "--delay", "20", password]);
        app.xdotool(&["key", "Return"]);
        if outcome.is_empty() {
            break;
        }
        let title = app.wait_title(outcome);
        // Retry asks again.
        let window = app.window(&title);
        app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
        app.xdotool(&["key", "Return"]);
    }
    // Connected: the title is the desktop name again, no error in it.
    wait_connected(&app, &default_desktop_name());
    drop(server);
}

/// Waits until a window is titled with the desktop name (connected, no
/// error in the title).
fn wait_connected(app: &App, name: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let titles = app.titles();
        if titles.iter().any(|t| t == name) {
            return;
        }
        assert!(Instant::now() < deadline, "never connected: {titles:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_remembered_password_is_used_from_the_secret_service() {
    if !tools_present(&["gnome-keyring-daemon", "dbus-send"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 320,
        height: 240,
        security: XvncSecurity::VncAuth("sesame".to_owned()),
        ..XvncOptions::default()
    })
    .unwrap();
    let address = format!("vnc://127.0.0.1:{}", server.port);
    let session = Session::start_with(SCREEN, false);
    let _keyring = Keyring::start(session.bus.address()).unwrap();
    let mut first = session.launch(&[&address]);
    let dialog = first.window("Authentication Required");
    first.xdotool(&["windowfocus", "--sync", &dialog.to_string()]);
    std::thread::sleep(Duration::from_millis(300));
    first.xdotool(&["type", "--delay", "20", "sesame"]);
    // "_Remember in the keyring".
    first.xdotool(&["key", "alt+r"]);
    first.xdotool(&["key", "Return"]);
    let name = default_desktop_name();
    wait_connected(&first, &name);
    // Stored once the password worked; give the keyring a moment.
    std::thread::sleep(Duration::from_secs(2));
    // One instance at a time: a second would hand its command line to the first.
    first.quit();
    let second = session.launch(&[&address]);
    connects_without_asking(&second, &name, "the remembered password was not used");
}

#[test]
fn bad_viewer_options_exit_2_with_one_line() {
    for args in [
        &["--zoom=1000", "host:1"][..],
        &["--zoom", "tiny", "host:1"],
        &["--shared", "--exclusive", "host:1"],
        &["--hotkeys=explode=ctrl+x", "host:1"],
        &["--keymap=F1=NOKEY", "host:1"],
        &["--kiosk-quit=sometimes", "host:1"],
        &["--auto-resize=maybe", "host:1"],
        &["--full-screen=yes", "host:1"],
    ] {
        let out = Command::new(PORTHOLE)
            .args(args)
            .env_remove("DISPLAY")
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("porthole: "), "{stderr}");
    }
}

#[test]
fn help_lists_the_viewer_options() {
    let out = Command::new(PORTHOLE)
        .arg("--help")
        .env_remove("DISPLAY")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--full-screen",
        "--view-only",
        "--exclusive",
        "--zoom",
        "--keymap",
        "--hotkeys",
        "--kiosk",
        "--kiosk-quit",
    ] {
        assert!(
            help.contains(option),
            "{option} missing from --help:\n{help}"
        );
    }
}
