//! The `VncDisplay` widget's pointer lock under a real Wayland compositor
//! (sway, headless), driven by a virtual pointer and keyboard, against
//! QEMU with a PS/2 mouse (relative mode), whose own `input_event_rel`
//! trace says what the guest received: a click takes the grab and the
//! lock, a push far wider than the screen reaches the guest in full, the
//! ungrab keys free the pointer where the lock took it, and so does
//! another window taking the focus, and QEMU's absolute mode ends the
//! lock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use gtk::gdk;
use gtk::prelude::*;
use porthole_harness::process::{in_ci, tools_available};
use porthole_harness::qemu::{Qemu, QemuOptions};
use porthole_harness::sway::{Hands, Sway, BTN_LEFT, KEY_LEFTALT, KEY_LEFTCTRL};
use porthole_vnc::address::Address;
use porthole_vnc::gtk::{ScalingMode, VncDisplay};

#[path = "support/main_loop.rs"]
mod main_loop;
use main_loop::{pump_until, settle};

const SCREEN: (u32, u32) = (1280, 800);

/// Does `what` with the virtual hands on another thread while the main
/// loop runs (the widget must see the events as they come).
fn with_hands(hands: &mut Option<Hands>, what: impl FnOnce(&mut Hands) + Send + 'static) {
    let mut taken = hands.take().unwrap();
    let job = std::thread::spawn(move || {
        what(&mut taken);
        taken
    });
    pump_until(Duration::from_secs(30), || job.is_finished());
    *hands = Some(job.join().unwrap());
    settle(Duration::from_millis(200));
}

/// The values of `field` in the lines of QEMU trace event `event`.
fn trace_values(log: &str, event: &str, field: &str, filter: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(event) && line.contains(filter))
        .filter_map(|line| {
            let rest = &line[line.find(&format!(" {field} "))? + field.len() + 2..];
            Some(rest.split([',', ' ']).next().unwrap_or_default().to_owned())
        })
        .collect()
}

/// The sum of QEMU's relative motion on `axis` in `log`.
fn relative_sum(log: &str, axis: &str) -> i64 {
    trace_values(log, "input_event_rel", "value", &format!("axis {axis}"))
        .iter()
        .map(|v| v.parse::<i64>().unwrap())
        .sum()
}

/// Where GDK last saw the pointer over `window`.
fn pointer_in(window: &gtk::Window) -> Option<(f64, f64)> {
    let surface = window.surface()?;
    let pointer = surface.display().default_seat()?.pointer()?;
    let (x, y, _) = surface.device_position(&pointer)?;
    Some((x, y))
}

/// Everything runs in one test: GTK may be initialised once per process,
/// on one thread.
#[test]
fn the_locked_pointer_moves_the_guest_past_the_screen_edge_under_wayland() {
    let tools = ["sway", "setpriv", "qemu-system-x86_64"];
    if !tools_available(&tools) {
        assert!(!in_ci(), "{tools:?} are needed in CI");
        eprintln!("SKIPPED: one of {tools:?} is missing");
        return;
    }
    let sway = Sway::start(SCREEN.0, SCREEN.1).unwrap();
    std::env::set_var("WAYLAND_DISPLAY", sway.socket());
    std::env::set_var("XDG_RUNTIME_DIR", sway.runtime_dir());
    std::env::set_var("GDK_BACKEND", "wayland");
    std::env::remove_var("DISPLAY");
    gtk::init().unwrap();
    assert!(
        gdk::Display::default()
            .unwrap()
            .is::<gdk4_wayland::WaylandDisplay>(),
        "GTK runs on sway"
    );
    let mut hands = Some(sway.hands().unwrap());

    let mut qemu = Qemu::start(&QemuOptions {
        keep_running: true,
        tablet: true,
        trace: vec![
            "input_event_rel".into(),
            "input_event_abs".into(),
            "input_event_btn".into(),
        ],
        ..QemuOptions::default()
    })
    .unwrap();
    let display = VncDisplay::new();
    display.set_scaling_mode(ScalingMode::Zoom);
    display.set_zoom(1.0);
    display.set_resize_guest(false);
    let window = gtk::Window::builder()
        .title("porthole-wayland-lock")
        .decorated(false)
        .child(&display)
        .build();
    window.present();
    display.connect_address(&Address::parse(&qemu.address()).unwrap());
    let connected = pump_until(Duration::from_secs(20), || {
        display.connected() && display.screenshot().is_some() && display.is_mapped()
    });
    assert!(
        connected,
        "the widget did not connect; sway: {}",
        sway.log()
    );
    settle(Duration::from_millis(500));
    let hidden = || display.cursor().and_then(|c| c.name()).as_deref() == Some("none");

    // sway gives its only window the whole output: window and output
    // coordinates are the same. The pointer over the focused window takes
    // the grab and the lock.
    // The widget learns of relative mode a moment after it connected: the
    // pointer wiggles until an event comes after it.
    let mut locked = false;
    for x in [100, 101].repeat(10) {
        with_hands(&mut hands, move |h| h.move_to(x, 100).unwrap());
        locked = pump_until(Duration::from_millis(300), || {
            display.keyboard_grabbed() && hidden()
        });
        if locked {
            break;
        }
    }
    assert!(
        locked,
        "the focused widget grabs and hides the locked pointer (grabbed {}, cursor {:?}, pointer at {:?})",
        display.keyboard_grabbed(),
        display.cursor().and_then(|c| c.name()),
        pointer_in(&window)
    );
    let home = pointer_in(&window).unwrap();

    let push = |hands: &mut Option<Hands>, qemu: &Qemu, steps: i64, step: i64| {
        let before = qemu.trace_log();
        let started = Instant::now();
        with_hands(hands, move |h| {
            for _ in 0..steps {
                h.move_by(step as f64, 0.0).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let took = started.elapsed();
        pump_until(Duration::from_secs(5), || {
            relative_sum(&qemu.trace_log()[before.len()..], "x") >= steps * step
        });
        settle(Duration::from_millis(300));
        let log = qemu.trace_log();
        let new = &log[before.len()..];
        let (dx, dy) = (relative_sum(new, "x"), relative_sum(new, "y"));
        eprintln!(
            "wayland pointer lock: pushed {} px right in {steps} steps in {took:?}; QEMU got dx {dx}, dy {dy}",
            steps * step
        );
        (dx, dy, new.to_owned())
    };

    // 120 steps of 20 pixels: twice the screen's width.
    let (dx, dy, new) = push(&mut hands, &qemu, 120, 20);
    assert_eq!(
        (dx, dy),
        (2400, 0),
        "QEMU got all the motion pushed, far past the screen's edge {} px away",
        f64::from(SCREEN.0) - home.0
    );
    assert!(
        !new.contains("input_event_abs"),
        "nothing absolute while locked"
    );
    assert_eq!(
        pointer_in(&window),
        Some(home),
        "the locked pointer stayed where the lock took it"
    );

    // Ctrl+Alt frees the pointer: it shows where the lock took it and
    // moves without moving the guest's.
    with_hands(&mut hands, |h| {
        h.chord(&[KEY_LEFTCTRL, KEY_LEFTALT]).unwrap()
    });
    let freed = pump_until(Duration::from_secs(5), || {
        !display.keyboard_grabbed() && !hidden()
    });
    assert!(freed, "Ctrl+Alt ungrabs and the free pointer shows");
    let before = qemu.trace_log();
    with_hands(&mut hands, |h| h.move_by(30.0, 20.0).unwrap());
    assert_eq!(
        pointer_in(&window),
        Some((home.0 + 30.0, home.1 + 20.0)),
        "the free pointer moves on from where the lock held it"
    );
    let log = qemu.trace_log();
    assert!(
        !log[before.len()..].contains("input_event_rel"),
        "a free pointer does not move the guest's: {}",
        &log[before.len()..]
    );

    // A click takes the grab and the lock again, and is not sent.
    let before = qemu.trace_log();
    with_hands(&mut hands, |h| h.click(BTN_LEFT).unwrap());
    let relocked = pump_until(Duration::from_secs(5), || {
        display.keyboard_grabbed() && hidden()
    });
    assert!(relocked, "the click grabs and locks");
    let log = qemu.trace_log();
    assert!(
        !log[before.len()..].contains("input_event_btn"),
        "the click that took the lock did not reach the guest: {}",
        &log[before.len()..]
    );
    let (dx, dy, _) = push(&mut hands, &qemu, 30, -15);
    assert_eq!((dx, dy), (-450, 0), "the new lock moves the guest too");
    // A click while locked goes to the guest, where its pointer is.
    let before = qemu.trace_log();
    with_hands(&mut hands, |h| h.click(BTN_LEFT).unwrap());
    pump_until(Duration::from_secs(5), || {
        qemu.trace_log()[before.len()..].contains("input_event_btn")
    });
    let log = qemu.trace_log();
    let new = &log[before.len()..];
    assert_eq!(
        trace_values(new, "input_event_btn", "button", "down 1"),
        ["left"],
        "a click while locked reaches the guest: {new}"
    );

    // Another window taking the focus ends the grab and the lock: the
    // pointer shows and moves freely (sway puts the new window beside
    // ours; the pointer stays over ours).
    let other = gtk::Window::builder()
        .title("porthole-wayland-other")
        .build();
    other.present();
    let released = pump_until(Duration::from_secs(5), || {
        !display.keyboard_grabbed() && !hidden()
    });
    assert!(released, "focus loss ungrabs and unlocks");
    let before = qemu.trace_log();
    let at = pointer_in(&window).unwrap();
    with_hands(&mut hands, |h| h.move_by(10.0, 0.0).unwrap());
    assert_eq!(
        pointer_in(&window).map(|(x, _)| x),
        Some(at.0 + 10.0),
        "the pointer is free once another window has the focus"
    );
    let log = qemu.trace_log();
    assert!(
        !log[before.len()..].contains("input_event_rel"),
        "a pointer without the grab does not move the guest's: {}",
        &log[before.len()..]
    );
    other.close();
    assert!(
        pump_until(Duration::from_secs(5), || display.keyboard_grabbed()),
        "the focus comes back to the viewer, and the grab with it"
    );
    with_hands(&mut hands, |h| h.move_by(1.0, 0.0).unwrap());
    assert!(
        pump_until(Duration::from_secs(5), hidden),
        "the pointer over the viewer with the focus locks again"
    );
    let home = pointer_in(&window).unwrap();

    // The tablet becomes QEMU's active pointing device: QEMU asks for
    // absolute positions, which ends the lock.
    qemu.activate_tablet().unwrap();
    let absolute = pump_until(Duration::from_secs(10), || !hidden());
    assert!(absolute, "the pointer shows again in absolute mode");
    let before = qemu.trace_log();
    with_hands(&mut hands, |h| h.move_by(40.0, 0.0).unwrap());
    assert_eq!(
        pointer_in(&window),
        Some((home.0 + 40.0, home.1)),
        "the pointer is free again, moving on from where the lock held it"
    );
    pump_until(Duration::from_secs(5), || {
        qemu.trace_log()[before.len()..].contains("input_event_abs")
    });
    let log = qemu.trace_log();
    let new = &log[before.len()..];
    assert!(
        new.contains("input_event_abs") && !new.contains("input_event_rel"),
        "QEMU got absolute positions, no relative motion; its trace:\n{new}"
    );
    window.close();
    drop(hands);
}
