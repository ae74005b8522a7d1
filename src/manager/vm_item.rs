//! One row of the VM list as a GObject, so `gtk::ListView` can bind its
//! properties and redraw only the row whose properties changed.

use gettextrs::gettext;
use relm4::gtk::{gdk, glib, prelude::*, subclass::prelude::*};

use crate::libvirt::{DomainInfo, DomainState};

mod imp {
    use std::cell::RefCell;

    use super::*;

    #[derive(Debug, Default, glib::Properties)]
    #[properties(wrapper_type = super::VmItem)]
    pub struct VmItem {
        #[property(get, set)]
        pub name: RefCell<String>,
        #[property(get, set)]
        pub title: RefCell<String>,
        #[property(get, set, nullable)]
        pub description: RefCell<Option<String>>,
        #[property(get, set)]
        pub state_text: RefCell<String>,
        #[property(get, set)]
        pub state_icon: RefCell<String>,
        #[property(get, set, nullable)]
        pub thumbnail: RefCell<Option<gdk::Texture>>,
        /// The D-Bus object path: the row's identity across renames.
        #[property(get, set)]
        pub path: RefCell<String>,
        /// What the lifecycle actions need; not bound by the row widget.
        pub info: RefCell<Option<DomainInfo>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for VmItem {
        const NAME: &'static str = "PortholeVmItem";
        type Type = super::VmItem;
    }

    #[glib::derived_properties]
    impl ObjectImpl for VmItem {}
}

glib::wrapper! {
    pub struct VmItem(ObjectSubclass<imp::VmItem>);
}

impl VmItem {
    pub fn new(info: DomainInfo) -> Self {
        let item: Self = glib::Object::new();
        item.set_path(info.path.as_str().to_owned());
        item.update(info);
        item
    }

    /// Takes the new facts; only properties whose value differs notify,
    /// so the row widget redraws only what changed.
    pub fn update(&self, info: DomainInfo) {
        if self.name() != info.name {
            self.set_name(info.name.clone());
        }
        let title = info.title.clone().unwrap_or_default();
        if self.title() != title {
            self.set_title(title);
        }
        if self.description() != info.description {
            self.set_description(info.description.as_deref());
        }
        let (icon, text) = state_label(&info);
        if self.state_icon() != icon {
            self.set_state_icon(icon);
        }
        if self.state_text() != text {
            self.set_state_text(text);
        }
        self.imp().info.replace(Some(info));
    }

    pub fn info(&self) -> Option<DomainInfo> {
        self.imp().info.borrow().clone()
    }

    pub fn state(&self) -> Option<DomainState> {
        self.imp().info.borrow().as_ref().map(|i| i.state)
    }
}

/// The icon name and the words the list shows for a domain's state.
pub fn state_label(info: &DomainInfo) -> (&'static str, String) {
    match info.state {
        DomainState::Running | DomainState::Blocked => {
            ("media-playback-start-symbolic", gettext("Running"))
        }
        DomainState::Paused => ("media-playback-pause-symbolic", gettext("Paused")),
        DomainState::ShuttingDown => ("system-shutdown-symbolic", gettext("Shutting down")),
        DomainState::Shutoff if info.has_saved_state() => {
            ("document-save-symbolic", gettext("Saved"))
        }
        DomainState::Shutoff | DomainState::NoState => {
            ("media-playback-stop-symbolic", gettext("Shut off"))
        }
        DomainState::Crashed => ("dialog-error-symbolic", gettext("Crashed")),
        DomainState::PmSuspended => ("weather-clear-night-symbolic", gettext("Suspended")),
        DomainState::Unknown(_) => ("dialog-question-symbolic", gettext("Unknown")),
    }
}
