//! How the real `porthole` viewer behaves around the session, under Xvfb
//! (with openbox where fullscreen needs a window manager), checked through
//! X (window geometry, fullscreen state), AT-SPI and the servers
//! themselves: fullscreen with F11 and its top-edge toolbar, the kiosk
//! that cannot be left and quits when the server goes, keys sent from the
//! menu and `--keymap` remapping as QEMU's own input trace records them,
//! and the automatic reconnection to a restarted server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/viewer_app.rs"]
mod viewer_app;

use std::process::Command;
use std::time::{Duration, Instant};

use porthole_harness::a11y::Node;
use porthole_harness::process::TempDir;
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};
use viewer_app::{
    connects_without_asking, default_desktop_name, menu_item, output, pattern, tools_present,
    wait_for_picture, App, Session, WAIT,
};

const TOOLS: &[&str] = &[
    "Xvfb",
    "Xvnc",
    "dbus-daemon",
    "xdotool",
    "import",
    "display",
    "xwininfo",
    "xprop",
    "xdpyinfo",
];
/// The screen `Session::start` makes.
const SCREEN: (u32, u32) = (1600, 1000);

fn xvnc(port: Option<u16>) -> Xvnc {
    Xvnc::start(&XvncOptions {
        width: 640,
        height: 480,
        port,
        ..XvncOptions::default()
    })
    .unwrap()
}

fn server_size(server: &Xvnc) -> (u32, u32) {
    let mut command = Command::new("xdpyinfo");
    command.args(["-display", &server.display_name()]);
    let out = output(command);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("dimensions:"))
        .unwrap();
    let (w, h) = line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split_once('x')
        .unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether a button named `name` is on screen: drawn, and not slid out
/// above the window's top edge.
fn shows_button(node: &Node, name: &str) -> bool {
    node.find_all("button", name)
        .unwrap()
        .iter()
        .any(|b| b.extents().is_ok_and(|(_, y, _, h)| y + h > 0))
}

fn is_fullscreen(app: &App, window: u64) -> bool {
    let ((x, y, w, h), state) = app.geometry(window);
    state && (x, y) == (0, 0) && (w, h) == SCREEN
}

#[test]
fn f11_goes_fullscreen_edge_to_edge_with_a_toolbar_at_the_top_edge() {
    if !tools_present(&[TOOLS, &["openbox"]].concat()) {
        return;
    }
    let server = xvnc(None);
    let name = default_desktop_name();
    let session = Session::start(true);
    let mut app = session.launch(&[&format!("vnc://127.0.0.1:{}", server.port)]);
    let window = app.window(&name);
    let node = app.a11y();
    assert!(shows_button(&node, "Main Menu"), "the header bar shows");

    assert!(!is_fullscreen(&app, window));

    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    app.xdotool(&["key", "F11"]);
    wait_until("the window to fill the screen", || {
        is_fullscreen(&app, window)
    });
    // The remote screen follows: all of ours, no frame around it.
    wait_until("Xvnc to take the screen's size", || {
        server_size(&server) == SCREEN
    });
    wait_until("the header bar to go", || !shows_button(&node, "Main Menu"));
    assert!(!shows_button(&node, "Leave Fullscreen"), "no toolbar yet");

    // The top edge reveals the toolbar; leaving it hides the toolbar.
    app.xdotool(&["mousemove", "800", "0"]);
    wait_until("the toolbar", || shows_button(&node, "Leave Fullscreen"));
    std::thread::sleep(Duration::from_millis(500));
    app.keep_screenshot("viewer-fullscreen-toolbar");
    app.xdotool(&["mousemove", "800", "500"]);
    wait_until("the toolbar to hide", || {
        !shows_button(&node, "Leave Fullscreen")
    });

    // Its button leaves fullscreen; the header bar comes back.
    app.xdotool(&["mousemove", "800", "0"]);
    let leave = node.find("button", "Leave Fullscreen", WAIT).unwrap();
    leave.do_action("click").unwrap();
    wait_until("the window to leave fullscreen", || {
        !is_fullscreen(&app, window)
    });
    wait_until("the header bar", || shows_button(&node, "Main Menu"));
    app.quit();

    // --full-screen starts that way; the toolbar's Disconnect ends the
    // session (no reconnection by itself), and Reconnect brings it back.
    let mut app = session.launch(&["--full-screen", &format!("vnc://127.0.0.1:{}", server.port)]);
    let window = app.window(&name);
    wait_until("--full-screen to fill the screen", || {
        is_fullscreen(&app, window)
    });
    let node = app.a11y();
    app.xdotool(&["mousemove", "800", "500"]);
    app.xdotool(&["mousemove", "800", "0"]);
    node.find("button", "Disconnect", WAIT)
        .unwrap()
        .do_action("click")
        .unwrap();
    app.wait_title("Disconnected –");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        app.titles().iter().any(|t| t.starts_with("Disconnected –")),
        "a session the user ended came back by itself: {:?}",
        app.titles()
    );
    node.find("button", "Reconnect", WAIT)
        .unwrap()
        .do_action("click")
        .unwrap();
    app.window(&name);
}

/// A virt-viewer file as oVirt hands them out: a one-time password, to be
/// deleted once read, and fullscreen.
#[test]
fn a_vv_file_connects_with_its_password_fullscreen_and_is_deleted() {
    if !tools_present(&[TOOLS, &["openbox"]].concat()) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 640,
        height: 480,
        security: XvncSecurity::VncAuth("one-time".to_owned()),
        ..XvncOptions::default()
    })
    .unwrap();
    let files = TempDir::new("porthole-vv").unwrap();
    let vv = files.path().join("console.vv");
    std::fs::write(
        &vv,
        format!(
            "[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={}\npassword=one-time\n\
             fullscreen=1\ndelete-this-file=1\ntitle=Payroll\n",
            server.port
        ),
    )
    .unwrap();
    let name = default_desktop_name();
    let session = Session::start(true);
    let mut app = session.launch(&[vv.to_str().unwrap()]);
    connects_without_asking(&app, &name, "the file's password was not used");
    let window = app.window(&name);
    wait_until("fullscreen=1 to fill the screen", || {
        is_fullscreen(&app, window)
    });
    assert!(
        !vv.exists(),
        "delete-this-file=1 left the file with its password"
    );
    app.quit();
}

#[test]
fn a_kiosk_cannot_be_left_and_quits_when_the_server_goes() {
    if !tools_present(&[TOOLS, &["openbox"]].concat()) {
        return;
    }
    let server = xvnc(None);
    let name = default_desktop_name();
    let session = Session::start(true);
    let mut app = session.launch(&[
        "--kiosk",
        "--kiosk-quit=on-disconnect",
        &format!("vnc://127.0.0.1:{}", server.port),
    ]);
    let window = app.window(&name);
    wait_until("the kiosk to fill the screen", || {
        is_fullscreen(&app, window)
    });
    let node = app.a11y();
    assert!(
        !shows_button(&node, "Main Menu"),
        "a kiosk has no header bar"
    );
    app.xdotool(&["mousemove", "800", "0"]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !shows_button(&node, "Leave Fullscreen"),
        "a kiosk has no toolbar"
    );

    // Neither the keys that leave fullscreen or close windows, nor the
    // window manager's close, end it; with the keyboard grabbed by the
    // console or not.
    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    for keys in ["F11", "ctrl+w", "ctrl+q", "alt+F4", "Escape"] {
        app.xdotool(&["key", keys]);
    }
    app.xdotool(&["mousemove", "800", "500", "click", "1"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        node.find_all_where(|role, text| role == "label" && text.starts_with("Press "))
            .unwrap()
            .is_empty(),
        "a kiosk tells how to release the keyboard"
    );
    for keys in ["F11", "ctrl+alt", "F11", "ctrl+w", "ctrl+q", "alt+F4"] {
        app.xdotool(&["key", keys]);
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(app.process.exited().is_none(), "the kiosk was left");
    assert!(is_fullscreen(&app, window), "the kiosk left fullscreen");
    app.keep_screenshot("viewer-kiosk");

    // The server goes: the process ends, successfully.
    drop(server);
    let status = app
        .wait_exit(WAIT)
        .expect("the kiosk stayed after the server went");
    assert!(status.success(), "the kiosk exited with {status}");

    // The one way out is the combination the command line configured,
    // also while the console has the keyboard.
    let server = xvnc(None);
    let mut app = session.launch(&[
        "--kiosk",
        "--hotkeys=quit=ctrl+shift+e",
        &format!("vnc://127.0.0.1:{}", server.port),
    ]);
    let window = app.window(&name);
    wait_until("the kiosk to fill the screen", || {
        is_fullscreen(&app, window)
    });
    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    app.xdotool(&["mousemove", "800", "500", "click", "1"]);
    app.xdotool(&["key", "ctrl+shift+e"]);
    let status = app
        .wait_exit(WAIT)
        .expect("the configured combination did not end the kiosk");
    assert!(status.success(), "the kiosk exited with {status}");
}

/// The (qcode, down) pairs of QEMU's `input_event_key_qcode` trace.
fn qcodes(log: &str) -> Vec<(String, bool)> {
    log.lines()
        .filter(|l| l.contains("input_event_key_qcode"))
        .filter_map(|l| {
            let field = |name: &str| {
                let at = l.find(&format!(" {name} "))? + name.len() + 2;
                l[at..].split([',', ' ']).next().map(str::to_owned)
            };
            Some((field("qcode")?, field("down")? == "1"))
        })
        .collect()
}

fn wait_for_keys(qemu: &Qemu, since: usize, expected: &[(&str, bool)]) {
    let expected: Vec<(String, bool)> = expected
        .iter()
        .map(|(k, d)| ((*k).to_owned(), *d))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = qemu.trace_log();
        let got = qcodes(&log[since.min(log.len())..]);
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline && got.len() < expected.len(),
            "QEMU received {got:?}, not {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn send_keys_and_keymap_reach_qemu() {
    if !tools_present(&["Xvfb", "dbus-daemon", "xdotool", "qemu-system-x86_64"]) {
        return;
    }
    let mut qemu = Qemu::start(&QemuOptions {
        keep_running: true,
        trace: vec!["input_event_key_qcode".into()],
        ..QemuOptions::default()
    })
    .unwrap();
    let session = Session::start(false);
    let mut app = session.launch(&["--keymap=F1=ctrl+alt+F2,F4=Void", &qemu.address()]);
    let title = app.wait_title("QEMU");
    let window = app.window(&title);
    let node = app.a11y();

    // --keymap F1=ctrl+alt+F2: typing F1 sends Ctrl+Alt+F2, never F1.
    // A click on the screen gives it the keyboard.
    let geometry = app.geometry(window).0;
    app.xdotool(&["windowfocus", "--sync", &window.to_string()]);
    app.xdotool(&[
        "mousemove",
        &(geometry.0 + geometry.2 as i32 / 2).to_string(),
        &(geometry.1 + geometry.3 as i32 / 2).to_string(),
        "click",
        "1",
    ]);
    node.find_where("the grab note", WAIT, |role, text| {
        role == "label" && text.starts_with("Press Ctrl+Alt to release")
    })
    .unwrap();
    let before = qemu.trace_log().len();
    app.xdotool(&["key", "F1"]);
    wait_for_keys(
        &qemu,
        before,
        &[
            ("ctrl", true),
            ("alt", true),
            ("f2", true),
            ("f2", false),
            ("alt", false),
            ("ctrl", false),
        ],
    );
    // A key mapped to Void sends nothing; others are typed as they are.
    let before = qemu.trace_log().len();
    app.xdotool(&["key", "F4", "F3"]);
    wait_for_keys(&qemu, before, &[("f3", true), ("f3", false)]);

    // Send Keys → Ctrl+Alt+Del: pressed in order, released in reverse.
    // The guest resets on it: QEMU must not exit then (-no-reboot).
    qemu.qmp()
        .execute("set-action", serde_json::json!({ "reboot": "reset" }))
        .unwrap();
    let before = qemu.trace_log().len();
    menu_item(&node, "Send Keys", "Ctrl+Alt+Del")
        .do_action("click")
        .unwrap();
    wait_for_keys(
        &qemu,
        before,
        &[
            ("ctrl", true),
            ("alt", true),
            ("delete", true),
            ("delete", false),
            ("alt", false),
            ("ctrl", false),
        ],
    );
}

#[test]
fn the_viewer_reconnects_by_itself_to_a_restarted_server() {
    if !tools_present(TOOLS) {
        return;
    }
    let server = xvnc(None);
    server.show_image(&pattern(640, 480, 2)).unwrap();
    let truth = server.screenshot().unwrap();
    let port = server.port;
    let name = default_desktop_name();
    let session = Session::start(false);
    let mut app = session.launch(&[
        "--zoom=100",
        "--auto-resize=never",
        &format!("vnc://127.0.0.1:{port}"),
    ]);
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);

    drop(server);
    app.wait_title("Server Closed the Connection –");
    let node = app.a11y();
    let countdown = node
        .find_where("the countdown", WAIT, |role, text| {
            role == "label" && text.starts_with("Reconnecting in ")
        })
        .unwrap();
    // In the window sized to the small remote screen, not below the fold.
    let (_, y, _, h) = countdown.extents().unwrap();
    let window_height = app.geometry(window).0 .3;
    assert!(
        (y + h) as u32 <= window_height,
        "the countdown ends at {} in a window {window_height} high",
        y + h
    );
    app.keep_screenshot("viewer-reconnecting");

    let started = Instant::now();
    let server = xvnc(Some(port));
    server.show_image(&pattern(640, 480, 3)).unwrap();
    let truth = server.screenshot().unwrap();
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);
    eprintln!(
        "back on the restarted server's screen {:.1} s after it started",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn closing_the_viewer_ends_the_process() {
    if !tools_present(TOOLS) {
        return;
    }
    let server = xvnc(None);
    let name = default_desktop_name();
    let session = Session::start(false);
    let mut app = session.launch(&[&format!("vnc://127.0.0.1:{}", server.port)]);
    app.window(&name);
    // The window's close action: what its × button and Ctrl+W run.
    app.a11y()
        .find("window", &name, WAIT)
        .unwrap()
        .do_action("window.close")
        .unwrap();
    let status = app
        .wait_exit(WAIT)
        .expect("porthole kept running after its only window closed");
    assert!(status.success(), "porthole exited with {status}");
}
