//! The VM manager window as a user sees it: the real `porthole` binary
//! under Xvfb, talking to libvirt-dbus's test driver on a private bus, read
//! and driven through its accessibility tree (AT-SPI). Actions are taken
//! in the window and outside it (through libvirt-dbus directly, as virsh
//! would), and the window must follow both; libvirt-dbus is killed and
//! restarted under it.

// The libvirt client lives in the app binary; compile its module here too
// to act on domains outside the app.
#[path = "../src"]
#[allow(dead_code, unused_imports)]
mod src {
    pub mod libvirt;
}

use std::process::Command;
use std::time::Duration;

use porthole_harness::a11y::{A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process::{in_ci, run, tools_available, ServerProcess, TempDir};
use src::libvirt::{Bus, ConnectionSpec, Driver, Hypervisor, NetworkChoice, NewDomain, VirtType};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
/// Far above what a change takes (well under a second); only a loaded CI
/// machine comes near it.
const WAIT: Duration = Duration::from_secs(30);

fn tools_present() -> bool {
    let tools = [
        "Xvfb",
        "dbus-daemon",
        "dbus-send",
        "/usr/libexec/at-spi-bus-launcher",
    ];
    if !tools_available(&tools) {
        assert!(
            !in_ci(),
            "CI must have {tools:?} (packages xvfb, dbus, at-spi2-core)"
        );
        eprintln!("SKIPPED: needs {tools:?}");
        return false;
    }
    libvirt_dbus_available()
}

/// One app at a time: each brings a display, buses and libvirt-dbus, and
/// the machine running the tests has few cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The app on its own display and bus, with libvirt-dbus's test driver.
struct Session {
    // Drop order: the app first, then libvirt-dbus, then the buses.
    app: ServerProcess,
    service: Option<LibvirtDbus>,
    /// The app's accessible root: its windows (dialogs too) are below.
    root: Node,
    _a11y_bus: AccessibilityBus,
    bus: PrivateBus,
    _display: Display,
    _config: TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Session {
    fn start(args: &[&str]) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let display = Display::start(1280, 800).unwrap_or_else(|e| panic!("{e}"));
        let bus = PrivateBus::start().unwrap_or_else(|e| panic!("{e}"));
        let service = LibvirtDbus::start(&bus).unwrap_or_else(|e| panic!("{e}"));
        let a11y_bus = AccessibilityBus::start(bus.address()).unwrap_or_else(|e| panic!("{e}"));
        let config = TempDir::new("porthole-manager").unwrap_or_else(|e| panic!("{e}"));
        let mut command = display.command(PORTHOLE);
        a11y_bus.enable(&mut command);
        command
            .args(args)
            .env("GSETTINGS_BACKEND", "memory")
            .env("XDG_CONFIG_HOME", config.path())
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE");
        let app = ServerProcess::spawn("porthole", command).unwrap_or_else(|e| panic!("{e}"));
        let a11y = A11y::connect(bus.address()).unwrap_or_else(|e| panic!("{e}"));
        let root = a11y.app("porthole", WAIT).unwrap_or_else(|e| panic!("{e}"));
        root.find("window", "Porthole", WAIT)
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            app,
            service: Some(service),
            root,
            _a11y_bus: a11y_bus,
            bus,
            _display: display,
            _config: config,
            _turn: turn,
        }
    }

    /// Waits until a showing widget with this role and exact name is there.
    fn shows(&self, role: &str, name: &str) -> Node {
        self.root
            .find(role, name, WAIT)
            .unwrap_or_else(|e| panic!("{e}\napp stderr:\n{}", self.app.stderr()))
    }

    /// Waits until some showing text contains `text`.
    fn shows_text(&self, text: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let tree = self.root.dump_string(2000);
            if tree.contains(text) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "“{text}” never showed; the window holds:\n{tree}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens the "More Actions" menu and picks `item`.
    fn menu(&self, item: &str) {
        let more = self.shows("button", "More Actions");
        // The menu button's accessible is a group around its toggle button.
        let toggle = more
            .find("button", "More Actions", WAIT)
            .ok()
            .filter(|inner| *inner != more)
            .or_else(|| more.children().ok()?.into_iter().next())
            .unwrap_or(more);
        toggle
            .do_action("click")
            .unwrap_or_else(|e| panic!("opening the menu: {e}"));
        let entry = self.shows("", item);
        eprintln!("menu item {item}: actions {:?}", entry.actions());
        entry
            .do_action_index(0)
            .unwrap_or_else(|e| panic!("choosing {item}: {e}"));
    }

    fn click(&self, name: &str) {
        self.shows("button", name)
            .do_action("click")
            .unwrap_or_else(|e| panic!("clicking {name}: {e}"));
    }

    /// The row of `name` in the VM list, selected (by clicking its name).
    fn select_vm(&self, name: &str) {
        let label = self.shows("label", name);
        let (x, y, w, h) = label.extents().unwrap_or_else(|e| panic!("{e}"));
        let mut click = self._display.command("xdotool");
        click.args([
            "mousemove",
            &(x + w / 2).to_string(),
            &(y + h / 2).to_string(),
            "click",
            "1",
        ]);
        run(click).unwrap_or_else(|e| panic!("xdotool: {e}"));
    }

    /// A client of the same libvirt-dbus, to act outside the app.
    fn hypervisor(&self, runtime: &tokio::runtime::Runtime) -> Hypervisor {
        let spec = ConnectionSpec {
            bus: Bus::Address(self.bus.address().to_owned()),
            driver: Driver::Test,
        };
        runtime
            .block_on(Hypervisor::connect(&spec))
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn the_list_follows_actions_in_the_window_and_outside_it() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "Demo (test driver)");
    session.shows("label", "test");
    session.shows("label", "Running");

    // From the window: pause, resume, shut down, start, force off.
    session.select_vm("test");
    session.click("Pause");
    session.shows("label", "Paused");
    session.click("Resume");
    session.shows("label", "Running");
    session.click("Shut Down");
    session.shows("label", "Shut off");
    session.click("Start");
    session.shows("label", "Running");

    // Force off asks first; cancelling leaves the VM running.
    session.menu("Force Off…");
    session.shows("label", "Force Off “test”?");
    session.click("Cancel");
    session.menu("Force Off…");
    session.click("Force Off");
    session.shows("label", "Shut off");
    session.click("Start");
    session.shows("label", "Running");

    // Outside the window: another client pauses the VM, the row follows.
    let runtime = runtime();
    let hypervisor = session.hypervisor(&runtime);
    runtime.block_on(async {
        let domain = hypervisor.domain_by_name("test").await.expect("lookup");
        domain.pause().await.expect("pause")
    });
    session.shows("label", "Paused");
    runtime.block_on(async {
        let domain = hypervisor.domain_by_name("test").await.expect("lookup");
        domain.resume().await.expect("resume")
    });
    session.shows("label", "Running");
}

#[test]
fn libvirt_errors_show_as_toasts() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "test");
    // A transient VM, created as virsh create would: libvirt refuses to
    // save it (managed save needs a persistent VM).
    let mut create = Command::new("dbus-send");
    create.args([
        &format!("--bus={}", session.bus.address()),
        "--print-reply",
        "--dest=org.libvirt",
        "/org/libvirt/Test",
        "org.libvirt.Connect.DomainCreateXML",
        "string:<domain type='test'><name>fleeting</name><memory>65536</memory><os><type>hvm</type></os></domain>",
        "uint32:0",
    ]);
    run(create).unwrap_or_else(|e| panic!("dbus-send: {e}"));
    session.shows("label", "fleeting");
    session.select_vm("fleeting");
    session.menu("Save");
    session.shows_text("transient");
}

#[test]
fn a_vm_defined_elsewhere_appears_and_deleting_it_asks_first() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "test");
    let runtime = runtime();
    let hypervisor = session.hypervisor(&runtime);
    let mut new = NewDomain::new("doomed");
    new.network = NetworkChoice::None;
    new.virt_type = VirtType::Qemu;
    runtime
        .block_on(hypervisor.define_xml(&new.to_xml()))
        .unwrap_or_else(|e| panic!("define: {e}"));
    session.shows("label", "doomed");
    session.select_vm("doomed");
    session.menu("Delete…");
    session.shows("label", "Delete “doomed”?");
    session.click("Cancel");
    session.shows("label", "doomed");
    session.menu("Delete…");
    session.click("Delete");
    let deadline = std::time::Instant::now() + WAIT;
    while session
        .root
        .find_all("label", "doomed")
        .map(|found| !found.is_empty())
        .unwrap_or(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted VM is still listed:\n{}",
            session.root.dump_string(2000)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone = runtime.block_on(hypervisor.domain_by_name("doomed"));
    assert!(gone.is_err(), "libvirt still has the deleted VM");
    session.shows("label", "test");
}

#[test]
fn libvirt_dbus_going_away_is_shown_and_recovered_from() {
    if !tools_present() {
        return;
    }
    let mut session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "test");
    drop(session.service.take());
    session.shows(
        "label",
        "libvirt-dbus stopped — waiting for it to come back…",
    );
    session.service = Some(LibvirtDbus::start(&session.bus).unwrap_or_else(|e| panic!("{e}")));
    session.shows("label", "test");
    session.shows("label", "Running");
}

#[test]
fn a_vm_that_does_not_exist_is_said_so() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&[
        "--connect",
        "test:///default",
        "--show-domain-editor",
        "nosuchvm",
    ]);
    session.shows("label", "No Such Virtual Machine");
    session.shows_text("nosuchvm");
}

#[test]
fn an_unsupported_connection_uri_is_refused_before_the_window() {
    let out = Command::new(PORTHOLE)
        .args(["--connect", "bad://"])
        .env_remove("DISPLAY")
        .env("LANG", "C.UTF-8")
        .env_remove("LANGUAGE")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad://"), "{stderr}");
}
