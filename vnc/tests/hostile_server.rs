//! `porthole-vnc capture` against a crafted server of our own that breaks
//! the protocol on purpose: rectangles outside the screen, absurd sizes,
//! corrupt and oversized zlib data, truncated streams, unknown encodings
//! and message types, a 2 GB cut text. Each must end in one clear line on
//! stderr, a non-zero exit, no output file, and promptly — the server keeps
//! the connection open, so only the client's own checks can end it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use porthole_harness::process::TempDir;
use porthole_harness::rfb;

/// How long a hostile case may take before we call it a hang.
const PROMPT: Duration = Duration::from_secs(5);

/// What the crafted server does after accepting a connection.
#[derive(Clone)]
enum Script {
    /// Sends these bytes as the whole conversation (no handshake).
    Raw(Vec<u8>),
    /// Does the RFB 3.8 handshake with None security and this ServerInit
    /// size, then sends the bytes.
    AfterInit {
        width: u16,
        height: u16,
        then: Vec<u8>,
    },
}

#[derive(Clone, Copy)]
enum Ending {
    /// Keep the connection open (until the client goes or 30 s pass).
    HoldOpen,
    /// Close (our direction) right after sending.
    Close,
}

fn serve(script: Script, ending: Ending) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let sent = match script {
            Script::Raw(bytes) => socket.write_all(&bytes),
            Script::AfterInit {
                width,
                height,
                then,
            } => handshake(&mut socket, width, height).and_then(|()| socket.write_all(&then)),
        };
        if sent.is_err() {
            return;
        }
        if let Ending::Close = ending {
            // Send FIN now; closing with the client's messages unread would
            // make the kernel send RST instead, which tests something else.
            let _ = socket.shutdown(std::net::Shutdown::Write);
        }
        // Read (and ignore) whatever the client sends until it leaves.
        let mut sink = [0u8; 4096];
        while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
    });
    port
}

fn handshake(socket: &mut TcpStream, width: u16, height: u16) -> std::io::Result<()> {
    rfb::serve_handshake(socket, width, height, b"hostile")
}

/// A FramebufferUpdate header with one rectangle.
fn one_rect(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 1];
    for v in [x, y, w, h] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(&encoding.to_be_bytes());
    bytes
}

/// Runs a capture against `port` and checks it fails cleanly and promptly
/// with `needle` (lowercase) in its one-line message.
fn assert_clean_failure(case: &str, port: u16, extra: &[&str], needle: &str) {
    let dir = TempDir::new("porthole-hostile").unwrap();
    let out = dir.path().join("out.png");
    let address = format!("127.0.0.1::{port}");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args([
            "capture",
            &address,
            out.to_str().unwrap(),
            "--timeout",
            "20",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > PROMPT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{case}: porthole-vnc still running after {PROMPT:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!("{case}: {elapsed:?}: {}", stderr.trim());
    assert!(!status.success(), "{case}: exited successfully");
    assert_eq!(status.code(), Some(1), "{case}: {status}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{case}: not one line: {stderr:?}"
    );
    assert!(
        stderr.to_lowercase().contains(needle),
        "{case}: expected '{needle}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    assert!(!out.exists(), "{case}: an output file was left");
}

fn case(name: &str, script: Script, ending: Ending, needle: &str) {
    let port = serve(script, ending);
    assert_clean_failure(name, port, &[], needle);
}

#[test]
fn rectangle_outside_the_screen() {
    let mut update = one_rect(90, 90, 20, 20, 0);
    update.extend(std::iter::repeat_n(0u8, 20 * 20 * 4));
    case(
        "out-of-bounds raw rectangle",
        Script::AfterInit {
            width: 100,
            height: 100,
            then: update,
        },
        Ending::HoldOpen,
        "outside",
    );
    // CopyRect whose source lies outside the screen.
    let mut update = one_rect(0, 0, 10, 10, 1);
    update.extend_from_slice(&[0xff, 0x00, 0xff, 0x00]);
    case(
        "copyrect from outside",
        Script::AfterInit {
            width: 100,
            height: 100,
            then: update,
        },
        Ending::HoldOpen,
        "outside",
    );
}

#[test]
fn absurd_screen_size() {
    case(
        "65535x65535 ServerInit",
        Script::AfterInit {
            width: 65535,
            height: 65535,
            then: Vec::new(),
        },
        Ending::HoldOpen,
        "limit",
    );
}

#[test]
fn zlib_garbage_and_oversized_blocks() {
    let mut update = one_rect(0, 0, 16, 16, 6);
    update.extend_from_slice(&64u32.to_be_bytes());
    update.extend((0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
    case(
        "zlib garbage",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: update,
        },
        Ending::HoldOpen,
        "compressed",
    );
    let mut update = one_rect(0, 0, 16, 16, 16);
    update.extend_from_slice(&64u32.to_be_bytes());
    update.extend(std::iter::repeat_n(0xffu8, 64));
    case(
        "zrle garbage",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: update,
        },
        Ending::HoldOpen,
        "compressed",
    );
    let mut update = one_rect(0, 0, 16, 16, 6);
    update.extend_from_slice(&u32::MAX.to_be_bytes());
    case(
        "4 GB zlib block",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: update,
        },
        Ending::HoldOpen,
        "compressed block",
    );
}

#[test]
fn truncated_streams() {
    let mut update = one_rect(0, 0, 50, 50, 0);
    update.extend(std::iter::repeat_n(7u8, 1000));
    case(
        "closed in the middle of a raw rectangle",
        Script::AfterInit {
            width: 100,
            height: 100,
            then: update,
        },
        Ending::Close,
        "closed the connection",
    );
    case(
        "closed during the handshake",
        Script::Raw(b"RFB 003.008\n".to_vec()),
        Ending::Close,
        "closed the connection during the handshake",
    );
}

#[test]
fn unknown_encodings_and_message_types() {
    case(
        "unknown encoding",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: one_rect(0, 0, 8, 8, 12345),
        },
        Ending::HoldOpen,
        "encoding",
    );
    case(
        "unknown message type",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: vec![77, 1, 2, 3],
        },
        Ending::HoldOpen,
        "message",
    );
}

#[test]
fn huge_cut_text() {
    let mut message = vec![3, 0, 0, 0];
    // The length is signed (negative lengths are extended clipboard
    // messages): the largest positive one.
    message.extend_from_slice(&i32::MAX.to_be_bytes());
    message.extend_from_slice(b"the rest never comes");
    case(
        "2 GB ServerCutText",
        Script::AfterInit {
            width: 64,
            height: 64,
            then: message,
        },
        Ending::HoldOpen,
        "limit",
    );
}

#[test]
fn bad_greetings_and_refusals() {
    case(
        "not an RFB server",
        Script::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Ending::HoldOpen,
        "rfb",
    );
    case(
        "unsupported version",
        Script::Raw(b"RFB 009.001\n".to_vec()),
        Ending::HoldOpen,
        "009.001",
    );
    let mut refusal = b"RFB 003.008\n".to_vec();
    refusal.push(0); // no security types: a reason follows
    refusal.extend_from_slice(&14u32.to_be_bytes());
    refusal.extend_from_slice(b"too many users");
    case(
        "connection refused by the server",
        Script::Raw(refusal),
        Ending::HoldOpen,
        "too many users",
    );
}

#[test]
fn silent_server_times_out() {
    let port = serve(Script::Raw(Vec::new()), Ending::HoldOpen);
    let start = Instant::now();
    assert_clean_failure(
        "silent server",
        port,
        &["--timeout", "1"],
        "timed out after 1 s waiting for the server's greeting",
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn refused_port() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    assert_clean_failure("nothing listening", port, &[], "refused");
}

/// Not hostile: a scripted server that sends three updates at once — a
/// full red fill, a resize-only update (DesktopSize) and a small Raw
/// rectangle — checks what `--updates` counts (the resize-only one too)
/// and that the PNG has the final size and pixels.
#[test]
fn updates_are_counted_including_resize_only_ones() {
    let mut updates = one_rect(0, 0, 16, 16, 0);
    updates.extend([0u8, 0, 255, 0].repeat(16 * 16)); // B, G, R, X: red
    updates.extend(one_rect(0, 0, 8, 4, -223)); // DesktopSize to 8×4
    updates.extend(one_rect(2, 1, 2, 1, 0));
    updates.extend([255u8, 0, 0, 0, 0, 255, 0, 0]); // blue, green
    let script = Script::AfterInit {
        width: 16,
        height: 16,
        then: updates,
    };

    let dir = TempDir::new("porthole-scripted").unwrap();
    let out = dir.path().join("out.png");
    let port = serve(script.clone(), Ending::HoldOpen);
    let status = Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args([
            "capture",
            &format!("127.0.0.1::{port}"),
            out.to_str().unwrap(),
        ])
        .args(["--updates", "3", "--timeout", "10"])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let image = porthole_harness::images::load(&out).unwrap();
    assert_eq!(image.dimensions(), (8, 4));
    assert_eq!(image.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(image.get_pixel(2, 1).0, [0, 0, 255]);
    assert_eq!(image.get_pixel(3, 1).0, [0, 255, 0]);
    assert_eq!(image.get_pixel(7, 3).0, [255, 0, 0]);

    // A fourth update never comes: that is a timeout naming the count.
    let port = serve(script, Ending::HoldOpen);
    assert_clean_failure(
        "waiting for a fourth update",
        port,
        &["--updates", "4", "--timeout", "1"],
        "waiting for update 4 of 4",
    );
}
