//! Lifecycle actions on one VM, shared by the list and the VM page: what
//! each action is called, which ones ask first, the confirmation dialog,
//! and the call to libvirt. It shows nothing else: callers turn errors
//! into toasts.

use gettextrs::gettext;
use relm4::adw::{self, prelude::*};
use relm4::gtk;

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
