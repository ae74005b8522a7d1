//! The protocol extensions against the servers that have them: TigerVNC's
//! Xvnc (ExtendedDesktopSize, the extended clipboard, the alpha cursor,
//! fences and continuous updates) and QEMU (extended key events, LED
//! state, SetDesktopSize forwarded to the guest). A session runs over a
//! plain blocking socket here, so each test sees every event and byte.
//!
//! A test whose server is not installed says so and passes, unless `CI` is
//! set: there a missing server fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use porthole_harness::process::{in_ci, tools_available, ServerProcess, TempDir};
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::xvnc::{Xvnc, XvncOptions};
use porthole_vnc::keymap::evdev_to_xt;
use porthole_vnc::proto::{ResizeReason, ResizeStatus};
use porthole_vnc::{Config, Event, Session};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The text every clipboard test moves: Latin-1 could carry none but the
/// first two characters.
const TEXT: &str = "ä ø Я € 漢字 😎";

/// A byte stream a test can drive a session over.
trait Socket: Read + Write {}
impl<T: Read + Write> Socket for T {}

/// A session over a blocking socket, with every event kept.
struct Client {
    socket: Box<dyn Socket>,
    session: Session,
    events: Vec<Event>,
}

impl Client {
    fn tcp(port: u16) -> Self {
        let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Self::over(Box::new(socket))
    }

    fn unix(path: &Path) -> Self {
        let socket = UnixStream::connect(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Self::over(Box::new(socket))
    }

    fn over(socket: Box<dyn Socket>) -> Self {
        let mut client = Self {
            socket,
            session: Session::new(Config::default()),
            events: Vec::new(),
        };
        // Everything before the first picture stays in `events` (LED
        // state, cursor, layout come first).
        let deadline = Instant::now() + TIMEOUT;
        while !client.events.contains(&Event::UpdateComplete) {
            assert!(Instant::now() < deadline, "no first update");
            client.pump();
        }
        client
    }

    /// Sends what the session has queued, then reads for at most one
    /// short read timeout.
    fn pump(&mut self) {
        let mut out = Vec::new();
        self.session.poll_transmit(&mut out);
        if !out.is_empty() {
            self.socket.write_all(&out).unwrap();
        }
        let mut buf = [0; 64 * 1024];
        match self.socket.read(&mut buf) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => self.session.feed(&buf[..n]).unwrap(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read failed: {e}"),
        }
        while let Some(event) = self.session.poll_event() {
            self.events.push(event);
        }
    }

    /// Runs the session until an event matches; returns it. Events before
    /// it stay in `events`.
    fn until(&mut self, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = 0;
        loop {
            if let Some(i) = self.events[seen..].iter().position(&mut matches) {
                let found = self.events[seen + i].clone();
                self.events.drain(..=seen + i);
                return found;
            }
            seen = self.events.len();
            assert!(
                Instant::now() < deadline,
                "no {what} within {TIMEOUT:?}; events: {:?}",
                self.events
            );
            self.pump();
        }
    }

    /// Runs the session while `busy` says so (e.g. a child process runs).
    fn pump_while(&mut self, what: &str, mut busy: impl FnMut() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while busy() {
            assert!(Instant::now() < deadline, "{what} took over {TIMEOUT:?}");
            self.pump();
        }
    }
}

/// Whether the tools are there; says so loudly when they are not.
fn have(tools: &[&str]) -> bool {
    if tools_available(tools) {
        return true;
    }
    assert!(!in_ci(), "{tools:?} missing in CI");
    eprintln!("SKIPPED: {tools:?} not installed");
    false
}

fn xvnc() -> Xvnc {
    Xvnc::start(&XvncOptions::default()).unwrap()
}

/// The screen size `xdpyinfo` reports for `display`.
fn x_screen_size(display: &str) -> (u16, u16) {
    let output = Command::new("xdpyinfo")
        .args(["-display", display])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("dimensions:"))
        .unwrap_or_else(|| panic!("no dimensions in xdpyinfo: {text}"));
    let size = line.split_whitespace().nth(1).unwrap();
    let (w, h) = size.split_once('x').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

#[test]
fn xvnc_resizes_its_screen_when_asked() {
    if !have(&["Xvnc", "xdpyinfo"]) {
        return;
    }
    let server = xvnc();
    let mut client = Client::tcp(server.port);
    assert!(client.session.can_resize(), "Xvnc sent no layout");
    assert_eq!(x_screen_size(&server.display_name()), (640, 480));
    client.session.request_desktop_size(800, 600).unwrap();
    let answer = client.until("the resize answer", |e| {
        matches!(
            e,
            Event::DesktopLayout {
                reason: ResizeReason::ThisClient,
                ..
            }
        )
    });
    let Event::DesktopLayout {
        status,
        width,
        height,
        screens,
        ..
    } = answer
    else {
        unreachable!()
    };
    assert_eq!(status, ResizeStatus::Ok);
    assert_eq!((width, height), (800, 600));
    assert_eq!(screens.len(), 1);
    assert_eq!(
        (
            client.session.framebuffer().width(),
            client.session.framebuffer().height()
        ),
        (800, 600)
    );
    assert_eq!(x_screen_size(&server.display_name()), (800, 600));
    // The grown area is updated too: the session keeps asking for updates
    // (or has continuous updates) over the new size.
    client.until("an update after the resize", |e| {
        *e == Event::UpdateComplete
    });
}

#[test]
fn xvnc_speaks_fences_continuous_updates_and_the_alpha_cursor() {
    if !have(&["Xvnc", "xsetroot"]) {
        return;
    }
    let server = xvnc();
    let mut client = Client::tcp(server.port);
    let deadline = Instant::now() + TIMEOUT;
    while !client.session.continuous_updates() {
        assert!(Instant::now() < deadline, "no continuous updates");
        client.pump();
    }
    // Under continuous updates, a change on the server arrives without a
    // request from us.
    client.events.clear();
    let status = Command::new("xsetroot")
        .args(["-display", &server.display_name(), "-solid", "#336699"])
        .status()
        .unwrap();
    assert!(status.success());
    client.until("damage from the new root colour", |e| {
        matches!(e, Event::Damage(_))
    });
    client.until("the update's end", |e| *e == Event::UpdateComplete);
    let fb = client.session.framebuffer();
    let centre =
        (usize::from(fb.height() / 2) * usize::from(fb.width()) + usize::from(fb.width() / 2)) * 4;
    assert_eq!(&fb.data()[centre..centre + 4], &[0x99, 0x66, 0x33, 255]);

    // A cursor with real transparency. Xvnc draws the cursor into the
    // screen itself (and sends an empty one) while the pointer sits where
    // no client put it; moving it hands the cursor to us.
    client.session.pointer_event(100, 100, 0);
    client.pump();
    let _ = Command::new("xsetroot")
        .args([
            "-display",
            &server.display_name(),
            "-cursor_name",
            "left_ptr",
        ])
        .status();
    let cursor = client.until("a cursor", |e| matches!(e, Event::Cursor(c) if c.width > 0));
    let Event::Cursor(cursor) = cursor else {
        unreachable!()
    };
    let alphas: Vec<u8> = cursor.rgba.chunks(4).map(|p| p[3]).collect();
    let partial = alphas.iter().filter(|&&a| a != 0 && a != 255).count();
    eprintln!(
        "cursor {}x{}: {partial} partly transparent pixels",
        cursor.width, cursor.height
    );
    // With an ARGB cursor theme, the shadow is partly transparent: only
    // the alpha cursor (-314) can carry that, Cursor (-239) has a 1-bit mask.
    if Path::new("/usr/share/icons/Adwaita/cursors/left_ptr").exists() {
        assert!(partial > 0, "the ARGB cursor lost its alpha");
    }
    assert!(alphas.contains(&0), "a cursor without transparent pixels");
    assert!(alphas.contains(&255), "a cursor without opaque pixels");
    assert!(cursor.hot_x < cursor.width && cursor.hot_y < cursor.height);
}

/// `xclip` on `display` with `args`, reading stdin from `input`.
fn xclip(display: &str, args: &[&str], input: Option<&str>) -> Child {
    let mut child = Command::new("xclip")
        .args(["-display", display, "-selection", "clipboard"])
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child
}

#[test]
fn xvnc_clipboard_goes_both_ways_in_utf8() {
    if !have(&["Xvnc", "xclip"]) {
        return;
    }
    let server = xvnc();
    let display = server.display_name();
    let mut client = Client::tcp(server.port);
    let deadline = Instant::now() + TIMEOUT;
    while !client.session.has_extended_clipboard() {
        assert!(Instant::now() < deadline, "no extended clipboard");
        client.pump();
    }

    // Server to client: an X application copies; the session fetches it.
    let mut owner = xclip(&display, &["-i"], Some(&format!("{TEXT}\nline two")));
    let text = client.until("the server's clipboard", |e| {
        matches!(e, Event::ClipboardText(_))
    });
    assert_eq!(text, Event::ClipboardText(format!("{TEXT}\nline two")));
    let _ = owner.kill();
    let _ = owner.wait();

    // Client to server: an X application pastes what we offered.
    client.session.send_clipboard_text(TEXT);
    client.pump();
    let mut reader = xclip(&display, &["-o"], None);
    let mut done = None;
    client.pump_while("xclip -o", || {
        done = reader.try_wait().unwrap();
        done.is_none()
    });
    let mut pasted = String::new();
    reader
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut pasted)
        .unwrap();
    assert!(done.unwrap().success(), "xclip -o failed");
    assert_eq!(pasted, TEXT);
}

fn have_qemu() -> bool {
    have(&["qemu-system-x86_64"])
}

#[test]
fn qemu_reports_led_state_and_answers_a_resize_request() {
    if !have_qemu() {
        return;
    }
    let qemu = Qemu::start(&QemuOptions::default()).unwrap();
    let mut client = Client::tcp(qemu.port);
    client.until("the LED state", |e| matches!(e, Event::Leds { .. }));
    let deadline = Instant::now() + TIMEOUT;
    while !(client.session.has_extended_keys() && client.session.can_resize()) {
        assert!(Instant::now() < deadline, "no extended keys or layout");
        client.pump();
    }
    let (width, height) = (
        client.session.framebuffer().width(),
        client.session.framebuffer().height(),
    );
    client.session.request_desktop_size(1024, 768).unwrap();
    let answer = client.until("the resize answer", |e| {
        matches!(
            e,
            Event::DesktopLayout {
                reason: ResizeReason::ThisClient,
                ..
            }
        )
    });
    let Event::DesktopLayout {
        status,
        width: w,
        height: h,
        ..
    } = answer
    else {
        unreachable!()
    };
    eprintln!("QEMU (-vga std) answered a resize with {status:?}");
    let fb = client.session.framebuffer();
    if status == ResizeStatus::Ok {
        assert_eq!((w, h, fb.width(), fb.height()), (1024, 768, 1024, 768));
    } else {
        // Refused or forwarded: nothing changed (yet), and the event says
        // what the screen still is.
        assert_eq!((w, h), (width, height));
        assert_eq!((fb.width(), fb.height()), (width, height));
    }
}

/// A running QEMU whose SeaBIOS waits at "Press ESC for boot menu", on a
/// Unix socket.
struct BootMenuQemu {
    _process: ServerProcess,
    dir: TempDir,
}

impl BootMenuQemu {
    fn start() -> Self {
        let dir = TempDir::new("porthole-bootmenu").unwrap();
        let log = dir.path().join("firmware.log");
        let socket = dir.path().join("vnc.sock");
        let mut command = Command::new("qemu-system-x86_64");
        command
            .args(["-display", "none", "-m", "64", "-nodefaults", "-vga", "std"])
            .args(["-boot", "menu=on,splash-time=30000", "-no-reboot"])
            .arg("-vnc")
            .arg(format!("unix:{}", socket.display()))
            .arg("-chardev")
            .arg(format!("file,id=fwlog,path={}", log.display()))
            .args(["-device", "isa-debugcon,iobase=0x402,chardev=fwlog"]);
        let mut process = ServerProcess::spawn("qemu-system-x86_64", command).unwrap();
        process
            .wait_until("the boot menu prompt", TIMEOUT, |_| {
                std::fs::read_to_string(&log)
                    .ok()
                    .filter(|l| l.contains("Press ESC for boot menu"))
            })
            .unwrap();
        Self {
            _process: process,
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("firmware.log")).unwrap_or_default()
    }
}

#[test]
fn qemu_takes_an_xt_scancode_into_the_guest() {
    if !have_qemu() {
        return;
    }
    let qemu = BootMenuQemu::start();
    let mut client = Client::unix(&qemu.dir.path().join("vnc.sock"));
    let deadline = Instant::now() + TIMEOUT;
    while !client.session.has_extended_keys() {
        assert!(Instant::now() < deadline, "no extended key events");
        client.pump();
    }
    let before = client.session.framebuffer().clone();
    // Esc by its evdev keycode, with keysym 0 so that only the scancode
    // can carry it.
    let esc = evdev_to_xt(1).unwrap();
    client.session.key_event_scancode(true, 0, esc);
    client.pump();
    std::thread::sleep(Duration::from_millis(100));
    client.session.key_event_scancode(false, 0, esc);
    let deadline = Instant::now() + TIMEOUT;
    while !qemu.log().contains("Select boot device") {
        assert!(
            Instant::now() < deadline,
            "SeaBIOS did not open its boot menu; log:\n{}",
            qemu.log()
        );
        client.pump();
    }
    // And the screen we show changed with it.
    let deadline = Instant::now() + TIMEOUT;
    while client.session.framebuffer() == &before {
        assert!(Instant::now() < deadline, "the screen did not change");
        client.pump();
    }
}

/// Waits for the driver's next session event that matches.
async fn driver_until(
    events: &mut porthole_vnc::driver::Events,
    what: &str,
    mut matches: impl FnMut(&Event) -> bool,
) -> Event {
    let wait = async {
        loop {
            match events.recv().await {
                Some(porthole_vnc::driver::DriverEvent::Session(e)) if matches(&e) => return e,
                Some(porthole_vnc::driver::DriverEvent::Session(_)) => {}
                other => panic!("closed while waiting for {what}: {other:?}"),
            }
        }
    };
    tokio::time::timeout(TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {TIMEOUT:?}"))
}

#[test]
fn the_driver_resizes_xvnc_and_switches_pixel_format_under_continuous_updates() {
    if !have(&["Xvnc", "xdpyinfo", "xsetroot"]) {
        return;
    }
    use porthole_vnc::driver::{self, Stream};
    use porthole_vnc::PixelFormat;
    let server = xvnc();
    let display = server.display_name();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let (handle, mut events, _task) =
            driver::spawn(Stream::new(socket), Config::default(), None);
        driver_until(&mut events, "the first picture", |e| {
            *e == Event::UpdateComplete
        })
        .await;
        handle.request_desktop_size(720, 400);
        driver_until(&mut events, "the resize answer", |e| {
            matches!(
                e,
                Event::DesktopLayout {
                    reason: ResizeReason::ThisClient,
                    status: ResizeStatus::Ok,
                    ..
                }
            )
        })
        .await;
        assert_eq!(x_screen_size(&display), (720, 400));

        // 16-bit pixels, switched behind a fence while Xvnc streams
        // continuous updates; then a new colour must arrive intact.
        let rgb565 = PixelFormat {
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
        handle.set_pixel_format(rgb565);
        for (colour, bgr) in [("#ff0000", [0, 0, 255]), ("#00ff00", [0, 255, 0])] {
            let status = Command::new("xsetroot")
                .args(["-display", &display, "-solid", colour])
                .status()
                .unwrap();
            assert!(status.success());
            let deadline = Instant::now() + TIMEOUT;
            loop {
                driver_until(&mut events, "an update", |e| *e == Event::UpdateComplete).await;
                let fb = handle.lock_framebuffer();
                let at = (200 * usize::from(fb.width()) + 360) * 4;
                if fb.data()[at..at + 3] == bgr {
                    break;
                }
                drop(fb);
                assert!(Instant::now() < deadline, "{colour} never arrived intact");
            }
        }
        handle.shutdown();
    });
}

#[test]
fn qemu_virtio_answers_a_resize_request() {
    if !have_qemu() {
        return;
    }
    let dir = TempDir::new("porthole-virtio").unwrap();
    let socket = dir.path().join("vnc.sock");
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args(["-display", "none", "-m", "64", "-nodefaults", "-S"])
        .args(["-vga", "virtio", "-vnc"])
        .arg(format!("unix:{}", socket.display()));
    let mut process = ServerProcess::spawn("qemu-system-x86_64", command).unwrap();
    process
        .wait_until("the VNC socket", TIMEOUT, |_| socket.exists().then_some(()))
        .unwrap();
    let mut client = Client::unix(&socket);
    let deadline = Instant::now() + TIMEOUT;
    while !client.session.can_resize() {
        assert!(Instant::now() < deadline, "QEMU sent no layout");
        client.pump();
    }
    let fb = client.session.framebuffer();
    let (width, height) = (fb.width(), fb.height());
    client.session.request_desktop_size(1024, 768).unwrap();
    let answer = client.until("the resize answer", |e| {
        matches!(
            e,
            Event::DesktopLayout {
                reason: ResizeReason::ThisClient,
                ..
            }
        )
    });
    let Event::DesktopLayout { status, .. } = answer else {
        unreachable!()
    };
    eprintln!("QEMU (-vga virtio, guest paused) answered a resize with {status:?}");
    if status != ResizeStatus::Ok {
        // Forwarded to a guest that is not running, or refused: the
        // screen stays as it is until the guest itself changes mode.
        let fb = client.session.framebuffer();
        assert_eq!((fb.width(), fb.height()), (width, height));
    }
}

#[test]
fn qemu_acknowledges_audio_before_the_session_sends_audio_messages() {
    if !have_qemu() {
        return;
    }
    let dir = TempDir::new("porthole-audio").unwrap();
    let socket = dir.path().join("vnc.sock");
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args([
            "-display",
            "none",
            "-m",
            "64",
            "-nodefaults",
            "-vga",
            "std",
            "-S",
        ])
        .args(["-audiodev", "none,id=snd0"])
        .arg("-vnc")
        .arg(format!("unix:{},audiodev=snd0", socket.display()));
    let mut process = ServerProcess::spawn("qemu-system-x86_64", command).unwrap();
    process
        .wait_until("the VNC socket", TIMEOUT, |_| socket.exists().then_some(()))
        .unwrap();
    let mut client = Client::unix(&socket);
    let deadline = Instant::now() + TIMEOUT;
    while !client.session.has_audio() {
        assert!(Instant::now() < deadline, "QEMU did not acknowledge audio");
        client.pump();
    }
    assert!(client
        .events
        .contains(&Event::Supported(porthole_vnc::proto::Extension::Audio)));
    client
        .session
        .audio_set_format(porthole_vnc::proto::AudioFormat::default())
        .unwrap();
    client.session.audio_enable(true).unwrap();
    // QEMU took both messages: the session stays up and keeps updating.
    client.session.request_update(false, None);
    client.events.clear();
    client.until("an update after enabling audio", |e| {
        *e == Event::UpdateComplete
    });
    client.session.audio_enable(false).unwrap();
    client.session.request_update(false, None);
    client.until("an update after disabling audio", |e| {
        *e == Event::UpdateComplete
    });
}
