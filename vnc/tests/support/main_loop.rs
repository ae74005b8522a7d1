//! Running GTK's main loop in the widget tests and benchmarks, which drive
//! it themselves (no `gtk::Application`).

use std::time::{Duration, Instant};

use gtk::glib;

/// Runs the main loop until `done` or `timeout`. It waits for sources
/// rather than sleeping, so the measured frames are not held back, and
/// asks `done` (which may be slow, e.g. a screenshot) at most every 10 ms,
/// so sources below the default priority get their turns in between.
pub fn pump_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let context = glib::MainContext::default();
    let wake = glib::timeout_add_local(Duration::from_millis(10), || glib::ControlFlow::Continue);
    let start = Instant::now();
    let mut asked = Instant::now();
    let mut result = false;
    while start.elapsed() < timeout {
        context.iteration(true);
        if asked.elapsed() < Duration::from_millis(10) {
            continue;
        }
        if done() {
            result = true;
            break;
        }
        asked = Instant::now();
    }
    wake.remove();
    result
}

/// Lets the main loop run (draw, handle events) for a while.
pub fn settle(duration: Duration) {
    pump_until(duration, || false);
}
