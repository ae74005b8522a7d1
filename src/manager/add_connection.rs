//! The "Add Connection" dialog: this computer (user session or system),
//! a remote host over SSH, or the demo. Answers with the connection only;
//! saving and connecting are the manager's.

use gettextrs::gettext;
use relm4::adw::{self, prelude::*};
use relm4::gtk;

use crate::libvirt::ConnectionSpec;

/// Shows the dialog; `reply` gets the connection the user chose.
pub fn show(parent: &impl IsA<gtk::Window>, reply: impl Fn(ConnectionSpec) + 'static) {
    let dialog = adw::MessageDialog::new(
        Some(parent),
        Some(&gettext("Add Connection")),
        Some(&gettext("Which libvirt should Porthole manage?")),
    );
    // Radio buttons rather than a drop-down: four choices fit, all show
    // at once, and each is one click (also for screen readers).
    let kinds: Vec<gtk::CheckButton> = [
        gettext("This computer (user session)"),
        gettext("This computer (system)"),
        gettext("Remote host over SSH"),
        gettext("Demo (test driver)"),
    ]
    .iter()
    .map(|label| gtk::CheckButton::with_label(label))
    .collect();
    for kind in &kinds[1..] {
        kind.set_group(Some(&kinds[0]));
    }
    kinds[0].set_active(true);
    let selected = {
        let kinds = kinds.clone();
        move || kinds.iter().position(|k| k.is_active()).unwrap_or(0)
    };
    let host = gtk::Entry::builder()
        .placeholder_text(gettext("Host name or address"))
        .activates_default(true)
        .build();
    let user = gtk::Entry::builder()
        .placeholder_text(gettext("User (optional)"))
        .activates_default(true)
        .build();
    let hint = gtk::Label::builder()
        .label(gettext(
            "The host needs libvirt-dbus. Write host:port for another SSH port; a password or an unknown host key is asked in a dialog.",
        ))
        .wrap(true)
        .xalign(0.0)
        .css_classes(["dim-label", "caption"])
        .build();
    let remote = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(6)
        .visible(false)
        .build();
    remote.append(&host);
    remote.append(&user);
    remote.append(&hint);
    let content = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(12)
        .build();
    for kind in &kinds {
        content.append(kind);
    }
    content.append(&remote);
    dialog.set_extra_child(Some(&content));
    dialog.add_response("cancel", &gettext("_Cancel"));
    dialog.add_response("add", &gettext("_Add"));
    dialog.set_response_appearance("add", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("add"));
    dialog.set_close_response("cancel");

    let update = {
        let dialog = dialog.clone();
        let host = host.clone();
        let remote = remote.clone();
        let selected = selected.clone();
        move || {
            let is_remote = selected() == 2;
            remote.set_visible(is_remote);
            dialog.set_response_enabled("add", !is_remote || !host.text().trim().is_empty());
        }
    };
    for kind in &kinds {
        let update = update.clone();
        kind.connect_toggled(move |_| update());
    }
    host.connect_changed(move |_| update());

    dialog.connect_response(None, move |_, response| {
        if response != "add" {
            return;
        }
        let spec = match selected() {
            0 => ConnectionSpec::user_session(),
            1 => ConnectionSpec::system(),
            2 => {
                let user = user.text();
                let user = user.trim();
                ConnectionSpec::remote(host.text().trim(), (!user.is_empty()).then_some(user))
            }
            _ => ConnectionSpec::demo(),
        };
        reply(spec);
    });
    dialog.present();
}
