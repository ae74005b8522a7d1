//! Lifecycle actions on one VM, shared by the list and the VM page: what
//! each action is called, which ones ask first, the confirmation dialog,
//! and the call to libvirt. It shows nothing else: callers turn errors
//! into toasts.

use gettextrs::gettext;
use relm4::adw::{self, prelude::*};
use relm4::gtk::{self, glib};

use crate::libvirt::{Action, DeleteOptions, Domain, DomainInfo, Error, Firmware};

/// What an action may need besides the domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// For [`Action::Delete`]: what goes with the VM (NVRAM only if it has one).
    pub delete: DeleteOptions,
    /// For [`Action::Autostart`]: the new value (`None` flips the current one).
    pub autostart: Option<bool>,
}

/// Runs `action` on `domain`. A delete that removed the VM but not all of
/// its volumes reports the volumes that stayed as an error.
pub async fn perform(domain: &Domain, action: Action, options: Options) -> Result<(), Error> {
    match action {
        Action::Start => domain.start().await,
        Action::Shutdown => domain.shutdown().await,
        Action::Reboot => domain.reboot().await,
        Action::ForceOff => domain.force_off().await,
        Action::Pause => domain.pause().await,
        Action::Resume => domain.resume().await,
        Action::Save => domain.save().await,
        Action::Autostart => {
            let value = match options.autostart {
                Some(value) => value,
                None => !domain.autostart().await?,
            };
            domain.set_autostart(value).await
        }
        Action::Delete => {
            let mut delete = options.delete;
            // Only a UEFI VM has a variable store; some drivers (the test
            // driver) refuse the NVRAM flag outright.
            if delete.nvram {
                delete.nvram = domain.overview().await?.firmware == Firmware::Uefi;
            }
            let failures = domain.delete(delete).await?;
            if failures.is_empty() {
                Ok(())
            } else {
                let list: Vec<String> = failures.iter().map(ToString::to_string).collect();
                Err(Error::Libvirt(
                    gettext("the virtual machine is deleted, but some of its storage is not: {}")
                        .replace("{}", &list.join("; ")),
                ))
            }
        }
    }
}

/// Whether `action` asks before it runs: it loses unsaved work or data.
pub fn needs_confirmation(action: Action) -> bool {
    matches!(action, Action::ForceOff | Action::Delete)
}

/// Whether `action` can be done now on `info`'s VM. Restore is Start on a
/// VM with saved memory; Start on such a VM is offered as Restore.
pub fn allowed(info: &DomainInfo, action: Action) -> bool {
    info.state.allows(action)
}

/// Asks whether to force off or delete the VM `name`. `reply` gets
/// whether the user confirmed, and for a delete whether its storage
/// volumes go too.
pub fn confirm(
    parent: &impl IsA<gtk::Window>,
    action: Action,
    name: &str,
    reply: impl FnOnce(bool, bool) + 'static,
) {
    let (heading, body, verb) = match action {
        Action::Delete => (
            gettext("Delete “{}”?").replace("{}", name),
            gettext("Its configuration, saved memory and snapshots are deleted. This cannot be undone."),
            gettext("_Delete"),
        ),
        _ => (
            gettext("Force Off “{}”?").replace("{}", name),
            gettext("The virtual machine is stopped at once, like pulling the plug: unsaved work in it is lost."),
            gettext("_Force Off"),
        ),
    };
    let dialog = adw::MessageDialog::new(Some(parent), Some(&heading), Some(&body));
    dialog.add_response("cancel", &gettext("_Cancel"));
    dialog.add_response("confirm", &verb);
    dialog.set_response_appearance("confirm", adw::ResponseAppearance::Destructive);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    let volumes = gtk::CheckButton::with_label(&gettext("Also delete its storage volumes"));
    if action == Action::Delete {
        dialog.set_extra_child(Some(&volumes));
    }
    let reply = std::cell::Cell::new(Some(reply));
    dialog.connect_response(None, move |_, response| {
        if let Some(reply) = reply.take() {
            reply(response == "confirm", volumes.is_active());
        }
    });
    dialog.present();
}

/// The row menu from the keyboard (the Menu key, Shift+F10) and by touch
/// (a long press) on `list_view`; the right click is the row's own. Both
/// act on the row under the focus or the finger, which they select first,
/// so the `vm.*` actions apply to it.
pub fn attach_menu(list_view: &gtk::ListView, menu: &gtk::gio::MenuModel) {
    let keys = gtk::EventControllerKey::new();
    {
        let list_view = list_view.clone();
        let menu = menu.clone();
        keys.connect_key_pressed(move |_, key, _, modifiers| {
            let menu_key = key == gtk::gdk::Key::Menu
                || (key == gtk::gdk::Key::F10
                    && modifiers.contains(gtk::gdk::ModifierType::SHIFT_MASK));
            if !menu_key {
                return glib::Propagation::Proceed;
            }
            let focus = list_view.root().and_then(|root| root.focus());
            match focus.as_ref().and_then(|focus| row_of(&list_view, focus)) {
                Some(row) => {
                    select(&row);
                    popup(&row, &menu, None);
                    glib::Propagation::Stop
                }
                None => glib::Propagation::Proceed,
            }
        });
    }
    list_view.add_controller(keys);

    let long_press = gtk::GestureLongPress::new();
    {
        let list_view = list_view.clone();
        let menu = menu.clone();
        long_press.connect_pressed(move |gesture, x, y| {
            let Some(row) = list_view
                .pick(x, y, gtk::PickFlags::DEFAULT)
                .and_then(|picked| row_of(&list_view, &picked))
            else {
                return;
            };
            select(&row);
            let point = list_view
                .compute_point(&row, &gtk::graphene::Point::new(x as f32, y as f32))
                .map(|p| (p.x() as i32, p.y() as i32));
            popup(&row, &menu, point);
            gesture.set_state(gtk::EventSequenceState::Claimed);
        });
    }
    list_view.add_controller(long_press);
}

/// The list's row widget that holds `widget`.
fn row_of(list_view: &gtk::ListView, widget: &gtk::Widget) -> Option<gtk::Widget> {
    let mut widget = widget.clone();
    loop {
        let parent = widget.parent()?;
        if parent == *list_view.upcast_ref::<gtk::Widget>() {
            return Some(widget);
        }
        widget = parent;
    }
}

/// Selects the row `row` (the row widget's own action, as a click does).
fn select(row: &gtk::Widget) {
    let _ = row.activate_action("listitem.select", Some(&(false, false).to_variant()));
}

/// Opens a row's menu, at `point` in `row` if given.
pub(super) fn popup(row: &gtk::Widget, menu: &gtk::gio::MenuModel, point: Option<(i32, i32)>) {
    let popover = gtk::PopoverMenu::from_model(Some(menu));
    popover.set_parent(row);
    popover.set_has_arrow(false);
    if let Some((x, y)) = point {
        popover.set_pointing_to(Some(&gtk::gdk::Rectangle::new(x, y, 1, 1)));
    }
    // One popover per opening: rows are recycled for other VMs. (Unparenting
    // inside `closed` would drop it while GTK still uses it.)
    popover.connect_closed(|popover| {
        let popover = popover.clone();
        glib::idle_add_local_once(move || popover.unparent());
    });
    popover.popup();
}
