//! The connections of the sidebar: which are saved (GSettings key
//! `connections`, a list of libvirt URIs in sidebar order; empty means the
//! user session), what each is called, and its sidebar row with the
//! status (connecting, connected, the error and what to do).

use futures_util::StreamExt;
use gettextrs::gettext;
use relm4::gtk::{self, gio, prelude::*};

use crate::libvirt::{Bus, ConnectionSpec, Driver, SERVICE};

const KEY: &str = "connections";

/// The saved connections, in order; the user session when none is saved.
pub fn saved(settings: &gio::Settings) -> Vec<ConnectionSpec> {
    let uris = settings.strv(KEY);
    let specs: Vec<ConnectionSpec> = uris
        .iter()
        .filter_map(|uri| ConnectionSpec::from_uri(uri.as_str()).ok())
        .collect();
    if uris.is_empty() {
        vec![ConnectionSpec::user_session()]
    } else {
        specs
    }
}

/// Stores `specs` as the saved connections.
pub fn save(settings: &gio::Settings, specs: &[ConnectionSpec]) {
    let uris: Vec<String> = specs.iter().map(ConnectionSpec::uri).collect();
    let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
    // A failed write only loses the list for the next start.
    let _ = settings.set_strv(KEY, uris.as_slice());
}

/// Waits until libvirt-dbus takes its name on `spec`'s bus, so that a
/// connection that failed because the service was not running (yet) comes
/// up by itself when it starts, as a restarted one does. False when the
/// bus cannot be watched (a remote host: its bridge is gone with the
/// failure) or closes: then only "Try Again" connects.
pub async fn service_appeared(spec: &ConnectionSpec) -> bool {
    let Ok(conn) = spec.bus.connect_direct().await else {
        return false;
    };
    let Ok(dbus) = zbus::fdo::DBusProxy::new(&conn).await else {
        return false;
    };
    let Ok(mut owners) = dbus
        .receive_name_owner_changed_with_args(&[(0, SERVICE)])
        .await
    else {
        return false;
    };
    // It may have started between the failed connect and the subscription.
    let name = zbus::names::WellKnownName::from_static_str_unchecked(SERVICE).into();
    if dbus.name_has_owner(name).await.unwrap_or(false) {
        return true;
    }
    while let Some(signal) = owners.next().await {
        if signal.args().is_ok_and(|args| args.new_owner().is_some()) {
            return true;
        }
    }
    false
}

/// The name the sidebar gives a connection.
pub fn title(spec: &ConnectionSpec) -> String {
    match (&spec.bus, spec.driver) {
        (_, Driver::Test) => gettext("Demo (test driver)"),
        (Bus::Session, Driver::Qemu) => gettext("This Computer"),
        (Bus::System, Driver::Qemu) => gettext("This Computer (System)"),
        (Bus::Ssh { host, user }, Driver::Qemu) => match user {
            Some(user) => format!("{user}@{host}"),
            None => host.clone(),
        },
        (Bus::Address(_), Driver::Qemu) => spec.uri(),
    }
}

fn icon(spec: &ConnectionSpec) -> &'static str {
    match (&spec.bus, spec.driver) {
        (_, Driver::Test) => "applications-science-symbolic",
        (Bus::Ssh { .. }, _) => "network-server-symbolic",
        _ => "computer-symbolic",
    }
}

/// Where a connection is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected {
        vms: usize,
    },
    /// libvirt-dbus left the bus; the watch waits for it to come back.
    ServiceGone,
    /// Connecting failed: libvirt's or the bus's explanation.
    Failed(String),
}

impl Status {
    pub fn text(&self) -> String {
        match self {
            Self::Connecting => gettext("Connecting…"),
            Self::Connected { vms: 1 } => gettext("Connected, 1 virtual machine"),
            Self::Connected { vms } => {
                gettext("Connected, {} virtual machines").replace("{}", &vms.to_string())
            }
            Self::ServiceGone => gettext("libvirt-dbus stopped"),
            Self::Failed(message) => message.clone(),
        }
    }
}

/// A connection's row in the sidebar.
#[derive(Debug)]
pub struct SidebarRow {
    pub row: gtk::ListBoxRow,
    status: gtk::Label,
    spinner: gtk::Spinner,
    pub remove: gtk::Button,
}

impl SidebarRow {
    pub fn new(spec: &ConnectionSpec) -> Self {
        let title_text = title(spec);
        let icon = gtk::Image::from_icon_name(icon(spec));
        let title = gtk::Label::builder()
            .label(&title_text)
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .build();
        let status = gtk::Label::builder()
            .xalign(0.0)
            .wrap(true)
            .wrap_mode(gtk::pango::WrapMode::WordChar)
            .lines(3)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .css_classes(["dim-label", "caption"])
            .build();
        let text = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .hexpand(true)
            .valign(gtk::Align::Center)
            .build();
        text.append(&title);
        text.append(&status);
        let spinner = gtk::Spinner::new();
        let remove = super::labelled::icon_button(
            "window-close-symbolic",
            &gettext("Remove Connection {}").replace("{}", &title_text),
        );
        remove.set_valign(gtk::Align::Center);
        remove.add_css_class("flat");
        remove.add_css_class("circular");
        let content = gtk::Box::builder()
            .spacing(8)
            .margin_top(4)
            .margin_bottom(4)
            .build();
        content.append(&icon);
        content.append(&text);
        content.append(&spinner);
        content.append(&remove);
        let row = gtk::ListBoxRow::builder().child(&content).build();
        Self {
            row,
            status,
            spinner,
            remove,
        }
    }

    pub fn set_status(&self, status: &Status) {
        let text = status.text();
        self.status.set_label(&text);
        self.status.set_tooltip_text(Some(&text));
        let busy = matches!(status, Status::Connecting | Status::ServiceGone);
        self.spinner.set_spinning(busy);
        self.spinner.set_visible(busy);
        if matches!(status, Status::Failed(_) | Status::ServiceGone) {
            self.status.add_css_class("error");
        } else {
            self.status.remove_css_class("error");
        }
    }
}

/// Keeps the sidebar (`root`'s start child) out of a window narrower than
/// `narrow_width` while `content` shows a VM page, following every resize
/// of the window and every change of page, and brings it back when the
/// window is wide again or the list shows.
pub fn collapse_when_narrow(root: &gtk::Paned, content: &gtk::Stack, narrow_width: i32) {
    let fit = {
        let root = root.clone();
        let content = content.clone();
        move |width: i32| {
            let page = content
                .visible_child_name()
                .is_some_and(|name| name == "page");
            if let Some(sidebar) = root.start_child() {
                sidebar.set_visible(!page || width >= narrow_width);
            }
        }
    };
    let on_page = fit.clone();
    let paned = root.clone();
    content.connect_visible_child_name_notify(move |_| {
        if let Some(window) = paned.root().and_downcast::<gtk::Window>() {
            // Before the first frame the window has only its default size.
            on_page(match window.width() {
                0 => window.default_width(),
                width => width,
            });
        }
    });
    root.connect_realize(move |root| {
        let Some(window) = root.root().and_downcast::<gtk::Window>() else {
            return;
        };
        let fit = fit.clone();
        // Notified as the window is resized, before the new size is
        // allocated: `width()` would still be the old one.
        window.connect_default_width_notify(move |window| fit(window.default_width()));
    });
}
