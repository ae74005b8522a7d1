//! The "Connect to VNC Address" dialog: asks for an address, checks it as
//! the user types, and offers recent addresses. It only validates; opening
//! the console is the caller's job.

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, ComponentParts, ComponentSender, SimpleComponent};

use crate::target::{parse_address, ViewerTarget};

#[derive(Debug)]
pub enum ConnectDialogMsg {
    Show,
    Changed,
    Response(String),
}

#[derive(Debug)]
pub enum ConnectDialogOutput {
    Open(ViewerTarget),
}

#[derive(Debug)]
pub struct ConnectDialog {
    settings: gtk::gio::Settings,
    dialog: adw::MessageDialog,
    entry: gtk::Entry,
    problem: gtk::Label,
}

const RESPONSE_CONNECT: &str = "connect";
const RESPONSE_CANCEL: &str = "cancel";

impl SimpleComponent for ConnectDialog {
    type Init = gtk::gio::Settings;
    type Input = ConnectDialogMsg;
    type Output = ConnectDialogOutput;
    type Root = adw::MessageDialog;
    type Widgets = ();

    fn init_root() -> Self::Root {
        adw::MessageDialog::builder()
            .heading(gettext("Connect to VNC Address"))
            .body(gettext(
                "Enter the address of a VNC server, for example “host:1”, “host::5901” or “vnc://host:5901”.",
            ))
            .modal(true)
            .hide_on_close(true)
            .build()
    }

    fn init(
        settings: Self::Init,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        root.add_responses(&[
            (RESPONSE_CANCEL, &gettext("_Cancel")),
            (RESPONSE_CONNECT, &gettext("C_onnect")),
        ]);
        root.set_response_appearance(RESPONSE_CONNECT, adw::ResponseAppearance::Suggested);
        root.set_default_response(Some(RESPONSE_CONNECT));
        root.set_close_response(RESPONSE_CANCEL);

        let entry = gtk::Entry::builder()
            .placeholder_text(gettext("host:1 or vnc://host:5901"))
            .activates_default(true)
            .input_purpose(gtk::InputPurpose::Url)
            .build();
        entry.add_css_class("address-entry");
        let problem = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .css_classes(["error", "caption"])
            .build();
        let content = gtk::Box::new(gtk::Orientation::Vertical, 6);
        content.append(&entry);
        content.append(&problem);
        root.set_extra_child(Some(&content));

        if let Some(latest) = settings.strv("recent-vnc-addresses").first() {
            entry.set_text(latest.as_str());
        }

        let s = sender.clone();
        entry.connect_changed(move |_| s.input(ConnectDialogMsg::Changed));
        let s = sender.clone();
        root.connect_response(None, move |_, response| {
            s.input(ConnectDialogMsg::Response(response.to_string()))
        });

        let model = ConnectDialog {
            settings,
            dialog: root,
            entry,
            problem,
        };
        model.validate();
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, msg: ConnectDialogMsg, sender: ComponentSender<Self>) {
        match msg {
            ConnectDialogMsg::Show => {
                self.validate();
                self.dialog.present();
                self.entry.grab_focus();
            }
            ConnectDialogMsg::Changed => {
                self.validate();
            }
            ConnectDialogMsg::Response(response) if response == RESPONSE_CONNECT => {
                if let Ok(target) = parse_address(&self.entry.text()) {
                    self.remember(&self.entry.text());
                    let _ = sender.output(ConnectDialogOutput::Open(target));
                }
            }
            ConnectDialogMsg::Response(_) => {}
        }
    }
}

impl ConnectDialog {
    /// Shows what is wrong with the typed address and allows Connect only when nothing is.
    fn validate(&self) {
        let text = self.entry.text();
        let result = parse_address(&text);
        self.dialog
            .set_response_enabled(RESPONSE_CONNECT, result.is_ok());
        // An empty entry is not an error yet: the user has not typed anything.
        let problem = result.err().filter(|_| !text.trim().is_empty());
        self.problem.set_visible(problem.is_some());
        self.problem
            .set_label(problem.as_deref().unwrap_or_default());
        if problem.is_some() {
            self.entry.add_css_class("error");
        } else {
            self.entry.remove_css_class("error");
        }
    }

    /// Keeps the ten most recent addresses, newest first.
    fn remember(&self, address: &str) {
        let address = address.trim().to_string();
        let mut recent: Vec<String> = self
            .settings
            .strv("recent-vnc-addresses")
            .iter()
            .map(|a| a.to_string())
            .filter(|a| *a != address)
            .collect();
        recent.insert(0, address);
        recent.truncate(10);
        let _ = self.settings.set_strv("recent-vnc-addresses", recent);
    }
}
