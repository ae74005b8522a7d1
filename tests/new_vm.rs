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

use porthole_harness::bus::PrivateBus;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process::TempDir;
use src::libvirt::{Bus, ConnectionSpec, Driver, Hypervisor, UefiSupport};

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
