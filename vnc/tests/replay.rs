//! Recordings (`porthole-vnc record`, `replay`, `serve`): every recording
//! committed in `tests/recordings/` was made from a real server (Xvnc with
//! text and with a photo-like picture, QEMU showing SeaBIOS) with one
//! encoding forced, next to the server's own screenshot taken at the same
//! time (`SOURCE.png`). Replaying a recording must give that screenshot
//! pixel for pixel (PSNR of at least 30 dB for JPEG), and so must a
//! capture from `porthole-vnc serve` playing it.
//!
//! The recordings are remade with
//! `cargo test -p porthole-vnc --test replay -- --ignored make_recordings`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{tools_available, TempDir};

fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recordings")
}

fn porthole_vnc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: porthole-vnc failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The committed recordings, each with the screenshot it must replay to.
fn recordings() -> Vec<(PathBuf, PathBuf)> {
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(recordings_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "fbs"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (source, _encoding) = name.rsplit_once('-').unwrap();
            let source = source.trim_end_matches("-tight");
            let expected = recordings_dir().join(format!("{source}.png"));
            (path, expected)
        })
        .collect();
    found.sort();
    found
}

/// Lossless recordings must match exactly; JPEG ones closely.
fn assert_matches(recording: &Path, expected: &RgbImage, actual: &RgbImage, what: &str) {
    let name = recording.file_name().unwrap().to_string_lossy();
    if name.contains("jpeg") {
        let psnr = images::psnr(expected, actual).unwrap_or(0.0);
        assert!(psnr >= 30.0, "{what} {name}: PSNR {psnr:.1} dB under 30 dB");
    } else {
        images::assert_same(expected, actual, &format!("{what} {name}"));
    }
}

#[test]
fn every_recording_replays_to_the_servers_screenshot() {
    let list = recordings();
    assert!(
        list.len() >= 9,
        "expected recordings of 3 sources in 3 encodings at least, found {}",
        list.len()
    );
    let dir = TempDir::new("porthole-replay").unwrap();
    for (recording, expected) in list {
        let out = dir.path().join("last.png");
        let output = porthole_vnc(&[
            "replay",
            recording.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_success(&output, &recording.display().to_string());
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("frames: ") && l != "frames: 0"),
            "{}: no complete update: {report}",
            recording.display()
        );
        let expected = images::load(&expected).unwrap();
        assert_matches(
            &recording,
            &expected,
            &images::load(&out).unwrap(),
            "replay of",
        );
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn bench_reports_speed_and_cpu() {
    let (recording, _) = &recordings()[0];
    let output = porthole_vnc(&["replay", recording.to_str().unwrap(), "--bench"]);
    assert_success(&output, "replay --bench");
    let report = String::from_utf8_lossy(&output.stdout);
    for key in [
        "frames: ",
        "megapixels: ",
        "passes: ",
        "wall: ",
        "cpu: ",
        "speed: ",
    ] {
        assert!(report.contains(key), "no '{key}' in: {report}");
    }
    let passes: u32 = report
        .lines()
        .find_map(|l| l.strip_prefix("passes: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(passes >= 3, "--bench made only {passes} passes");
}

#[test]
fn corrupt_recordings_fail_with_one_clear_line() {
    let (recording, _) = &recordings()[0];
    let bytes = std::fs::read(recording).unwrap();
    let dir = TempDir::new("porthole-replay-corrupt").unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "truncated.fbs",
            bytes[..bytes.len() - 3].to_vec(),
            "truncated",
        ),
        (
            "png.fbs",
            b"\x89PNG\r\n\x1a\n....".to_vec(),
            "not an fbs recording",
        ),
        (
            "huge.fbs",
            [&b"FBS 001.000\n"[..], &[0xff, 0xff, 0xff, 0xf0], &[0; 64]].concat(),
            "corrupt",
        ),
    ];
    for (name, content, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let output = porthole_vnc(&["replay", path.to_str().unwrap()]);
        assert!(!output.status.success(), "{name} replayed");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.to_lowercase().contains(needle), "{name}: {stderr}");
    }
}

/// Starts `porthole-vnc serve --once` on a free port; returns the child
/// and the port it printed.
fn serve(recording: &Path) -> (std::process::Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_porthole-vnc"))
        .args([
            "serve",
            recording.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--once",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("serve printed {line:?}"));
    (child, port)
}

#[test]
fn serve_plays_each_recording_to_a_real_client() {
    let dir = TempDir::new("porthole-serve").unwrap();
    for (recording, expected) in recordings() {
        let (mut child, port) = serve(&recording);
        let out = dir.path().join("served.png");
        let address = format!("127.0.0.1::{port}");
        let output = porthole_vnc(&[
            "capture",
            &address,
            out.to_str().unwrap(),
            "--timeout",
            "20",
        ]);
        assert_success(
            &output,
            &format!("capture from serve {}", recording.display()),
        );
        let expected = images::load(&expected).unwrap();
        assert_matches(
            &recording,
            &expected,
            &images::load(&out).unwrap(),
            "served",
        );
        // serve --once reports on the client and exits.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve --once did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut report = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut report).unwrap();
        assert!(status.success(), "serve failed: {report}");
        assert!(report.contains("sent "), "serve said: {report}");
    }
}

/// Remakes the committed recordings from real servers. Run by hand (see
/// the module docs); needs Xvnc, ImageMagick and QEMU.
#[test]
#[ignore = "remakes tests/recordings from real servers"]
fn make_recordings() {
    use porthole_harness::qemu::{Qemu, QemuOptions};
    use porthole_harness::xvnc::{Xvnc, XvncOptions};
    if !tools_available(&["Xvnc", "convert", "display", "import", "qemu-system-x86_64"]) {
        return;
    }
    let encodings: Vec<&str> = std::env::var("RECORD_ENCODINGS")
        .map(|v| v.leak().split(',').collect())
        .unwrap_or_else(|_| vec!["raw", "hextile", "zrle"]);
    let dir = recordings_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = TempDir::new("porthole-make-recordings").unwrap();

    // Text: a page of source code in a monospace font, as a terminal shows.
    let text: String = include_str!("../src/fbs.rs")
        .lines()
        .take(40)
        .map(|l| l.chars().take(84).collect::<String>() + "\n")
        .collect();
    let text_png = tmp.path().join("text.png");
    let status = Command::new("convert")
        .args(["-size", "640x480", "xc:white", "-font", "DejaVu-Sans-Mono"])
        .args([
            "-pointsize",
            "11",
            "-fill",
            "black",
            "-annotate",
            "+6+14",
            &text,
        ])
        .arg(&text_png)
        .status()
        .unwrap();
    assert!(status.success());
    // Photo-like: a smooth fractal landscape of colours, the same every time.
    let photo_png = tmp.path().join("photo.png");
    let status = Command::new("convert")
        .args([
            "-size",
            "400x300",
            "-seed",
            "7",
            "plasma:fractal",
            "-blur",
            "0x1",
        ])
        .arg(&photo_png)
        .status()
        .unwrap();
    assert!(status.success());

    // The photo's screen is small: it barely compresses, and the
    // repository should stay small.
    for (source, picture, width, height) in [
        ("xvnc-text", &text_png, 640, 480),
        ("xvnc-photo", &photo_png, 400, 300),
    ] {
        let server = Xvnc::start(&XvncOptions {
            width,
            height,
            ..XvncOptions::default()
        })
        .unwrap();
        server.show_image(&images::load(picture).unwrap()).unwrap();
        record_all(source, &server.address(), &encodings, &dir);
        server
            .screenshot()
            .unwrap()
            .save(dir.join(format!("{source}.png")))
            .unwrap();
    }
    let mut qemu = Qemu::start(&QemuOptions::default()).unwrap();
    record_all("qemu-seabios", &qemu.address(), &encodings, &dir);
    qemu.screendump()
        .unwrap()
        .save(dir.join("qemu-seabios.png"))
        .unwrap();
}

fn record_all(source: &str, address: &str, encodings: &[&str], dir: &Path) {
    for encoding in encodings {
        // "tight-jpeg" is Tight with JPEG allowed (quality 6); everything
        // else is lossless.
        let (forced, quality) = match *encoding {
            "tight-jpeg" => ("tight", "6"),
            other => (other, "lossless"),
        };
        let file = dir.join(format!("{source}-{encoding}.fbs"));
        let output = porthole_vnc(&[
            "record",
            address,
            file.to_str().unwrap(),
            "--encodings",
            forced,
            "--quality",
            quality,
            "--updates",
            "1",
            "--duration",
            "5",
        ]);
        assert_success(&output, &format!("record {source} {encoding}"));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
}
