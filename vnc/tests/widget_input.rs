//! The `VncDisplay` widget's input and output besides the picture, in a
//! real GTK window under Xvfb typed into with `xdotool`: against QEMU
//! (whose own input trace events say what the guest received) a German
//! keyboard layout reaches the guest as the physical keys' scancodes, the
//! pointer goes relative or absolute as QEMU asks, scrolling becomes wheel
//! clicks and the lock keys follow the local keyboard; against Xvnc the
//! cursor is drawn locally or by the server; and QEMU audio sent by a
//! crafted server comes out of the GStreamer pipeline byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::{Duration, Instant};

use gtk::prelude::*;
use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{in_ci, run, tools_available, ServerProcess};
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::rfb;
use porthole_harness::x11vnc::{X11vnc, X11vncOptions};
use porthole_harness::xvnc::{self, Xvnc, XvncOptions};
use porthole_vnc::address::Address;
use porthole_vnc::gtk::{CursorMode, ScalingMode, VncDisplay};

#[path = "support/main_loop.rs"]
mod main_loop;
use main_loop::{pump_until, settle};

/// Runs xdotool on `display` while the main loop keeps running (our
/// window must answer for xdotool's `--sync` and see the events).
fn xdotool(display: &str, args: &[&str]) {
    let mut command = Command::new("xdotool");
    command.env("DISPLAY", display).args(args);
    let job = std::thread::spawn(move || run(command));
    pump_until(Duration::from_secs(20), || job.is_finished());
    job.join().unwrap().unwrap();
    settle(Duration::from_millis(200));
}

/// A window holding one widget at 100%, connected to `address`.
fn open_viewer(address: &str, title: &str) -> (gtk::Window, VncDisplay) {
    let display = VncDisplay::new();
    display.set_scaling_mode(ScalingMode::Zoom);
    display.set_zoom(1.0);
    display.set_resize_guest(false);
    let window = gtk::Window::builder()
        .title(title)
        .decorated(false)
        .default_width(320)
        .default_height(200)
        .child(&display)
        .build();
    window.present();
    display.connect_address(&Address::parse(address).unwrap());
    let connected = pump_until(Duration::from_secs(20), || {
        display.connected() && display.screenshot().is_some()
    });
    assert!(connected, "the widget did not connect to {address}");
    // The window takes the screen's size, so our pixels are the server's.
    window.set_default_size(
        display.remote_width() as i32,
        display.remote_height() as i32,
    );
    settle(Duration::from_millis(500));
    (window, display)
}

/// Focuses our window and puts the pointer at (`x`, `y`) in it.
fn focus(x_display: &str, title: &str, x: u32, y: u32) {
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "windowfocus",
            "--sync",
            "mousemove",
            "--window",
            "%1",
            &x.to_string(),
            &y.to_string(),
        ],
    );
}

/// The values of `field` in the lines of QEMU trace event `event`, e.g.
/// the qcodes of `input_event_key_qcode` lines that have `down 1`.
fn trace_values(log: &str, event: &str, field: &str, filter: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(event) && line.contains(filter))
        .filter_map(|line| {
            let rest = &line[line.find(&format!(" {field} "))? + field.len() + 2..];
            Some(rest.split([',', ' ']).next().unwrap_or_default().to_owned())
        })
        .collect()
}

fn have_tools(tools: &[&str]) -> bool {
    if tools_available(tools) {
        return true;
    }
    assert!(!in_ci(), "{tools:?} are needed in CI");
    eprintln!("SKIPPED: one of {tools:?} is missing");
    false
}

/// Everything runs in one test: GTK may be initialised once per process,
/// on one thread.
#[test]
fn input_reaches_qemu_and_xvnc_as_the_user_meant_it() {
    if !have_tools(&["Xvfb", "xdotool", "setxkbmap", "qemu-system-x86_64"]) {
        return;
    }
    let xvfb = porthole_harness::display::Display::start(1280, 800).unwrap();
    let x_display = xvfb.name();
    std::env::set_var("DISPLAY", &x_display);
    std::env::set_var("GDK_BACKEND", "x11");
    gtk::init().unwrap();

    german_keys_reach_qemu_as_scancodes(&x_display);
    relative_pointer_and_wheel_reach_qemu(&x_display);
    // No server here has extended mouse buttons (QEMU 7.2, TigerVNC
    // 1.12, x11vnc): a crafted one stands in.
    back_and_forward_buttons_reach_a_server(&x_display, true);
    back_and_forward_buttons_reach_a_server(&x_display, false);
    if have_tools(&["Xvnc", "xsetroot"]) {
        cursor_modes_with_xvnc(&x_display);
    }
    if have_tools(&["x11vnc", "xterm"]) {
        german_keysyms_reach_x11vnc(&x_display);
    }
    #[cfg(feature = "audio")]
    {
        audio_from_a_server_comes_out_unchanged();
        qemu_accepts_the_audio_request();
    }
}

/// With a German layout on our side, the keys typed as "z", "y" and "ö"
/// are the physical keys Y, Z and ; of a US keyboard: QEMU must receive
/// those keys (qcodes y, z, semicolon) and not the letters re-mapped
/// through a US keymap — the guest applies its own layout. Also: the
/// ungrab combination can be changed, and the lock keys follow ours.
fn german_keys_reach_qemu_as_scancodes(x_display: &str) {
    let mut setxkbmap = Command::new("setxkbmap");
    setxkbmap.env("DISPLAY", x_display).arg("de");
    run(setxkbmap).unwrap();
    let qemu = Qemu::start(&QemuOptions {
        keep_running: true,
        trace: vec!["input_event_key_qcode".into()],
        ..QemuOptions::default()
    })
    .unwrap();
    let title = "porthole-input-keys";
    let (_window, display) = open_viewer(&qemu.address(), title);
    focus(x_display, title, 50, 50);
    assert!(display.has_focus(), "our widget did not get the focus");

    xdotool(x_display, &["key", "--delay", "50", "z", "y", "odiaeresis"]);
    let log = qemu.trace_log();
    let pressed = trace_values(&log, "input_event_key_qcode", "qcode", "down 1");
    assert_eq!(
        pressed,
        ["y", "z", "semicolon"],
        "QEMU received other keys than the physical ones; its trace:\n{log}"
    );
    let released = trace_values(&log, "input_event_key_qcode", "qcode", "down 0");
    assert_eq!(released, ["y", "z", "semicolon"], "every key was released");

    // A grab taken by the click is given back by the configured keys, and
    // any key held then is released in the guest.
    display.set_ungrab_keys("<Control><Alt>g");
    assert_eq!(
        display.ungrab_keys(),
        "<Control><Alt>g",
        "GTK's form is taken"
    );
    display.set_ungrab_keys("Ctrl+Alt+G");
    assert_eq!(display.ungrab_keys(), "Ctrl+Alt+G");
    display.set_ungrab_keys("nonsense");
    assert_eq!(
        display.ungrab_keys(),
        "Ctrl+Alt+G",
        "a bad value is refused"
    );
    xdotool(x_display, &["click", "1"]);
    assert!(display.keyboard_grabbed(), "a click grabs the keyboard");
    xdotool(x_display, &["key", "ctrl+alt"]);
    assert!(
        display.keyboard_grabbed(),
        "Ctrl+Alt alone no longer ungrabs"
    );
    xdotool(x_display, &["key", "ctrl+alt+g"]);
    assert!(!display.keyboard_grabbed(), "Ctrl+Alt+G ungrabs");
    let log = qemu.trace_log();
    let downs = trace_values(&log, "input_event_key_qcode", "qcode", "down 1").len();
    let ups = trace_values(&log, "input_event_key_qcode", "qcode", "down 0").len();
    assert_eq!(downs, ups, "no key stays pressed in the guest:\n{log}");

    // Caps Lock switched on while our window is not focused: when it is
    // focused again the widget switches the guest's on too, as QEMU's
    // LED state says it is off. (SeaBIOS, once it gave up booting, no
    // longer sets its LEDs, so the LED state stays off and the widget
    // must not keep pressing Caps Lock meanwhile.)
    assert!(!display.caps_lock(), "the guest starts with Caps Lock off");
    let before = qemu.trace_log();
    xdotool(
        x_display,
        &["search", "--name", title, "windowunmap", "--sync"],
    );
    xdotool(x_display, &["key", "Caps_Lock"]);
    xdotool(
        x_display,
        &["search", "--name", title, "windowmap", "--sync"],
    );
    focus(x_display, title, 60, 60);
    xdotool(x_display, &["key", "--delay", "50", "a", "b"]);
    let log = qemu.trace_log();
    let pressed = trace_values(
        &log[before.len()..],
        "input_event_key_qcode",
        "qcode",
        "down 1",
    );
    assert_eq!(
        pressed,
        ["caps_lock", "a", "b"],
        "the widget pressed Caps Lock in the guest once; QEMU's trace:\n{log}"
    );
    // Back to normal for the next tests.
    xdotool(x_display, &["key", "Caps_Lock"]);
    let mut setxkbmap = Command::new("setxkbmap");
    setxkbmap.env("DISPLAY", x_display).arg("us");
    run(setxkbmap).unwrap();
}

/// A server without QEMU's key extension (x11vnc) gets keysyms: with a
/// German layout on both sides, "zyö" typed on ours appears in an xterm
/// on the server.
fn german_keysyms_reach_x11vnc(x_display: &str) {
    let server = X11vnc::start(&X11vncOptions {
        width: 400,
        height: 200,
        ..X11vncOptions::default()
    })
    .unwrap();
    let dir = porthole_harness::process::TempDir::new("porthole-keysyms").unwrap();
    let typed = dir.path().join("typed.txt");
    for display in [x_display.to_owned(), server.display_name()] {
        let mut setxkbmap = Command::new("setxkbmap");
        setxkbmap.env("DISPLAY", display).arg("de");
        run(setxkbmap).unwrap();
    }
    let mut xterm = Command::new("xterm");
    xterm
        .env("DISPLAY", server.display_name())
        .env("LC_ALL", "C.UTF-8")
        .args(["-u8", "-geometry", "40x10+0+0", "-e", "sh", "-c"])
        .arg(format!("cat > {}", typed.display()));
    let _xterm = ServerProcess::spawn("xterm", xterm).unwrap();
    std::thread::sleep(Duration::from_secs(1));

    let title = "porthole-input-keysyms";
    let (window, _display) = open_viewer(&server.address(), title);
    // The pointer onto the xterm (no window manager: focus follows it).
    focus(x_display, title, 40, 40);
    xdotool(
        x_display,
        &["key", "--delay", "50", "z", "y", "odiaeresis", "Return"],
    );
    let arrived = pump_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.contains('\n'))
    });
    let text = std::fs::read_to_string(&typed).unwrap_or_default();
    assert!(arrived && text == "zyö\n", "the xterm got {text:?}");
    let mut setxkbmap = Command::new("setxkbmap");
    setxkbmap.env("DISPLAY", x_display).arg("us");
    run(setxkbmap).unwrap();
    window.close();
}

/// QEMU with only a PS/2 mouse asks for relative motion: the widget hides
/// the local pointer and sends the motion as deltas of remote pixels; the
/// wheel becomes button clicks. With a USB tablet it is absolute again.
fn relative_pointer_and_wheel_reach_qemu(x_display: &str) {
    let mut qemu = Qemu::start(&QemuOptions {
        keep_running: true,
        tablet: true,
        trace: vec![
            "input_event_rel".into(),
            "input_event_abs".into(),
            "input_event_btn".into(),
        ],
        ..QemuOptions::default()
    })
    .unwrap();
    let title = "porthole-input-relative";
    let (window, display) = open_viewer(&qemu.address(), title);
    focus(x_display, title, 100, 100);
    let hidden = display.cursor().and_then(|c| c.name());
    assert_eq!(
        hidden.as_deref(),
        Some("none"),
        "relative mode hides the local pointer"
    );
    let before = qemu.trace_log();
    xdotool(
        x_display,
        &["mousemove_relative", "--sync", "--", "30", "20"],
    );
    xdotool(
        x_display,
        &["mousemove_relative", "--sync", "--", "-10", "5"],
    );
    xdotool(x_display, &["click", "4", "click", "5"]);
    let log = qemu.trace_log();
    let new = &log[before.len()..];
    assert_eq!(
        (relative_sum(new, "x"), relative_sum(new, "y")),
        (20, 25),
        "QEMU's pointer moved as ours did; its trace:\n{new}"
    );
    let buttons = trace_values(new, "input_event_btn", "button", "down 1");
    assert_eq!(
        buttons,
        ["wheel-up", "wheel-down"],
        "the wheel reached QEMU; its trace:\n{new}"
    );
    assert!(
        !new.contains("input_event_abs"),
        "nothing absolute in relative mode"
    );
    #[cfg(feature = "x11")]
    let home = locked_pointer_moves_past_the_screen_edge(x_display, title, &qemu, &display);

    // The tablet becomes QEMU's active pointing device: QEMU tells the
    // widget to send absolute positions.
    qemu.activate_tablet().unwrap();
    let absolute = pump_until(Duration::from_secs(10), || {
        display.cursor().and_then(|c| c.name()).as_deref() != Some("none")
    });
    assert!(absolute, "the pointer shows again in absolute mode");
    #[cfg(feature = "x11")]
    assert_eq!(
        pointer_location(x_display),
        home,
        "the lock ended with relative mode and gave the pointer back where it was"
    );
    let before = qemu.trace_log();
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "mousemove",
            "--window",
            "%1",
            "320",
            "200",
        ],
    );
    let log = qemu.trace_log();
    let new = &log[before.len()..];
    assert!(
        new.contains("input_event_abs"),
        "QEMU got absolute positions; its trace:\n{new}"
    );
    window.close();
}

/// A server of our own that speaks RFB 3.8 with no security, sends a
/// 320×200 black screen (and, if `extended_buttons`, the pseudo-rectangle
/// that confirms extended mouse buttons, -316), then records every
/// PointerEvent the client sends until it leaves. Returns its port and the
/// pointer messages as sent.
fn button_server(extended_buttons: bool) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let job = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (width, height) = (320u16, 200u16);
        rfb::serve_handshake(&mut socket, width, height, b"buttons").unwrap();
        let rects: u16 = if extended_buttons { 2 } else { 1 };
        let mut update = vec![0, 0];
        update.extend_from_slice(&rects.to_be_bytes());
        if extended_buttons {
            update.extend_from_slice(&[0; 8]);
            update.extend_from_slice(&(-316i32).to_be_bytes());
        }
        for v in [0, 0, width, height] {
            update.extend_from_slice(&v.to_be_bytes());
        }
        update.extend_from_slice(&0i32.to_be_bytes());
        update.resize(
            update.len() + usize::from(width) * usize::from(height) * 4,
            0,
        );
        socket.write_all(&update).unwrap();

        // The client's messages, as long as they are the ones a client
        // sends to a server offering nothing else.
        let mut stream = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = socket.read(&mut chunk) {
            if n == 0 {
                break;
            }
            stream.extend_from_slice(&chunk[..n]);
        }
        let mut pointer = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let rest = &stream[at..];
            let len = match rest[0] {
                0 => 20,
                2 => 4 + 4 * usize::from(u16::from_be_bytes([rest[2], rest[3]])),
                3 => 10,
                4 => 8,
                5 if extended_buttons && rest[1] & 0x80 != 0 => 7,
                5 => 6,
                6 => 8 + u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize,
                other => panic!("message type {other} from the client: {rest:?}"),
            };
            if rest[0] == 5 {
                pointer.push(rest[..len].to_vec());
            }
            at += len;
        }
        pointer
    });
    (port, job)
}

/// The back and forward buttons (GDK 8 and 9) reach a server with
/// extended mouse buttons as rfbproto says: the marker bit 7 in the mask,
/// then a byte with back as bit 0 and forward as bit 1. Without the
/// extension back goes as bit 7 of the plain mask, as viewers always sent
/// it, and forward is not sent as any button.
fn back_and_forward_buttons_reach_a_server(x_display: &str, extended: bool) {
    let (port, server) = button_server(extended);
    let title = if extended {
        "porthole-input-buttons"
    } else {
        "porthole-input-buttons-plain"
    };
    let (window, display) = open_viewer(&format!("127.0.0.1::{port}"), title);
    focus(x_display, title, 50, 40);
    xdotool(x_display, &["click", "8", "click", "9"]);
    display.disconnect();
    pump_until(Duration::from_secs(5), || !display.connected());
    window.close();
    let pointer = server.join().unwrap();
    // From the first press on; before it only the focus' motion.
    let first = pointer
        .iter()
        .position(|m| m[1] != 0)
        .unwrap_or(pointer.len());
    let at = [0, 50, 0, 40];
    let message = |mask: u8, extra: Option<u8>| {
        let mut m = vec![5, mask];
        m.extend_from_slice(&at);
        m.extend(extra);
        m
    };
    let expected = if extended {
        vec![
            message(0x80, Some(0b01)),
            message(0, None),
            message(0x80, Some(0b10)),
            message(0, None),
        ]
    } else {
        vec![
            message(0x80, None),
            message(0, None),
            message(0, None),
            message(0, None),
        ]
    };
    assert_eq!(
        pointer[first..],
        expected,
        "pointer messages for back and forward (extended buttons: {extended}); all: {pointer:?}"
    );
    assert!(
        pointer[..first].iter().all(|m| m.len() == 6 && m[1] == 0),
        "before the clicks only motion: {pointer:?}"
    );
}

#[cfg(feature = "x11")]
/// Runs xdotool like [`xdotool`] and returns what it printed.
fn xdotool_output(display: &str, args: &[&str]) -> String {
    let mut command = Command::new("xdotool");
    command.env("DISPLAY", display).args(args);
    let job = std::thread::spawn(move || run(command));
    pump_until(Duration::from_secs(20), || job.is_finished());
    String::from_utf8(job.join().unwrap().unwrap()).unwrap()
}

#[cfg(feature = "x11")]
/// The numbers of `xdotool … --shell` output (`X=12` lines), by name.
fn shell_values(output: &str, names: &[&str]) -> Vec<i64> {
    names
        .iter()
        .map(|name| {
            output
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {output:?}"))
        })
        .collect()
}

#[cfg(feature = "x11")]
fn pointer_location(x_display: &str) -> (i64, i64) {
    let v = shell_values(
        &xdotool_output(x_display, &["getmouselocation", "--shell"]),
        &["X", "Y"],
    );
    (v[0], v[1])
}

/// The sum of QEMU's relative motion on `axis` in `log`.
fn relative_sum(log: &str, axis: &str) -> i64 {
    trace_values(log, "input_event_rel", "value", &format!("axis {axis}"))
        .iter()
        .map(|v| v.parse::<i64>().unwrap())
        .sum()
}

/// With the grab in relative mode the pointer is locked in our window: a
/// long push to the right keeps reaching QEMU far past the point where the
/// pointer would have hit the screen's edge (after which an unlocked
/// pointer sends nothing), and the real pointer stays inside the window.
/// The ungrab keys give the pointer back where the user left it, visible
/// and no longer moving the guest's; a click takes it again. Returns
/// where the pointer goes when the last lock ends.
#[cfg(feature = "x11")]
fn locked_pointer_moves_past_the_screen_edge(
    x_display: &str,
    title: &str,
    qemu: &Qemu,
    display: &VncDisplay,
) -> (i64, i64) {
    const SCREEN_WIDTH: i64 = 1280;
    let geometry = shell_values(
        &xdotool_output(
            x_display,
            &["search", "--name", title, "getwindowgeometry", "--shell"],
        ),
        &["X", "Y", "WIDTH", "HEIGHT"],
    );
    let (wx, wy, ww, wh) = (geometry[0], geometry[1], geometry[2], geometry[3]);
    // The lock sends the pointer back to the middle once it is a quarter
    // of the window away.
    let within = |(x, y): (i64, i64), d: i64| {
        (x - (wx + ww / 2)).abs() <= d && (y - (wy + wh / 2)).abs() <= d
    };
    let in_the_middle = |at| within(at, 1);
    let hidden = || display.cursor().and_then(|c| c.name()).as_deref() == Some("none");

    // The focus took the grab, and the pointer over the window the lock.
    let start = pointer_location(x_display);
    assert!(
        display.keyboard_grabbed() && hidden() && within(start, ww.min(wh) / 4),
        "the locked pointer waits hidden in the middle of the {ww}×{wh} window at ({wx}, {wy}), not at {start:?}"
    );

    // Ctrl+Alt frees the pointer: it shows, and moves without moving the
    // guest's.
    xdotool(x_display, &["key", "ctrl+alt"]);
    assert!(!display.keyboard_grabbed(), "Ctrl+Alt ungrabs");
    assert!(!hidden(), "the free pointer shows");
    let before = qemu.trace_log();
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "mousemove",
            "--window",
            "%1",
            "100",
            "100",
        ],
    );
    let log = qemu.trace_log();
    assert!(
        !log[before.len()..].contains("input_event_rel"),
        "a free pointer does not move the guest's: {}",
        &log[before.len()..]
    );

    // A click takes the grab and the lock again, and is not sent.
    let click = |at: (i64, i64)| {
        let before = qemu.trace_log();
        xdotool(x_display, &["click", "1"]);
        assert!(display.keyboard_grabbed(), "the click grabs");
        assert!(hidden(), "the locked pointer is hidden");
        let log = qemu.trace_log();
        assert!(
            !log[before.len()..].contains("input_event_btn"),
            "the click that took the lock did not reach the guest: {}",
            &log[before.len()..]
        );
        let now = pointer_location(x_display);
        assert!(
            in_the_middle(now),
            "the pointer clicked at {at:?} went to the middle: {now:?}"
        );
    };
    click((wx + 100, wy + 100));
    let to_edge = SCREEN_WIDTH - pointer_location(x_display).0;

    // 120 steps of 20 pixels, 20 ms apart (a quick, steady push).
    let (steps, step) = (120, 20);
    let mut args = Vec::new();
    for _ in 0..steps {
        args.extend(["mousemove_relative", "--", "20", "0", "sleep", "0.02"]);
    }
    let before = qemu.trace_log();
    let started = Instant::now();
    xdotool(x_display, &args);
    let took = started.elapsed();
    let log = qemu.trace_log();
    let new = &log[before.len()..];
    let (dx, dy) = (relative_sum(new, "x"), relative_sum(new, "y"));
    eprintln!(
        "pointer lock: pushed {} px right in {took:?}; QEMU got dx {dx}, dy {dy}; the screen edge was {to_edge} px away",
        steps * step
    );
    assert!(
        dx > to_edge,
        "the motion stopped at the screen edge ({to_edge} px away): QEMU got {dx}"
    );
    // No warp counts as motion (each would take a quarter of the window
    // off); one in a while a step merged with a warp's event is lost.
    assert!(
        dx > steps * step - 3 * step && dx <= steps * step && dy == 0,
        "QEMU got the motion pushed ({}, 0), none of the warps: ({dx}, {dy})",
        steps * step
    );
    let now = pointer_location(x_display);
    assert!(
        within(now, ww.min(wh) / 4 + step),
        "the pointer stays near the middle of the window: {now:?}"
    );

    // Ctrl+Alt: the pointer comes back where the click took it.
    xdotool(x_display, &["key", "ctrl+alt"]);
    assert_eq!(
        pointer_location(x_display),
        (wx + 100, wy + 100),
        "the pointer is back where the lock took it"
    );
    assert!(!hidden(), "and shows");
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "mousemove",
            "--window",
            "%1",
            "200",
            "150",
        ],
    );
    click((wx + 200, wy + 150));

    // Another window taking the focus ends the lock too; focus and the
    // pointer over our window again take it again.
    let other = gtk::Window::builder()
        .title("porthole-input-other")
        .default_width(100)
        .default_height(100)
        .build();
    other.present();
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            "porthole-input-other",
            "windowfocus",
            "--sync",
        ],
    );
    assert!(!display.keyboard_grabbed(), "focus loss ungrabs");
    assert_eq!(
        pointer_location(x_display),
        (wx + 200, wy + 150),
        "focus loss gave the pointer back where the click took it"
    );
    assert!(!hidden(), "and it shows");
    other.close();
    focus(x_display, title, 210, 150);
    assert!(
        display.keyboard_grabbed() && hidden() && in_the_middle(pointer_location(x_display)),
        "focus and the pointer over the window lock it again"
    );
    (wx + 210, wy + 150)
}

/// The bytes of QEMU audio messages (server to client: type 255,
/// submessage 1, then the operation).
#[cfg(feature = "audio")]
mod qemu_audio {
    pub const BEGIN: [u8; 4] = [255, 1, 0, 1];
    pub const END: [u8; 4] = [255, 1, 0, 0];
    pub const DATA: [u8; 4] = [255, 1, 0, 2];
    /// Client to server: enable, and set format S16 stereo 44100 Hz.
    pub const ENABLE: [u8; 4] = [255, 1, 0, 0];
    pub const SET_FORMAT_DEFAULT: [u8; 10] = [255, 1, 0, 2, 3, 2, 0, 0, 0xac, 0x44];
}

/// A server of our own that speaks RFB 3.8 with no security, acknowledges
/// QEMU audio, says the remote Caps Lock LED is on, waits for the client to ask for it, then sends one stream
/// of `samples` in two chunks. Returns its port and what the client sent.
#[cfg(feature = "audio")]
fn audio_server(samples: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let job = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        rfb::serve_handshake(&mut socket, 64, 48, b"audio").unwrap();
        // An update of two pseudo-rectangles: the audio acknowledgement,
        // and the LED state with Caps Lock on.
        let mut ack = vec![0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        ack.extend_from_slice(&(-259i32).to_be_bytes());
        ack.extend_from_slice(&[0; 8]);
        ack.extend_from_slice(&(-261i32).to_be_bytes());
        ack.push(4);
        socket.write_all(&ack).unwrap();
        let mut received = Vec::new();
        let contains =
            |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
        while !contains(&received, &qemu_audio::ENABLE) {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).unwrap();
            assert!(n > 0, "the client left before enabling audio");
            received.extend_from_slice(&chunk[..n]);
        }
        socket.write_all(&qemu_audio::BEGIN).unwrap();
        let (first, second) = samples.split_at(samples.len() / 3);
        for part in [first, second] {
            socket.write_all(&qemu_audio::DATA).unwrap();
            socket
                .write_all(&u32::try_from(part.len()).unwrap().to_be_bytes())
                .unwrap();
            socket.write_all(part).unwrap();
        }
        socket.write_all(&qemu_audio::END).unwrap();
        // Stay until the client goes.
        let mut chunk = [0u8; 4096];
        while matches!(socket.read(&mut chunk), Ok(n) if n > 0) {}
        received
    });
    (port, job)
}

/// Audio the server sends while `audio-enabled` is on reaches the
/// GStreamer sink unchanged (a file sink stands in for the speakers).
#[cfg(feature = "audio")]
fn audio_from_a_server_comes_out_unchanged() {
    let dir = porthole_harness::process::TempDir::new("porthole-audio").unwrap();
    let out = dir.path().join("audio.raw");
    std::env::set_var(
        porthole_vnc::gtk::AUDIO_SINK_ENV,
        format!("filesink location={}", out.display()),
    );
    // A second of a 440 Hz tone, stereo S16LE at 44.1 kHz.
    let samples: Vec<u8> = (0..44_100u32)
        .flat_map(|i| {
            let t = f64::from(i) / 44_100.0;
            let v = ((t * 440.0 * std::f64::consts::TAU).sin() * 12_000.0) as i16;
            let [a, b] = v.to_le_bytes();
            [a, b, a, b]
        })
        .collect();
    let (port, server) = audio_server(samples.clone());
    let display = VncDisplay::new();
    display.set_audio_enabled(true);
    display.connect_address(&Address::parse(&format!("127.0.0.1::{port}")).unwrap());
    let played = pump_until(Duration::from_secs(20), || {
        std::fs::metadata(&out).is_ok_and(|m| m.len() == samples.len() as u64)
    });
    assert!(
        display.caps_lock() && !display.num_lock() && !display.scroll_lock(),
        "the LED state reached the widget's properties"
    );
    display.disconnect();
    pump_until(Duration::from_secs(5), || !display.connected());
    let received = server.join().unwrap();
    let written = std::fs::read(&out).unwrap_or_default();
    assert!(
        received
            .windows(qemu_audio::SET_FORMAT_DEFAULT.len())
            .any(|w| w == qemu_audio::SET_FORMAT_DEFAULT),
        "the widget asked for 44.1 kHz stereo S16 before enabling"
    );
    assert!(
        played,
        "the sink got {} of {} bytes",
        written.len(),
        samples.len()
    );
    assert!(written == samples, "the sink got other bytes than sent");
    std::env::remove_var(porthole_vnc::gtk::AUDIO_SINK_ENV);
}

/// Real QEMU with a sound card acknowledges audio, and takes the widget's
/// format and enable requests with the session staying up.
#[cfg(feature = "audio")]
fn qemu_accepts_the_audio_request() {
    let qemu = Qemu::start(&QemuOptions {
        audio: true,
        trace: vec![
            "vnc_msg_client_audio_format".into(),
            "vnc_msg_client_audio_enable".into(),
        ],
        ..QemuOptions::default()
    })
    .unwrap();
    let display = VncDisplay::new();
    display.set_audio_enabled(true);
    display.connect_address(&Address::parse(&qemu.address()).unwrap());
    let enabled = pump_until(Duration::from_secs(20), || {
        qemu.trace_log().contains("vnc_msg_client_audio_enable")
    });
    let log = qemu.trace_log();
    assert!(enabled, "QEMU never saw audio enabled; its trace:\n{log}");
    assert!(log.contains("vnc_msg_client_audio_format"), "{log}");
    settle(Duration::from_secs(1));
    assert!(display.connected(), "the session stayed up");
    display.set_audio_enabled(false);
    display.disconnect();
}

/// An Xcursor file (the format `xsetroot -xcf` loads) of one image.
fn xcursor_file(width: u32, height: u32, hot: (u32, u32), argb: &[u32]) -> Vec<u8> {
    const IMAGE: u32 = 0xfffd_0002;
    let mut file = Vec::new();
    for word in [
        u32::from_le_bytes(*b"Xcur"),
        16,
        0x1_0000,
        1,
        IMAGE,
        width,
        28,
    ] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    for word in [36, IMAGE, width, 1, width, height, hot.0, hot.1, 0] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    for pixel in argb {
        file.extend_from_slice(&pixel.to_le_bytes());
    }
    file
}

fn set_root_cursor(display: &str, file: &std::path::Path, size: u32) {
    let mut xsetroot = Command::new("xsetroot");
    xsetroot
        .env("DISPLAY", display)
        .arg("-xcf")
        .arg(file)
        .arg(size.to_string());
    run(xsetroot).unwrap();
}

fn texture_rgb(texture: &gtk::gdk::Texture) -> RgbImage {
    images::load_png(&texture.save_to_png_bytes()).unwrap()
}

/// The server's cursor with partial transparency becomes our local cursor
/// with its hotspot; in remote mode Xvnc draws it into the picture and the
/// local pointer is hidden; in dot mode an invisible server cursor shows
/// as a dot.
fn cursor_modes_with_xvnc(x_display: &str) {
    let server = Xvnc::start(&XvncOptions {
        width: 320,
        height: 240,
        ..XvncOptions::default()
    })
    .unwrap();
    let pattern = images::test_pattern(320, 240);
    xvnc::show_image(&server.display_name(), &pattern).unwrap();
    let dir = porthole_harness::process::TempDir::new("porthole-cursor").unwrap();
    // 16×16: an opaque black square with a half-transparent red rim, the
    // hotspot at (3, 5).
    let argb: Vec<u32> = (0..16 * 16)
        .map(|i| {
            let (x, y) = (i % 16, i / 16);
            if x == 0 || y == 0 || x == 15 || y == 15 {
                0x80ff_0000
            } else {
                0xff00_0000
            }
        })
        .collect();
    let cursor = dir.path().join("square.xcur");
    std::fs::write(&cursor, xcursor_file(16, 16, (3, 5), &argb)).unwrap();
    set_root_cursor(&server.display_name(), &cursor, 16);

    let title = "porthole-input-cursor";
    let (window, display) = open_viewer(&server.address(), title);
    // Xvnc shows (and sends) its cursor once the pointer moved.
    focus(x_display, title, 100, 100);
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "mousemove",
            "--window",
            "%1",
            "110",
            "95",
        ],
    );
    let local = pump_until(Duration::from_secs(10), || {
        display
            .cursor()
            .and_then(|c| c.texture())
            .is_some_and(|t| t.width() == 16)
    });
    assert!(
        local,
        "the server's cursor did not become ours: {:?}",
        display
            .cursor()
            .map(|c| (c.name(), c.texture().map(|t| (t.width(), t.height()))))
    );
    let shape = display.cursor().unwrap();
    assert_eq!((shape.hotspot_x(), shape.hotspot_y()), (3, 5));
    let texture = shape.texture().unwrap();
    let mut rgba = vec![0u8; 16 * 16 * 4];
    texture.download(&mut rgba, 16 * 4);
    // GDK's default download is premultiplied B8G8R8A8 (Cairo's ARGB32
    // in memory): the rim keeps its half alpha.
    let rim_alpha = rgba[3];
    let inner_alpha = rgba[(8 * 16 + 8) * 4 + 3];
    assert!(
        (100..=160).contains(&rim_alpha) && inner_alpha == 255,
        "the cursor's alpha arrived: rim {rim_alpha}, inside {inner_alpha}"
    );

    // Remote: the pointer over our window is hidden and Xvnc draws its
    // cursor into the picture, where the pointer is.
    display.set_cursor_mode(CursorMode::Remote);
    focus(x_display, title, 100, 100);
    xdotool(
        x_display,
        &[
            "search",
            "--name",
            title,
            "mousemove",
            "--window",
            "%1",
            "120",
            "90",
        ],
    );
    assert_eq!(
        display.cursor().and_then(|c| c.name()).as_deref(),
        Some("none")
    );
    let truth = server.screenshot().unwrap();
    let drawn = pump_until(Duration::from_secs(10), || {
        display
            .screenshot()
            .is_some_and(|t| texture_rgb(&t).get_pixel(120, 90).0 == [0, 0, 0])
    });
    let shown = texture_rgb(&display.screenshot().unwrap());
    assert!(
        drawn,
        "Xvnc drew no cursor at the pointer (pixel {:?}, picture {:?})",
        shown.get_pixel(120, 90),
        truth.get_pixel(120, 90)
    );
    assert_eq!(
        shown.get_pixel(20, 200),
        truth.get_pixel(20, 200),
        "away from the cursor the picture is the server's"
    );

    // Dot: a fully transparent server cursor shows as our dot.
    display.set_cursor_mode(CursorMode::Dot);
    let invisible = dir.path().join("invisible.xcur");
    std::fs::write(&invisible, xcursor_file(1, 1, (0, 0), &[0])).unwrap();
    set_root_cursor(&server.display_name(), &invisible, 1);
    let dot = pump_until(Duration::from_secs(10), || {
        display
            .cursor()
            .and_then(|c| c.texture())
            .is_some_and(|t| t.width() == 5)
    });
    assert!(dot, "an invisible server cursor did not show as a dot");
    display.set_cursor_mode(CursorMode::Local);
    assert_eq!(
        display.cursor().and_then(|c| c.name()).as_deref(),
        Some("none"),
        "in local mode an invisible cursor stays invisible"
    );
    window.close();
}
