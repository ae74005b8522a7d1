//! The real `porthole` binary, run as a user would: its command line, and
//! its window on a headless X display with a private session bus.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use porthole_harness::display::Display;
use porthole_harness::process::{in_ci, tools_available, ServerProcess, TempDir};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");

fn porthole(args: &[&str]) -> Output {
    Command::new(PORTHOLE)
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LANG", "C.UTF-8")
        .env_remove("LANGUAGE")
        .env_remove("LC_ALL")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PORTHOLE}: {e}"))
}

#[test]
fn version_prints_the_version() {
    let out = porthole(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("porthole {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_arguments_give_one_line_and_fail() {
    for args in [
        &["vnc://"][..],
        &["--no-such-option"],
        &["host:99999"],
        &["missing-file.vv"],
    ] {
        let out = porthole(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("porthole: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_lists_the_options() {
    let out = porthole(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--version") && help.contains("ADDRESS"),
        "{help}"
    );
}

#[test]
fn german_translation_is_used() {
    let out = Command::new(PORTHOLE)
        .args(["--no-such-option"])
        .env("LANG", "C.UTF-8")
        .env("LANGUAGE", "de")
        .env_remove("LC_ALL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unbekannte Option"), "not German: {stderr}");
}

fn gui_tools_present() -> bool {
    let tools = ["Xvfb", "dbus-run-session", "xdotool", "import"];
    if tools_available(&tools) {
        return true;
    }
    assert!(!in_ci(), "CI must have {tools:?}");
    eprintln!("SKIPPED: needs {tools:?}");
    false
}

/// Distinct colours in an image: a blank or failed window has one or two.
fn distinct_colours(path: &Path) -> usize {
    let image = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

#[test]
fn window_appears_with_its_title_and_content() {
    if !gui_tools_present() {
        return;
    }
    let display = Display::start(1280, 800).unwrap_or_else(|e| panic!("{e}"));
    let config = TempDir::new("porthole-app").unwrap_or_else(|e| panic!("{e}"));
    let mut command = display.command("dbus-run-session");
    command
        .arg("--")
        .arg(PORTHOLE)
        .env("GSETTINGS_BACKEND", "memory")
        .env("XDG_CONFIG_HOME", config.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LANGUAGE");
    let _app = ServerProcess::spawn("porthole", command).unwrap_or_else(|e| panic!("{e}"));

    let window = display
        .wait_for_window("Porthole", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    // The window is mapped before its first frame is drawn: look until it has content.
    let shot = config.path().join("window.png");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let colours = loop {
        display
            .screenshot(Some(window), &shot)
            .unwrap_or_else(|e| panic!("{e}"));
        let colours = distinct_colours(&shot);
        if colours > 20 || std::time::Instant::now() > deadline {
            break colours;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(colours > 20, "the window looks blank: {colours} colours");
    let image = image::open(&shot).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        image.width() >= 800 && image.height() >= 500,
        "window is {}x{}",
        image.width(),
        image.height()
    );
    if let Ok(dir) = std::env::var("PORTHOLE_SCREENSHOT_DIR") {
        let _ = std::fs::copy(&shot, Path::new(&dir).join("main-window.png"));
    }
}
