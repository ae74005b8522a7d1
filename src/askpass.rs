//! Porthole as ssh's askpass program. Remote connections run `ssh` with
//! `SSH_ASKPASS` pointing at this binary and [`ENV`] set, so every question
//! ssh has — a password, a key's passphrase, an unknown host key — appears
//! as a small dialog instead of on a terminal the app does not have.
//!
//! The protocol is ssh's: the prompt arrives as the first argument, the
//! answer goes to stdout, and the exit status is 0 when answered and 1 when
//! cancelled. `SSH_ASKPASS_PROMPT=confirm` asks for yes/no by exit status
//! alone. This runs before (and instead of) the GApplication: an askpass
//! must not hand itself over to a running Porthole instance.

use std::io::Write as _;

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, gtk::glib};

use crate::libvirt::ASKPASS_ENV;

/// The window title, the same for every question (tests find it by this).
pub fn title() -> String {
    gettext("SSH Login")
}

/// Whether this process was started by ssh as its askpass program.
pub fn requested() -> bool {
    std::env::var_os(ASKPASS_ENV).is_some_and(|v| v == "1")
}

/// What ssh asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Question {
    /// A secret to type (password, passphrase, PIN).
    Secret,
    /// "Are you sure you want to continue connecting (yes/no/[fingerprint])?":
    /// answered with the word.
    HostKey,
    /// ssh-agent's confirmation: answered by the exit status.
    Confirm,
    /// Only information (e.g. "touch your security key"); nothing to answer.
    Notice,
}

fn classify(prompt: &str, mode: Option<&str>) -> Question {
    match mode {
        Some("confirm") => Question::Confirm,
        Some("none") => Question::Notice,
        _ if prompt.contains("(yes/no") => Question::HostKey,
        _ => Question::Secret,
    }
}

/// Shows the dialog for `args[1]`, prints the answer and returns the exit status.
pub fn run(args: &[String]) -> glib::ExitCode {
    let prompt = args.get(1).cloned().unwrap_or_default();
    let mode = std::env::var("SSH_ASKPASS_PROMPT").ok();
    let question = classify(&prompt, mode.as_deref());
    if gtk::init().is_err() {
        eprintln!("porthole: cannot open a display to ask: {prompt}");
        return glib::ExitCode::FAILURE;
    }
    let _ = adw::init();
    glib::set_application_name(&gettext("Porthole"));
    match ask(&prompt, question) {
        Some(answer) => {
            if let Some(answer) = answer {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{answer}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return glib::ExitCode::FAILURE;
                }
            }
            glib::ExitCode::SUCCESS
        }
        None => glib::ExitCode::FAILURE,
    }
}

const RESPONSE_OK: &str = "ok";
const RESPONSE_CANCEL: &str = "cancel";

/// Runs the dialog to its end: `None` when cancelled, `Some(None)` when
/// accepted with nothing to print, `Some(Some(text))` with the answer.
fn ask(prompt: &str, question: Question) -> Option<Option<String>> {
    let (heading, body, accept) = match question {
        Question::Secret => (
            gettext("Password Needed"),
            prompt.trim().to_owned(),
            gettext("_Log In"),
        ),
        Question::HostKey => (
            gettext("Unknown Host"),
            gettext(
                "The host’s identity is not known yet. Check that this fingerprint is the host’s before you trust it.\n\n{}",
            )
            .replace("{}", prompt.trim()),
            gettext("_Trust and Connect"),
        ),
        Question::Confirm => (
            gettext("Confirm"),
            prompt.trim().to_owned(),
            gettext("_Allow"),
        ),
        Question::Notice => (gettext("SSH"), prompt.trim().to_owned(), gettext("_OK")),
    };
    let dialog = adw::MessageDialog::builder()
        .heading(heading)
        .body(body)
        .build();
    // After the heading, which the dialog also makes its window title.
    dialog.set_title(Some(&title()));
    dialog.add_responses(&[
        (RESPONSE_CANCEL, &gettext("_Cancel")),
        (RESPONSE_OK, &accept),
    ]);
    let appearance = if question == Question::HostKey {
        adw::ResponseAppearance::Destructive
    } else {
        adw::ResponseAppearance::Suggested
    };
    dialog.set_response_appearance(RESPONSE_OK, appearance);
    dialog.set_close_response(RESPONSE_CANCEL);
    let entry = (question == Question::Secret).then(|| {
        let entry = gtk::PasswordEntry::builder()
            .show_peek_icon(true)
            .activates_default(true)
            .build();
        dialog.set_extra_child(Some(&entry));
        dialog.set_default_response(Some(RESPONSE_OK));
        entry
    });
    if question == Question::HostKey {
        // Trusting a host should be a decision, not a reflexive Enter.
        dialog.set_default_response(Some(RESPONSE_CANCEL));
    }

    let main_loop = glib::MainLoop::new(None, false);
    let answer = std::rc::Rc::new(std::cell::RefCell::new(None));
    {
        let main_loop = main_loop.clone();
        let answer = answer.clone();
        let entry = entry.clone();
        dialog.connect_response(None, move |_, response| {
            let result = (response == RESPONSE_OK).then(|| match question {
                Question::Secret => entry.as_ref().map(|e| e.text().to_string()),
                Question::HostKey => Some("yes".to_owned()),
                Question::Confirm | Question::Notice => None,
            });
            *answer.borrow_mut() = Some(result);
            main_loop.quit();
        });
    }
    dialog.present();
    if let Some(entry) = &entry {
        entry.grab_focus();
    }
    main_loop.run();
    dialog.destroy();
    answer.take().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_prompts_are_told_apart() {
        assert_eq!(classify("user@host's password: ", None), Question::Secret);
        assert_eq!(
            classify("Enter passphrase for key '/home/u/.ssh/id_ed25519': ", None),
            Question::Secret
        );
        assert_eq!(
            classify(
                "The authenticity of host '[127.0.0.1]:2222' can't be established.\nED25519 key fingerprint is SHA256:x.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ",
                None
            ),
            Question::HostKey
        );
        assert_eq!(
            classify("Allow use of key?", Some("confirm")),
            Question::Confirm
        );
        assert_eq!(
            classify("Confirm user presence", Some("none")),
            Question::Notice
        );
    }
}
