//! `porthole-vnc` against the servers users have: TigerVNC's Xvnc, QEMU's
//! built-in server and libvncserver's x11vnc, started by the harness. Every
//! lossless encoding is forced in turn and each capture must equal the
//! server's own picture of its screen, pixel for pixel.
//!
//! A test whose server is not installed says so and passes, unless `CI` is
//! set: there a missing server fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{tools_available, TempDir};
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::x11vnc::{X11vnc, X11vncOptions};
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};

const ENCODINGS: [&str; 8] = [
    "raw", "copyrect", "rre", "corre", "hextile", "zlib", "zrle", "trle",
];

/// A run of the real binary: its output, and how long it took.
struct Run {
    output: Output,
    elapsed: Duration,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn assert_success(&self, what: &str) {
        assert!(
            self.output.status.success(),
            "{what}: porthole-vnc failed ({}): {}",
            self.output.status,
            self.stderr()
        );
    }

    /// Asserts a failure with exactly one line on stderr, containing `needle`.
    fn assert_one_line_error(&self, needle: &str) {
        assert!(
            !self.output.status.success(),
            "expected a failure, got success"
        );
        let stderr = self.stderr();
        eprintln!("expected failure in {:?}: {}", self.elapsed, stderr.trim());
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
        assert!(
            stderr.to_lowercase().contains(needle),
            "expected '{needle}' in: {stderr}"
        );
    }
}

/// Runs `porthole-vnc` with `args` and `stdin`, killing it after 60 s.
fn porthole_vnc(args: &[&str], stdin: Option<&str>) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let deadline = start + Duration::from_secs(60);
    while !waiter.is_finished() {
        assert!(
            Instant::now() < deadline,
            "porthole-vnc {args:?} ran for over 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Run {
        output: waiter.join().unwrap(),
        elapsed: start.elapsed(),
    }
}

fn load(path: &Path) -> RgbImage {
    images::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Captures `address` once per encoding and compares each capture with
/// `truth`; prints the capture times.
fn capture_every_encoding(server: &str, address: &str, extra: &[&str], truth: &RgbImage) {
    let dir = TempDir::new("porthole-capture").unwrap();
    for encoding in ENCODINGS {
        let out = dir.path().join(format!("{encoding}.png"));
        let out_str = out.to_str().unwrap();
        let mut args = vec![
            "capture",
            address,
            out_str,
            "--encodings",
            encoding,
            "--timeout",
            "20",
        ];
        args.extend_from_slice(extra);
        let run = porthole_vnc(&args, None);
        run.assert_success(&format!("{server} {encoding}"));
        eprintln!(
            "{server}: capture with {encoding} of {}x{} took {:?}",
            truth.width(),
            truth.height(),
            run.elapsed
        );
        images::assert_same(
            truth,
            &load(&out),
            &format!("{server} capture with {encoding}"),
        );
    }
}

fn password_file(dir: &TempDir, password: &str) -> PathBuf {
    let path = dir.path().join("password");
    // A trailing newline, as editors write, is not part of the password.
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

fn capture_with_password_file(address: &str, out: &Path, password_file: &Path) -> Run {
    porthole_vnc(
        &[
            "capture",
            address,
            out.to_str().unwrap(),
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        None,
    )
}

/// The right password (from a file) gives the server's screen; a wrong one
/// gives a one-line authentication error and no output file.
fn assert_password_gate(server: &str, address: &str, password: &str, truth: &RgbImage) {
    let dir = TempDir::new("porthole-auth").unwrap();
    let out = dir.path().join("shot.png");
    let run = capture_with_password_file(address, &out, &password_file(&dir, password));
    run.assert_success(&format!("{server} with its password"));
    images::assert_same(truth, &load(&out), &format!("{server} vnc auth capture"));
    std::fs::remove_file(&out).unwrap();

    // VNC authentication uses only the first 8 characters: differ early.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, format!("x{password}")).unwrap();
    let run = capture_with_password_file(address, &out, &bad);
    run.assert_one_line_error("authentication failed");
    assert!(!out.exists(), "a failed capture left {}", out.display());
}

#[test]
fn xvnc_every_encoding_matches_the_screen() {
    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions::default()).unwrap();
    server.show_image(&images::test_pattern(640, 480)).unwrap();
    let truth = server.screenshot().unwrap();
    capture_every_encoding("xvnc", &server.address(), &[], &truth);

    let info = porthole_vnc(&["info", &server.address()], None);
    info.assert_success("xvnc info");
    let stdout = info.stdout();
    for expected in [
        "version: RFB 003.008",
        "security types: None (1)",
        "size: 640x480",
        "32 bpp, depth 24",
    ] {
        assert!(
            stdout.contains(expected),
            "'{expected}' missing from info: {stdout}"
        );
    }
}

#[test]
fn xvnc_over_ipv6_and_a_unix_socket() {
    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 320,
        height: 200,
        unix_socket: true,
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&images::test_pattern(320, 200)).unwrap();
    let truth = server.screenshot().unwrap();
    let dir = TempDir::new("porthole-capture").unwrap();
    let unix = format!("unix:{}", server.unix_socket.as_ref().unwrap().display());
    for (name, address) in [
        ("ipv6", format!("[::1]::{}", server.port)),
        ("vnc uri", format!("vnc://127.0.0.1:{}", server.port)),
        ("unix", unix),
    ] {
        let out = dir.path().join("shot.png");
        let run = porthole_vnc(&["capture", &address, out.to_str().unwrap()], None);
        run.assert_success(name);
        images::assert_same(&truth, &load(&out), &format!("xvnc over {name}"));
    }
}

#[test]
fn xvnc_vnc_auth_right_and_wrong_password() {
    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 400,
        height: 300,
        security: XvncSecurity::VncAuth("tiger-pw".into()),
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&images::test_pattern(400, 300)).unwrap();
    let truth = server.screenshot().unwrap();
    assert_password_gate("xvnc", &server.address(), "tiger-pw", &truth);
    let dir = TempDir::new("porthole-auth").unwrap();
    let good = password_file(&dir, "tiger-pw");
    let out = dir.path().join("shot.png");
    let out_str = out.to_str().unwrap();

    // From standard input, both with '-' and when asked for.
    let run = porthole_vnc(
        &[
            "capture",
            &server.address(),
            out_str,
            "--password-file",
            "-",
        ],
        Some("tiger-pw\n"),
    );
    run.assert_success("xvnc with --password-file -");
    std::fs::remove_file(&out).unwrap();
    let run = porthole_vnc(&["capture", &server.address(), out_str], Some("tiger-pw\n"));
    run.assert_success("xvnc with the password asked for on stdin");
    std::fs::remove_file(&out).unwrap();

    let run = porthole_vnc(&["capture", &server.address(), out_str], None);
    run.assert_one_line_error("password");
    assert!(!out.exists());

    let info = porthole_vnc(
        &[
            "info",
            &server.address(),
            "--password-file",
            good.to_str().unwrap(),
        ],
        None,
    );
    info.assert_success("xvnc info with a password");
    assert!(
        info.stdout()
            .contains("security types: VNC authentication (2)"),
        "{}",
        info.stdout()
    );
}

#[test]
fn qemu_every_encoding_matches_screendump() {
    if !tools_available(&["qemu-system-x86_64"]) {
        return;
    }
    let mut qemu = Qemu::start(&QemuOptions::default()).unwrap();
    let truth = qemu.screendump().unwrap();
    capture_every_encoding("qemu", &qemu.address(), &[], &truth);
    let info = porthole_vnc(&["info", &qemu.address()], None);
    info.assert_success("qemu info");
    assert!(
        info.stdout().contains("name: QEMU (porthole-test)"),
        "{}",
        info.stdout()
    );
    assert!(
        info.stdout()
            .contains(&format!("size: {}x{}", truth.width(), truth.height())),
        "{}",
        info.stdout()
    );
}

#[test]
fn qemu_password_and_unix_socket() {
    if !tools_available(&["qemu-system-x86_64"]) {
        return;
    }
    let mut qemu = Qemu::start(&QemuOptions {
        password: Some("qemu-pw".into()),
        ..QemuOptions::default()
    })
    .unwrap();
    let truth = qemu.screendump().unwrap();
    assert_password_gate("qemu", &qemu.address(), "qemu-pw", &truth);
    drop(qemu);

    let mut qemu = Qemu::start(&QemuOptions {
        unix_socket: true,
        ..QemuOptions::default()
    })
    .unwrap();
    let truth = qemu.screendump().unwrap();
    let dir = TempDir::new("porthole-qemu-unix").unwrap();
    let out = dir.path().join("shot.png");
    let run = porthole_vnc(&["capture", &qemu.address(), out.to_str().unwrap()], None);
    run.assert_success("qemu over a unix socket");
    images::assert_same(&truth, &load(&out), "qemu unix socket capture");
}

#[test]
fn x11vnc_every_encoding_matches_the_screen() {
    if !tools_available(&["Xvfb", "x11vnc", "display", "import"]) {
        return;
    }
    let server = X11vnc::start(&X11vncOptions {
        width: 640,
        height: 480,
        image: Some(images::test_pattern(640, 480)),
        ..X11vncOptions::default()
    })
    .unwrap();
    let truth = server.screenshot().unwrap();
    capture_every_encoding("x11vnc", &server.address(), &[], &truth);
}

#[test]
fn x11vnc_with_a_password() {
    if !tools_available(&["Xvfb", "x11vnc", "display", "import"]) {
        return;
    }
    let server = X11vnc::start(&X11vncOptions {
        width: 300,
        height: 200,
        password: Some("lvs-pw".into()),
        image: Some(images::test_pattern(300, 200)),
    })
    .unwrap();
    let truth = server.screenshot().unwrap();
    assert_password_gate("x11vnc", &server.address(), "lvs-pw", &truth);
}

/// The library path the app uses for libvirt consoles: a socket someone
/// else connected, handed over as a file descriptor.
#[test]
fn driver_takes_over_a_connected_socket() {
    use porthole_vnc::driver::{self, DriverEvent, Stream};
    use porthole_vnc::proto::{Config, Event};

    if !tools_available(&["Xvnc", "display", "import"]) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 256,
        height: 128,
        unix_socket: true,
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&images::test_pattern(256, 128)).unwrap();
    let truth = server.screenshot().unwrap();
    let socket =
        std::os::unix::net::UnixStream::connect(server.unix_socket.as_ref().unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pixels = runtime.block_on(async {
        let stream = Stream::from_fd(socket.into()).unwrap();
        let (handle, mut events, task) = driver::spawn(stream, Config::default(), None);
        let wait = async {
            loop {
                match events.recv().await.unwrap() {
                    DriverEvent::Session(Event::UpdateComplete) => break,
                    DriverEvent::Closed(result) => panic!("closed: {result:?}"),
                    DriverEvent::Session(_) => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap();
        let framebuffer = handle.lock_framebuffer().clone();
        handle.shutdown();
        while let Some(event) = events.recv().await {
            if let DriverEvent::Closed(result) = event {
                assert!(result.is_ok(), "{result:?}");
            }
        }
        task.await.unwrap();
        framebuffer
    });
    let rgb: Vec<u8> = pixels
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    let captured =
        RgbImage::from_raw(u32::from(pixels.width()), u32::from(pixels.height()), rgb).unwrap();
    images::assert_same(&truth, &captured, "xvnc through a handed-over socket");
}
