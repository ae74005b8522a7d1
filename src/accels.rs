//! The application's keyboard shortcuts while a console has the keyboard:
//! GTK runs them before any widget sees the key, so Ctrl+W meant for the
//! remote machine would close our window. They are switched off while a
//! [`VncDisplay`] holds the keyboard grab and come back when it lets go.

use std::cell::RefCell;
use std::rc::Rc;

use porthole_vnc::gtk::VncDisplay;
use relm4::gtk::glib;
use relm4::gtk::prelude::*;

/// The shortcuts taken away; dropping it puts them back.
#[derive(Debug)]
struct Suspended(Vec<(glib::GString, Vec<glib::GString>)>);

impl Suspended {
    fn take() -> Self {
        let app = relm4::main_application();
        let mut taken = Vec::new();
        for action in app.list_action_descriptions() {
            let accels = app.accels_for_action(&action);
            if !accels.is_empty() {
                app.set_accels_for_action(&action, &[]);
                taken.push((action, accels.to_vec()));
            }
        }
        Self(taken)
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        let app = relm4::main_application();
        for (action, accels) in &self.0 {
            let accels: Vec<&str> = accels.iter().map(glib::GString::as_str).collect();
            app.set_accels_for_action(action, &accels);
        }
    }
}

/// Switches the app's shortcuts off whenever `display` grabs the keyboard,
/// and on again when it releases it or goes away.
pub fn suspend_while_grabbed(display: &VncDisplay) {
    let held: Rc<RefCell<Option<Suspended>>> = Rc::default();
    let on_grab = held.clone();
    display.connect_notify_local(Some("keyboard-grabbed"), move |display, _| {
        let mut held = on_grab.borrow_mut();
        if !display.keyboard_grabbed() {
            *held = None;
        } else if held.is_none() {
            *held = Some(Suspended::take());
        }
    });
    display.connect_destroy(move |_| {
        held.borrow_mut().take();
    });
}
