//! Keyboard and pointer from GTK to the session: keysyms from GDK keyvals
//! (X keysyms and GDK keyvals are the same numbers), pressed keys tracked
//! so that focus loss and ungrab release them all (no stuck Ctrl or Alt),
//! the keyboard grab (`gdk::Toplevel::inhibit_system_shortcuts` while the
//! widget has the focus) and its configurable ungrab combination, QEMU's
//! XT scancodes when the server takes them, the lock keys kept in step
//! with QEMU's LEDs, absolute or (QEMU's request) relative pointer motion
//! with buttons 1–3 and back/forward, and wheel and smooth scrolling as
//! button 4–7 clicks. In relative mode the pointer is locked inside the
//! widget while it has the grab, where that is possible ([`lock`]).

use std::collections::BTreeMap;

use gtk::glib::translate::IntoGlib;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};

use super::cursor::{self, CursorState};
use super::VncDisplay;
use crate::driver::Handle;
use crate::keymap;

mod lock;

/// In QEMU's relative mode a pointer message carries the motion as an
/// offset from this point.
const RELATIVE_CENTER: i32 = 0x7fff;

/// Modifier bits of an ungrab combination.
const CONTROL: u8 = 1;
const ALT: u8 = 1 << 1;
const SHIFT: u8 = 1 << 2;
const SUPER: u8 = 1 << 3;

/// The keys that release the keyboard grab: modifiers, and optionally one
/// more key pressed while they are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UngrabKeys {
    modifiers: u8,
    key: Option<gdk::Key>,
}

impl Default for UngrabKeys {
    /// Ctrl+Alt, as virt-viewer and GNOME Boxes use.
    fn default() -> Self {
        Self {
            modifiers: CONTROL | ALT,
            key: None,
        }
    }
}

impl UngrabKeys {
    /// Parses `"Ctrl+Alt"`, `"Ctrl+Alt+G"`, `"Shift+F12"` (case does not
    /// matter; Control, Super and Win are understood too) or GTK's
    /// accelerator form `"<Control><Alt>g"`. At least one modifier is
    /// needed, or every press of the key would ungrab.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.starts_with('<') {
            let (key, mods) = gtk::accelerator_parse(text)?;
            let modifiers = modifiers_of_state(mods);
            let plain = key.into_glib() != 0 && key != gdk::Key::VoidSymbol;
            let key = (plain && modifier_of_key(key) == 0).then_some(key.to_lower());
            return (modifiers != 0).then_some(Self { modifiers, key });
        }
        let mut modifiers = 0;
        let mut key = None;
        for token in text.split('+').map(str::trim) {
            if key.is_some() {
                // Only the last part may be a plain key.
                return None;
            }
            match token.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "primary" => modifiers |= CONTROL,
                "alt" | "meta" => modifiers |= ALT,
                "shift" => modifiers |= SHIFT,
                "super" | "win" | "logo" => modifiers |= SUPER,
                "" => return None,
                lower => {
                    let found = gdk::Key::from_name(token)
                        .or_else(|| gdk::Key::from_name(lower))
                        .filter(|k| *k != gdk::Key::VoidSymbol)?;
                    key = Some(found.to_lower());
                }
            }
        }
        (modifiers != 0).then_some(Self { modifiers, key })
    }

    /// Whether pressing `keyval` with `state` held completes the
    /// combination.
    fn matches(&self, keyval: gdk::Key, state: gdk::ModifierType) -> bool {
        let own = modifier_of_key(keyval);
        let held = modifiers_of_state(state) | own;
        match self.key {
            Some(key) => own == 0 && keyval.to_lower() == key && held == self.modifiers,
            None => own != 0 && held == self.modifiers,
        }
    }
}

/// The ungrab modifier a key is, 0 for other keys.
fn modifier_of_key(keyval: gdk::Key) -> u8 {
    match keyval {
        gdk::Key::Control_L | gdk::Key::Control_R => CONTROL,
        gdk::Key::Alt_L | gdk::Key::Alt_R | gdk::Key::Meta_L | gdk::Key::Meta_R => ALT,
        gdk::Key::Shift_L | gdk::Key::Shift_R => SHIFT,
        gdk::Key::Super_L | gdk::Key::Super_R => SUPER,
        _ => 0,
    }
}

fn modifiers_of_state(state: gdk::ModifierType) -> u8 {
    let mut bits = 0;
    for (mask, bit) in [
        (gdk::ModifierType::CONTROL_MASK, CONTROL),
        (gdk::ModifierType::ALT_MASK, ALT),
        (gdk::ModifierType::META_MASK, ALT),
        (gdk::ModifierType::SHIFT_MASK, SHIFT),
        (gdk::ModifierType::SUPER_MASK, SUPER),
    ] {
        if state.contains(mask) {
            bits |= bit;
        }
    }
    bits
}

/// The lock keys' LEDs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leds {
    pub caps: bool,
    pub num: bool,
    pub scroll: bool,
}

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
    pub(super) ungrab: UngrabKeys,
    /// The remote machine's LEDs, once QEMU reported them.
    remote_leds: Option<Leds>,
    /// Lock keys were sent to correct the remote LEDs and QEMU has not
    /// reported the result yet: do not send them again meanwhile.
    leds_correcting: bool,
    /// In relative mode: the last pointer position in the surface's
    /// coordinates, and the motion not yet sent (less than a remote pixel).
    last_position: Option<(f64, f64)>,
    motion_left: (f64, f64),
    /// The server takes relative motion (QEMU asked for it).
    relative: bool,
    lock: lock::PointerLock,
    /// The button whose press took the lock: its release is not sent
    /// either.
    swallow_release: Option<u32>,
    pub(super) cursor: CursorState,
}

impl InputState {
    /// Forgets what belonged to the last connection.
    pub fn reset_session(&mut self) {
        self.buttons = 0;
        self.scroll = (0.0, 0.0);
        self.remote_leds = None;
        self.leds_correcting = false;
        self.last_position = None;
        self.motion_left = (0.0, 0.0);
        self.relative = false;
        self.lock.release();
        self.swallow_release = None;
        self.cursor.reset();
    }
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
    focus.connect_enter(move |_| {
        if let Some(display) = weak.upgrade() {
            focus_entered(&display);
        }
    });
    let weak = display.downgrade();
    focus.connect_leave(move |_| {
        if let Some(display) = weak.upgrade() {
            // The grab lasts while the widget has the focus; leaving
            // also releases every key.
            ungrab(&display);
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

    let weak = display.downgrade();
    display
        .imp()
        .input
        .borrow_mut()
        .lock
        .set_handler(std::rc::Rc::new(move |event| {
            if let Some(display) = weak.upgrade() {
                lock_event(&display, event);
            }
        }));
}

fn focus_entered(display: &VncDisplay) {
    if display.view_only() || !display.connected() {
        return;
    }
    grab(display, None);
    display.imp().input.borrow_mut().leds_correcting = false;
    if let Some(handle) = display.handle() {
        sync_leds(display, &handle);
    }
}

/// The session is up: take the keyboard if the widget already has the
/// focus.
pub fn session_started(display: &VncDisplay) {
    if display.has_focus() {
        focus_entered(display);
    }
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
    let imp = display.imp();
    if down && display.keyboard_grabbed() && imp.input.borrow().ungrab.matches(keyval, state) {
        ungrab(display);
        return glib::Propagation::Stop;
    }
    if down && lock_key(keyval).is_none() {
        sync_leds(display, &handle);
    }
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
        handle.key_event_scancode(down, keysym, xt_scancode(keycode));
    } else if keysym != 0 {
        handle.key_event(down, keysym);
    }
}

/// The XT scancode (RFB form) of a GDK hardware keycode, 0 if none: X and
/// Wayland keycodes are evdev codes plus 8.
pub fn xt_scancode(keycode: u32) -> u32 {
    keycode
        .checked_sub(8)
        .and_then(|evdev| u16::try_from(evdev).ok())
        .and_then(keymap::evdev_to_xt)
        .unwrap_or(0)
}

/// The X keysym of a GDK keyval: the same number for every key GDK knows
/// (Unicode characters are `0x0100_0000 + code point` in both).
pub fn keysym_of(keyval: gdk::Key) -> u32 {
    keyval.into_glib()
}

/// The lock keys: keysym and hardware keycode (evdev + 8).
const CAPS_LOCK: (u32, u32) = (0xffe5, 58 + 8);
const NUM_LOCK: (u32, u32) = (0xff7f, 69 + 8);
const SCROLL_LOCK: (u32, u32) = (0xff14, 70 + 8);

fn lock_key(keyval: gdk::Key) -> Option<(u32, u32)> {
    match keyval {
        gdk::Key::Caps_Lock => Some(CAPS_LOCK),
        gdk::Key::Num_Lock => Some(NUM_LOCK),
        gdk::Key::Scroll_Lock => Some(SCROLL_LOCK),
        _ => None,
    }
}

/// QEMU reported the remote machine's LEDs.
pub fn leds_changed(display: &VncDisplay, leds: Leds) {
    let mut input = display.imp().input.borrow_mut();
    input.remote_leds = Some(leds);
    input.leds_correcting = false;
}

/// The local keyboard's lock states, where GDK knows them.
fn local_leds(display: &VncDisplay) -> Option<Leds> {
    let keyboard = WidgetExt::display(display).default_seat()?.keyboard()?;
    Some(Leds {
        caps: keyboard.is_caps_locked(),
        num: keyboard.is_num_locked(),
        scroll: keyboard.is_scroll_locked(),
    })
}

/// Presses and releases the lock keys whose remote LED differs from the
/// local one, so typing gives the same case and keypad on both sides.
fn sync_leds(display: &VncDisplay, handle: &Handle) {
    let remote = {
        let input = display.imp().input.borrow();
        match input.remote_leds {
            Some(remote) if !input.leds_correcting => remote,
            _ => return,
        }
    };
    let Some(local) = local_leds(display) else {
        return;
    };
    let mut sent = false;
    for (differs, (keysym, keycode)) in [
        (local.caps != remote.caps, CAPS_LOCK),
        (local.num != remote.num, NUM_LOCK),
        (local.scroll != remote.scroll, SCROLL_LOCK),
    ] {
        if differs {
            send_key(display, handle, true, keysym, keycode);
            send_key(display, handle, false, keysym, keycode);
            sent = true;
        }
    }
    display.imp().input.borrow_mut().leds_correcting = sent;
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
/// remote machine until the ungrab combination or focus loss.
fn grab(display: &VncDisplay, event: Option<&gdk::Event>) {
    if display.keyboard_grabbed() {
        return;
    }
    if let Some(toplevel) = toplevel_of(display) {
        toplevel.inhibit_system_shortcuts(event);
    }
    display.imp().keyboard_grabbed.set(true);
    display.notify_keyboard_grabbed();
}

/// Gives the keyboard back to the desktop, releasing what was pressed,
/// and the pointer if it was locked.
pub fn ungrab(display: &VncDisplay) {
    release_all(display);
    release_pointer(display);
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

/// QEMU switched between relative (`true`) and absolute pointer motion.
/// The lock, if any, ends with relative mode; it starts with the next
/// pointer event while the widget has the grab.
pub fn pointer_mode(display: &VncDisplay, relative: bool) {
    {
        let mut input = display.imp().input.borrow_mut();
        input.relative = relative;
        input.last_position = None;
        input.motion_left = (0.0, 0.0);
    }
    if !relative {
        release_pointer(display);
    }
    update_pointer_visibility(display);
}

/// Hides the local pointer while relative motion is sent: always where
/// the pointer cannot be locked, only while locked where it can (a free
/// pointer shows, and its motion is not sent).
fn update_pointer_visibility(display: &VncDisplay) {
    let surface = display.native().and_then(|n| n.surface());
    {
        let mut input = display.imp().input.borrow_mut();
        let lockable = input.lock.available(surface.as_ref());
        input.cursor.relative = input.relative && (input.lock.is_active() || !lockable);
    }
    cursor::refresh(display);
}

/// Ends the pointer lock, if held: the pointer goes back where it was
/// when the lock began, and shows.
fn release_pointer(display: &VncDisplay) {
    let released = {
        let mut input = display.imp().input.borrow_mut();
        input.last_position = None;
        input.lock.release()
    };
    if released {
        update_pointer_visibility(display);
    }
}

/// In relative mode: whether `event` goes to the server. Where the pointer
/// can be locked, only a locked pointer's events go; the first event over
/// the widget while it has the grab takes the lock (a press that does so
/// is not sent, nor its release, as virt-viewer and QEMU's own window do).
fn relative_event_goes_out(display: &VncDisplay, event: &gdk::Event) -> bool {
    let kind = event.event_type();
    let button = event.downcast_ref::<gdk::ButtonEvent>().map(|b| b.button());
    let imp = display.imp();
    if kind == gdk::EventType::ButtonRelease {
        let mut input = imp.input.borrow_mut();
        if button.is_some() && input.swallow_release == button {
            input.swallow_release = None;
            return false;
        }
    }
    let Some(surface) = display.native().and_then(|n| n.surface()) else {
        return true;
    };
    {
        let mut input = imp.input.borrow_mut();
        if input.lock.is_active() || !input.lock.available(Some(&surface)) {
            return true;
        }
    }
    if !display.keyboard_grabbed() || kind == gdk::EventType::ButtonRelease {
        return false;
    }
    let (Some(at), Some(centre)) = (event.position(), centre_in_surface(display)) else {
        return false;
    };
    let engaged = {
        let mut input = imp.input.borrow_mut();
        input.last_position = Some(at);
        input.lock.engage(&surface, at, centre, event.time())
    };
    update_pointer_visibility(display);
    if !engaged {
        // No X connection after all: relative motion as without a lock.
        return true;
    }
    if kind == gdk::EventType::ButtonPress {
        imp.input.borrow_mut().swallow_release = button;
        return false;
    }
    true
}

/// The middle of the widget in its surface's coordinates.
fn centre_in_surface(display: &VncDisplay) -> Option<(f64, f64)> {
    let native = display.native()?;
    let (nx, ny) = native.surface_transform();
    let middle =
        gtk::graphene::Point::new(display.width() as f32 / 2.0, display.height() as f32 / 2.0);
    let point = display.compute_point(&native, &middle)?;
    Some((f64::from(point.x()) + nx, f64::from(point.y()) + ny))
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
            grab(display, Some(event));
        }
    }
    if display.view_only() {
        release_pointer(display);
        return glib::Propagation::Proceed;
    }
    let Some(handle) = display.handle() else {
        return glib::Propagation::Proceed;
    };
    let relative = display.imp().input.borrow().relative;
    if relative && !relative_event_goes_out(display, event) {
        return glib::Propagation::Stop;
    }
    // A lock that reports the motion itself (Wayland) sends it in
    // `lock_event`: the events' positions say nothing meanwhile.
    let lock_moves = relative && display.imp().input.borrow().lock.owns_motion();
    // Where the first message of this event goes, and where any more go.
    let ((x, y), rest) = if relative {
        let center = RELATIVE_CENTER as u16;
        let motion = if lock_moves {
            None
        } else {
            relative_motion(display, event)
        };
        match motion {
            Some((dx, dy)) => (
                ((RELATIVE_CENTER + dx) as u16, (RELATIVE_CENTER + dy) as u16),
                (center, center),
            ),
            None if kind == gdk::EventType::MotionNotify => return glib::Propagation::Stop,
            None => ((center, center), (center, center)),
        }
    } else {
        if let Some(position) = remote_position(display, event) {
            display.imp().input.borrow_mut().position = position;
        }
        let position = display.imp().input.borrow().position;
        (position, position)
    };
    let imp = display.imp();
    let mut input = imp.input.borrow_mut();
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
            let mut at = (x, y);
            for bit in clicks {
                handle.pointer_event_buttons(at.0, at.1, input.buttons | 1 << bit);
                handle.pointer_event_buttons(rest.0, rest.1, input.buttons);
                at = rest;
            }
        }
    }
    glib::Propagation::Stop
}

/// What a lock that reports motion itself says: motion goes to the
/// server as relative motion while the lock lasts; a lock the compositor
/// ended is released (the next event over the widget while it has the
/// grab takes a new one).
fn lock_event(display: &VncDisplay, event: lock::LockEvent) {
    match event {
        lock::LockEvent::Motion(dx, dy) => {
            let Some(handle) = display.handle() else {
                return;
            };
            {
                let input = display.imp().input.borrow();
                if !input.relative || !input.lock.owns_motion() || display.view_only() {
                    return;
                }
            }
            let (scale, factor) = remote_per_surface(display);
            let mut input = display.imp().input.borrow_mut();
            if let Some((dx, dy)) =
                whole_motion(&mut input, dx * scale * factor.0, dy * scale * factor.1)
            {
                handle.pointer_event_buttons(
                    (RELATIVE_CENTER + dx) as u16,
                    (RELATIVE_CENTER + dy) as u16,
                    input.buttons,
                );
            }
        }
        lock::LockEvent::Lost => release_pointer(display),
    }
}

/// The device pixels per surface unit, and the remote pixels per device
/// pixel as the picture is scaled now.
fn remote_per_surface(display: &VncDisplay) -> (f64, (f64, f64)) {
    let scale = f64::from(display.scale_factor().max(1));
    let imp = display.imp();
    let area = (
        f64::from(display.width()) * scale,
        f64::from(display.height()) * scale,
    );
    let placement = imp.placement(area);
    let (rw, rh) = imp.remote_size();
    let factor = if placement.width > 0.0 && placement.height > 0.0 {
        (
            f64::from(rw) / placement.width,
            f64::from(rh) / placement.height,
        )
    } else {
        (1.0, 1.0)
    };
    (scale, factor)
}

/// Adds motion of `dx`, `dy` remote pixels to what was left over; returns
/// the whole pixels (the rest is kept for the next time), `None` for no
/// whole pixel.
fn whole_motion(input: &mut InputState, dx: f64, dy: f64) -> Option<(i32, i32)> {
    let limit = f64::from(RELATIVE_CENTER);
    let dx = input.motion_left.0 + dx;
    let dy = input.motion_left.1 + dy;
    let (whole_x, whole_y) = (dx.trunc(), dy.trunc());
    input.motion_left = (dx - whole_x, dy - whole_y);
    if whole_x == 0.0 && whole_y == 0.0 {
        return None;
    }
    Some((
        whole_x.clamp(-limit, limit) as i32,
        whole_y.clamp(-limit, limit) as i32,
    ))
}

/// The motion since the last event in remote pixels (whole pixels; the
/// rest is kept for the next event), `None` for no whole pixel.
fn relative_motion(display: &VncDisplay, event: &gdk::Event) -> Option<(i32, i32)> {
    let (sx, sy) = event.position()?;
    let (scale, factor) = remote_per_surface(display);
    let imp = display.imp();
    let centre = centre_in_surface(display);
    // The lock warps the pointer back once it is a quarter of the widget
    // away from the centre: far enough that motion after a warp and motion
    // before it cannot be mistaken for each other.
    let margin = (f64::from(display.width().min(display.height())) / 4.0).max(1.0);
    let mut input = imp.input.borrow_mut();
    let last = input.last_position;
    let from = input.lock.origin_of((sx, sy), last);
    input.last_position = Some((sx, sy));
    if let Some(centre) = centre {
        input.lock.recentre((sx, sy), centre, margin, event.time());
    }
    let from = from?;
    whole_motion(
        &mut input,
        (sx - from.0) * scale * factor.0,
        (sy - from.1) * scale * factor.1,
    )
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
#[allow(clippy::unwrap_used)]
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
        let keys = UngrabKeys::default();
        let control = gdk::ModifierType::CONTROL_MASK;
        assert!(keys.matches(gdk::Key::Alt_L, control));
        assert!(keys.matches(gdk::Key::Control_R, gdk::ModifierType::ALT_MASK));
        assert!(!keys.matches(gdk::Key::Delete, control | gdk::ModifierType::ALT_MASK));
        assert!(!keys.matches(gdk::Key::Alt_L, gdk::ModifierType::empty()));
        // Ctrl+Alt+Shift is another combination.
        assert!(!keys.matches(gdk::Key::Alt_L, control | gdk::ModifierType::SHIFT_MASK));
    }

    #[test]
    fn ungrab_combinations_parse() {
        assert_eq!(UngrabKeys::parse("Ctrl+Alt"), Some(UngrabKeys::default()));
        assert_eq!(
            UngrabKeys::parse(" control + ALT "),
            Some(UngrabKeys::default())
        );
        let with_key = UngrabKeys::parse("Ctrl+Alt+G").unwrap();
        assert!(with_key.matches(
            gdk::Key::g,
            gdk::ModifierType::CONTROL_MASK | gdk::ModifierType::ALT_MASK
        ));
        assert!(!with_key.matches(gdk::Key::Alt_L, gdk::ModifierType::CONTROL_MASK));
        let f12 = UngrabKeys::parse("Shift+F12").unwrap();
        assert!(f12.matches(gdk::Key::F12, gdk::ModifierType::SHIFT_MASK));
        // GTK's accelerator form needs GTK running: tests/widget_input.rs.
        assert_eq!(
            UngrabKeys::parse("super + shift"),
            Some(UngrabKeys {
                modifiers: SHIFT | SUPER,
                key: None
            })
        );
        for bad in ["", "G", "Ctrl+", "Ctrl+Nonsense", "Ctrl+G+Alt"] {
            assert_eq!(UngrabKeys::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hardware_keycodes_become_xt_scancodes() {
        // The physical Y key (German Z), Z (German Y), ; (German Ö).
        assert_eq!(xt_scancode(29), 0x15);
        assert_eq!(xt_scancode(52), 0x2c);
        assert_eq!(xt_scancode(47), 0x27);
        assert_eq!(xt_scancode(CAPS_LOCK.1), 0x3a);
        assert_eq!(xt_scancode(0), 0);
    }
}
