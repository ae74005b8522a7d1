//! The manager window at scale: 1,000 domains defined in libvirt's test
//! driver (libvirt-dbus on a private bus), the real `porthole` binary
//! started with `--connect test:///default` under Xvfb, and three numbers:
//! (a) launch → the full list painted in the window, (b) a state change
//! caused through libvirt-dbus → the row painted with it, (c) the app's
//! resident memory with that list shown. The app reports when it painted
//! (`PORTHOLE_TIMINGS=1`: a line with the wall clock after the frame that
//! showed the change); this bench compares with its own clock.
//!
//! `cargo bench -p porthole --bench manager_ui` (set `DOMAINS=N` for another
//! count, `LAUNCHES=N` for more launches with GL, `PORTHOLE_BIN=path` to
//! measure another build of the app, e.g. the one before a change).
//! Goals: (a) under 1 s, (b) under 100 ms, (c) under 150 MB.

#![allow(unused_imports)]

#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process::{in_ci, tools_available, ServerProcess, TempDir};
use src::libvirt::{Bus, ConnectionSpec, Driver, Hypervisor, NetworkChoice, NewDomain, VirtType};

const STATE_CHANGES: usize = 40;
/// Launches with GTK's default renderer (GL: Mesa's llvmpipe on machines
/// without a GPU, which alone holds much of the memory), after one with the
/// cairo renderer to tell the app's own memory from the GL stack's.
const GL_LAUNCHES: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    if !libvirt_dbus_available() {
        return;
    }
    if !tools_available(&["Xvfb"]) {
        assert!(!in_ci(), "CI must have Xvfb");
        eprintln!("SKIPPED: needs Xvfb");
        return;
    }
    let count: usize = std::env::var("DOMAINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let display = Display::start(1280, 800).expect("Xvfb");
    let bus = PrivateBus::start().expect("private bus");
    let _service = LibvirtDbus::start(&bus).expect("libvirt-dbus");
    let spec = ConnectionSpec {
        bus: Bus::Address(bus.address().to_owned()),
        driver: Driver::Test,
    };
    let hypervisor = runtime
        .block_on(Hypervisor::connect(&spec))
        .expect("connect");
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..count {
            let mut new = NewDomain::new(&format!("bench-{i:04}"));
            new.memory_mib = 256;
            new.vcpus = 1;
            new.network = NetworkChoice::None;
            new.virt_type = VirtType::Qemu;
            hypervisor.define_xml(&new.to_xml()).await.expect("define");
        }
    });
    println!("defined {count} domains in {:?}", started.elapsed());

    let porthole =
        std::env::var("PORTHOLE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_porthole").to_owned());
    let gl_launches = std::env::var("LAUNCHES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(GL_LAUNCHES);
    let renderers = std::iter::once(Some("cairo")).chain(std::iter::repeat_n(None, gl_launches));
    let mut launch_times = Vec::new();
    let mut rss = Vec::new();
    let mut rss_anon = Vec::new();
    let mut rss_cairo = Vec::new();
    let mut app = None;
    for renderer in renderers {
        drop(app.take());
        let config = TempDir::new("porthole-bench").expect("temp dir");
        let mut command = display.command(&porthole);
        command
            .args(["--connect", "test:///default"])
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("GSETTINGS_BACKEND", "memory")
            .env("XDG_CONFIG_HOME", config.path())
            .env("PORTHOLE_TIMINGS", "1")
            .env("LANG", "C.UTF-8");
        if let Some(renderer) = renderer {
            command.env("GSK_RENDERER", renderer);
        }
        let launched = unix_micros();
        let mut process = ServerProcess::spawn("porthole", command).expect("porthole");
        let (listed, at) = process
            .wait_until("listing the domains", TIMEOUT, |p| {
                p.stderr().lines().find_map(|line| {
                    let rest = line.strip_prefix("porthole-timing: listed ")?;
                    let (n, at) = rest.split_once(" at ")?;
                    Some((n.parse::<usize>().ok()?, at.trim().parse::<u128>().ok()?))
                })
            })
            .expect("the list is shown");
        assert!(listed > count, "listed {listed} of {count}+1 domains");
        let window = process.stderr().lines().find_map(|line| {
            line.strip_prefix("porthole-timing: window at ")?
                .trim()
                .parse::<u128>()
                .ok()
        });
        let total = Duration::from_micros((at - launched) as u64);
        if let Some(window) = window {
            println!(
                "  {}: launch → list painted {total:?} (→ first frame {:?}, first frame → list {:?})",
                renderer.unwrap_or("default"),
                Duration::from_micros((window - launched) as u64),
                Duration::from_micros(at.saturating_sub(window) as u64)
            );
        }
        // Let the first frames settle, and the details that follow the
        // list arrive, before reading the memory.
        std::thread::sleep(Duration::from_millis(1500));
        // Mesa's llvmpipe maps libLLVM (shared, file-backed); the app's own
        // memory is the anonymous part.
        let (resident, anonymous) = (
            rss_kib(process.pid()),
            status_kib(process.pid(), "RssAnon:"),
        );
        println!(
            "    resident {:.1} MB, of which anonymous (heap, GL buffers) {:.1} MB",
            resident as f64 / 1024.0,
            anonymous as f64 / 1024.0
        );
        let frames: Vec<u128> = process
            .stderr()
            .lines()
            .filter_map(|line| {
                line.strip_prefix("porthole-timing: frame at ")?
                    .trim()
                    .parse()
                    .ok()
            })
            .collect();
        println!(
            "    frames painted: {} until the list, {} in the 1.5 s after",
            frames.iter().filter(|&&f| f <= at).count(),
            frames.iter().filter(|&&f| f > at).count()
        );
        if renderer.is_none() {
            launch_times.push(total);
            rss.push(resident);
            rss_anon.push(anonymous);
            app = Some((process, config));
        } else {
            rss_cairo.push(resident);
        }
    }
    report(
        &format!("(a) launch → list of {} domains painted", count + 1),
        &mut launch_times,
    );
    rss.sort();
    rss_anon.sort();
    println!(
        "(c) resident memory with the list shown: {:.1} MB (anonymous {:.1} MB) with GTK's default renderer (max of {} launches {:.1} MB), {:.1} MB with GSK_RENDERER=cairo",
        rss[rss.len() / 2] as f64 / 1024.0,
        rss_anon[rss_anon.len() / 2] as f64 / 1024.0,
        rss.len(),
        rss[rss.len() - 1] as f64 / 1024.0,
        rss_cairo.iter().max().copied().unwrap_or(0) as f64 / 1024.0
    );

    let (process, _config) = app.as_mut().expect("an app is running");
    let mut latencies = Vec::new();
    for i in 0..STATE_CHANGES {
        // Names near the top of the sorted list, so the row is on screen.
        let name = format!("bench-{:04}", i / 2);
        let running = i % 2 == 0;
        let expected = if running { "Running" } else { "Shutoff" };
        let seen_before = process.stderr().lines().count();
        let before = unix_micros();
        runtime.block_on(async {
            let domain = hypervisor.domain_by_name(&name).await.expect("lookup");
            if running {
                domain.start().await.expect("start");
            } else {
                domain.force_off().await.expect("force off");
            }
        });
        let prefix = format!("porthole-timing: state {name} {expected} at ");
        let at = process
            .wait_until("showing the state change", TIMEOUT, |p| {
                p.stderr()
                    .lines()
                    .skip(seen_before)
                    .find_map(|line| line.strip_prefix(&prefix)?.trim().parse::<u128>().ok())
            })
            .expect("the state change is shown");
        latencies.push(Duration::from_micros((at - before) as u64));
    }
    report("(b) state change → row painted", &mut latencies);
    println!(
        "resident memory after {STATE_CHANGES} changes: {:.1} MB",
        rss_kib(process.pid()) as f64 / 1024.0
    );
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
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
