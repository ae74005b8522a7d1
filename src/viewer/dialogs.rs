//! The viewer's two questions: credentials the server asks for (with
//! "Remember"), and whether to trust a certificate that did not verify
//! (its SHA-256 fingerprint shown, "Trust This Time" / "Always Trust").
//! Each answers with a message to the viewer.

use gettextrs::gettext;
use porthole_vnc::security::Fingerprint;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, ComponentSender};

use super::{Viewer, ViewerMsg};

/// Asks for what the server wants: a user name and/or a password;
/// `saved_refused` when the saved ones were just refused.
pub fn credentials(
    window: &adw::ApplicationWindow,
    address: &str,
    (username, password): (bool, bool),
    known_user: Option<&str>,
    saved_refused: bool,
    sender: &ComponentSender<Viewer>,
) {
    let body = if saved_refused {
        gettext(
            "The VNC server at {} did not accept the saved password. Enter the one it uses now.",
        )
    } else {
        gettext("The VNC server at {} asks for credentials.")
    };
    let dialog = adw::MessageDialog::builder()
        .transient_for(window)
        .modal(true)
        .title(gettext("Authentication Required"))
        .heading(gettext("Authentication Required"))
        .body(body.replace("{}", address))
        .build();
    dialog.add_responses(&[
        ("cancel", &gettext("_Cancel")),
        ("log-in", &gettext("_Log In")),
    ]);
    dialog.set_response_appearance("log-in", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("log-in"));
    dialog.set_close_response("cancel");

    let content = gtk::Box::new(gtk::Orientation::Vertical, 12);
    let user_entry = gtk::Entry::builder()
        .placeholder_text(gettext("User Name"))
        .activates_default(true)
        .visible(username)
        .text(known_user.unwrap_or_default())
        .build();
    let password_entry = gtk::PasswordEntry::builder()
        .placeholder_text(gettext("Password"))
        .show_peek_icon(true)
        .activates_default(true)
        .visible(password)
        .build();
    let remember = gtk::CheckButton::builder()
        .label(gettext("_Remember in the keyring"))
        .use_underline(true)
        .build();
    content.append(&user_entry);
    content.append(&password_entry);
    content.append(&remember);
    dialog.set_extra_child(Some(&content));

    let s = sender.clone();
    let (user, pass) = (user_entry.clone(), password_entry.clone());
    dialog.connect_response(None, move |_, response| {
        if response == "log-in" {
            let username = username.then(|| user.text().to_string());
            let password = password.then(|| pass.text().to_string());
            s.input(ViewerMsg::Credentials {
                username,
                password,
                remember: remember.is_active(),
            });
        } else {
            s.input(ViewerMsg::AuthCancelled);
        }
    });
    dialog.present();
    if username {
        user_entry.grab_focus();
    } else {
        password_entry.grab_focus();
    }
}

/// Asks whether to trust a certificate: `reason` why it did not verify,
/// or `None` when it replaced the one trusted before.
pub fn certificate(
    window: &adw::ApplicationWindow,
    fingerprint: Fingerprint,
    reason: Option<&str>,
    sender: &ComponentSender<Viewer>,
) {
    let (heading, body) = match reason {
        Some(reason) => (
            gettext("Untrusted Certificate"),
            gettext("The server’s certificate could not be verified: {}. Trust it only if its administrator confirms the fingerprint below.").replace("{}", reason),
        ),
        None => (
            gettext("Certificate Changed"),
            gettext("The server’s certificate is not the one you trusted before. Someone may be intercepting the connection; trust the new certificate only if its administrator confirms the fingerprint below."),
        ),
    };
    let dialog = adw::MessageDialog::builder()
        .transient_for(window)
        .modal(true)
        .title(&heading)
        .heading(&heading)
        .body(body)
        .build();
    dialog.add_responses(&[
        ("cancel", &gettext("_Cancel")),
        ("once", &gettext("Trust This _Time")),
        ("always", &gettext("_Always Trust")),
    ]);
    dialog.set_response_appearance("always", adw::ResponseAppearance::Destructive);
    dialog.set_close_response("cancel");
    let label = gtk::Label::builder()
        .label(format!(
            "{}\n{}",
            gettext("SHA-256 fingerprint:"),
            fingerprint_lines(&fingerprint)
        ))
        .selectable(true)
        .css_classes(["monospace"])
        .build();
    dialog.set_extra_child(Some(&label));
    let s = sender.clone();
    dialog.connect_response(None, move |_, response| match response {
        "once" => s.input(ViewerMsg::Trust {
            fingerprint,
            always: false,
        }),
        "always" => s.input(ViewerMsg::Trust {
            fingerprint,
            always: true,
        }),
        _ => {}
    });
    dialog.present();
}

/// The fingerprint as two lines of 16 bytes, so that it never breaks
/// inside a byte and both halves can be compared at a glance.
fn fingerprint_lines(fingerprint: &Fingerprint) -> String {
    let text = fingerprint.to_string();
    let bytes: Vec<&str> = text.split(':').collect();
    bytes
        .chunks(16)
        .map(|line| line.join(":"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_shows_as_two_lines_of_sixteen_bytes() {
        let bytes: Vec<u8> = (0..32).collect();
        let fingerprint = Fingerprint(bytes.try_into().unwrap());
        let text = fingerprint_lines(&fingerprint);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("00:01:") && lines[0].ends_with(":0F"));
        assert!(lines[1].starts_with("10:11:") && lines[1].ends_with(":1F"));
        assert_eq!(lines.join(":"), fingerprint.to_string());
    }
}
