//! The viewer window's questions and files, driven like a screen reader
//! would through AT-SPI in the real `porthole` under Xvfb, against real
//! Xvnc servers: the certificate dialog (fingerprint as openssl computes
//! it, trust once, always trust with the pin file, a changed certificate
//! refused), a password remembered in GNOME Keyring that the server no
//! longer accepts (asked again, once), and the screenshot saved through
//! the file chooser (pixel for pixel the server's screen).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/viewer_app.rs"]
mod viewer_app;

use std::time::{Duration, Instant};

use porthole_harness::a11y::Node;
use porthole_harness::images;
use porthole_harness::keyring::Keyring;
use porthole_harness::tls::Certificates;
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};
use viewer_app::{
    connects_without_asking, default_desktop_name, menu_item, pattern, tools_present,
    wait_for_picture, App, Session, WAIT,
};

const TOOLS: &[&str] = &[
    "Xvfb",
    "Xvnc",
    "dbus-daemon",
    "xdotool",
    "import",
    "display",
];

fn x509_server(certs: &Certificates, port: Option<u16>) -> Xvnc {
    Xvnc::start(&XvncOptions {
        width: 320,
        height: 240,
        port,
        security: XvncSecurity::Custom {
            types: "X509None".to_owned(),
            password: None,
            plain_users: Vec::new(),
            x509: Some((certs.server_cert(), certs.server_key())),
        },
        ..XvncOptions::default()
    })
    .unwrap()
}

/// The fingerprint a certificate dialog shows, in openssl's form.
fn shown_fingerprint(dialog: &Node) -> String {
    let label = dialog
        .find_where("the fingerprint", WAIT, |role, name| {
            role == "label" && name.starts_with("SHA-256 fingerprint:")
        })
        .unwrap();
    let name = label.name().unwrap();
    let lines: Vec<&str> = name.lines().skip(1).map(str::trim).collect();
    lines.join(":")
}

fn click(node: &Node, role: &str, name: &str) {
    node.find(role, name, WAIT)
        .unwrap_or_else(|e| panic!("{e}"))
        .do_action("click")
        .unwrap();
}

/// A dialog window by title (GTK 4.8 gives the file chooser the role
/// "widget", message dialogs "dialog").
fn dialog(app: &Node, title: &str) -> Node {
    app.find_where(&format!("the dialog “{title}”"), WAIT, |role, name| {
        (role == "dialog" || role == "widget") && name == title
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn pins(session: &Session) -> String {
    std::fs::read_to_string(session.pin_file()).unwrap_or_default()
}

#[test]
fn an_unknown_certificate_is_trusted_once_or_always_and_a_changed_one_is_refused() {
    if !tools_present(&[TOOLS, &["openssl"]].concat()) {
        return;
    }
    let certs = Certificates::self_signed().unwrap();
    let fingerprint = certs.server_fingerprint().unwrap();
    let server = x509_server(&certs, None);
    server.show_image(&pattern(320, 240, 0)).unwrap();
    let truth = server.screenshot().unwrap();
    let name = default_desktop_name();
    let port = server.port;
    let address = format!("vnc://127.0.0.1:{port}");
    let args = ["--zoom=100", "--auto-resize=never", &address];
    let session = Session::start(false);

    // The question shows openssl's fingerprint; Cancel leaves the error
    // page, whose Retry asks again.
    let mut app = session.launch(&args);
    let node = app.a11y();
    let question = dialog(&node, "Untrusted Certificate");
    assert_eq!(shown_fingerprint(&question), fingerprint);
    app.keep_screenshot("viewer-certificate");
    click(&question, "button", "Cancel");
    question.wait_gone(WAIT).unwrap();
    app.wait_title("Certificate Not Trusted –");
    node.find_where("the page with the fingerprint", WAIT, |role, text| {
        role == "label" && text.contains(&fingerprint)
    })
    .unwrap();
    click(&node, "button", "Retry");
    let question = dialog(&node, "Untrusted Certificate");

    // Trust This Time: connected, the screen is the server's.
    click(&question, "button", "Trust This Time");
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);
    assert!(
        !pins(&session).contains(&format!("127.0.0.1:{port} ")),
        "trusting once pinned the certificate: {}",
        pins(&session)
    );
    app.quit();

    // Trusted once is forgotten with the window; Always Trust is kept.
    let mut app = session.launch(&args);
    let node = app.a11y();
    let question = dialog(&node, "Untrusted Certificate");
    click(&question, "button", "Always Trust");
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);
    let hex = fingerprint.replace(':', "").to_lowercase();
    assert!(
        pins(&session).contains(&format!("127.0.0.1:{port} {hex}")),
        "the pin file lacks the certificate: {}",
        pins(&session)
    );
    app.quit();

    // Pinned: the next launch connects without a question.
    let mut app = session.launch(&args);
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);
    let node = app.a11y();
    assert!(
        node.find_all("dialog", "Untrusted Certificate")
            .unwrap()
            .is_empty(),
        "a pinned certificate was questioned"
    );
    app.quit();

    // Another certificate on the same port: "Certificate Changed", with
    // the new fingerprint, and nothing connects unless the user says so.
    drop(server);
    let other = Certificates::self_signed().unwrap();
    let other_fingerprint = other.server_fingerprint().unwrap();
    let _server = x509_server(&other, Some(port));
    let mut app = session.launch(&args);
    let node = app.a11y();
    let question = dialog(&node, "Certificate Changed");
    assert_eq!(shown_fingerprint(&question), other_fingerprint);
    app.keep_screenshot("viewer-certificate-changed");
    click(&question, "button", "Cancel");
    question.wait_gone(WAIT).unwrap();
    app.wait_title("Certificate Changed –");
    node.find_where("the page with the new fingerprint", WAIT, |role, text| {
        role == "label" && text.contains(&other_fingerprint)
    })
    .unwrap();
    app.keep_screenshot("viewer-certificate-changed-page");
    // Still answering: Retry asks again.
    click(&node, "button", "Retry");
    let question = dialog(&node, "Certificate Changed");
    click(&question, "button", "Cancel");
    app.wait_title("Certificate Changed –");
    assert!(pins(&session).contains(&hex), "the old pin is kept");
    assert!(!pins(&session).contains(&other_fingerprint.replace(':', "").to_lowercase()));
}

/// Answers the authentication dialog through AT-SPI.
fn log_in(app: &App, password: &str, remember: bool) {
    let node = app.a11y();
    let question = dialog(&node, "Authentication Required");
    let entry = question
        .find_where("the password entry", WAIT, |role, _| {
            role == "password text" || role == "text box"
        })
        .unwrap();
    entry.set_text(password).unwrap();
    if remember {
        let remember = question
            .find_where("Remember in the keyring", WAIT, |role, name| {
                role.contains("check") && name.contains("Remember in the keyring")
            })
            .unwrap();
        // GTK 4.8 gives check buttons no AT-SPI action: click it.
        let (x, y, w, h) = remember.extents().unwrap();
        let window = app
            .session
            .display
            .wait_for_window("Authentication Required", WAIT)
            .unwrap();
        app.xdotool(&[
            "mousemove",
            "--window",
            &window.to_string(),
            &(x + w / 2).to_string(),
            &(y + h / 2).to_string(),
            "click",
            "1",
        ]);
        remember.wait_state("checked", true, WAIT).unwrap();
    }
    click(&question, "button", "Log In");
    question.wait_gone(WAIT).unwrap();
}

fn wait_connected(app: &mut App, name: &str) {
    app.window(name);
}

#[test]
fn a_remembered_password_the_server_no_longer_takes_is_asked_for_once() {
    if !tools_present(&[TOOLS, &["gnome-keyring-daemon", "dbus-send"]].concat()) {
        return;
    }
    let vnc_auth = |password: &str, port| {
        Xvnc::start(&XvncOptions {
            width: 320,
            height: 240,
            port,
            security: XvncSecurity::VncAuth(password.to_owned()),
            ..XvncOptions::default()
        })
        .unwrap()
    };
    let server = vnc_auth("sesame", None);
    let port = server.port;
    let address = format!("vnc://127.0.0.1:{port}");
    let name = default_desktop_name();
    let session = Session::start(false);
    let _keyring = Keyring::start(session.bus.address()).unwrap();

    let mut app = session.launch(&[&address]);
    log_in(&app, "sesame", true);
    wait_connected(&mut app, &name);
    // Stored once the password worked.
    std::thread::sleep(Duration::from_secs(2));
    app.quit();

    // The server's password changes: the stored one fails, the user is
    // asked (once, with no error page first), and the new one works.
    drop(server);
    let _server = vnc_auth("open-up", Some(port));
    let mut app = session.launch(&[&address]);
    let node = app.a11y();
    dialog(&node, "Authentication Required");
    app.keep_screenshot("viewer-password-asked-again");
    node.find_where("why it asks again", WAIT, |role, text| {
        role == "label" && text.contains("did not accept the saved password")
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        node.find_all("dialog", "Authentication Required")
            .unwrap()
            .len(),
        1,
        "asked more than once"
    );
    let titles = app.titles();
    assert!(
        !titles
            .iter()
            .any(|t| t.starts_with("Authentication Failed")),
        "the stored password's failure showed an error page: {titles:?}"
    );
    // Cancel leaves a page whose button asks again (the refused
    // password is not tried a second time).
    click(
        &dialog(&node, "Authentication Required"),
        "button",
        "Cancel",
    );
    let page = app.wait_title("Disconnected –");
    app.keep_screenshot("viewer-password-cancelled");
    click(&node, "button", "Reconnect");
    log_in(&app, "open-up", true);
    wait_connected(&mut app, &name);
    eprintln!("after Cancel the window said “{page}”");
    std::thread::sleep(Duration::from_secs(2));
    app.quit();

    // The keyring now holds the new password.
    let app = session.launch(&[&address]);
    connects_without_asking(&app, &name, "the new password was not remembered");
}

#[test]
fn take_screenshot_saves_the_server_screen_through_the_file_chooser() {
    if !tools_present(TOOLS) {
        return;
    }
    let server = Xvnc::start(&XvncOptions {
        width: 320,
        height: 240,
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&pattern(320, 240, 1)).unwrap();
    let truth = server.screenshot().unwrap();
    let name = default_desktop_name();
    let session = Session::start(false);
    let mut app = session.launch(&[
        "--auto-resize=never",
        &format!("vnc://127.0.0.1:{}", server.port),
    ]);
    let window = app.window(&name);
    wait_for_picture(&app, window, &truth);

    let node = app.a11y();
    let item = menu_item(&node, "Main Menu", "Take Screenshot…");
    assert!(item.has_state("sensitive").unwrap());
    item.do_action("click").unwrap();

    let chooser = dialog(&node, "Save Screenshot");
    app.keep_screenshot("viewer-screenshot-chooser");
    let entry = chooser
        .find_where("the file name", WAIT, |role, _| role == "text box")
        .unwrap();
    assert_eq!(
        entry.text().unwrap(),
        format!("{name}.png"),
        "the suggested name is the desktop's"
    );
    let path = session.cwd.path().join("saved").join("screen.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    entry.set_text(&path.display().to_string()).unwrap();
    click(&chooser, "button", "Save");
    chooser.wait_gone(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "no screenshot at {path:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let saved = images::load(&path).unwrap();
    images::assert_same(&truth, &saved, "the saved screenshot");

    // Without a session there is nothing to save: the item is off.
    drop(server);
    app.wait_title("Server Closed the Connection –");
    let item = menu_item(&node, "Main Menu", "Take Screenshot…");
    assert!(
        !item.has_state("sensitive").unwrap(),
        "Take Screenshot… is offered with no screen to save"
    );
}
