//! The About window.

use gettextrs::gettext;
use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk;

use crate::config;

pub fn show(parent: Option<&gtk::Window>) {
    let about = adw::AboutWindow::builder()
        .application_name(gettext("Porthole"))
        .application_icon(config::APP_ID)
        .version(config::VERSION)
        .developer_name(gettext("The Porthole developers"))
        .developers(vec!["The Porthole developers"])
        .comments(gettext(
            "Manage libvirt virtual machines and view their consoles, or any remote desktop, over VNC.",
        ))
        .website(config::WEBSITE)
        .issue_url(config::ISSUES)
        .license_type(gtk::License::Gpl30)
        // Translators: replace with your names, one per line.
        .translator_credits(gettext("translator-credits"))
        .modal(true)
        .build();
    about.set_transient_for(parent);
    about.present();
}
