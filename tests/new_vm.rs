//! The New VM assistant and what it builds on: storage pools and volumes
//! and the host's limits through the libvirt client, against libvirt-dbus
//! with the test driver on a private bus; and, as root with libvirtd and
//! real QEMU, a VM created by the assistant in the running app that boots
//! to SeaBIOS.

// The client lives in the app binary; compile its module here too.
#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::time::{Duration, Instant};

use porthole_harness::a11y::{self, A11y, AccessibilityBus, Node};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus, Libvirtd, Mode};
use porthole_harness::process::{in_ci, ServerProcess, TempDir};
use src::libvirt::{
    Bus, ConnectionSpec, DeleteOptions, DiskSource, DomainState, Driver, Hypervisor, UefiSupport,
};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
/// Far above what a step takes; only a loaded CI machine comes near it.
const WAIT: Duration = Duration::from_secs(30);

struct TestDriver {
    // Field order: libvirt-dbus goes before its bus.
    _service: LibvirtDbus,
    _bus: PrivateBus,
    hypervisor: Hypervisor,
}

async fn test_driver() -> Option<TestDriver> {
    if !libvirt_dbus_available() {
        return None;
    }
    let bus = PrivateBus::start().expect("private bus");
    let service = LibvirtDbus::start(&bus).expect("libvirt-dbus");
    let spec = ConnectionSpec {
        bus: Bus::Address(bus.address().to_owned()),
        driver: Driver::Test,
    };
    let hypervisor = Hypervisor::connect(&spec).await.expect("connect");
    Some(TestDriver {
        _service: service,
        _bus: bus,
        hypervisor,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_created_in_a_pool_and_deleted() {
    let Some(env) = test_driver().await else {
        return;
    };
    let pools = env.hypervisor.storage_pools().await.expect("pools");
    let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["default-pool"], "the test driver's one pool");
    // No pool is called "default", so the first active one is used.
    let pool = env.hypervisor.default_pool().await.expect("default pool");
    assert_eq!(pool.name, "default-pool");
    assert!(pool.active);
    assert_eq!(pool.kind, "dir");

    let volume = pool
        .create_volume("porthole-new.qcow2", 64 << 20)
        .await
        .expect("create volume");
    assert_eq!(volume.name, "porthole-new.qcow2");
    assert_eq!(volume.capacity, 64 << 20);
    assert_eq!(
        volume.path,
        std::path::Path::new("/default-pool/porthole-new.qcow2")
    );
    let listed: Vec<String> = pool
        .volumes()
        .await
        .expect("volumes")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert!(listed.contains(&volume.name), "{listed:?}");
    match pool.create_volume("porthole-new.qcow2", 1 << 20).await {
        Err(error) => assert!(error.to_string().contains("exists"), "{error}"),
        Ok(_) => panic!("a second volume with the same name was created"),
    }
    volume.delete().await.expect("delete volume");
    let listed: Vec<String> = pool
        .volumes()
        .await
        .expect("volumes")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert!(!listed.contains(&volume.name), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dir_pool_is_created_started_and_removed() {
    let Some(env) = test_driver().await else {
        return;
    };
    let dir = TempDir::new("porthole-pool").expect("temp dir");
    let target = dir.path().join("images");
    let pool = env
        .hypervisor
        .create_dir_pool("porthole-pool", &target)
        .await
        .expect("create pool");
    assert!(pool.active, "the new pool is started");
    assert_eq!(pool.target.as_deref(), Some(target.as_path()));
    let again = env
        .hypervisor
        .storage_pool("porthole-pool")
        .await
        .expect("lookup");
    assert!(again.active);
    let volume = pool
        .create_volume("disk.qcow2", 1 << 20)
        .await
        .expect("volume in the new pool");
    volume.delete().await.expect("delete volume");
    pool.delete().await.expect("delete pool");
    assert!(env.hypervisor.storage_pool("porthole-pool").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_limits_come_from_libvirt() {
    let Some(env) = test_driver().await else {
        return;
    };
    let host = env.hypervisor.host_capabilities().await.expect("host");
    // The test driver's fake host: two NUMA cells of 8 CPUs, 2 + 4 GiB.
    assert_eq!(host.cpus, 16);
    assert_eq!(host.memory_mib, Some(6 * 1024));
    // It has no domain capabilities, so UEFI cannot be offered.
    assert!(
        matches!(host.uefi, UefiSupport::Unknown(_)),
        "{:?}",
        host.uefi
    );
}

fn ui_tools_present() -> bool {
    a11y::ui_tools_available() && libvirt_dbus_available()
}

/// One app at a time: each brings a display and buses, and the machine
/// running the tests has few cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The real app on its own display, with libvirt-dbus on a private bus
/// (as the session bus for the test driver, or as the system bus).
struct App {
    // Drop order: the app first, then libvirt-dbus, then the buses.
    process: ServerProcess,
    _service: LibvirtDbus,
    root: Node,
    _a11y_bus: AccessibilityBus,
    bus: PrivateBus,
    display: Display,
    _config: TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl App {
    /// Our own libvirt client on the app's bus, to check what the app did.
    fn client(&self, driver: Driver) -> (tokio::runtime::Runtime, Hypervisor) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let hypervisor = runtime
            .block_on(Hypervisor::connect(&ConnectionSpec {
                bus: Bus::Address(self.bus.address().to_owned()),
                driver,
            }))
            .expect("client");
        (runtime, hypervisor)
    }

    fn start(mode: Mode, uri: &str) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let display = Display::start(1280, 800).expect("Xvfb");
        let bus = PrivateBus::start().expect("private bus");
        let service = LibvirtDbus::start_mode(&bus, mode).expect("libvirt-dbus");
        let a11y_bus = AccessibilityBus::start(bus.address()).expect("a11y bus");
        let config = TempDir::new("porthole-newvm").expect("config dir");
        let mut command = display.command(PORTHOLE);
        a11y_bus.enable(&mut command);
        command
            .args(["--connect", uri])
            .env("GSETTINGS_BACKEND", "memory")
            .env("XDG_CONFIG_HOME", config.path())
            .env("XDG_DATA_HOME", config.path())
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE");
        if mode == Mode::System {
            command.env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
        }
        let process = ServerProcess::spawn("porthole", command).expect("porthole");
        let a11y = A11y::connect(bus.address()).expect("a11y");
        let root = a11y.app("porthole", WAIT).expect("the app on the a11y bus");
        root.find("window", "Porthole", WAIT).expect("main window");
        Self {
            process,
            _service: service,
            root,
            _a11y_bus: a11y_bus,
            bus,
            display,
            _config: config,
            _turn: turn,
        }
    }

    fn find(&self, below: &Node, role: &str, name: &str) -> Node {
        below
            .find(role, name, WAIT)
            .unwrap_or_else(|e| panic!("{e}\napp stderr:\n{}", self.process.stderr()))
    }

    /// Clicks the button `name` once it can be clicked (Next waits while
    /// the assistant checks the name with libvirt).
    fn click(&self, below: &Node, name: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let button = self.find(below, "button", name);
            if button.has_state("sensitive").unwrap_or(true) {
                button
                    .do_action("click")
                    .unwrap_or_else(|e| panic!("clicking {name}: {e}"));
                return;
            }
            if Instant::now() >= deadline {
                self.screenshot("click-refused");
                panic!("{name} stayed insensitive:\n{}", below.dump_string(400));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until some drawn text below `node` contains `text`.
    fn shows_text(&self, node: &Node, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let tree = node.dump_string(3000);
            if tree.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "“{text}” never showed; the window holds:\n{tree}\napp stderr:\n{}",
                self.process.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens the assistant and returns its window.
    fn open_assistant(&self) -> Node {
        let button = self
            .root
            .find_where("the New Virtual Machine button", WAIT, |role, name| {
                role == "button" && name.contains("New Virtual Machine")
            })
            .expect("New Virtual Machine button");
        button
            .do_action("click")
            .expect("click New Virtual Machine");
        self.find(&self.root, "window", "New Virtual Machine")
    }

    /// Types into the text field of the row titled `title` (an entry
    /// row, or an action row holding a spin button).
    fn set_field(&self, window: &Node, title: &str, text: &str) {
        let deadline = Instant::now() + WAIT;
        let field = loop {
            let rows = window.find_all("", title).unwrap_or_default();
            let field = rows.iter().find_map(|row| {
                row.find_all_where(|role, _| role == "text box" || role == "spin button")
                    .ok()?
                    .into_iter()
                    .next()
            });
            if let Some(field) = field {
                break field;
            }
            assert!(
                Instant::now() < deadline,
                "no field in a row “{title}”; the window holds:\n{}",
                window.dump_string(400)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        field
            .set_text(text)
            .unwrap_or_else(|e| panic!("typing into {title}: {e}"));
    }

    /// Clicks the middle of `node` with the pointer (for widgets that
    /// offer no accessible action in GTK 4.8, such as check buttons).
    fn click_at(&self, node: &Node) {
        let (x, y, w, h) = node.extents().expect("extents");
        let mut click = self.display.command("xdotool");
        click.args([
            "mousemove",
            &(x + w / 2).to_string(),
            &(y + h / 2).to_string(),
            "click",
            "1",
        ]);
        porthole_harness::process::run(click).expect("xdotool click");
    }

    /// Whether the assistant's header says it is on page `title`.
    fn on_page(&self, window: &Node, title: &str) -> bool {
        window
            .find_all("widget", "AdwWindowTitle")
            .unwrap_or_default()
            .iter()
            .any(|header| {
                !header
                    .find_all("label", title)
                    .unwrap_or_default()
                    .is_empty()
            })
    }

    /// Goes on to page `title` with Next. A click that lands while the
    /// previous page still slides away can be lost: click again then.
    fn next(&self, window: &Node, title: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.on_page(window, title) {
            assert!(
                Instant::now() < deadline,
                "never got to the page “{title}”:\n{}\napp stderr:\n{}",
                window.dump_string(400),
                self.process.stderr()
            );
            self.click(window, "Next");
            let retry = Instant::now() + Duration::from_secs(5);
            while Instant::now() < retry && !self.on_page(window, title) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Checks the check (or radio) button `name`, clicking again while the
    /// page still slides in under the pointer.
    fn check(&self, window: &Node, name: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let button = self.find(window, "checkbox", name);
            if button.has_state("checked").unwrap_or(false) {
                return;
            }
            assert!(Instant::now() < deadline, "“{name}” never got checked");
            self.click_at(&button);
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn screenshot(&self, name: &str) {
        let path = std::env::temp_dir().join(format!("porthole-newvm-{name}.png"));
        let _ = self.display.screenshot(None, &path);
        eprintln!("screenshot: {}", path.display());
    }
}

#[test]
fn the_assistant_creates_and_starts_a_vm_and_keeps_values_on_errors() {
    if !ui_tools_present() {
        return;
    }
    let app = App::start(Mode::Session, "test:///default");
    let (runtime, hypervisor) = app.client(Driver::Test);

    let window = app.open_assistant();
    // A taken name is refused with the reason, and nothing goes on.
    app.set_field(&window, "Name", "test");
    app.click(&window, "Next");
    app.shows_text(&window, "A virtual machine called “test” exists already");
    app.set_field(&window, "Name", "porthole-ui");
    app.next(&window, "Install Media");
    app.check(&window, "No media");
    app.next(&window, "Memory and Processors");
    // The test driver's fake host: 16 CPUs, 6 GiB.
    app.shows_text(&window, "The host has 16 processors");
    app.next(&window, "Storage");
    app.shows_text(&window, "default-pool");
    app.next(&window, "Firmware");
    // The test driver cannot tell about UEFI firmware: BIOS only, and why.
    app.shows_text(&window, "cannot say whether it has UEFI firmware");
    app.next(&window, "Summary");
    app.shows_text(
        &window,
        "New 20.0 GiB disk “porthole-ui.qcow2” in pool default-pool",
    );

    // libvirt refuses: the disk's name is taken. The error shows, the
    // assistant stays with every value, and Create works once it is free.
    let blocker = runtime.block_on(async {
        let pool = hypervisor.storage_pool("default-pool").await.expect("pool");
        pool.create_volume("porthole-ui.qcow2", 1 << 20)
            .await
            .expect("blocking volume")
    });
    app.click(&window, "Create");
    app.shows_text(&window, "Could not create the virtual machine");
    app.shows_text(&window, "porthole-ui.qcow2");
    app.screenshot("error");
    assert!(
        runtime
            .block_on(hypervisor.domain_by_name("porthole-ui"))
            .is_err(),
        "a failed Create leaves no VM behind"
    );
    runtime.block_on(blocker.delete()).expect("free the name");
    app.click(&window, "Create");

    // The VM exists, runs, and has what was chosen; the assistant closed.
    let deadline = Instant::now() + WAIT;
    let domain = loop {
        if let Ok(domain) = runtime.block_on(hypervisor.domain_by_name("porthole-ui")) {
            break domain;
        }
        assert!(Instant::now() < deadline, "the VM was not created");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (state, overview) = runtime.block_on(async {
        (
            domain.state().await.expect("state").0,
            domain.overview().await.expect("overview"),
        )
    });
    assert_eq!(state, DomainState::Running);
    assert_eq!(overview.memory_kib, 2048 * 1024);
    assert_eq!(overview.vcpus, 2);
    assert_eq!(
        overview.disks[0].source,
        Some(DiskSource::File("/default-pool/porthole-ui.qcow2".into()))
    );
    app.shows_text(&app.root, "porthole-ui");
    let deadline = Instant::now() + WAIT;
    while !app
        .root
        .find_all("window", "New Virtual Machine")
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the assistant stayed open");
        std::thread::sleep(Duration::from_millis(100));
    }
    app.screenshot("created");

    // From an ISO: the image is the VM's CD-ROM, next to a new disk. A
    // path with no file behind it is refused on this computer.
    let isos = TempDir::new("porthole-isos").expect("temp dir");
    let iso = isos.path().join("installer.iso");
    let iso_text = iso.to_string_lossy().into_owned();
    let window = app.open_assistant();
    app.set_field(&window, "Name", "porthole-iso");
    app.next(&window, "Install Media");
    app.set_field(&window, "Image file", &iso_text);
    app.shows_text(&window, "There is no file at this path");
    std::fs::write(&iso, b"CD001").expect("iso file");
    // Typing again re-checks (the entry validates as the user types).
    app.set_field(&window, "Image file", &format!("{iso_text} "));
    app.set_field(&window, "Image file", &iso_text);
    app.next(&window, "Memory and Processors");
    app.next(&window, "Storage");
    app.next(&window, "Firmware");
    app.next(&window, "Summary");
    app.shows_text(&window, &iso_text);
    app.click(&window, "Create");
    let deadline = Instant::now() + WAIT;
    let domain = loop {
        if let Ok(domain) = runtime.block_on(hypervisor.domain_by_name("porthole-iso")) {
            break domain;
        }
        assert!(Instant::now() < deadline, "the ISO VM was not created");
        std::thread::sleep(Duration::from_millis(100));
    };
    let overview = runtime.block_on(domain.overview()).expect("overview");
    let devices: Vec<(&str, Option<&DiskSource>)> = overview
        .disks
        .iter()
        .map(|d| (d.device.as_str(), d.source.as_ref()))
        .collect();
    assert_eq!(
        devices,
        [
            (
                "disk",
                Some(&DiskSource::File("/default-pool/porthole-iso.qcow2".into()))
            ),
            ("cdrom", Some(&DiskSource::File(iso_text.clone())))
        ],
        "the new disk, and the ISO as a CD-ROM"
    );
}

/// A real guest from the assistant: libvirtd (root) with QEMU (TCG), the
/// app on `qemu:///system` through libvirt-dbus on a private system bus.
/// With no storage pool on the host the assistant makes the default one;
/// the VM gets a new small disk, starts, and SeaBIOS draws its screen
/// (nothing to boot from), read through the VM's console.
#[test]
fn the_assistant_creates_a_vm_that_boots_on_real_qemu() {
    if !ui_tools_present() || !Libvirtd::available() {
        return;
    }
    let daemons = Libvirtd::start().expect("libvirtd");
    let app = App::start(Mode::System, "qemu:///system");
    let (runtime, hypervisor) = app.client(Driver::Qemu);
    let pools_before: Vec<String> = runtime
        .block_on(hypervisor.storage_pools())
        .expect("pools")
        .into_iter()
        .map(|p| p.name)
        .collect();
    let name = format!("porthole-newvm-{}", std::process::id());
    let pool_dir_existed = std::path::Path::new("/var/lib/libvirt/images").exists();

    let window = app.open_assistant();
    app.set_field(&window, "Name", &name);
    app.next(&window, "Install Media");
    app.check(&window, "No media");
    app.next(&window, "Memory and Processors");
    app.set_field(&window, "Memory (MiB)", "256");
    app.set_field(&window, "Processors", "1");
    app.next(&window, "Storage");
    app.set_field(&window, "Disk size (GiB)", "0.1");
    if pools_before.is_empty() {
        app.shows_text(&window, "one will be created");
    }
    app.next(&window, "Firmware");
    // Debian's QEMU has no OVMF unless the ovmf package is installed.
    if !std::path::Path::new("/usr/share/OVMF").exists() {
        app.shows_text(&window, "No UEFI firmware is installed on the host");
    }
    app.next(&window, "Summary");
    app.screenshot("qemu-summary");
    app.click(&window, "Create");

    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let domain = loop {
        if let Ok(domain) = runtime.block_on(hypervisor.domain_by_name(&name)) {
            if runtime.block_on(domain.state()).map(|s| s.0).ok() == Some(DomainState::Running) {
                break domain;
            }
        }
        if !app
            .root
            .find_all_where(|_, n| n.contains("Could not create"))
            .unwrap_or_default()
            .is_empty()
        {
            app.screenshot("qemu-error");
            panic!("creating failed:\n{}", window.dump_string(400));
        }
        assert!(Instant::now() < deadline, "the VM did not start");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("created and running {:?} after Create", started.elapsed());

    let cleanup = Cleanup {
        runtime: &runtime,
        hypervisor: hypervisor.clone(),
        domain: domain.clone(),
        pool_created: pools_before.is_empty(),
        keep_dir: pool_dir_existed,
    };
    let overview = runtime.block_on(domain.overview()).expect("overview");
    assert_eq!(overview.memory_kib, 256 * 1024);
    assert_eq!(overview.vcpus, 1);
    let pool = runtime
        .block_on(hypervisor.storage_pool(src::libvirt::DEFAULT_POOL))
        .or_else(|e| {
            assert!(!pools_before.is_empty(), "no default pool was created: {e}");
            runtime.block_on(hypervisor.default_pool())
        })
        .expect("the pool");
    assert!(pool.active);
    let volume = runtime
        .block_on(pool.volumes())
        .expect("volumes")
        .into_iter()
        .find(|v| v.name == format!("{name}.qcow2"))
        .expect("the new disk volume");
    // 0.1 GiB, in whole MiB.
    assert_eq!(volume.capacity, 103 << 20);
    assert_eq!(
        overview.disks[0].source,
        Some(DiskSource::File(volume.path.to_string_lossy().into_owned()))
    );
    assert!(volume.path.is_file(), "{:?} is not on disk", volume.path);
    let shown = runtime.block_on(seabios_screen(&domain));
    assert!(shown, "the guest's screen stayed black: SeaBIOS never drew");
    drop(cleanup);
    assert!(
        runtime.block_on(hypervisor.domain_by_name(&name)).is_err(),
        "the VM was not deleted"
    );
    assert!(!volume.path.exists(), "the disk was not deleted");
    drop(app);
    drop(daemons);
}

/// Removes the VM, its disk and (if the test made it) the pool, also when
/// the test fails, so no guest or file outlives it.
struct Cleanup<'r> {
    runtime: &'r tokio::runtime::Runtime,
    hypervisor: Hypervisor,
    domain: src::libvirt::Domain,
    pool_created: bool,
    /// The pool's directory was there before: leave it.
    keep_dir: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.runtime.block_on(async {
            let _ = self.domain.force_off().await;
            match self
                .domain
                .delete(DeleteOptions {
                    storage: true,
                    // QEMU takes the flag for BIOS VMs too; UEFI ones need it.
                    nvram: true,
                })
                .await
            {
                Ok(failures) if failures.is_empty() => {}
                other => eprintln!("cleaning up the VM: {other:?}"),
            }
            if self.pool_created {
                if let Ok(pool) = self
                    .hypervisor
                    .storage_pool(src::libvirt::DEFAULT_POOL)
                    .await
                {
                    let result = if self.keep_dir {
                        pool.undefine().await
                    } else {
                        pool.delete().await
                    };
                    if let Err(error) = result {
                        eprintln!("cleaning up the pool: {error}");
                    }
                }
            }
        });
    }
}

/// Reads the guest's screen through its console (`OpenGraphicsFD`) until
/// SeaBIOS has drawn text (pixels that are not black), and saves it.
async fn seabios_screen(domain: &src::libvirt::Domain) -> bool {
    use porthole_vnc::driver::{self, DriverEvent, Stream};
    use porthole_vnc::proto::{Config, Event};
    let Ok(fd) = domain.open_graphics_fd().await else {
        return false;
    };
    let stream = Stream::from_fd(fd).expect("stream");
    let (handle, mut events, task) = driver::spawn(stream, Config::default(), None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut shown = false;
    while Instant::now() < deadline && !shown {
        let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(30), events.recv()).await
        else {
            break;
        };
        match event {
            DriverEvent::Session(Event::UpdateComplete) => {
                let framebuffer = handle.lock_framebuffer();
                shown = framebuffer
                    .data()
                    .chunks_exact(4)
                    .filter(|p| p[0] > 128 || p[1] > 128 || p[2] > 128)
                    .count()
                    > 200;
                if shown {
                    let (w, h) = (framebuffer.width(), framebuffer.height());
                    let mut image = image::RgbImage::new(u32::from(w), u32::from(h));
                    for (pixel, bgrx) in image.pixels_mut().zip(framebuffer.data().chunks_exact(4))
                    {
                        *pixel = image::Rgb([bgrx[2], bgrx[1], bgrx[0]]);
                    }
                    let path = std::env::temp_dir().join("porthole-newvm-guest.png");
                    let _ = image.save(&path);
                    eprintln!("guest screen: {}", path.display());
                } else {
                    handle.request_update(true, None);
                }
            }
            DriverEvent::Closed(_) => break,
            DriverEvent::Session(_) => {}
        }
    }
    handle.shutdown();
    let _ = task.await;
    shown
}

/// UEFI for real: with Debian's `ovmf` installed, the assistant offers
/// UEFI, and the VM it creates boots OVMF (TianoCore) instead of SeaBIOS:
/// the live XML has the OVMF loader and an NVRAM file of its own, and the
/// screen is the firmware's graphics mode, not SeaBIOS's 720×400 text
/// mode. Deleting it from the list (with its storage) removes the NVRAM
/// file too.
#[test]
fn the_assistant_creates_a_uefi_vm_that_boots_ovmf_and_deletes_its_nvram() {
    if !ui_tools_present() || !Libvirtd::available() {
        return;
    }
    if !std::path::Path::new("/usr/share/qemu/firmware/60-edk2-x86_64.json").exists() {
        assert!(!in_ci(), "CI must have OVMF (package ovmf)");
        eprintln!("SKIPPED: needs OVMF (package ovmf)");
        return;
    }
    let daemons = Libvirtd::start().expect("libvirtd");
    let app = App::start(Mode::System, "qemu:///system");
    let (runtime, hypervisor) = app.client(Driver::Qemu);
    let pools_before = runtime.block_on(hypervisor.storage_pools()).expect("pools");
    let pool_dir_existed = std::path::Path::new("/var/lib/libvirt/images").exists();
    let name = format!("porthole-uefi-{}", std::process::id());

    let window = app.open_assistant();
    app.set_field(&window, "Name", &name);
    app.next(&window, "Install Media");
    app.check(&window, "No media");
    app.next(&window, "Memory and Processors");
    app.set_field(&window, "Memory (MiB)", "256");
    app.set_field(&window, "Processors", "1");
    app.next(&window, "Storage");
    app.set_field(&window, "Disk size (GiB)", "0.1");
    app.next(&window, "Firmware");
    app.check(&window, "UEFI");
    app.next(&window, "Summary");
    app.shows_text(&window, "UEFI");
    app.click(&window, "Create");

    let deadline = Instant::now() + Duration::from_secs(120);
    let domain = loop {
        if let Ok(domain) = runtime.block_on(hypervisor.domain_by_name(&name)) {
            if runtime.block_on(domain.state()).map(|s| s.0).ok() == Some(DomainState::Running) {
                break domain;
            }
        }
        assert!(
            app.root
                .find_all_where(|_, n| n.contains("Could not create"))
                .unwrap_or_default()
                .is_empty(),
            "creating failed:\n{}",
            window.dump_string(400)
        );
        assert!(Instant::now() < deadline, "the UEFI VM did not start");
        std::thread::sleep(Duration::from_millis(200));
    };
    let cleanup = Cleanup {
        runtime: &runtime,
        hypervisor: hypervisor.clone(),
        domain: domain.clone(),
        pool_created: pools_before.is_empty(),
        keep_dir: pool_dir_existed,
    };

    // The live XML: OVMF's code as a pflash loader, and a variable store.
    let xml = runtime.block_on(domain.xml(false)).expect("live XML");
    let document = roxmltree::Document::parse(&xml).expect("XML");
    let os = document
        .descendants()
        .find(|n| n.has_tag_name("os"))
        .expect("<os>");
    let loader = os
        .children()
        .find(|n| n.has_tag_name("loader"))
        .unwrap_or_else(|| panic!("no <loader> in\n{xml}"));
    assert_eq!(loader.attribute("type"), Some("pflash"), "{xml}");
    let loader_path = loader.text().unwrap_or_default();
    assert!(loader_path.contains("OVMF"), "loader {loader_path}");
    let nvram = os
        .children()
        .find(|n| n.has_tag_name("nvram"))
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("no <nvram> in\n{xml}"))
        .to_owned();
    assert!(
        std::path::Path::new(&nvram).is_file(),
        "the NVRAM file {nvram} is not there"
    );

    // The firmware's screen: drawn, and not SeaBIOS's text mode.
    let (screen, orange) = runtime
        .block_on(firmware_screen(&domain))
        .expect("the guest's screen stayed black: OVMF never drew");
    assert!(
        orange > 50,
        "no TianoCore logo on the screen ({orange} orange pixels)"
    );
    assert_ne!(
        screen,
        (720, 400),
        "the screen has SeaBIOS's text mode size, not UEFI graphics"
    );
    eprintln!("OVMF screen {}×{}", screen.0, screen.1);

    // Delete from the list, with its storage: the NVRAM goes too.
    runtime.block_on(domain.force_off()).expect("force off");
    app.click(&app.root, "Back to the List");
    let label = app.find(&app.root, "label", &name);
    app.click_at(&label);
    let more = app.find(&app.root, "button", "More Actions");
    let toggle = more
        .children()
        .ok()
        .and_then(|c| c.into_iter().next())
        .unwrap_or(more);
    toggle.do_action("click").expect("More Actions");
    app.find(&app.root, "", "Delete…")
        .do_action_index(0)
        .expect("Delete…");
    let volumes = app.find(&app.root, "checkbox", "Also delete its storage volumes");
    while !volumes.has_state("checked").unwrap_or(false) {
        app.click_at(&volumes);
        std::thread::sleep(Duration::from_millis(300));
    }
    app.click(&app.root, "Delete");
    let deadline = Instant::now() + WAIT;
    while runtime.block_on(hypervisor.domain_by_name(&name)).is_ok() {
        assert!(Instant::now() < deadline, "the UEFI VM was not deleted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !std::path::Path::new(&nvram).exists(),
        "deleting left the NVRAM file {nvram}"
    );
    drop(cleanup);
    drop(app);
    drop(daemons);
}

/// Reads the guest's screen through its console until the guest drew it
/// (some bright pixels, in a mode the guest set), saves it, and returns
/// its size and how many of its pixels have the orange of TianoCore's logo.
async fn firmware_screen(domain: &src::libvirt::Domain) -> Option<((u16, u16), usize)> {
    use porthole_vnc::driver::{self, DriverEvent, Stream};
    use porthole_vnc::proto::{Config, Event};
    let fd = domain.open_graphics_fd().await.ok()?;
    let stream = Stream::from_fd(fd).expect("stream");
    let (handle, mut events, task) = driver::spawn(stream, Config::default(), None);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut shown = None;
    while Instant::now() < deadline && shown.is_none() {
        let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(30), events.recv()).await
        else {
            break;
        };
        match event {
            DriverEvent::Session(Event::UpdateComplete) => {
                let framebuffer = handle.lock_framebuffer();
                let drawn = framebuffer
                    .data()
                    .chunks_exact(4)
                    .filter(|p| p[0] > 128 || p[1] > 128 || p[2] > 128)
                    .count()
                    > 200;
                let (w, h) = (framebuffer.width(), framebuffer.height());
                // QEMU's own 640×480 "Guest has not initialized the
                // display (yet)" comes before the firmware draws.
                if drawn && (w, h) != (640, 480) {
                    let mut image = image::RgbImage::new(u32::from(w), u32::from(h));
                    for (pixel, bgrx) in image.pixels_mut().zip(framebuffer.data().chunks_exact(4))
                    {
                        *pixel = image::Rgb([bgrx[2], bgrx[1], bgrx[0]]);
                    }
                    let path = std::env::temp_dir().join("porthole-newvm-uefi.png");
                    let _ = image.save(&path);
                    eprintln!("guest screen: {}", path.display());
                    // The orange of TianoCore's logo (pixels are BGRX).
                    let orange = framebuffer
                        .data()
                        .chunks_exact(4)
                        .filter(|p| p[2] > 200 && (60..170).contains(&p[1]) && p[0] < 90)
                        .count();
                    shown = Some(((w, h), orange));
                } else {
                    handle.request_update(true, None);
                }
            }
            DriverEvent::Closed(_) => break,
            DriverEvent::Session(_) => {}
        }
    }
    handle.shutdown();
    let _ = task.await;
    shown
}

/// Picks `path` in the GTK file chooser dialog titled `title` (with no
/// portal on the bus, FileChooserNative shows GTK's own dialog): the
/// location entry (Ctrl+L, as a person types a path) and Open.
fn choose_in_file_chooser(app: &App, title: &str, path: &str) {
    let dialog = app
        .root
        .find_where(title, WAIT, |_, name| name == title)
        .unwrap_or_else(|e| panic!("{e}"));
    let window = app
        .display
        .wait_for_window(title, WAIT)
        .expect("the chooser's window");
    let window = window.to_string();
    let deadline = Instant::now() + WAIT;
    let entry = loop {
        let mut focus = app.display.command("xdotool");
        focus.args(["windowfocus", "--sync", &window, "key", "ctrl+l"]);
        porthole_harness::process::run(focus).expect("xdotool");
        if let Ok(entry) = dialog.find_where(
            "the location entry",
            Duration::from_secs(2),
            |role, name| role == "text box" && name == "GtkFileChooserEntry",
        ) {
            break entry;
        }
        assert!(
            Instant::now() < deadline,
            "the chooser shows no location entry:\n{}",
            dialog.dump_string(400)
        );
    };
    entry.set_text(path).expect("typing the path");
    app.click(&dialog, "Open");
    dialog.wait_gone(WAIT).expect("the chooser closed");
}

#[test]
fn files_chosen_in_the_file_chooser_end_up_in_the_vm() {
    if !ui_tools_present() {
        return;
    }
    let app = App::start(Mode::Session, "test:///default");
    let (runtime, hypervisor) = app.client(Driver::Test);
    let files = TempDir::new("porthole-chosen").expect("temp dir");
    let iso = files.path().join("chosen installer.iso");
    std::fs::write(&iso, b"CD001").expect("iso");
    let disk = files.path().join("system.qcow2");
    std::fs::write(&disk, b"QFI\xfb").expect("disk image");
    let iso_text = iso.to_string_lossy().into_owned();
    let disk_text = disk.to_string_lossy().into_owned();

    for (name, media, title, path, device) in [
        (
            "chosen-iso",
            "ISO image",
            "Choose an ISO Image",
            &iso_text,
            "cdrom",
        ),
        (
            "chosen-disk",
            "Existing disk image",
            "Choose a Disk Image",
            &disk_text,
            "disk",
        ),
    ] {
        let window = app.open_assistant();
        app.set_field(&window, "Name", name);
        app.next(&window, "Install Media");
        app.check(&window, media);
        app.click(&window, "Choose…");
        choose_in_file_chooser(&app, title, path);
        // The entry shows what was chosen; the summary and the VM have it.
        app.next(&window, "Memory and Processors");
        while !app.on_page(&window, "Summary") {
            app.click(&window, "Next");
            std::thread::sleep(Duration::from_millis(300));
        }
        app.shows_text(&window, path);
        app.click(&window, "Create");
        let deadline = Instant::now() + WAIT;
        let domain = loop {
            if let Ok(domain) = runtime.block_on(hypervisor.domain_by_name(name)) {
                break domain;
            }
            assert!(Instant::now() < deadline, "{name} was not created");
            std::thread::sleep(Duration::from_millis(100));
        };
        let overview = runtime.block_on(domain.overview()).expect("overview");
        assert!(
            overview
                .disks
                .iter()
                .any(|d| d.device == device && d.source == Some(DiskSource::File(path.clone()))),
            "{path} is not the VM's {device}: {:?}",
            overview.disks
        );
        let deadline = Instant::now() + WAIT;
        while !app
            .root
            .find_all("window", "New Virtual Machine")
            .unwrap_or_default()
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the assistant stayed open");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
