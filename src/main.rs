//! Porthole: a GNOME virtual machine manager and VNC viewer.
//!
//! `main` sets up translations, resources and the command line, then hands
//! the window to the root component in [`app`].

mod about;
mod accels;
mod app;
mod askpass;
mod cli;
mod config;
mod connect_dialog;
// Used by the VM manager UI (issue 6).
#[allow(dead_code)]
mod libvirt;
mod manager;
mod new_vm;
mod preferences;
mod target;
mod viewer;
mod vm_page;

use gettextrs::gettext;
use relm4::gtk::{gio, glib, prelude::*};
use relm4::{MessageBroker, RelmApp};

use crate::app::{App, AppMsg};

static APP_BROKER: MessageBroker<AppMsg> = MessageBroker::new();

fn main() -> glib::ExitCode {
    init_i18n();
    // Started by ssh as its askpass (remote connections): ask, answer, exit.
    if askpass::requested() {
        return askpass::run(&std::env::args().collect::<Vec<_>>());
    }
    // Answered here rather than in GApplication's handle-local-options:
    // `RelmApp::run` loses the exit status and, when the app quits before
    // its main loop, waits for an event that never comes.
    let args: Vec<String> = std::env::args().collect();
    match cli::check(&args) {
        Ok(cli::Check::Run) => {}
        Ok(cli::Check::Version) => {
            println!("porthole {}", config::VERSION);
            return glib::ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("porthole: {err}");
            return glib::ExitCode::from(2);
        }
    }
    if let Err(err) = config::register_resources() {
        eprintln!("porthole: {err}");
        return glib::ExitCode::FAILURE;
    }
    glib::set_application_name(&gettext("Porthole"));

    let app = relm4::main_adw_application();
    app.set_application_id(Some(config::APP_ID));
    app.set_flags(gio::ApplicationFlags::HANDLES_COMMAND_LINE);
    app.set_option_context_parameter_string(Some(&gettext("[ADDRESS | FILE.vv]")));
    app.set_option_context_summary(Some(&gettext(
        "Manage virtual machines and view remote desktops.\n\nADDRESS is a VNC server: host, host:DISPLAY, host::PORT, [IPv6]::PORT or vnc://host[:PORT].\nFILE.vv is a virt-viewer connection file.",
    )));
    for option in cli::OPTIONS {
        app.add_main_option(
            option.long,
            glib::Char::from(option.short),
            glib::OptionFlags::NONE,
            glib::OptionArg::None,
            &(option.description)(),
            None,
        );
    }
    for option in cli::VALUE_OPTIONS {
        app.add_main_option(
            option.long,
            glib::Char::from(0),
            glib::OptionFlags::NONE,
            glib::OptionArg::String,
            &(option.description)(),
            Some(&(option.value_name)()),
        );
    }
    for option in viewer::options::OPTIONS {
        let (arg, value_name) = match option.value_name {
            Some(name) => (glib::OptionArg::String, Some(name())),
            None => (glib::OptionArg::None, None),
        };
        app.add_main_option(
            option.long,
            glib::Char::from(option.short),
            glib::OptionFlags::NONE,
            arg,
            &(option.description)(),
            value_name.as_deref(),
        );
    }
    // Only the first command line of the app's life opens a standalone viewer.
    let first_command_line = std::cell::Cell::new(true);
    app.connect_command_line(move |app, command_line| {
        app.activate();
        let viewer_options =
            viewer::options::ViewerOptions::from_dict(&command_line.options_dict());
        let standalone = first_command_line.replace(false);
        // Every command line, the first one too, tells the manager what to
        // open; the first one also starts the saved connections.
        APP_BROKER.send(AppMsg::Launch(manager::Launch::from_options(
            &command_line.options_dict(),
        )));
        let args = command_line.arguments();
        for arg in args.iter().skip(1) {
            let arg = arg.to_string_lossy();
            // Already checked in the local instance; a remote one may send anything.
            match (target::parse_argument(&arg), &viewer_options) {
                (Ok(mut target), Ok(options)) => {
                    target.options = viewer::options::ViewerOptions {
                        standalone,
                        // A `.vv` file's fullscreen=1 counts as --full-screen.
                        full_screen: options.full_screen || target.options.full_screen,
                        ..options.clone()
                    };
                    if let Err(err) = target.delete_file_asked_for() {
                        APP_BROKER.send(AppMsg::ShowError(err));
                    }
                    APP_BROKER.send(AppMsg::Open(target));
                }
                (Err(err), _) => APP_BROKER.send(AppMsg::ShowError(err)),
                (_, Err(err)) => APP_BROKER.send(AppMsg::ShowError(err.clone())),
            }
        }
        glib::ExitCode::SUCCESS
    });

    RelmApp::from_app(app)
        .with_broker(&APP_BROKER)
        .with_args(args)
        .run::<App>(());
    glib::ExitCode::SUCCESS
}

fn init_i18n() {
    // SAFETY: setlocale is unsafe only because it races with other threads;
    // this runs first thing in main, before any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    }
    let dir = config::locale_dir();
    // Without a catalogue the strings simply stay English.
    let _ = gettextrs::bindtextdomain(config::GETTEXT_PACKAGE, dir);
    let _ = gettextrs::bind_textdomain_codeset(config::GETTEXT_PACKAGE, "UTF-8");
    let _ = gettextrs::textdomain(config::GETTEXT_PACKAGE);
}
