//! The viewer's own keys, seen before the display takes them (capture
//! phase): zoom (Ctrl+plus/minus/0, keypad too) and F11 unless the
//! command line's `--hotkeys` rebinds them, those hotkeys, and the
//! `--keymap` remapping of local keys to remote combinations.

use relm4::gtk::prelude::*;
use relm4::gtk::{gdk, glib};
use relm4::{gtk, ComponentSender};

use super::options::{Combo, HotkeyAction};
use super::{run_hotkey, Viewer};

/// The bindings that apply when the command line gives none for an action.
fn defaults() -> Vec<(HotkeyAction, Combo)> {
    let control = gdk::ModifierType::CONTROL_MASK;
    let combo = |modifiers, key| Combo {
        modifiers,
        key: Some(key),
    };
    vec![
        (
            HotkeyAction::ToggleFullscreen,
            combo(gdk::ModifierType::empty(), gdk::Key::F11),
        ),
        (HotkeyAction::ZoomIn, combo(control, gdk::Key::plus)),
        (HotkeyAction::ZoomIn, combo(control, gdk::Key::equal)),
        (HotkeyAction::ZoomIn, combo(control, gdk::Key::KP_Add)),
        (
            HotkeyAction::ZoomIn,
            combo(control | gdk::ModifierType::SHIFT_MASK, gdk::Key::plus),
        ),
        (HotkeyAction::ZoomOut, combo(control, gdk::Key::minus)),
        (HotkeyAction::ZoomOut, combo(control, gdk::Key::KP_Subtract)),
        (HotkeyAction::ZoomReset, combo(control, gdk::Key::_0)),
        (HotkeyAction::ZoomReset, combo(control, gdk::Key::KP_0)),
    ]
}

pub fn attach(viewer: &Viewer, sender: &ComponentSender<Viewer>) {
    let options = &viewer.target.options;
    let mut hotkeys = options.hotkeys.clone();
    if !options.kiosk {
        // The kiosk knows only what the command line configured.
        hotkeys.extend(
            defaults()
                .into_iter()
                .filter(|(action, _)| !options.hotkeys.iter().any(|(a, _)| a == action)),
        );
    }
    let keymap = options.keymap.clone();
    let controller = gtk::EventControllerKey::new();
    controller.set_propagation_phase(gtk::PropagationPhase::Capture);
    let window = viewer.window.clone();
    let display = viewer.display.clone();
    let sender = sender.clone();
    controller.connect_key_pressed(move |_, keyval, _, state| {
        if let Some((action, _)) = hotkeys.iter().find(|(_, c)| c.matches(keyval, state)) {
            run_hotkey(*action, &window, &sender);
            return glib::Propagation::Stop;
        }
        if display.has_focus() && display.connected() && !display.view_only() {
            if let Some(remap) = keymap
                .iter()
                .find(|r| r.from.to_lower() == keyval.to_lower())
            {
                display.send_keys(&remap.to);
                return glib::Propagation::Stop;
            }
        }
        glib::Propagation::Proceed
    });
    viewer.window.add_controller(controller);
}
