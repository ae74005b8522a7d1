//! The VM page of the real `porthole` binary, driven as a user would:
//! libvirt-dbus with libvirt's test driver on a private session bus, the
//! app under Xvfb opened with `--connect test:///default
//! --show-domain-editor test`, and the page read and clicked through the
//! accessibility tree (AT-SPI). What the page changed is checked in libvirt
//! through the client, what it shows through AT-SPI and screenshots.

// The client lives in the app binary; compile its module here too.
#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::path::Path;
use std::time::{Duration, Instant};

use porthole_harness::a11y::{A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::images;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process::{tools_available, ServerProcess, TempDir};
use src::libvirt::{Bus, ConnectionSpec, Domain, DomainOverview, DomainState, Driver, Hypervisor};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
/// How long the UI may take to show something (a loaded CI machine).
const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything one test runs, stopped in reverse order when dropped.
struct Session {
    app_process: ServerProcess,
    app: Node,
    _a11y: A11y,
    display: Display,
    _atspi: AccessibilityBus,
    runtime: tokio::runtime::Runtime,
    hypervisor: Hypervisor,
    _service: LibvirtDbus,
    _bus: PrivateBus,
    dir: TempDir,
}

fn tools_present() -> bool {
    libvirt_dbus_available()
        && tools_available(&[
            "Xvfb",
            "xdotool",
            "import",
            "/usr/libexec/at-spi-bus-launcher",
        ])
}

impl Session {
    /// Starts everything and the app on `test`'s page; `None` when a tool is
    /// missing outside CI (said loudly).
    fn start(view_flag: &str) -> Option<Self> {
        if !tools_present() {
            return None;
        }
        let bus = PrivateBus::start().expect("private bus");
        let service = LibvirtDbus::start(&bus).expect("libvirt-dbus");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let spec = ConnectionSpec {
            bus: Bus::Address(bus.address().to_owned()),
            driver: Driver::Test,
        };
        let hypervisor = runtime
            .block_on(Hypervisor::connect(&spec))
            .expect("connect the client");
        let atspi = AccessibilityBus::start(bus.address()).expect("accessibility bus");
        let display = Display::start(1280, 900).expect("Xvfb");
        let dir = TempDir::new("vm-page").expect("temp dir");
        let mut command = display.command(PORTHOLE);
        command
            .args(["--connect", "test:///default", view_flag, "test"])
            .env("GSETTINGS_BACKEND", "memory")
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE")
            .env_remove("LC_ALL")
            .env("XDG_CONFIG_HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path());
        atspi.enable(&mut command);
        let app_process = ServerProcess::spawn("porthole", command).expect("start porthole");
        let a11y = A11y::connect(bus.address()).expect("a11y bus");
        let app = a11y
            .app("porthole", UI_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}\napp stderr: {}", app_process.stderr()));
        Some(Self {
            app_process,
            app,
            _a11y: a11y,
            display,
            _atspi: atspi,
            runtime,
            hypervisor,
            _service: service,
            _bus: bus,
            dir,
        })
    }

    fn domain(&self, name: &str) -> Domain {
        self.runtime
            .block_on(self.hypervisor.domain_by_name(name))
            .expect("look the domain up")
    }

    /// The configuration of the next start, as libvirt has it.
    fn config(&self, name: &str) -> DomainOverview {
        let domain = self.domain(name);
        let xml = self.runtime.block_on(domain.xml(true)).expect("domain XML");
        DomainOverview::parse(&xml).expect("parse XML")
    }

    fn find(&self, role: &str, name: &str) -> Node {
        self.app
            .find(role, name, UI_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}\napp stderr: {}", self.app_process.stderr()))
    }

    fn click(&self, node: &Node) {
        node.do_action("click")
            .unwrap_or_else(|e| panic!("clicking {node:?}: {e}"));
    }

    /// Opens a tab with the view switcher, until its page shows `marker`
    /// (a node of that page with this role and name; the manager may
    /// replace the page while it settles, so the click is repeated).
    fn show_tab(&self, title: &str, marker: (&str, &str)) {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            if let Some(tab) = self
                .app
                .find_all("tab", title)
                .expect("walk the tree")
                .into_iter()
                .next()
            {
                let _ = tab.do_action("click");
            }
            if self
                .app
                .find(marker.0, marker.1, Duration::from_secs(2))
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the tab “{title}” does not show {marker:?}:\n{}",
                self.app.dump_string(600)
            );
        }
    }

    fn screenshot(&self, name: &str) -> image::RgbImage {
        let path = self.dir.path().join(name);
        self.display.screenshot(None, &path).expect("screenshot");
        // Kept for a person to look at when a test fails.
        let _ = std::fs::copy(&path, Path::new("/tmp").join(format!("vm_page-{name}")));
        images::load(&path).expect("load the screenshot")
    }
}

/// Waits until `check` holds, re-checking every 100 ms.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + UI_TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every node below (and including) `node`, depth first.
fn descendants(node: &Node) -> Vec<Node> {
    let mut found = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(node) = stack.pop() {
        let mut children = node.children().unwrap_or_default();
        children.reverse();
        stack.extend(children);
        found.push(node);
    }
    found
}

/// Every node below `node` whose name contains `text`.
fn find_containing(node: &Node, text: &str) -> Vec<Node> {
    descendants(node)
        .into_iter()
        .filter(|n| n.name().is_ok_and(|name| name.contains(text)))
        .collect()
}

/// The first node below `node` with this role, whatever its name.
fn find_role(node: &Node, role: &str) -> Node {
    descendants(node)
        .into_iter()
        .find(|n| n.role_name().is_ok_and(|r| r == role))
        .unwrap_or_else(|| panic!("no {role} in:\n{}", node.dump_string(100)))
}

/// The row of the overview or the snapshot list titled `title` (a list
/// item holding a label with that text; libadwaita 1.2 names rows nothing).
fn row(session: &Session, title: &str) -> Node {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let mut items = session.app.find_all("list item", title).expect("walk");
        items.extend(
            session
                .app
                .find_all("list item", "")
                .expect("walk")
                .into_iter()
                .filter(|item| {
                    item.find_all("label", title)
                        .is_ok_and(|labels| !labels.is_empty())
                }),
        );
        if let Some(item) = items.into_iter().next() {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "no row “{title}”:\n{}\napp stderr: {}",
            session.app.dump_string(3000),
            session.app_process.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_overview_shows_the_domain_and_edits_vcpus_memory_and_name() {
    let Some(session) = Session::start("--show-domain-editor") else {
        return;
    };
    // The test driver's domain: 2 vCPUs and 2 GiB, running.
    let vcpus = row(&session, "Processors (vCPUs)");
    vcpus
        .find("label", "2", UI_TIMEOUT)
        .unwrap_or_else(|e| panic!("vCPUs not shown: {e}"));
    row(&session, "Memory")
        .find("label", "2 GiB", UI_TIMEOUT)
        .unwrap_or_else(|e| panic!("memory not shown: {e}"));
    row(&session, "State")
        .find("label", "Running", UI_TIMEOUT)
        .unwrap_or_else(|e| panic!("state not shown: {e}"));

    // vCPUs: type 3, apply; libvirt's configuration has 3.
    let vcpus_row = row(&session, "vCPUs at next start");
    let spin = find_role(&vcpus_row, "spin button");
    spin.set_text("3").expect("type the vCPUs");
    session.click(
        &vcpus_row
            .find("button", "Apply", UI_TIMEOUT)
            .expect("apply"),
    );
    wait_for("3 vCPUs in libvirt", || session.config("test").vcpus == 3);

    // More vCPUs than the test driver allows: libvirt's refusal is shown
    // and the field keeps what the user typed.
    spin.set_text("400").expect("type too many vCPUs");
    session.click(
        &vcpus_row
            .find("button", "Apply", UI_TIMEOUT)
            .expect("apply"),
    );
    wait_for("libvirt's refusal", || {
        !find_containing(&session.app, "Cannot change the vCPUs").is_empty()
    });
    assert_eq!(session.config("test").vcpus, 3);
    assert_eq!(spin.text().expect("the field's text"), "400");

    // Memory: 1024 MiB.
    let memory_row = row(&session, "Memory at next start (MiB)");
    let spin = find_role(&memory_row, "spin button");
    spin.set_text("1024").expect("type the memory");
    session.click(
        &memory_row
            .find("button", "Apply", UI_TIMEOUT)
            .expect("apply"),
    );
    wait_for("1 GiB in libvirt", || {
        session.config("test").memory_kib == 1024 * 1024
    });

    // Renaming needs the VM shut off: the field says so and refuses.
    let name_row = row(&session, "Name");
    assert!(
        !name_row.has_state("sensitive").expect("states"),
        "the name can be edited while the VM runs"
    );
    assert!(
        !find_containing(&session.app, "only while the VM is shut off").is_empty(),
        "the page does not say why the name cannot change"
    );
    let domain = session.domain("test");
    session
        .runtime
        .block_on(domain.force_off())
        .expect("force off");
    wait_for("the name field to become editable", || {
        name_row.has_state("sensitive").unwrap_or(false)
    });
    let entry = find_role(&name_row, "text box");
    entry.set_text("renamed").expect("type the name");
    session.click(
        &name_row
            .find("button", "Rename", UI_TIMEOUT)
            .expect("rename"),
    );
    wait_for("the rename in libvirt", || {
        session
            .runtime
            .block_on(session.hypervisor.domain_by_name("renamed"))
            .is_ok()
    });
    let (state, _) = session
        .runtime
        .block_on(session.domain("renamed").state())
        .expect("state");
    assert_eq!(state, DomainState::Shutoff);
}

#[test]
fn the_xml_editor_shows_libvirts_error_keeps_the_text_and_applies_a_good_edit() {
    let Some(session) = Session::start("--show-domain-editor") else {
        return;
    };
    session.show_tab("XML", ("button", "Apply XML"));
    let mut editor = None;
    wait_for("the XML editor", || {
        editor = session
            .app
            .find_all_where(|role, _| role == "text box")
            .expect("walk")
            .into_iter()
            .find(|n| n.text().is_ok_and(|t| t.contains("<domain")));
        editor.is_some()
    });
    let editor = editor.expect("editor");
    let xml = editor.text().expect("the XML");
    assert!(xml.contains("<name>test</name>"), "{xml}");

    // A broken edit: libvirt's error shows, and the text is what was typed.
    let broken = xml.replace("</domain>", "<devices><bogus></devices></domain>");
    editor.set_text(&broken).expect("type broken XML");
    session.click(&session.find("button", "Apply XML"));
    wait_for("libvirt's error", || {
        !find_containing(&session.app, "libvirt refused this XML").is_empty()
    });
    assert_eq!(
        editor.text().expect("text"),
        broken,
        "the user's text was lost"
    );
    assert_eq!(session.config("test").memory_kib, 8 * 1024 * 1024);

    // A good edit: 4 GiB of memory, defined in libvirt.
    let good = xml.replace(
        "<memory unit='KiB'>8388608</memory>",
        "<memory unit='KiB'>4194304</memory>",
    );
    assert_ne!(good, xml, "the test driver's XML changed: {xml}");
    editor.set_text(&good).expect("type good XML");
    session.click(&session.find("button", "Apply XML"));
    wait_for("the new memory in libvirt", || {
        session.config("test").memory_kib == 4 * 1024 * 1024
    });
    wait_for("the error to go", || {
        find_containing(&session.app, "libvirt refused this XML")
            .iter()
            .all(|n| !n.has_state("showing").unwrap_or(false))
    });
}

/// Takes a snapshot through the page's dialog.
fn take_snapshot(session: &Session, name: &str, description: &str) {
    session.click(&session.find("button", "Take Snapshot…"));
    let field = |title: &str| {
        let mut found = None;
        wait_for("the snapshot dialog", || {
            found = session
                .app
                .find_all("text box", title)
                .ok()
                .and_then(|fields| fields.into_iter().next_back());
            found.is_some()
        });
        found.expect("field")
    };
    field("Name").set_text(name).expect("snapshot name");
    field("Description")
        .set_text(description)
        .expect("snapshot description");
    session.click(&dialog_button(session, "Take Snapshot"));
}

/// The button `label` of the message dialog that is open (libadwaita 1.2
/// names its response buttons with the label twice).
fn dialog_button(session: &Session, label: &str) -> Node {
    let doubled = format!("{label} {label}");
    let mut found = None;
    wait_for(&format!("a dialog with “{label}”"), || {
        found = session
            .app
            .find_all_where(|role, _| role == "dialog")
            .ok()
            .and_then(|dialogs| dialogs.into_iter().next_back())
            .and_then(|dialog| {
                dialog
                    .find_all_where(|role, name| {
                        role == "button" && (name == label || name == doubled)
                    })
                    .ok()
            })
            .and_then(|buttons| buttons.into_iter().next());
        found.is_some()
    });
    found.expect("dialog button")
}

fn snapshot_names(session: &Session) -> Vec<(String, Option<String>, bool)> {
    session
        .runtime
        .block_on(session.domain("test").snapshots())
        .expect("snapshots")
        .into_iter()
        .map(|s| (s.name, s.parent, s.is_current))
        .collect()
}

/// Answers the confirmation that is open with `label`.
fn confirm(session: &Session, label: &str) {
    session.click(&dialog_button(session, label));
}

#[test]
fn snapshots_are_taken_shown_as_a_tree_reverted_and_deleted() {
    let Some(session) = Session::start("--show-domain-editor") else {
        return;
    };
    session.show_tab("Snapshots", ("button", "Take Snapshot…"));
    session.find("label", "No Snapshots");
    take_snapshot(&session, "first", "clean & tidy");
    session.find("list item", "first");
    take_snapshot(&session, "second", "");
    session.find("list item", "second");
    assert_eq!(
        snapshot_names(&session),
        [
            ("first".to_owned(), None, false),
            ("second".to_owned(), Some("first".to_owned()), true)
        ]
    );
    // The child is drawn indented under its parent. Rows are rebuilt when
    // the list reloads, so each is looked up when used.
    let title_x = |name: &str| session.find("label", name).extents().expect("extents").0;
    assert!(
        title_x("second") > title_x("first"),
        "“second” is not indented under “first”"
    );
    assert!(
        !find_containing(&session.find("list item", "first"), "clean & tidy").is_empty(),
        "the description is not shown"
    );

    // Revert to the first, confirmed.
    let first = session.find("list item", "first");
    session.click(&first.find("button", "Revert", UI_TIMEOUT).expect("revert"));
    confirm(&session, "Revert");
    wait_for("the first snapshot to be current", || {
        snapshot_names(&session)
            .iter()
            .any(|(name, _, current)| name == "first" && *current)
    });

    // Delete the second, confirmed: gone from libvirt and from the list.
    let second = session.find("list item", "second");
    session.click(&second.find("button", "Delete", UI_TIMEOUT).expect("delete"));
    confirm(&session, "Delete");
    wait_for("the snapshot to be deleted", || {
        snapshot_names(&session).len() == 1
    });
    wait_for("the row to go", || {
        session
            .app
            .find_all("list item", "second")
            .is_ok_and(|rows| rows.is_empty())
    });
    session.find("list item", "first");
}

#[test]
fn the_console_says_there_is_no_display_and_the_performance_tab_draws_graphs() {
    let Some(session) = Session::start("--show-domain-editor") else {
        return;
    };
    // The test driver's VM has no VNC display, and the console says so.
    session.show_tab("Console", ("label", "No Graphical Console"));
    session.show_tab("Performance", ("label", "CPU 0 %"));
    // The graphs are drawn: the second series' orange line (disk writes,
    // network sent: 0 here, so along the bottom of the graph) grows with
    // each read (one a second), and no other widget of the tab is orange.
    let mut orange = 0;
    let deadline = Instant::now() + UI_TIMEOUT;
    while orange < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let shot = session.screenshot("performance.png");
        orange = shot
            .pixels()
            .filter(|p| {
                let [r, g, b] = p.0;
                r > 200 && (70..130).contains(&g) && b < 40
            })
            .count();
    }
    assert!(
        find_containing(&session.app, "Cannot read statistics").is_empty(),
        "reading statistics failed"
    );
    assert!(orange >= 40, "no graph line drawn ({orange} orange pixels)");
}
