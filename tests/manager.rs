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

use porthole_harness::a11y::{self, A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process::{run, ServerProcess, TempDir};
use src::libvirt::{Bus, ConnectionSpec, Driver, Hypervisor, NetworkChoice, NewDomain, VirtType};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
/// Far above what a change takes (well under a second); only a loaded CI
/// machine comes near it.
const WAIT: Duration = Duration::from_secs(30);

fn tools_present() -> bool {
    a11y::ui_tools_available() && libvirt_dbus_available()
}

/// One app at a time: each brings a display, buses and libvirt-dbus, and
/// the machine running the tests has few cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where the app keeps its settings.
#[derive(Clone, Copy)]
enum Settings<'a> {
    /// In memory, gone with the app.
    Memory,
    /// GLib's keyfile backend under this `XDG_CONFIG_HOME`, kept across launches.
    Keyfile(&'a std::path::Path),
}

/// The app on its own display and bus, with libvirt-dbus's test driver.
struct Session {
    // Drop order: the app first, then libvirt-dbus, then the buses.
    app: ServerProcess,
    service: Option<LibvirtDbus>,
    /// The app's accessible root: its windows (dialogs too) are below.
    root: Node,
    _a11y_bus: AccessibilityBus,
    bus: PrivateBus,
    display: Display,
    _config: TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Session {
    fn start(args: &[&str]) -> Self {
        Self::launch(args, Settings::Memory, true, &[])
    }

    /// The app with `args` and `settings`, with libvirt-dbus already on
    /// its bus or not (`service`), and `env` added to its environment.
    fn launch(args: &[&str], settings: Settings, service: bool, env: &[(&str, &str)]) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let display = Display::start(1280, 800).unwrap_or_else(|e| panic!("{e}"));
        let bus = PrivateBus::start().unwrap_or_else(|e| panic!("{e}"));
        let service = service.then(|| LibvirtDbus::start(&bus).unwrap_or_else(|e| panic!("{e}")));
        let a11y_bus = AccessibilityBus::start(bus.address()).unwrap_or_else(|e| panic!("{e}"));
        let config = TempDir::new("porthole-manager").unwrap_or_else(|e| panic!("{e}"));
        let mut command = display.command(PORTHOLE);
        a11y_bus.enable(&mut command);
        command
            .args(args)
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE");
        match settings {
            Settings::Memory => {
                command
                    .env("GSETTINGS_BACKEND", "memory")
                    .env("XDG_CONFIG_HOME", config.path());
            }
            Settings::Keyfile(dir) => {
                command
                    .env("GSETTINGS_BACKEND", "keyfile")
                    .env("XDG_CONFIG_HOME", dir);
            }
        }
        command.envs(env.iter().copied());
        let app = ServerProcess::spawn("porthole", command).unwrap_or_else(|e| panic!("{e}"));
        let a11y = A11y::connect(bus.address()).unwrap_or_else(|e| panic!("{e}"));
        let root = a11y.app("porthole", WAIT).unwrap_or_else(|e| panic!("{e}"));
        root.find("window", "Porthole", WAIT)
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            app,
            service,
            root,
            _a11y_bus: a11y_bus,
            bus,
            display,
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
        let mut click = self.display.command("xdotool");
        click.args([
            "mousemove",
            &(x + w / 2).to_string(),
            &(y + h / 2).to_string(),
            "click",
            "1",
        ]);
        run(click).unwrap_or_else(|e| panic!("xdotool: {e}"));
    }

    fn xdotool(&self, args: &[&str]) {
        let mut command = self.display.command("xdotool");
        command.args(args);
        run(command).unwrap_or_else(|e| panic!("xdotool {args:?}: {e}"));
    }

    /// The middle of `node` on the screen (the main window is at 0,0: no
    /// window manager).
    fn middle(node: &Node) -> (String, String) {
        let (x, y, w, h) = node.extents().unwrap_or_else(|e| panic!("{e}"));
        ((x + w / 2).to_string(), (y + h / 2).to_string())
    }

    /// Picks `item` in the menu that is open.
    fn choose(&self, item: &str) {
        self.shows("", item)
            .do_action_index(0)
            .unwrap_or_else(|e| panic!("choosing {item}: {e}"));
    }

    /// Waits until no drawn widget has this role and name.
    fn gone(&self, role: &str, name: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        while self
            .root
            .find_all(role, name)
            .map(|found| !found.is_empty())
            .unwrap_or(true)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{role} “{name}” is still there:\n{}",
                self.root.dump_string(2000)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The Add Connection dialog, with `kind` chosen.
    fn add_connection_dialog(&self, kind: &str) -> Node {
        self.click("Add Connection…");
        let dialog = self.shows("dialog", "Add Connection");
        let choice = dialog
            .find_where(kind, WAIT, |role, name| {
                (role == "radio button" || role == "checkbox") && name == kind
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = std::time::Instant::now() + WAIT;
        while !choice.has_state("checked").unwrap_or(false) {
            assert!(
                std::time::Instant::now() < deadline,
                "“{kind}” never got checked"
            );
            let (x, y) = Self::middle(&choice);
            self.xdotool(&["mousemove", &x, &y, "click", "1"]);
            std::thread::sleep(Duration::from_millis(200));
        }
        dialog
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

/// The keyfile GLib's keyfile backend writes under `config`.
fn keyfile(config: &std::path::Path) -> String {
    std::fs::read_to_string(config.join("glib-2.0/settings/keyfile")).unwrap_or_default()
}

/// Waits until the app wrote the connections to its settings file.
fn wait_for_saved(config: &std::path::Path, check: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !check(&keyfile(config)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the settings file never got there:\n{}",
            keyfile(config)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn connections_added_in_the_dialog_are_saved_and_removed() {
    if !tools_present() {
        return;
    }
    let config = TempDir::new("porthole-manager-settings").unwrap_or_else(|e| panic!("{e}"));
    // The demo from the command line is there for this run only.
    let session = Session::launch(
        &["--connect", "test:///default"],
        Settings::Keyfile(config.path()),
        true,
        &[],
    );
    session.shows("label", "Demo (test driver)");
    session.shows("label", "test");
    assert!(
        !keyfile(config.path()).contains("test:///default"),
        "--connect saved its connection"
    );

    // The user session, added in the dialog: a row of its own, saved.
    let dialog = session.add_connection_dialog("This computer (user session)");
    dialog
        .find("button", "Add", WAIT)
        .and_then(|b| b.do_action("click"))
        .unwrap_or_else(|e| panic!("{e}"));
    session.shows("label", "This Computer");
    // The demo added in the dialog stays one row, now saved too.
    let dialog = session.add_connection_dialog("Demo (test driver)");
    dialog
        .find("button", "Add", WAIT)
        .and_then(|b| b.do_action("click"))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for_saved(config.path(), |file| {
        file.contains("'qemu:///session'") && file.contains("'test:///default'")
    });
    let demos = session
        .root
        .find_all("label", "Demo (test driver)")
        .unwrap_or_default();
    assert_eq!(demos.len(), 1, "one sidebar row per connection");
    // Cancel adds nothing.
    let dialog = session.add_connection_dialog("This computer (system)");
    dialog
        .find("button", "Cancel", WAIT)
        .and_then(|b| b.do_action("click"))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(session);
    assert!(
        !keyfile(config.path()).contains("qemu:///system"),
        "Cancel saved a connection:\n{}",
        keyfile(config.path())
    );

    // The next start shows both, without --connect, and the demo's VM.
    let session = Session::launch(&[], Settings::Keyfile(config.path()), true, &[]);
    session.shows("label", "This Computer");
    session.shows("label", "Demo (test driver)");
    session.click("Remove Connection This Computer");
    session.gone("label", "This Computer");
    wait_for_saved(config.path(), |file| !file.contains("qemu:///session"));
    session.click("Remove Connection Demo (test driver)");
    session.gone("label", "Demo (test driver)");
    session.shows("label", "No Connection");
    drop(session);

    // Nothing saved is the user session again, as on the first start.
    let session = Session::launch(&[], Settings::Keyfile(config.path()), true, &[]);
    session.shows("label", "This Computer");
    session.gone("label", "Demo (test driver)");
}

#[test]
fn a_connection_that_failed_at_start_comes_up_when_libvirt_dbus_starts() {
    if !tools_present() {
        return;
    }
    let mut session = Session::launch(
        &["--connect", "test:///default"],
        Settings::Memory,
        false,
        &[],
    );
    session.shows("label", "Cannot Connect");
    session.shows_text("libvirt-dbus is not running");
    // Nobody clicks Try Again: the app sees libvirt-dbus take its name.
    session.service = Some(LibvirtDbus::start(&session.bus).unwrap_or_else(|e| panic!("{e}")));
    session.shows("label", "test");
    session.shows("label", "Running");
}

#[test]
fn the_row_menu_runs_every_lifecycle_action() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "test");
    let runtime = runtime();
    let hypervisor = session.hypervisor(&runtime);
    // A VM that stops when rebooted, so a reboot shows in the list.
    let rebooter = runtime.block_on(async {
        let domain = hypervisor
            .define_xml(
                "<domain type='test'><name>rebooter</name><memory>65536</memory>\
                 <on_reboot>destroy</on_reboot><os><type>hvm</type></os></domain>",
            )
            .await
            .expect("define");
        domain.start().await.expect("start");
        domain
    });
    let test = runtime
        .block_on(hypervisor.domain_by_name("test"))
        .expect("test domain");
    session.shows("label", "rebooter");

    // Right click: the menu of that row.
    let (x, y) = Session::middle(&session.shows("label", "rebooter"));
    session.xdotool(&["mousemove", &x, &y, "click", "3"]);
    session.choose("Reboot");
    session.shows("label", "Shut off");
    let state = runtime.block_on(rebooter.state()).expect("state").0;
    assert_eq!(state, src::libvirt::DomainState::Shutoff);

    // The Menu key on the focused row: save (managed save), then restore.
    session.select_vm("test");
    session.xdotool(&["key", "Menu"]);
    session.choose("Save");
    session.shows("label", "Saved");
    assert!(
        runtime
            .block_on(test.info())
            .expect("info")
            .has_saved_state(),
        "libvirt has no saved memory for the VM"
    );
    session.click("Restore");
    session.shows("label", "Running");
    assert!(!runtime
        .block_on(test.info())
        .expect("info")
        .has_saved_state());

    // A long press (held pointer): autostart on, then off again.
    let (x, y) = Session::middle(&session.shows("label", "test"));
    session.xdotool(&["mousemove", &x, &y, "mousedown", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    session.xdotool(&["mouseup", "1"]);
    session.choose("Start at Boot");
    let wait_autostart = |wanted: bool| {
        let deadline = std::time::Instant::now() + WAIT;
        while runtime.block_on(test.autostart()).expect("autostart") != wanted {
            assert!(
                std::time::Instant::now() < deadline,
                "autostart never became {wanted}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_autostart(true);
    let (x, y) = Session::middle(&session.shows("label", "test"));
    session.xdotool(&["mousemove", &x, &y, "click", "3"]);
    let item = session.shows("", "Start at Boot");
    assert!(
        item.has_state("checked").unwrap_or(false),
        "the menu does not show autostart on: {:?}",
        item.states()
    );
    item.do_action_index(0).unwrap_or_else(|e| panic!("{e}"));
    wait_autostart(false);
}

#[test]
fn the_sidebar_makes_room_in_a_narrow_window_and_comes_back() {
    if !tools_present() {
        return;
    }
    let session = Session::start(&["--connect", "test:///default"]);
    session.shows("label", "test");
    let window = session
        .display
        .wait_for_window("Porthole", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let window = window.to_string();
    session.xdotool(&["windowsize", &window, "1200", "760"]);
    session.select_vm("test");
    session.menu("Open");
    session.shows("button", "Back to the List");
    session.shows("label", "Connections");
    // Narrow: the VM page gets the whole width.
    session.xdotool(&["windowsize", &window, "760", "700"]);
    session.gone("label", "Connections");
    // Back to the list: the sidebar is there to pick from; opening a VM
    // in the narrow window gives its page the whole width again.
    session.click("Back to the List");
    session.shows("label", "Connections");
    session.select_vm("test");
    session.menu("Open");
    session.shows("button", "Back to the List");
    session.gone("label", "Connections");
    // Wide again: the sidebar is back next to the page.
    session.xdotool(&["windowsize", &window, "1200", "760"]);
    session.shows("label", "Connections");
    session.shows("button", "Back to the List");
}

/// A remote host over SSH, for real: a private sshd whose sessions reach a
/// private "system" bus with libvirt-dbus in front of a root libvirtd
/// (`qemu:///system`), holding a VM defined there. The app logs in with a
/// key: an `ssh` first on its `PATH` adds the client config a person
/// would have in `~/.ssh/config`.
struct RemoteHost {
    sshd: porthole_harness::ssh::SshServer,
    hypervisor: Hypervisor,
    domain: src::libvirt::Domain,
    runtime: tokio::runtime::Runtime,
    /// The `ssh` wrapper and its config; `XDG_RUNTIME_DIR` for ssh's
    /// shared connections.
    client: TempDir,
    run: std::path::PathBuf,
    _service: LibvirtDbus,
    _bus: PrivateBus,
    _daemons: porthole_harness::libvirt::Libvirtd,
}

impl RemoteHost {
    fn start(vm: &str) -> Option<Self> {
        use porthole_harness::libvirt::{Libvirtd, Mode};
        if !tools_present() || !porthole_harness::ssh::available() || !Libvirtd::available() {
            return None;
        }
        let daemons = Libvirtd::start().unwrap_or_else(|e| panic!("libvirtd: {e}"));
        let bus = PrivateBus::start().unwrap_or_else(|e| panic!("{e}"));
        let service = LibvirtDbus::start_mode(&bus, Mode::System).unwrap_or_else(|e| panic!("{e}"));
        let sshd = porthole_harness::ssh::SshServer::start(bus.address(), false)
            .unwrap_or_else(|e| panic!("sshd: {e}"));
        let runtime = runtime();
        let hypervisor = runtime
            .block_on(Hypervisor::connect(&ConnectionSpec {
                bus: Bus::Address(bus.address().to_owned()),
                driver: Driver::Qemu,
            }))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut new = NewDomain::new(vm);
        new.network = NetworkChoice::None;
        new.virt_type = VirtType::Qemu;
        new.memory_mib = 64;
        let domain = runtime
            .block_on(hypervisor.define_xml(&new.to_xml()))
            .unwrap_or_else(|e| panic!("define: {e}"));
        let client = TempDir::new("porthole-ssh-client").unwrap_or_else(|e| panic!("{e}"));
        // The host as the user types it, 127.0.0.1:PORT, is the alias.
        let config = sshd
            .client_config(client.path(), "127.0.0.1", false)
            .unwrap_or_else(|e| panic!("{e}"));
        let wrapper = client.path().join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F '{}' \"$@\"\n",
                config.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        // Short, as /run/user/UID is: ssh's socket paths must fit 108 bytes.
        let run = std::path::PathBuf::from(format!("/tmp/ph{}", std::process::id()));
        std::fs::create_dir_all(&run).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        Some(Self {
            sshd,
            hypervisor,
            domain,
            runtime,
            client,
            run,
            _service: service,
            _bus: bus,
            _daemons: daemons,
        })
    }

    /// What the app's environment needs to reach this host with ssh.
    fn env(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            ("PATH", format!("{}:{path}", self.client.path().display())),
            ("XDG_RUNTIME_DIR", self.run.display().to_string()),
        ]
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.sshd.port())
    }
}

impl Drop for RemoteHost {
    fn drop(&mut self) {
        let _ = self
            .runtime
            .block_on(self.domain.delete(Default::default()));
        let _ = &self.hypervisor;
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

#[test]
fn a_remote_host_over_ssh_lists_its_vms_from_the_dialog_and_the_command_line() {
    let vm = format!("porthole-ssh-{}", std::process::id());
    let Some(remote) = RemoteHost::start(&vm) else {
        return;
    };
    let env = remote.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let session = Session::launch(
        &["--connect", "test:///default"],
        Settings::Memory,
        true,
        &env,
    );
    session.shows("label", "test");
    let dialog = session.add_connection_dialog("Remote host over SSH");
    let add = dialog
        .find("button", "Add", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    // No host, no Add.
    assert!(!add.has_state("sensitive").unwrap_or(true));
    let entries = dialog
        .find_all_where(|role, _| role == "text box")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        entries.len(),
        2,
        "host and user:\n{}",
        dialog.dump_string(200)
    );
    entries[0]
        .set_text(&remote.host())
        .unwrap_or_else(|e| panic!("{e}"));
    entries[1]
        .set_text("root")
        .unwrap_or_else(|e| panic!("{e}"));
    add.wait_state("sensitive", true, WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    add.do_action("click").unwrap_or_else(|e| panic!("{e}"));
    session.shows("label", &format!("root@{}", remote.host()));
    session.shows("label", &vm);
    session.shows_text("Connected, 1 virtual machine");
    drop(session);

    // `--connect qemu+ssh://…` opens the same host from the command line.
    let uri = format!("qemu+ssh://root@{}/system", remote.host());
    let session = Session::launch(&["--connect", &uri], Settings::Memory, false, &env);
    session.shows("label", &format!("root@{}", remote.host()));
    session.shows("label", &vm);
    session.shows("label", "Shut off");
}
