//! The VM page with a real guest: as root, libvirtd runs QEMU (TCG, no
//! disk, so SeaBIOS ends on "No bootable device"), libvirt-dbus serves it
//! on a private system bus, and the real `porthole` under Xvfb opens the
//! guest's console with `--show-domain-console`. The test starts the guest
//! from the page, compares the embedded console with the guest's own screen
//! (QEMU's screendump through the monitor), then forces it off and deletes
//! it from the app, driving everything through AT-SPI.

// The client lives in the app binary; compile its module here too.
#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::process::Command;
use std::time::{Duration, Instant};

use image::RgbImage;
use porthole_harness::a11y::{A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::images;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus, Libvirtd, Mode};
use porthole_harness::process::{run, tools_available, ServerProcess, TempDir};
use src::libvirt::{
    Bus, ConnectionSpec, DeleteOptions, Domain, DomainState, Driver, Hypervisor, NetworkChoice,
    NewDomain, VirtType,
};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
const UI_TIMEOUT: Duration = Duration::from_secs(30);
/// A TCG guest takes a few seconds to start and reach SeaBIOS's last line.
const GUEST_TIMEOUT: Duration = Duration::from_secs(90);

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The button `label` of the newest open dialog (response buttons are named
/// with their label twice, mnemonics included).
fn dialog_button(app: &Node, label: &str) -> Node {
    let doubled = format!("{label} {label}");
    let mut found = None;
    wait_for(&format!("a dialog with “{label}”"), UI_TIMEOUT, || {
        found = app
            .find_all_where(|role, _| role == "dialog")
            .ok()
            .and_then(|dialogs| dialogs.into_iter().next_back())
            .and_then(|dialog| {
                dialog
                    .find_all_where(|role, name| {
                        role == "button"
                            && (name == label
                                || name == doubled
                                || name.replace('_', "") == doubled)
                    })
                    .ok()
            })
            .and_then(|buttons| buttons.into_iter().next());
        found.is_some()
    });
    found.expect("dialog button")
}

/// The guest's screen as QEMU has it (HMP `screendump` through libvirtd).
fn guest_screen(name: &str, dir: &TempDir) -> RgbImage {
    // QEMU writes it as libvirt's QEMU user: let it into the directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .expect("open the directory to QEMU");
    let path = dir.path().join("guest.ppm");
    let _ = std::fs::remove_file(&path);
    let mut virsh = Command::new("virsh");
    virsh
        .args([
            "-c",
            "qemu:///system",
            "qemu-monitor-command",
            "--hmp",
            name,
        ])
        .arg(format!("screendump {}", path.display()));
    let said = run(virsh).expect("screendump");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "no screendump at {} ({e}); QEMU said: {}",
            path.display(),
            String::from_utf8_lossy(&said)
        )
    });
    images::parse_ppm(&bytes).expect("parse the screendump")
}

/// Pixels brighter than SeaBIOS's black background: its text.
fn bright(image: &RgbImage) -> usize {
    image
        .pixels()
        .filter(|p| p.0.iter().any(|c| *c > 100))
        .count()
}

struct Guest {
    runtime: tokio::runtime::Runtime,
    hypervisor: Hypervisor,
    domain: Domain,
    name: String,
}

impl Drop for Guest {
    /// No guest is left behind, whatever failed.
    fn drop(&mut self) {
        let _ = self.runtime.block_on(self.domain.force_off());
        let _ = self
            .runtime
            .block_on(self.domain.delete(DeleteOptions::default()));
    }
}

#[test]
fn a_guest_started_from_the_page_shows_seabios_in_the_console_then_is_forced_off_and_deleted() {
    if !libvirt_dbus_available()
        || !Libvirtd::available()
        || !tools_available(&[
            "Xvfb",
            "import",
            "virsh",
            "/usr/libexec/at-spi-bus-launcher",
        ])
    {
        return;
    }
    let daemons = Libvirtd::start().expect("libvirtd");
    let system_bus = PrivateBus::start().expect("private system bus");
    let _service =
        LibvirtDbus::start_mode(&system_bus, Mode::System).expect("libvirt-dbus --system");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let spec = ConnectionSpec {
        bus: Bus::Address(system_bus.address().to_owned()),
        driver: Driver::Qemu,
    };
    let hypervisor = runtime
        .block_on(Hypervisor::connect(&spec))
        .expect("connect");
    let name = format!("porthole-vmpage-{}", std::process::id());
    let mut new = NewDomain::new(&name);
    new.memory_mib = 64;
    new.vcpus = 1;
    new.network = NetworkChoice::None;
    // libvirt runs QEMU as its own user, which may not open /dev/kvm.
    new.virt_type = VirtType::Qemu;
    let domain = runtime
        .block_on(hypervisor.define_xml(&new.to_xml()))
        .expect("define the guest");
    let guest = Guest {
        runtime,
        hypervisor,
        domain,
        name: name.clone(),
    };

    let session_bus = PrivateBus::start().expect("private session bus");
    let atspi = AccessibilityBus::start(session_bus.address()).expect("accessibility bus");
    let display = Display::start(1280, 900).expect("Xvfb");
    let dir = TempDir::new("qemu-guests").expect("temp dir");
    let mut command = display.command(PORTHOLE);
    command
        .args([
            "--connect",
            "qemu:///system",
            "--show-domain-console",
            &name,
        ])
        .env("DBUS_SYSTEM_BUS_ADDRESS", system_bus.address())
        .env("GSETTINGS_BACKEND", "memory")
        .env("LANG", "C.UTF-8")
        .env_remove("LANGUAGE")
        .env_remove("LC_ALL")
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path());
    atspi.enable(&mut command);
    let process = ServerProcess::spawn("porthole", command).expect("start porthole");
    let a11y = A11y::connect(session_bus.address()).expect("a11y bus");
    let app = a11y
        .app("porthole", UI_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\napp stderr: {}", process.stderr()));
    let find = |role: &str, name: &str| {
        app.find(role, name, UI_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}\napp stderr: {}", process.stderr()))
    };

    // Shut off: the console says so and offers Start.
    find("label", "The VM Is Not Running");
    let start = app
        .find_all("button", "Start")
        .expect("walk")
        .into_iter()
        .next_back()
        .expect("Start");
    start.do_action("click").expect("click Start");
    wait_for("the guest to run", GUEST_TIMEOUT, || {
        guest
            .runtime
            .block_on(guest.domain.state())
            .is_ok_and(|(state, _)| state == DomainState::Running)
    });

    // The console connects by itself and shows what the guest shows: wait
    // until SeaBIOS is done (its screen stops changing), then compare.
    find("button", "Send Key");
    let mut last = 0;
    let mut stable_since = Instant::now();
    wait_for("SeaBIOS's last screen", GUEST_TIMEOUT, || {
        let now = bright(&guest_screen(&guest.name, &dir));
        // Within a blinking cursor's worth of pixels counts as unchanged.
        if now.abs_diff(last) > 100 {
            last = now;
            stable_since = Instant::now();
        }
        now > 0 && stable_since.elapsed() > Duration::from_secs(4)
    });
    let expected = guest_screen(&guest.name, &dir);
    let screen = app
        .find_all_where(|role, _| role == "image")
        .expect("walk")
        .into_iter()
        .filter_map(|n| n.extents().ok().map(|e| (n, e)))
        .max_by_key(|(_, (_, _, w, h))| w * h)
        .map(|(_, extents)| extents)
        .expect("the console widget");
    // The widget's extents are in window coordinates, and the window sits
    // a few pixels into the screen (its frame): find the widget's black
    // edges near where the extents say, scanning in from outside.
    let path = dir.path().join("window.png");
    display.screenshot(None, &path).expect("screenshot");
    let _ = std::fs::copy(&path, "/tmp/qemu_guests-console.png");
    let shot = images::load(&path).expect("load the screenshot");
    let black = |x: u32, y: u32| shot.get_pixel(x, y).0.iter().all(|c| *c < 8);
    let (ex, ey, w, h) = screen;
    let (ex, ey) = (ex.max(0) as u32, ey.max(0) as u32);
    let mid_y = ey + h as u32 / 2;
    let mid_x = ex + w as u32 / 2;
    let x = (ex.saturating_sub(16)..ex + 16)
        .find(|&x| black(x, mid_y))
        .expect("the console's left edge");
    let y = (ey.saturating_sub(16)..ey + 16)
        .find(|&y| black(mid_x, y))
        .expect("the console's top edge");
    let (gw, gh) = (f64::from(expected.width()), f64::from(expected.height()));
    // Fit to window: as large as fits, aspect kept, centred.
    let scale = (f64::from(w) / gw).min(f64::from(h) / gh);
    let (pw, ph) = ((gw * scale).round() as u32, (gh * scale).round() as u32);
    let px = x + (w as u32 - pw) / 2;
    let py = y + (h as u32 - ph) / 2;
    let shown = image::imageops::crop_imm(&shot, px, py, pw, ph).to_image();
    let expected_scaled =
        image::imageops::resize(&expected, pw, ph, image::imageops::FilterType::Triangle);
    // Compare at a third of the size, where a pixel of rounding in the
    // placement or a different scaling filter no longer matters.
    let small = |image: &RgbImage| {
        image::imageops::resize(image, pw / 3, ph / 3, image::imageops::FilterType::Triangle)
    };
    let psnr = images::psnr(&small(&expected_scaled), &small(&shown)).unwrap_or(f64::INFINITY);
    let (text_shown, text_expected) = (bright(&shown), bright(&expected_scaled));
    eprintln!(
        "console {pw}x{ph} at ({px},{py}) vs guest {}x{}: PSNR {psnr:.1} dB, text pixels {text_shown} vs {text_expected}",
        expected.width(),
        expected.height()
    );
    assert!(
        text_shown.abs_diff(text_expected) * 7 < text_expected,
        "the console does not show the guest's text: {text_shown} bright pixels, the guest has {text_expected}"
    );
    assert!(
        psnr > 30.0,
        "the console differs from the guest's screen (PSNR {psnr:.1} dB)"
    );

    // Force off from the page, confirmed.
    find("button", "Force Off")
        .do_action("click")
        .expect("click Force Off");
    dialog_button(&app, "Force Off")
        .do_action("click")
        .expect("confirm");
    wait_for("the guest to stop", UI_TIMEOUT, || {
        guest
            .runtime
            .block_on(guest.domain.state())
            .is_ok_and(|(state, _)| state == DomainState::Shutoff)
    });
    find("label", "The VM Is Not Running");

    // Delete from the page's menu, confirmed: the domain is gone.
    find("button", "More").do_action("click").expect("More");
    find("button", "Delete")
        .do_action("click")
        .expect("click Delete");
    dialog_button(&app, "Delete")
        .do_action("click")
        .expect("confirm");
    wait_for("the guest to be deleted", UI_TIMEOUT, || {
        guest
            .runtime
            .block_on(guest.hypervisor.domain_by_name(&guest.name))
            .is_err()
    });
    drop(process);
    drop(guest);
    drop(daemons);
}
