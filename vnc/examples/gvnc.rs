//! A bare window with a `VncDisplay`, to look at the widget:
//! `cargo run -p porthole-vnc --features gtk --example gvnc -- localhost:1`
//! (`--one-to-one`, `--zoom 2`, `--sharp`, `--view-only`;
//! `PORTHOLE_RENDERER=software` forces the software renderer).
//! `--exit-on-disconnect` quits when the connection ends and then prints
//! when the last frame with new pixels was painted (Unix time), for
//! `vnc/benches/compare-viewers.sh`.

use gtk::prelude::*;
use porthole_vnc::address::Address;
use porthole_vnc::gtk::{ScalingMode, VncDisplay};

fn main() -> gtk::glib::ExitCode {
    let mut address = None;
    let mut mode = ScalingMode::Fit;
    let mut zoom = 1.0;
    let mut smooth = true;
    let mut view_only = false;
    let mut exit_on_disconnect = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--one-to-one" => mode = ScalingMode::OneToOne,
            "--stretch" => mode = ScalingMode::Stretch,
            "--zoom" => {
                mode = ScalingMode::Zoom;
                zoom = args.next().and_then(|z| z.parse().ok()).unwrap_or(1.0);
            }
            "--sharp" => smooth = false,
            "--view-only" => view_only = true,
            "--exit-on-disconnect" => exit_on_disconnect = true,
            other => address = Some(other.to_owned()),
        }
    }
    let Some(address) = address else {
        eprintln!(
            "usage: gvnc [--one-to-one|--stretch|--zoom F] [--sharp] [--view-only] [--exit-on-disconnect] HOST:DISPLAY"
        );
        return gtk::glib::ExitCode::FAILURE;
    };
    let address = match Address::parse(&address) {
        Ok(address) => address,
        Err(error) => {
            eprintln!("gvnc: {error}");
            return gtk::glib::ExitCode::FAILURE;
        }
    };

    let app = gtk::Application::builder()
        .application_id("org.example.Gvnc")
        .flags(gtk::gio::ApplicationFlags::NON_UNIQUE)
        .build();
    app.connect_activate(move |app| {
        let display = VncDisplay::new();
        display.set_scaling_mode(mode);
        display.set_zoom(zoom);
        display.set_smooth(smooth);
        display.set_view_only(view_only);
        let window = gtk::ApplicationWindow::builder()
            .application(app)
            .title("gvnc")
            .child(&display)
            .build();
        display
            .bind_property("desktop-name", &window, "title")
            .build();
        // Open at the remote size (capped by the monitor's work area).
        let weak = window.downgrade();
        display.connect_connected(move |display| {
            eprintln!("gvnc: connected, drawing with {}", display.renderer_name());
            if let Some(window) = weak.upgrade() {
                let scale = display.scale_factor().max(1) as u32;
                window.set_default_size(
                    (display.remote_width() / scale) as i32,
                    (display.remote_height() / scale) as i32,
                );
            }
        });
        let last_frame = std::rc::Rc::new(std::cell::Cell::new(None));
        let painted = last_frame.clone();
        display.connect_notify_local(Some("frame-latency-us"), move |_, _| {
            painted.set(Some(std::time::SystemTime::now()));
        });
        let app = app.clone();
        display.connect_disconnected(move |_, reason| {
            eprintln!("gvnc: disconnected: {reason}");
            if exit_on_disconnect {
                if let Some(at) = last_frame.get() {
                    let at = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    eprintln!("gvnc: last frame painted at {:.6}", at.as_secs_f64());
                }
                app.quit();
            }
        });
        display.connect_auth_required(|display, _username, _password| {
            let password = std::env::var("VNC_PASSWORD").unwrap_or_default();
            display.provide_credentials(None, Some(&password));
        });
        display.connect_address(&address);
        window.present();
    });
    app.run_with_args::<&str>(&[])
}
