//! Keyboard and pointer from GTK to the session: keysyms from GDK keyvals
//! (X keysyms and GDK keyvals are the same numbers), pressed keys tracked
//! so that focus loss and ungrab release them all (no stuck Ctrl or Alt),
//! the keyboard grab (`gdk::Toplevel::inhibit_system_shortcuts`) and its
//! ungrab combination, QEMU's XT scancodes when the server takes them,
//! absolute pointer with buttons 1–3 and back/forward, and wheel and
//! smooth scrolling as button 4–7 clicks.

use std::collections::BTreeMap;

use gtk::glib::translate::IntoGlib;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};

use super::VncDisplay;
use crate::driver::Handle;
use crate::keymap;

/// Keysyms of the modifiers that make up the ungrab combination.
const CONTROL_KEYS: [gdk::Key; 2] = [gdk::Key::Control_L, gdk::Key::Control_R];
const ALT_KEYS: [gdk::Key; 4] = [
    gdk::Key::Alt_L,
    gdk::Key::Alt_R,
    gdk::Key::Meta_L,
    gdk::Key::Meta_R,
];

/// What the input side remembers between events.
#[derive(Debug, Default)]
pub struct InputState {
    /// Pressed keys: hardware keycode → keysym sent, so the release sends
    /// the same keysym even if modifiers changed in between.
    pressed: BTreeMap<u32, u32>,
    /// The RFB button mask (bit 0 left, 1 middle, 2 right, 7 back,
    /// 8 forward).
    buttons: u16,
    /// The last position sent, in remote pixels.
    position: (u16, u16),
    /// Smooth scrolling not yet turned into clicks.
    scroll: (f64, f64),
}

/// Adds the event controllers to `display`.
pub fn attach(display: &VncDisplay) {
    let keys = gtk::EventControllerKey::new();
    let weak = display.downgrade();
    keys.connect_key_pressed(move |_, keyval, keycode, state| {
        let Some(display) = weak.upgrade() else {
            return glib::Propagation::Proceed;
        };
        key(&display, true, keyval, keycode, state)
    });
    let weak = display.downgrade();
    keys.connect_key_released(move |_, keyval, keycode, state| {
        if let Some(display) = weak.upgrade() {
            key(&display, false, keyval, keycode, state);
        }
    });
    display.add_controller(keys);

    let focus = gtk::EventControllerFocus::new();
    let weak = display.downgrade();
    focus.connect_leave(move |_| {
        if let Some(display) = weak.upgrade() {
            release_all(&display);
        }
    });
    display.add_controller(focus);

    // The legacy controller sees every press, release and motion as is:
    // click gestures would give up on a press that turns into a drag.
    let pointer = gtk::EventControllerLegacy::new();
    let weak = display.downgrade();
    pointer.connect_event(move |_, event| match weak.upgrade() {
        Some(display) => pointer_event(&display, event),
        None => glib::Propagation::Proceed,
    });
    display.add_controller(pointer);
}

fn key(
    display: &VncDisplay,
    down: bool,
    keyval: gdk::Key,
    keycode: u32,
    state: gdk::ModifierType,
) -> glib::Propagation {
    if display.view_only() {
        return glib::Propagation::Proceed;
    }
    let Some(handle) = display.handle() else {
        return glib::Propagation::Proceed;
    };
    if down && display.keyboard_grabbed() && is_ungrab_combination(keyval, state) {
        ungrab(display);
        return glib::Propagation::Stop;
    }
    let imp = display.imp();
    let keysym = if down {
        let keysym = keysym_of(keyval);
        imp.input.borrow_mut().pressed.insert(keycode, keysym);
        keysym
    } else {
        match imp.input.borrow_mut().pressed.remove(&keycode) {
            Some(keysym) => keysym,
            // Pressed before we had focus: the server never saw it.
            None => return glib::Propagation::Stop,
        }
    };
    send_key(display, &handle, down, keysym, keycode);
    // Every key goes to the remote machine, Tab and arrows included.
    glib::Propagation::Stop
}

/// Sends a key as an XT scancode from the hardware keycode when the
/// server takes them (the guest's own layout then applies), as a keysym
/// otherwise.
fn send_key(display: &VncDisplay, handle: &Handle, down: bool, keysym: u32, keycode: u32) {
    if display.imp().extended_keys.get() {
        // X and Wayland keycodes are evdev codes plus 8.
        let xt = keycode
            .checked_sub(8)
            .and_then(|evdev| u16::try_from(evdev).ok())
            .and_then(keymap::evdev_to_xt)
            .unwrap_or(0);
        handle.key_event_scancode(down, keysym, xt);
    } else if keysym != 0 {
        handle.key_event(down, keysym);
    }
}

/// The X keysym of a GDK keyval: the same number for every key GDK knows
/// (Unicode characters are `0x0100_0000 + code point` in both).
pub fn keysym_of(keyval: gdk::Key) -> u32 {
    keyval.into_glib()
}

/// Control and Alt held together (in either order) release the grab.
fn is_ungrab_combination(keyval: gdk::Key, state: gdk::ModifierType) -> bool {
    let control = state.contains(gdk::ModifierType::CONTROL_MASK) || CONTROL_KEYS.contains(&keyval);
    let alt = state.contains(gdk::ModifierType::ALT_MASK) || ALT_KEYS.contains(&keyval);
    let modifier = CONTROL_KEYS.contains(&keyval) || ALT_KEYS.contains(&keyval);
    control && alt && modifier
}

/// Releases every key the server thinks is down.
pub fn release_all(display: &VncDisplay) {
    let pressed = std::mem::take(&mut display.imp().input.borrow_mut().pressed);
    if let Some(handle) = display.handle() {
        for (keycode, keysym) in pressed.iter().rev() {
            send_key(display, &handle, false, *keysym, *keycode);
        }
    }
}

/// Takes the keyboard: the desktop's shortcuts (Alt+Tab, Super) go to the
/// remote machine until the ungrab combination.
fn grab(display: &VncDisplay, event: &gdk::Event) {
    if display.keyboard_grabbed() {
        return;
    }
    if let Some(toplevel) = toplevel_of(display) {
        toplevel.inhibit_system_shortcuts(Some(event));
    }
    display.imp().keyboard_grabbed.set(true);
    display.notify_keyboard_grabbed();
}

/// Gives the keyboard back to the desktop, releasing what was pressed.
pub fn ungrab(display: &VncDisplay) {
    release_all(display);
    if !display.keyboard_grabbed() {
        return;
    }
    if let Some(toplevel) = toplevel_of(display) {
        toplevel.restore_system_shortcuts();
    }
    display.imp().keyboard_grabbed.set(false);
    display.notify_keyboard_grabbed();
}

fn toplevel_of(display: &VncDisplay) -> Option<gdk::Toplevel> {
    display
        .native()?
        .surface()?
        .downcast::<gdk::Toplevel>()
        .ok()
}

fn pointer_event(display: &VncDisplay, event: &gdk::Event) -> glib::Propagation {
    let kind = event.event_type();
    if !matches!(
        kind,
        gdk::EventType::ButtonPress
            | gdk::EventType::ButtonRelease
            | gdk::EventType::MotionNotify
            | gdk::EventType::Scroll
    ) {
        return glib::Propagation::Proceed;
    }
    if kind == gdk::EventType::ButtonPress {
        display.grab_focus();
        if !display.view_only() && display.connected() {
            grab(display, event);
        }
    }
    if display.view_only() {
        return glib::Propagation::Proceed;
    }
    let Some(handle) = display.handle() else {
        return glib::Propagation::Proceed;
    };
    if let Some(position) = remote_position(display, event) {
        display.imp().input.borrow_mut().position = position;
    }
    let imp = display.imp();
    let mut input = imp.input.borrow_mut();
    let (x, y) = input.position;
    match kind {
        gdk::EventType::ButtonPress | gdk::EventType::ButtonRelease => {
            let Some(button) = event.downcast_ref::<gdk::ButtonEvent>() else {
                return glib::Propagation::Proceed;
            };
            let Some(bit) = button_bit(button.button()) else {
                return glib::Propagation::Proceed;
            };
            if kind == gdk::EventType::ButtonPress {
                input.buttons |= bit;
            } else {
                input.buttons &= !bit;
            }
            handle.pointer_event_buttons(x, y, input.buttons);
        }
        gdk::EventType::MotionNotify => handle.pointer_event_buttons(x, y, input.buttons),
        _ => {
            let Some(scroll) = event.downcast_ref::<gdk::ScrollEvent>() else {
                return glib::Propagation::Proceed;
            };
            let clicks = match scroll.direction() {
                gdk::ScrollDirection::Up => vec![3],
                gdk::ScrollDirection::Down => vec![4],
                gdk::ScrollDirection::Left => vec![5],
                gdk::ScrollDirection::Right => vec![6],
                _ => {
                    let (dx, dy) = scroll.deltas();
                    smooth_clicks(&mut input.scroll, dx, dy, scroll.is_stop())
                }
            };
            for bit in clicks {
                handle.pointer_event_buttons(x, y, input.buttons | 1 << bit);
                handle.pointer_event_buttons(x, y, input.buttons);
            }
        }
    }
    glib::Propagation::Stop
}

/// The RFB mask bit of a GDK button (1 left, 2 middle, 3 right, 8 back,
/// 9 forward; the session sends forward only to servers with extended
/// mouse buttons).
fn button_bit(button: u32) -> Option<u16> {
    match button {
        1 => Some(1),
        2 => Some(1 << 1),
        3 => Some(1 << 2),
        8 => Some(1 << 7),
        9 => Some(1 << 8),
        _ => None,
    }
}

/// Accumulates smooth scrolling and returns the wheel clicks (mask bit
/// numbers: 3 up, 4 down, 5 left, 6 right) it amounts to.
pub fn smooth_clicks(accumulated: &mut (f64, f64), dx: f64, dy: f64, stop: bool) -> Vec<u8> {
    if stop {
        *accumulated = (0.0, 0.0);
        return Vec::new();
    }
    accumulated.0 += dx;
    accumulated.1 += dy;
    let mut clicks = Vec::new();
    // Bounded so an absurd delta cannot flood the server.
    while accumulated.1 <= -1.0 && clicks.len() < 32 {
        accumulated.1 += 1.0;
        clicks.push(3);
    }
    while accumulated.1 >= 1.0 && clicks.len() < 32 {
        accumulated.1 -= 1.0;
        clicks.push(4);
    }
    while accumulated.0 <= -1.0 && clicks.len() < 32 {
        accumulated.0 += 1.0;
        clicks.push(5);
    }
    while accumulated.0 >= 1.0 && clicks.len() < 32 {
        accumulated.0 -= 1.0;
        clicks.push(6);
    }
    clicks
}

/// The remote pixel under the event's pointer position.
fn remote_position(display: &VncDisplay, event: &gdk::Event) -> Option<(u16, u16)> {
    let (sx, sy) = event.position()?;
    let native = display.native()?;
    let (nx, ny) = native.surface_transform();
    let point = gtk::graphene::Point::new((sx - nx) as f32, (sy - ny) as f32);
    let local = native.compute_point(display, &point)?;
    let scale = f64::from(display.scale_factor().max(1));
    let area = (
        f64::from(display.width()) * scale,
        f64::from(display.height()) * scale,
    );
    let imp = display.imp();
    imp.placement(area).to_remote(
        f64::from(local.x()) * scale,
        f64::from(local.y()) * scale,
        imp.remote_size(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_scrolling_adds_up_to_whole_clicks() {
        let mut acc = (0.0, 0.0);
        assert!(smooth_clicks(&mut acc, 0.0, 0.4, false).is_empty());
        assert_eq!(smooth_clicks(&mut acc, 0.0, 0.7, false), vec![4]);
        assert_eq!(smooth_clicks(&mut acc, -2.0, -0.1, false), vec![5, 5]);
        assert!(smooth_clicks(&mut acc, 0.0, 0.0, true).is_empty());
        assert_eq!(acc, (0.0, 0.0));
        assert_eq!(smooth_clicks(&mut acc, 0.0, -1e9, false).len(), 32);
    }

    #[test]
    fn keysyms_are_x_keysyms() {
        assert_eq!(keysym_of(gdk::Key::a), 0x61);
        assert_eq!(keysym_of(gdk::Key::Return), 0xff0d);
        assert_eq!(keysym_of(gdk::Key::Control_L), 0xffe3);
    }

    #[test]
    fn control_and_alt_together_ungrab() {
        let control = gdk::ModifierType::CONTROL_MASK;
        assert!(is_ungrab_combination(gdk::Key::Alt_L, control));
        assert!(is_ungrab_combination(
            gdk::Key::Control_R,
            gdk::ModifierType::ALT_MASK
        ));
        assert!(!is_ungrab_combination(
            gdk::Key::Delete,
            control | gdk::ModifierType::ALT_MASK
        ));
        assert!(!is_ungrab_combination(
            gdk::Key::Alt_L,
            gdk::ModifierType::empty()
        ));
    }
}
