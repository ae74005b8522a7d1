//! A headless Wayland compositor (sway, wlroots' headless backend and
//! pixman renderer: no GPU, no seat, no input devices) for tests of
//! Wayland-only behaviour, and a virtual pointer and keyboard
//! (`zwlr_virtual_pointer_manager_v1`, `zwp_virtual_keyboard_v1`) that
//! drive it like a user's hands.
//!
//! sway refuses to run as root (it could not drop privileges it never
//! needs): as root it runs as `nobody`, in a runtime directory of that
//! user. Clients running as root reach its socket all the same.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::wl_keyboard::KeyState;
use wayland_client::protocol::wl_pointer::ButtonState;
use wayland_client::protocol::wl_registry::WlRegistry;
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1;

use crate::process::ServerProcess;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The uid and gid sway runs as when we are root (Debian's `nobody`).
const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

/// sway on one headless output of `width`×`height`, its windows without
/// borders or gaps (a single window covers the output, so output and
/// window coordinates are the same); killed when dropped, its runtime
/// directory removed.
#[derive(Debug)]
pub struct Sway {
    runtime_dir: PathBuf,
    socket: PathBuf,
    width: u32,
    height: u32,
    server: Option<ServerProcess>,
}

impl Sway {
    pub fn start(width: u32, height: u32) -> io::Result<Self> {
        let root = effective_uid()? == 0;
        let unique = format!("porthole-sway-{}-{}", std::process::id(), next_number());
        let runtime_dir = std::env::temp_dir().join(unique);
        fs::DirBuilder::new().mode(0o700).create(&runtime_dir)?;
        if root {
            std::os::unix::fs::chown(&runtime_dir, Some(NOBODY), Some(NOGROUP))?;
        }
        let config = runtime_dir.join("config");
        fs::write(
            &config,
            format!(
                "xwayland disable\n\
                 output HEADLESS-1 mode {width}x{height} position 0 0\n\
                 default_border none\n\
                 default_floating_border none\n\
                 gaps inner 0\n\
                 focus_follows_mouse no\n\
                 seat * pointer_constraint enable\n"
            ),
        )?;
        fs::set_permissions(&config, fs::Permissions::from_mode(0o644))?;
        let mut command = if root {
            let mut command = Command::new("setpriv");
            command.args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOGROUP}"),
                "--clear-groups",
                "sway",
            ]);
            command
        } else {
            Command::new("sway")
        };
        command
            .arg("-c")
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &runtime_dir)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_HEADLESS_OUTPUTS", "1")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_RENDERER", "pixman");
        let mut sway = Self {
            socket: PathBuf::new(),
            runtime_dir: runtime_dir.clone(),
            width,
            height,
            server: None,
        };
        let server = sway.server.insert(ServerProcess::spawn("sway", command)?);
        sway.socket = server.wait_until("making its socket", START_TIMEOUT, |_| {
            let socket = fs::read_dir(&runtime_dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .find(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("wayland-") && !n.ends_with(".lock"))
                })?;
            UnixStream::connect(&socket).ok().map(|_| socket)
        })?;
        Ok(sway)
    }

    /// The value for `WAYLAND_DISPLAY` (an absolute path).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The value for `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// sway's log so far, for failure messages.
    pub fn log(&self) -> String {
        self.server
            .as_ref()
            .map(|server| server.stderr())
            .unwrap_or_default()
    }

    /// A new virtual pointer and keyboard on sway's seat.
    pub fn hands(&self) -> io::Result<Hands> {
        Hands::connect(self)
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = fs::remove_dir_all(&self.runtime_dir);
    }
}

fn effective_uid() -> io::Result<u32> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok())
        .ok_or_else(|| io::Error::other("no effective uid in /proc/self/status"))
}

/// A number that differs between two starts in one process.
fn next_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Evdev codes (linux/input-event-codes.h).
pub const BTN_LEFT: u32 = 0x110;
pub const KEY_LEFTCTRL: u32 = 29;
pub const KEY_LEFTALT: u32 = 56;
pub const KEY_LEFTSHIFT: u32 = 42;

/// The modifier bit of a modifier key in [`KEYMAP`] (Shift, Lock,
/// Control, Mod1 are bits 0–3), 0 for other keys.
fn modifier_mask(key: u32) -> u32 {
    match key {
        KEY_LEFTSHIFT => 1,
        KEY_LEFTCTRL => 1 << 2,
        KEY_LEFTALT => 1 << 3,
        _ => 0,
    }
}

/// A US keymap; xkbcommon (sway's and the client's) resolves the includes
/// from the system's XKB data.
const KEYMAP: &str = "xkb_keymap {\n\
    xkb_keycodes { include \"evdev+aliases(qwerty)\" };\n\
    xkb_types { include \"complete\" };\n\
    xkb_compat { include \"complete\" };\n\
    xkb_symbols { include \"pc+us+inet(evdev)\" };\n\
};\n";

/// A virtual pointer and keyboard: every call returns once sway has
/// handled it (a round trip), so what it did reaches clients in order.
/// Own connection, usable from any thread.
#[derive(Debug)]
pub struct Hands {
    connection: Connection,
    queue: EventQueue<State>,
    pointer: ZwlrVirtualPointerV1,
    keyboard: ZwpVirtualKeyboardV1,
    extent: (u32, u32),
    started: Instant,
}

#[derive(Debug, Default)]
struct State;

impl Hands {
    fn connect(sway: &Sway) -> io::Result<Self> {
        let stream = UnixStream::connect(sway.socket())?;
        let connection = Connection::from_socket(stream).map_err(io::Error::other)?;
        let (globals, mut queue) =
            registry_queue_init::<State>(&connection).map_err(io::Error::other)?;
        let handle = queue.handle();
        let seat: WlSeat = globals
            .bind(&handle, 1..=7, ())
            .map_err(|e| io::Error::other(format!("wl_seat: {e}")))?;
        let pointers: ZwlrVirtualPointerManagerV1 = globals
            .bind(&handle, 1..=2, ())
            .map_err(|e| io::Error::other(format!("zwlr_virtual_pointer_manager_v1: {e}")))?;
        let keyboards: ZwpVirtualKeyboardManagerV1 = globals
            .bind(&handle, 1..=1, ())
            .map_err(|e| io::Error::other(format!("zwp_virtual_keyboard_manager_v1: {e}")))?;
        let pointer = pointers.create_virtual_pointer(Some(&seat), &handle, ());
        let keyboard = keyboards.create_virtual_keyboard(&seat, &handle, ());
        // The keymap goes as a file: a copy in sway's runtime directory.
        let keymap_path = sway
            .runtime_dir()
            .join(format!("keymap-{}", pointer.id().protocol_id()));
        let mut text = KEYMAP.as_bytes().to_vec();
        text.push(0);
        fs::write(&keymap_path, &text)?;
        let file = fs::File::open(&keymap_path)?;
        let _ = fs::remove_file(&keymap_path);
        let size = u32::try_from(text.len()).map_err(io::Error::other)?;
        keyboard.keymap(1, file.as_fd(), size);
        queue.roundtrip(&mut State).map_err(io::Error::other)?;
        Ok(Self {
            connection,
            queue,
            pointer,
            keyboard,
            extent: (sway.width, sway.height),
            started: Instant::now(),
        })
    }

    fn time(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_millis() % u128::from(u32::MAX)).unwrap_or(0)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.queue
            .roundtrip(&mut State)
            .map(|_| ())
            .map_err(io::Error::other)
    }

    /// Puts the pointer at (`x`, `y`) on the output.
    pub fn move_to(&mut self, x: u32, y: u32) -> io::Result<()> {
        let time = self.time();
        self.pointer
            .motion_absolute(time, x, y, self.extent.0, self.extent.1);
        self.pointer.frame();
        self.sync()
    }

    /// Moves the pointer by (`dx`, `dy`), as a mouse would.
    pub fn move_by(&mut self, dx: f64, dy: f64) -> io::Result<()> {
        let time = self.time();
        self.pointer.motion(time, dx, dy);
        self.pointer.frame();
        self.sync()
    }

    /// Presses and releases `button` (an evdev code, e.g. [`BTN_LEFT`]).
    pub fn click(&mut self, button: u32) -> io::Result<()> {
        for state in [ButtonState::Pressed, ButtonState::Released] {
            let time = self.time();
            self.pointer.button(time, button, state);
            self.pointer.frame();
            self.sync()?;
        }
        Ok(())
    }

    /// Presses `keys` (evdev codes) in order, then releases them in
    /// reverse. sway does not derive the modifier state from a virtual
    /// keyboard's keys: it is sent along for the modifier keys.
    pub fn chord(&mut self, keys: &[u32]) -> io::Result<()> {
        let mut modifiers = 0;
        for key in keys {
            let time = self.time();
            self.keyboard.key(time, *key, KeyState::Pressed.into());
            modifiers |= modifier_mask(*key);
            self.keyboard.modifiers(modifiers, 0, 0, 0);
            self.sync()?;
        }
        for key in keys.iter().rev() {
            let time = self.time();
            self.keyboard.key(time, *key, KeyState::Released.into());
            modifiers &= !modifier_mask(*key);
            self.keyboard.modifiers(modifiers, 0, 0, 0);
            self.sync()?;
        }
        Ok(())
    }
}

impl Drop for Hands {
    fn drop(&mut self) {
        self.pointer.destroy();
        self.keyboard.destroy();
        let _ = self.connection.flush();
    }
}

impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(State: ignore WlSeat);
wayland_client::delegate_noop!(State: ZwlrVirtualPointerManagerV1);
wayland_client::delegate_noop!(State: ZwlrVirtualPointerV1);
wayland_client::delegate_noop!(State: ZwpVirtualKeyboardManagerV1);
wayland_client::delegate_noop!(State: ZwpVirtualKeyboardV1);
