//! The real `porthole` binary driven through AT-SPI, as a screen reader
//! would drive it: proves that the harness's a11y helper finds, clicks,
//! types into and reads the state of the app's real widgets.

use std::time::Duration;

use porthole_harness::a11y::{self, A11y, AccessibilityBus};
use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::process::{ServerProcess, TempDir};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn connect_dialog_checks_the_address_as_it_is_typed() {
    if !a11y::ui_tools_available() {
        return;
    }
    let display = Display::start(1280, 800).unwrap_or_else(|e| panic!("{e}"));
    let bus = PrivateBus::start().unwrap_or_else(|e| panic!("{e}"));
    let a11y_bus = AccessibilityBus::start(bus.address()).unwrap_or_else(|e| panic!("{e}"));
    let config = TempDir::new("porthole-a11y").unwrap_or_else(|e| panic!("{e}"));
    let mut command = display.command(PORTHOLE);
    a11y_bus.enable(&mut command);
    command
        .env("GSETTINGS_BACKEND", "memory")
        .env("XDG_CONFIG_HOME", config.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LANGUAGE");
    let _app = ServerProcess::spawn("porthole", command).unwrap_or_else(|e| panic!("{e}"));

    // Found the way an assistive technology finds it: org.a11y.Bus on the session bus.
    let a11y = A11y::connect(bus.address()).unwrap_or_else(|e| panic!("{e}"));
    let app = a11y.app("porthole", WAIT).unwrap_or_else(|e| panic!("{e}"));
    let window = app
        .find("window", "Porthole", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let open = window
        .find("button", "Connect to VNC Address…", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let (x, y, width, height) = open.extents().unwrap_or_else(|e| panic!("{e}"));
    let (_, _, window_width, window_height) = window.extents().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        width >= 16 && height >= 16 && x + width <= window_width && y + height <= window_height,
        "the button ({x},{y} {width}×{height}) is not inside the {window_width}×{window_height} window"
    );
    open.do_action("click").unwrap_or_else(|e| panic!("{e}"));

    let dialog = app
        .find("dialog", "Connect to VNC Address", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(dialog.has_state("modal").unwrap_or_else(|e| panic!("{e}")));
    let entry = dialog
        .find_where("the address entry", WAIT, |role, _| role == "text box")
        .unwrap_or_else(|e| panic!("{e}"));
    let connect = dialog
        .find("button", "Connect", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    // Nothing typed yet (no recent address in fresh settings): nothing to connect to.
    assert_eq!(entry.text().unwrap_or_else(|e| panic!("{e}")), "");
    connect
        .wait_state("sensitive", false, WAIT)
        .unwrap_or_else(|e| panic!("{e}"));

    entry
        .set_text("localhost:1")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        entry.text().unwrap_or_else(|e| panic!("{e}")),
        "localhost:1"
    );
    connect
        .wait_state("sensitive", true, WAIT)
        .unwrap_or_else(|e| panic!("{e}"));

    entry.set_text("vnc://").unwrap_or_else(|e| panic!("{e}"));
    connect
        .wait_state("sensitive", false, WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    // The reason is shown under the entry.
    let problem = dialog
        .find_where("the problem label", WAIT, |role, name| {
            role == "label" && name.starts_with("Not a valid VNC address")
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(problem.is_drawn());

    dialog
        .find("button", "Cancel", WAIT)
        .and_then(|cancel| cancel.do_action("click"))
        .unwrap_or_else(|e| panic!("{e}"));
    dialog.wait_gone(WAIT).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !window.is_gone(),
        "cancelling the dialog closed the main window"
    );
    drop(display);
}
