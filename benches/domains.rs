//! Scale of the VM list: 1,000 domains defined in libvirt's test driver
//! (libvirt-dbus on a private bus), then how long the list takes to arrive
//! (subscribe + list with names and states), how long until every domain's
//! details from its XML followed, and how long a state change takes from
//! the action to the list's change.
//!
//! `cargo bench --bench domains` (set `DOMAINS=N` for another count).

// The client lives in the app binary; compile its module here too. Its
// unit-test modules come along but have no tests to run in a bench.
#![allow(unused_imports)]

#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::time::{Duration, Instant};

use porthole_harness::bus::PrivateBus;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use src::libvirt::{
    Bus, Change, ConnectionSpec, DomainState, DomainWatch, Driver, Hypervisor, NetworkChoice,
    NewDomain, VirtType,
};

const LIST_ROUNDS: usize = 5;
const STATE_CHANGES: usize = 100;

fn main() {
    if !libvirt_dbus_available() {
        return;
    }
    let count: usize = std::env::var("DOMAINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bus = PrivateBus::start().expect("private bus");
    let _service = LibvirtDbus::start(&bus).expect("libvirt-dbus");
    runtime.block_on(run(&bus, count));
}

async fn run(bus: &PrivateBus, count: usize) {
    let spec = ConnectionSpec {
        bus: Bus::Address(bus.address().to_owned()),
        driver: Driver::Test,
    };
    let hypervisor = Hypervisor::connect(&spec).await.expect("connect");

    let started = Instant::now();
    for i in 0..count {
        let mut new = NewDomain::new(&format!("bench-{i:04}"));
        new.memory_mib = 256;
        new.vcpus = 1;
        new.network = NetworkChoice::None;
        new.virt_type = VirtType::Qemu;
        hypervisor.define_xml(&new.to_xml()).await.expect("define");
    }
    println!("defined {count} domains in {:?}", started.elapsed());

    let mut list_times = Vec::new();
    let mut detail_times = Vec::new();
    let mut listed = 0;
    for _ in 0..LIST_ROUNDS {
        let started = Instant::now();
        let mut watch = hypervisor.watch().await.expect("watch");
        let Some(Change::Listed(list)) = watch.next().await else {
            panic!("the first change is not the list");
        };
        list_times.push(started.elapsed());
        listed = list.len();
        // Every bench domain's details differ from the listing (vCPUs).
        let mut detailed = 0;
        while detailed < listed {
            match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
                Ok(Some(Change::Details(batch))) => detailed += batch.len(),
                Ok(Some(_)) => {}
                _ => panic!("details of {detailed} of {listed} domains arrived"),
            }
        }
        detail_times.push(started.elapsed());
    }
    report(
        &format!("list of {listed} domains populated"),
        &mut list_times,
    );
    report(
        "… and their details (titles, vCPUs) read",
        &mut detail_times,
    );

    let mut watch = hypervisor.watch().await.expect("watch");
    let Some(Change::Listed(_)) = watch.next().await else {
        panic!("the first change is not the list");
    };
    let mut latencies = Vec::new();
    for i in 0..STATE_CHANGES {
        let name = format!("bench-{:04}", (i / 2 * 7) % count.max(1));
        let domain = hypervisor.domain_by_name(&name).await.expect("lookup");
        let (action_state, started) = if i % 2 == 0 {
            let started = Instant::now();
            domain.start().await.expect("start");
            (DomainState::Running, started)
        } else {
            let started = Instant::now();
            domain.force_off().await.expect("force off");
            (DomainState::Shutoff, started)
        };
        latencies.push(wait_for(&mut watch, &name, action_state, started).await);
    }
    report("action → state change in the list", &mut latencies);
}

async fn wait_for(
    watch: &mut DomainWatch,
    name: &str,
    state: DomainState,
    started: Instant,
) -> Duration {
    loop {
        let change = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("state change within 10 s")
            .expect("watch open");
        if let Change::StateChanged(info) = change {
            if info.name == name && info.state == state {
                return started.elapsed();
            }
        }
    }
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: median {:?}, p95 {:?}, max {:?} ({} samples)",
        at(0.5),
        at(0.95),
        at(1.0),
        times.len()
    );
}
