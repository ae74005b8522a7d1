//! Remote hosts over SSH, for real: a private sshd (as root) whose sessions
//! reach a private bus with libvirt-dbus, the client connecting through
//! `ssh HOST systemd-stdio-bridge`; the console tunnelled over SSH to a
//! real VNC server (Xvnc); and the askpass dialog, the only way ssh may ask
//! for a password or about a host key, answered under Xvfb.

// The client lives in the app binary; compile its module here too.
#[path = "../src"]
#[allow(dead_code)]
mod src {
    pub mod libvirt;
}

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use porthole_harness::bus::PrivateBus;
use porthole_harness::display::Display;
use porthole_harness::libvirt::{libvirt_dbus_available, LibvirtDbus};
use porthole_harness::process;
use porthole_harness::ssh::{self, SshServer};
use porthole_harness::xvnc::{Xvnc, XvncOptions};
use src::libvirt::{open_console_stream, Bus, ConnectionSpec, DomainState, Driver, Hypervisor};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
const DIALOG_TIMEOUT: Duration = Duration::from_secs(30);

/// The `ssh` the client runs: found first on `PATH`, it adds `-F` with a
/// config that includes each test's host alias (a person would have these
/// in `~/.ssh/config`), and `DISPLAY` for the askpass dialog when a test
/// put one there. Set up once per test binary, before any test spawns.
fn ssh_wrapper_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        remove_stale_client_dirs();
        let dir = std::env::temp_dir().join(format!("porthole-ssh-client-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hosts")).expect("client dir");
        std::fs::write(
            dir.join("config"),
            format!("Include {}/hosts/*.config\n", dir.display()),
        )
        .expect("client config");
        let wrapper = dir.join("ssh");
        std::fs::write(
            &wrapper,
            "#!/bin/sh\nd=$(dirname \"$0\")\n\
             if [ -f \"$d/display\" ]; then DISPLAY=$(cat \"$d/display\"); export DISPLAY; fi\n\
             exec /usr/bin/ssh -F \"$d/config\" \"$@\"\n",
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = std::env::var("PATH").unwrap_or_default();
        // Before any test spawns a process (all of them start here), and
        // the askpass is the app, never this test binary.
        std::env::set_var("PATH", format!("{}:{path}", dir.display()));
        std::env::set_var("PORTHOLE_SSH_ASKPASS", PORTHOLE);
        // Where ssh's connection-sharing sockets go (as in a desktop session).
        let runtime_dir = dir.join("run");
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        std::env::set_var("XDG_RUNTIME_DIR", &runtime_dir);
        dir
    })
}

/// The client directories of earlier runs whose process is gone (a static
/// is never dropped, so each run leaves its own behind).
fn remove_stale_client_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("porthole-ssh-client-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A remote host: sshd whose sessions reach a private bus with
/// libvirt-dbus (test driver) on it.
struct Remote {
    sshd: SshServer,
    _service: LibvirtDbus,
    _bus: PrivateBus,
}

fn remote(password: bool) -> Option<Remote> {
    if !libvirt_dbus_available() || !ssh::available() {
        return None;
    }
    let bus = PrivateBus::start().expect("private bus");
    let service = LibvirtDbus::start(&bus).expect("libvirt-dbus");
    let sshd = SshServer::start(bus.address(), password).expect("sshd");
    Some(Remote {
        sshd,
        _service: service,
        _bus: bus,
    })
}

fn spec(alias: &str) -> ConnectionSpec {
    ConnectionSpec {
        bus: Bus::Ssh {
            host: alias.to_owned(),
            user: None,
        },
        // The remote bus runs libvirt-dbus with the test driver.
        driver: Driver::Test,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_are_listed_and_the_console_tunnelled_over_ssh() {
    let wrapper = ssh_wrapper_dir();
    let Some(remote) = remote(false) else {
        return;
    };
    let alias = format!("keyhost{}", remote.sshd.port());
    remote
        .sshd
        .client_config(&wrapper.join("hosts"), &alias, false)
        .expect("client config");

    let started = Instant::now();
    let hypervisor = Hypervisor::connect(&spec(&alias))
        .await
        .unwrap_or_else(|e| panic!("connecting over ssh: {e}\nsshd: {}", remote.sshd.log()));
    eprintln!("connected over ssh in {:?}", started.elapsed());
    let domains = hypervisor.list_domains().await.expect("list over ssh");
    let test = domains
        .iter()
        .find(|d| d.name == "test")
        .expect("the remote test domain is listed");
    assert_eq!(test.state, DomainState::Running);

    // The console: a VM whose VNC display is a real Xvnc on the remote's
    // loopback, reached through ssh -W (fd passing cannot cross SSH).
    let xvnc = Xvnc::start(&XvncOptions::default()).expect("Xvnc");
    let domain = hypervisor
        .define_xml(&format!(
            "<domain type='test'><name>remote-console</name><memory>65536</memory>\
             <os><type>hvm</type></os><devices><graphics type='vnc' port='{}' \
             autoport='no' listen='127.0.0.1'/></devices></domain>",
            xvnc.port
        ))
        .await
        .expect("define");
    domain.start().await.expect("start");
    let fd = open_console_stream(&hypervisor, &domain)
        .await
        .expect("console stream");
    let (width, height) = rfb_screen_size(fd).await;
    assert_eq!(
        (width, height),
        (640, 480),
        "Xvnc's screen through the tunnel"
    );
}

/// Completes an RFB handshake on `fd` and returns the server's screen size.
async fn rfb_screen_size(fd: std::os::fd::OwnedFd) -> (u16, u16) {
    use porthole_vnc::driver::{self, DriverEvent, Stream};
    use porthole_vnc::proto::{Config, Event};
    let stream = Stream::from_fd(fd).expect("stream");
    let (handle, mut events, task) = driver::spawn(stream, Config::default(), None);
    let size = loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("no RFB handshake within 30 s")
            .expect("events");
        match event {
            DriverEvent::Session(Event::Connected { width, height, .. }) => break (width, height),
            DriverEvent::Closed(result) => panic!("console closed: {result:?}"),
            DriverEvent::Session(_) => {}
        }
    };
    handle.shutdown();
    let _ = task.await;
    size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_and_an_unknown_host_key_are_asked_in_a_dialog() {
    let wrapper = ssh_wrapper_dir();
    let Some(remote) = remote(true) else {
        return;
    };
    if !process::tools_available(&["Xvfb", "xdotool"]) {
        return;
    }
    let display = Display::start(1024, 768).expect("Xvfb");
    let _display_turn = DISPLAY_TURN.lock().await;
    std::fs::write(wrapper.join("display"), display.name()).expect("display file");
    let alias = format!("pwhost{}", remote.sshd.port());
    let hosts = wrapper.join("hosts");
    remote
        .sshd
        .client_config(&hosts, &alias, true)
        .expect("client config");
    let password = remote
        .sshd
        .password_user()
        .expect("password user")
        .password
        .clone();

    let connecting = tokio::spawn({
        let spec = spec(&alias);
        async move { Hypervisor::connect(&spec).await }
    });
    // First the unknown host key, with its fingerprint: trust it.
    let window = display
        .wait_for_window("SSH Login", DIALOG_TIMEOUT)
        .expect("the host key question appears in a dialog");
    xdotool(&display, &["windowfocus", "--sync", &window.to_string()]);
    press_closing_key(&display, window, "alt+t");
    wait_gone(&display, window);
    // Then the password.
    let window = display
        .wait_for_window("SSH Login", DIALOG_TIMEOUT)
        .expect("the password question appears in a dialog");
    xdotool(&display, &["windowfocus", "--sync", &window.to_string()]);
    xdotool(
        &display,
        &[
            "type",
            "--window",
            &window.to_string(),
            "--delay",
            "20",
            &password,
        ],
    );
    press_closing_key(&display, window, "Return");

    let hypervisor = tokio::time::timeout(DIALOG_TIMEOUT, connecting)
        .await
        .expect("connected after the answers")
        .expect("task")
        .unwrap_or_else(|e| panic!("password login: {e}\nsshd: {}", remote.sshd.log()));
    let domains = hypervisor.list_domains().await.expect("list");
    assert!(domains.iter().any(|d| d.name == "test"));

    // The console rides on the same login: no second question.
    let xvnc = Xvnc::start(&XvncOptions::default()).expect("Xvnc");
    let domain = hypervisor
        .define_xml(&format!(
            "<domain type='test'><name>shared-login</name><memory>65536</memory>\
             <os><type>hvm</type></os><devices><graphics type='vnc' port='{}' \
             autoport='no' listen='127.0.0.1'/></devices></domain>",
            xvnc.port
        ))
        .await
        .expect("define");
    domain.start().await.expect("start");
    let fd = open_console_stream(&hypervisor, &domain)
        .await
        .expect("console stream");
    assert_eq!(rfb_screen_size(fd).await, (640, 480));
    let mut search = display.command("xdotool");
    search.args(["search", "--onlyvisible", "--name", "^SSH Login$"]);
    assert!(
        process::run(search).is_err(),
        "the console asked for the password again"
    );
    assert_eq!(
        remote.sshd.log().matches("Accepted password").count(),
        1,
        "{}",
        remote.sshd.log()
    );
    let known =
        std::fs::read_to_string(hosts.join(format!("{alias}.known_hosts"))).expect("known hosts");
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", remote.sshd.port())),
        "the trusted host key is remembered: {known:?}"
    );
    assert!(
        remote.sshd.log().contains("Accepted password"),
        "{}",
        remote.sshd.log()
    );
    let _ = std::fs::remove_file(wrapper.join("display"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_an_unknown_host_key_fails_with_sshs_reason() {
    let wrapper = ssh_wrapper_dir();
    let Some(remote) = remote(true) else {
        return;
    };
    if !process::tools_available(&["Xvfb", "xdotool"]) {
        return;
    }
    let display = Display::start(1024, 768).expect("Xvfb");
    // Tests share the wrapper: only one may own its display at a time.
    let _display_turn = DISPLAY_TURN.lock().await;
    std::fs::write(wrapper.join("display"), display.name()).expect("display file");
    let alias = format!("refusedhost{}", remote.sshd.port());
    remote
        .sshd
        .client_config(&wrapper.join("hosts"), &alias, true)
        .expect("client config");
    let connecting = tokio::spawn({
        let spec = spec(&alias);
        async move { Hypervisor::connect(&spec).await }
    });
    let window = display
        .wait_for_window("SSH Login", DIALOG_TIMEOUT)
        .expect("the host key question appears in a dialog");
    xdotool(&display, &["windowfocus", "--sync", &window.to_string()]);
    press_closing_key(&display, window, "Escape");
    let result = tokio::time::timeout(DIALOG_TIMEOUT, connecting)
        .await
        .expect("the refusal ends the attempt")
        .expect("task");
    let _ = std::fs::remove_file(wrapper.join("display"));
    match result {
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(&format!("cannot log in to {alias} over SSH"))
                    && message.contains("Host key verification failed"),
                "{message}"
            );
        }
        Ok(_) => panic!("connected although the host key was refused"),
    }
}

/// One askpass display at a time in the shared `ssh` wrapper.
static DISPLAY_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The askpass protocol on its own: the prompt in argv[1], the answer on
/// stdout with exit 0, and exit 1 with nothing printed when cancelled.
#[test]
fn askpass_prints_the_answer_or_fails_when_cancelled() {
    if !process::tools_available(&["Xvfb", "xdotool"]) {
        return;
    }
    let display = Display::start(800, 600).expect("Xvfb");
    for (keys, expected_status, expected_out) in [
        (
            vec!["type:s3cret pa$$ w0rd!", "key:Return"],
            Some(0),
            "s3cret pa$$ w0rd!\n",
        ),
        (vec!["key:Escape"], Some(1), ""),
    ] {
        let mut askpass = display.command(PORTHOLE);
        askpass
            .arg("alice@host's password: ")
            .env("PORTHOLE_ASKPASS", "1")
            .env("GSETTINGS_BACKEND", "memory")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = askpass.spawn().expect("porthole as askpass");
        let window = display
            .wait_for_window("SSH Login", DIALOG_TIMEOUT)
            .expect("askpass window");
        xdotool(&display, &["windowfocus", "--sync", &window.to_string()]);
        for key in keys {
            let (what, arg) = key.split_once(':').unwrap_or(("key", key));
            let w = window.to_string();
            match what {
                "type" => xdotool(&display, &["type", "--window", &w, "--delay", "20", arg]),
                _ => press_closing_key(&display, window, arg),
            }
        }
        let output = wait_with_timeout(child, DIALOG_TIMEOUT);
        assert_eq!(output.status.code(), expected_status, "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected_out);
    }
}

/// Presses a key that may close the window: the window can be gone
/// before xdotool sends the release, which it reports as an error.
fn press_closing_key(display: &Display, window: u64, key: &str) {
    let mut command = display.command("xdotool");
    command.args(["key", "--window", &window.to_string(), key]);
    let _ = process::run(command);
}

fn xdotool(display: &Display, args: &[&str]) {
    let mut command = display.command("xdotool");
    command.args(args);
    process::run(command).unwrap_or_else(|e| panic!("xdotool {args:?}: {e}"));
}

fn wait_gone(display: &Display, window: u64) {
    let deadline = Instant::now() + DIALOG_TIMEOUT;
    while Instant::now() < deadline {
        let mut search = display.command("xdotool");
        search.args(["getwindowname", &window.to_string()]);
        if process::run(search).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the dialog did not close after it was answered");
}

fn wait_with_timeout(mut child: std::process::Child, timeout: Duration) -> std::process::Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("askpass did not exit after it was answered");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("askpass output")
}
