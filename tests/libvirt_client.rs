//! The libvirt client against the real thing: libvirt-dbus on a private
//! bus with libvirt's test driver for the list, the events and every
//! action; and, as root, libvirtd with a real QEMU (TCG) guest whose console
//! is reached through `OpenGraphicsFD`.

// The client lives in the app binary; compile its module here too.
#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::time::{Duration, Instant};

use porthole_harness::bus::PrivateBus;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus, Libvirtd, Mode};
use src::libvirt::{
    Bus, Change, ConnectionSpec, DeleteOptions, DomainState, DomainWatch, Driver, Error,
    Hypervisor, NetworkChoice, NewDomain, Scope, VirtType, SHUTOFF_SAVED,
};

/// How long an event may take to reach the list before the test fails.
/// The goal is far below (a state change shown within 100 ms); this bound
/// only keeps a loaded CI machine from failing spuriously.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

struct TestDriver {
    // Field order: libvirt-dbus goes before its bus.
    service: Option<LibvirtDbus>,
    bus: PrivateBus,
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
        service: Some(service),
        bus,
        hypervisor,
    })
}

async fn next_change(watch: &mut DomainWatch) -> Change {
    tokio::time::timeout(EVENT_TIMEOUT, watch.next())
        .await
        .expect("no change within the timeout")
        .expect("the watch ended")
}

/// Waits for the state change of `name` and returns how long it took.
async fn wait_for_state(
    watch: &mut DomainWatch,
    name: &str,
    state: DomainState,
    since: Instant,
) -> Duration {
    loop {
        match next_change(watch).await {
            Change::StateChanged(info) | Change::Added(info) | Change::Updated(info)
                if info.name == name && info.state == state =>
            {
                return since.elapsed()
            }
            Change::Failed(message) => panic!("re-reading failed: {message}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_test_domain_running() {
    let Some(env) = test_driver().await else {
        return;
    };
    let mut watch = env.hypervisor.watch().await.expect("watch");
    let Change::Listed(list) = next_change(&mut watch).await else {
        panic!("the first change is not the list");
    };
    let test = list
        .iter()
        .find(|d| d.name == "test")
        .expect("the test driver's domain is listed");
    assert_eq!(test.state, DomainState::Running);
    // What only the XML says follows the list.
    let Change::Details(details) = next_change(&mut watch).await else {
        panic!("the details do not follow the list");
    };
    let test = details
        .iter()
        .find(|d| d.name == "test")
        .expect("the test domain's details");
    assert_eq!(test.state, DomainState::Running);
    assert_eq!(test.vcpus, 2);
    assert_eq!(test.memory_kib, 2 * 1024 * 1024);
    assert_eq!(test.uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
    let overview = env
        .hypervisor
        .domain(test.path.clone())
        .await
        .expect("domain")
        .overview()
        .await
        .expect("overview");
    assert_eq!(overview.disks[0].target.as_deref(), Some("vda"));
    assert_eq!(overview.interfaces[0].source.as_deref(), Some("default"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_actions_change_the_state_and_the_list_follows() {
    let Some(env) = test_driver().await else {
        return;
    };
    let mut watch = env.hypervisor.watch().await.expect("watch");
    let Change::Listed(_) = next_change(&mut watch).await else {
        panic!("the first change is not the list");
    };
    let domain = env.hypervisor.domain_by_name("test").await.expect("lookup");
    let mut latencies = Vec::new();

    let steps: [(&str, DomainState); 7] = [
        ("pause", DomainState::Paused),
        ("resume", DomainState::Running),
        ("save", DomainState::Shutoff),
        ("start", DomainState::Running),
        ("force off", DomainState::Shutoff),
        ("start", DomainState::Running),
        ("shut down", DomainState::Shutoff),
    ];
    for (action, expected) in steps {
        let since = Instant::now();
        let result = match action {
            "pause" => domain.pause().await,
            "resume" => domain.resume().await,
            "save" => domain.save().await,
            "start" => domain.start().await,
            "force off" => domain.force_off().await,
            _ => domain.shutdown().await,
        };
        result.unwrap_or_else(|e| panic!("{action}: {e}"));
        latencies.push(wait_for_state(&mut watch, "test", expected, since).await);
        let (state, reason) = domain.state().await.expect("state");
        assert_eq!(state, expected, "after {action}");
        if action == "save" {
            assert_eq!(reason, SHUTOFF_SAVED, "a managed save is shown as saved");
        }
    }
    assert!(!domain.autostart().await.expect("autostart"));
    domain.set_autostart(true).await.expect("set autostart");
    assert!(domain.autostart().await.expect("autostart"));

    latencies.sort();
    eprintln!(
        "action → list state change: median {:?}, max {:?} (test driver, {} actions)",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    assert!(
        latencies[latencies.len() / 2] < Duration::from_secs(1),
        "state changes reach the list slowly: {latencies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libvirt_errors_carry_libvirts_message() {
    let Some(env) = test_driver().await else {
        return;
    };
    let domain = env.hypervisor.domain_by_name("test").await.expect("lookup");
    match domain.start().await {
        Err(Error::Libvirt(message)) => {
            assert!(message.contains("already running"), "{message}")
        }
        other => panic!("starting a running domain: {other:?}"),
    }
    match env
        .hypervisor
        .define_xml("<domain type='test'><name>x")
        .await
    {
        Err(Error::Libvirt(message)) => assert!(!message.is_empty()),
        other => panic!("defining broken XML: {other:?}"),
    }
    match env.hypervisor.domain_by_name("no-such-vm").await {
        Err(error) => assert!(error.is_not_found(), "{error}"),
        Ok(_) => panic!("found a domain that does not exist"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_libvirt_dbus_is_explained() {
    if !libvirt_dbus_available() {
        return;
    }
    let bus = PrivateBus::start().expect("private bus");
    let spec = ConnectionSpec {
        bus: Bus::Address(bus.address().to_owned()),
        driver: Driver::Test,
    };
    match Hypervisor::connect(&spec).await {
        Err(error @ Error::ServiceMissing { .. }) => {
            assert!(error.to_string().contains("libvirt-dbus"), "{error}")
        }
        other => panic!("connecting without libvirt-dbus: {other:?}"),
    }
    let gone = ConnectionSpec {
        bus: Bus::Address(format!("unix:path={}/nothing-here", bus.dir().display())),
        driver: Driver::Test,
    };
    assert!(matches!(
        Hypervisor::connect(&gone).await,
        Err(Error::BusUnreachable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_vm_is_defined_renamed_edited_snapshotted_and_deleted() {
    let Some(env) = test_driver().await else {
        return;
    };
    let mut watch = env.hypervisor.watch().await.expect("watch");
    let Change::Listed(_) = next_change(&mut watch).await else {
        panic!("the first change is not the list");
    };
    let mut new = NewDomain::new("porthole-new");
    new.memory_mib = 512;
    new.vcpus = 1;
    new.iso = Some("/isos/installer.iso".into());
    new.network = NetworkChoice::None;
    new.virt_type = VirtType::Qemu;
    let domain = env
        .hypervisor
        .define_xml(&new.to_xml())
        .await
        .expect("define");
    let added = loop {
        if let Change::Added(info) = next_change(&mut watch).await {
            break info;
        }
    };
    assert_eq!(added.name, "porthole-new");
    assert_eq!(added.state, DomainState::Shutoff);

    domain.rename("porthole-renamed").await.expect("rename");
    loop {
        match next_change(&mut watch).await {
            Change::Updated(info) | Change::Added(info) if info.name == "porthole-renamed" => {
                assert_eq!(info.path, added.path, "a rename keeps the same VM");
                break;
            }
            _ => {}
        }
    }

    domain.set_vcpus(3, Scope::Config).await.expect("vcpus up");
    domain
        .set_memory(768 * 1024, Scope::Config)
        .await
        .expect("memory up");
    let overview = domain.overview().await.expect("overview");
    assert_eq!((overview.vcpus, overview.max_vcpus), (3, 3));
    assert_eq!(overview.memory_kib, 768 * 1024);
    domain
        .set_vcpus(2, Scope::Config)
        .await
        .expect("vcpus down");
    assert_eq!(domain.overview().await.expect("overview").vcpus, 2);

    domain.start().await.expect("start");
    let first = domain
        .create_snapshot("before", "clean & tidy")
        .await
        .expect("snapshot");
    assert_eq!(first.description.as_deref(), Some("clean & tidy"));
    domain.force_off().await.expect("force off");
    let second = domain
        .create_snapshot("after", "")
        .await
        .expect("second snapshot");
    let snapshots = domain.snapshots().await.expect("snapshots");
    let names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["before", "after"]);
    assert_eq!(snapshots[1].parent.as_deref(), Some("before"));
    assert!(snapshots[1].is_current);
    first.revert().await.expect("revert");
    assert_eq!(
        domain.state().await.expect("state").0,
        DomainState::Running,
        "reverting to a snapshot of a running VM runs it"
    );
    second.delete().await.expect("delete snapshot");
    let names: Vec<String> = domain
        .snapshots()
        .await
        .expect("snapshots")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["before"]);

    domain.force_off().await.expect("force off");
    let failures = domain
        .delete(DeleteOptions::default())
        .await
        .expect("delete");
    assert!(failures.is_empty(), "{failures:?}");
    loop {
        if let Change::Removed(path) = next_change(&mut watch).await {
            assert_eq!(path, added.path);
            break;
        }
    }
    assert!(env
        .hypervisor
        .domain_by_name("porthole-renamed")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libvirt_dbus_restart_is_reported_and_the_list_recovers() {
    let Some(mut env) = test_driver().await else {
        return;
    };
    let mut watch = env.hypervisor.watch().await.expect("watch");
    let Change::Listed(_) = next_change(&mut watch).await else {
        panic!("the first change is not the list");
    };
    let Change::Details(_) = next_change(&mut watch).await else {
        panic!("the details do not follow the list");
    };
    env.service.take();
    assert_eq!(next_change(&mut watch).await, Change::Disconnected);
    let restarted = Instant::now();
    env.service = Some(LibvirtDbus::start(&env.bus).expect("restart libvirt-dbus"));
    assert_eq!(next_change(&mut watch).await, Change::Reconnected);
    let Change::Listed(list) = next_change(&mut watch).await else {
        panic!("no new list after the restart");
    };
    eprintln!(
        "list back {:?} after libvirt-dbus restarted",
        restarted.elapsed()
    );
    assert!(list.iter().any(|d| d.name == "test"));
    // Events flow again from the new libvirt-dbus.
    let domain = env.hypervisor.domain_by_name("test").await.expect("lookup");
    let since = Instant::now();
    domain.pause().await.expect("pause");
    wait_for_state(&mut watch, "test", DomainState::Paused, since).await;
}

/// A real guest: libvirtd (root) runs QEMU with TCG and no disk, so
/// SeaBIOS shows its screen; the console comes through `OpenGraphicsFD`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_guest_starts_and_its_console_arrives_through_open_graphics_fd() {
    use porthole_vnc::driver::{self, DriverEvent, Stream};
    use porthole_vnc::proto::{Config, Event};

    if !libvirt_dbus_available() || !Libvirtd::available() {
        return;
    }
    let daemons = Libvirtd::start().expect("libvirtd");
    let bus = PrivateBus::start().expect("private system bus");
    let _service = LibvirtDbus::start_mode(&bus, Mode::System).expect("libvirt-dbus --system");
    let spec = ConnectionSpec {
        bus: Bus::Address(bus.address().to_owned()),
        driver: Driver::Qemu,
    };
    let hypervisor = Hypervisor::connect(&spec).await.expect("connect");
    let mut new = NewDomain::new(&format!("porthole-test-{}", std::process::id()));
    new.memory_mib = 64;
    new.vcpus = 1;
    new.network = NetworkChoice::None;
    // libvirt runs QEMU as its own user, which may not open /dev/kvm.
    new.virt_type = VirtType::Qemu;
    let domain = hypervisor.define_xml(&new.to_xml()).await.expect("define");
    let started = Instant::now();
    let result = async {
        domain.start().await?;
        eprintln!("real guest started in {:?}", started.elapsed());
        assert_eq!(domain.state().await?.0, DomainState::Running);
        let fd = domain.open_graphics_fd().await?;
        let stream = Stream::from_fd(fd).expect("stream from fd");
        let (handle, mut events, task) = driver::spawn(stream, Config::default(), None);
        let mut connected = None;
        let mut shown = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline && !shown {
            let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
                .await
                .expect("console events")
                .expect("console open");
            match event {
                DriverEvent::Session(Event::Connected {
                    name,
                    width,
                    height,
                    ..
                }) => connected = Some((name, width, height)),
                DriverEvent::Session(Event::UpdateComplete) => {
                    // SeaBIOS's text: some pixels are not black.
                    shown = handle
                        .lock_framebuffer()
                        .data()
                        .chunks_exact(4)
                        .any(|p| p[0] > 64 || p[1] > 64 || p[2] > 64);
                    if !shown {
                        handle.request_update(true, None);
                    }
                }
                DriverEvent::Closed(result) => panic!("console closed: {result:?}"),
                DriverEvent::Session(_) => {}
            }
        }
        let (name, width, height) = connected.expect("RFB handshake completed");
        assert!(name.contains("porthole-test"), "desktop name {name:?}");
        assert!(width >= 640 && height >= 400, "{width}x{height}");
        assert!(shown, "the firmware screen never appeared");
        handle.shutdown();
        let _ = task.await;
        domain.force_off().await?;
        assert_eq!(domain.state().await?.0, DomainState::Shutoff);
        Ok::<(), Error>(())
    }
    .await;
    // Delete even when the checks failed, so no guest is left behind.
    if result.is_err() {
        let _ = domain.force_off().await;
    }
    let deleted = domain.delete(DeleteOptions::default()).await;
    if let Err(error) = result {
        panic!("real guest: {error}");
    }
    assert!(deleted.expect("delete").is_empty());
    assert!(hypervisor.domain_by_name(&new.name).await.is_err());
    drop(daemons);
}
