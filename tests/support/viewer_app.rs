//! The real `porthole` binary as a viewer, for the viewer's integration
//! tests: a session (Xvfb, optionally with a window manager, a private
//! session bus with its own accessibility bus, a config directory that
//! outlives one launch) and launches of the app in it, seen through
//! window titles, screenshots and AT-SPI. Included with `#[path]` by the
//! tests that need it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::rc::Rc;
use std::time::{Duration, Instant};

use porthole_harness::a11y::{A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{in_ci, run, tools_available, ServerProcess, TempDir};

pub const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
pub const WAIT: Duration = Duration::from_secs(30);

/// Whether `tools` are all here; in CI a missing one fails the test.
pub fn tools_present(tools: &[&str]) -> bool {
    if tools_available(tools) {
        return true;
    }
    assert!(!in_ci(), "CI must have {tools:?}");
    eprintln!("SKIPPED: needs {tools:?}");
    false
}

/// What the launches of one test share.
pub struct Session {
    pub display: Display,
    pub bus: PrivateBus,
    pub a11y_bus: AccessibilityBus,
    /// `XDG_CONFIG_HOME` and `XDG_DATA_HOME` (the pinned certificates).
    pub config: TempDir,
    /// The app's working directory.
    pub cwd: TempDir,
    _window_manager: Option<ServerProcess>,
}

impl Session {
    /// A 1600×1000 screen; with `window_manager`, openbox runs on it
    /// (fullscreen needs a window manager that honours it).
    pub fn start(window_manager: bool) -> Rc<Self> {
        Self::start_with((1600, 1000), window_manager)
    }

    /// [`Session::start`] with a screen of `width`×`height`.
    pub fn start_with((width, height): (u32, u32), window_manager: bool) -> Rc<Self> {
        let display = Display::start(width, height).unwrap();
        let bus = PrivateBus::start().unwrap();
        let a11y_bus = AccessibilityBus::start(bus.address()).unwrap();
        let window_manager = window_manager.then(|| {
            let mut command = display.command("openbox");
            command.args(["--sm-disable"]);
            let wm = ServerProcess::spawn("openbox", command).unwrap();
            let deadline = Instant::now() + WAIT;
            loop {
                let mut xprop = display.command("xprop");
                xprop.args(["-root", "_NET_SUPPORTING_WM_CHECK"]);
                if run(xprop).is_ok_and(|o| String::from_utf8_lossy(&o).contains("window id")) {
                    break;
                }
                assert!(Instant::now() < deadline, "openbox did not start");
                std::thread::sleep(Duration::from_millis(100));
            }
            wm
        });
        Rc::new(Self {
            display,
            bus,
            a11y_bus,
            config: TempDir::new("porthole-viewer-config").unwrap(),
            cwd: TempDir::new("porthole-viewer-cwd").unwrap(),
            _window_manager: window_manager,
        })
    }

    /// Starts `porthole ARGS`. One launch at a time: a second would hand
    /// its command line to the first.
    pub fn launch(self: &Rc<Self>, args: &[&str]) -> App {
        let mut command = self.display.command(PORTHOLE);
        self.a11y_bus.enable(&mut command);
        command
            .args(args)
            .current_dir(self.cwd.path())
            .env("GSETTINGS_BACKEND", "memory")
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("XDG_DATA_HOME", self.config.path())
            .env("GTK_USE_PORTAL", "0")
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE")
            .env_remove("LC_ALL");
        App {
            session: self.clone(),
            process: ServerProcess::spawn("porthole", command).unwrap(),
        }
    }

    /// The file of pinned certificates.
    pub fn pin_file(&self) -> PathBuf {
        self.config.path().join("porthole/pinned-certificates")
    }

    pub fn xdotool(&self, args: &[&str]) -> String {
        let mut command = self.display.command("xdotool");
        command.args(args);
        String::from_utf8_lossy(&run(command).unwrap()).into_owned()
    }
}

/// One running `porthole`.
pub struct App {
    pub session: Rc<Session>,
    pub process: ServerProcess,
}

impl App {
    /// The id of the visible window whose title is exactly `title`.
    pub fn window(&mut self, title: &str) -> u64 {
        match self
            .session
            .display
            .wait_for_window(&regex_escape(title), WAIT)
        {
            Ok(id) => id,
            Err(e) => panic!(
                "{e}; windows: {:?}; porthole said: {}",
                self.titles(),
                self.process.stderr()
            ),
        }
    }

    pub fn titles(&self) -> Vec<String> {
        let ids = self
            .session
            .display
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", "."])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        String::from_utf8_lossy(&ids)
            .lines()
            .filter_map(|id| {
                let mut name = self.session.display.command("xdotool");
                name.args(["getwindowname", id.trim()]);
                run(name)
                    .ok()
                    .map(|n| String::from_utf8_lossy(&n).trim().to_owned())
            })
            .collect()
    }

    /// Waits for a window title that starts with `prefix`.
    pub fn wait_title(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(title) = self.titles().into_iter().find(|t| t.starts_with(prefix)) {
                return title;
            }
            assert!(
                self.process.exited().is_none(),
                "porthole exited: {}",
                self.process.stderr()
            );
            assert!(
                Instant::now() < deadline,
                "no window title starting with “{prefix}”; windows: {:?}; porthole said: {}",
                self.titles(),
                self.process.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn screenshot(&self, window: u64) -> RgbImage {
        let mut import = self.session.display.command("import");
        import.args(["-window", &window.to_string(), "png:-"]);
        images::load_png(&run(import).unwrap()).unwrap()
    }

    /// Saves a screenshot of the whole screen where a person can look at
    /// it, when `PORTHOLE_SCREENSHOT_DIR` is set.
    pub fn keep_screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("PORTHOLE_SCREENSHOT_DIR") {
            let _ = self
                .session
                .display
                .screenshot(None, &Path::new(&dir).join(format!("{name}.png")));
        }
    }

    pub fn xdotool(&self, args: &[&str]) -> String {
        self.session.xdotool(args)
    }

    /// The app on the accessibility bus.
    pub fn a11y(&self) -> Node {
        let a11y: A11y = self.session.a11y_bus.connect().unwrap();
        a11y.app("porthole", WAIT).unwrap_or_else(|e| {
            panic!(
                "{e}; windows: {:?}; porthole said: {}",
                self.titles(),
                self.process.stderr()
            )
        })
    }

    /// Waits until the process ends; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.process.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Ends this launch and waits until its bus name is free again.
    pub fn quit(self) {
        drop(self.process);
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Position and size of X window `window` on the screen, and whether
    /// the window manager has it fullscreen.
    pub fn geometry(&self, window: u64) -> ((i32, i32, u32, u32), bool) {
        let mut xwininfo = self.session.display.command("xwininfo");
        xwininfo.args(["-id", &window.to_string()]);
        let info = String::from_utf8_lossy(&run(xwininfo).unwrap()).into_owned();
        let field = |name: &str| -> i64 {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {info}"))
        };
        let geometry = (
            field("Absolute upper-left X:") as i32,
            field("Absolute upper-left Y:") as i32,
            field("Width:") as u32,
            field("Height:") as u32,
        );
        let mut xprop = self.session.display.command("xprop");
        xprop.args(["-id", &window.to_string(), "_NET_WM_STATE"]);
        let state = run(xprop).unwrap_or_default();
        (
            geometry,
            String::from_utf8_lossy(&state).contains("_NET_WM_STATE_FULLSCREEN"),
        )
    }
}

/// `xdotool search --name` takes a regular expression.
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.^$|?*+()[]{}".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Where `part` sits inside `whole` pixel for pixel, if anywhere.
pub fn locate_exact(whole: &RgbImage, part: &RgbImage) -> Option<(u32, u32)> {
    let (w, h) = part.dimensions();
    if whole.width() < w || whole.height() < h {
        return None;
    }
    let first = *part.get_pixel(0, 0);
    for y in 0..=whole.height() - h {
        for x in 0..=whole.width() - w {
            if *whole.get_pixel(x, y) != first {
                continue;
            }
            let crop = image::imageops::crop_imm(whole, x, y, w, h).to_image();
            if crop == *part {
                return Some((x, y));
            }
        }
    }
    None
}

/// Waits until window `window` shows `expected` pixel for pixel.
pub fn wait_for_picture(app: &App, window: u64, expected: &RgbImage) -> (u32, u32) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shot = app.screenshot(window);
        if let Some(at) = locate_exact(&shot, expected) {
            return at;
        }
        if Instant::now() > deadline {
            never_showed(&shot, expected);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fails the test, keeping what the window showed and what it should have.
pub fn never_showed(shot: &RgbImage, expected: &RgbImage) -> ! {
    let dir = std::env::temp_dir().join("porthole-image-diffs");
    let _ = std::fs::create_dir_all(&dir);
    let _ = shot.save(dir.join("viewer-window.png"));
    let _ = expected.save(dir.join("viewer-expected.png"));
    panic!(
        "the window never showed the server's screen (saved in {})",
        dir.display()
    );
}

/// Waits until `app` shows the desktop `name` without ever asking for a
/// password: what a remembered password or a pinned certificate gives.
pub fn connects_without_asking(app: &App, name: &str, why: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let titles = app.titles();
        assert!(
            !titles.iter().any(|t| t == "Authentication Required"),
            "{why}: {titles:?}"
        );
        if titles.iter().any(|t| t == name) {
            return;
        }
        assert!(Instant::now() < deadline, "never connected: {titles:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// 16×16 blocks of the harness's test pattern: any exact copy of the
/// screen has them, and no two screens of different patterns match.
pub fn pattern(width: u32, height: u32, seed: u32) -> RgbImage {
    let base = images::test_pattern(width, height);
    RgbImage::from_fn(width, height, |x, y| {
        let mut pixel = *base.get_pixel(x / 16 * 16, y / 16 * 16);
        for channel in pixel.0.iter_mut() {
            *channel = channel.wrapping_add((seed * 85) as u8);
        }
        pixel
    })
}

/// Runs `command` and returns its standard output.
pub fn output(command: Command) -> String {
    String::from_utf8_lossy(&run(command).unwrap()).into_owned()
}

/// The desktop name a server without authentication announces (a
/// minimal RFB 3.8 handshake).
pub fn desktop_name(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut greeting = [0u8; 12];
    s.read_exact(&mut greeting).unwrap();
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut count = [0u8; 1];
    s.read_exact(&mut count).unwrap();
    let mut types = vec![0u8; usize::from(count[0])];
    s.read_exact(&mut types).unwrap();
    assert!(types.contains(&1), "the server wants authentication");
    s.write_all(&[1]).unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).unwrap();
    let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let mut name = vec![0u8; len];
    s.read_exact(&mut name).unwrap();
    String::from_utf8_lossy(&name).into_owned()
}

/// The name Xvnc gives its desktop by default (user@host), read from a
/// server without a password.
pub fn default_desktop_name() -> String {
    let server = porthole_harness::xvnc::Xvnc::start(&porthole_harness::xvnc::XvncOptions {
        width: 64,
        height: 64,
        ..Default::default()
    })
    .unwrap();
    desktop_name(server.port)
}

/// The item named `item` of the menu that the header button named
/// `button` opens (the clickable one: AT-SPI also lists a menu button's
/// inner parts under its name), with the menu open.
pub fn menu_item(node: &Node, button: &str, item: &str) -> Node {
    let menu = node
        .find_all("button", button)
        .unwrap()
        .into_iter()
        .find(|b| {
            b.actions()
                .unwrap_or_default()
                .iter()
                .any(|a| a.eq_ignore_ascii_case("click"))
        })
        .unwrap_or_else(|| panic!("no clickable {button} button"));
    menu.do_action("click").unwrap();
    node.find_where(item, WAIT, |role, name| {
        role.contains("menu item") && name == item
    })
    .unwrap()
}
