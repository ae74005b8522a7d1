//! The viewer window's widgets (header bar and menu, the connecting /
//! display / error pages, the fullscreen toolbar and the grab note) and
//! its `viewer.*` actions.

use gettextrs::gettext;
use porthole_vnc::gtk::{keys, VncDisplay};
use relm4::adw::prelude::*;
use relm4::gtk::{gio, glib};
use relm4::{adw, gtk, ComponentSender};

use super::{save_scaling, Viewer, ViewerMsg};
use crate::manager::labelled::{icon_button, labelled};
use crate::target::ViewerTarget;

/// What the viewer changes after building.
#[derive(Debug)]
pub struct Widgets {
    pub title: adw::WindowTitle,
    pub toolbar_title: gtk::Label,
    pub header_revealer: gtk::Revealer,
    pub toolbar_revealer: gtk::Revealer,
    pub grab_revealer: gtk::Revealer,
    pub grab_label: gtk::Label,
    pub stack: gtk::Stack,
    /// On the connecting page.
    pub spinner: gtk::Spinner,
    pub error_page: adw::StatusPage,
    pub retry: gtk::Button,
    pub countdown: gtk::Label,
    pub toasts: adw::ToastOverlay,
    pub actions: gio::SimpleActionGroup,
}

fn send_keys_menu() -> gio::Menu {
    let menu = gio::Menu::new();
    let item = |label: &str, target: &str| {
        gio::MenuItem::new(Some(label), Some(&format!("viewer.send-keys::{target}")))
    };
    menu.append_item(&item("Ctrl+Alt+Del", "ctrl-alt-del"));
    menu.append_item(&item("Ctrl+Alt+Backspace", "ctrl-alt-backspace"));
    let terminals = gio::Menu::new();
    for n in 1..=12 {
        terminals.append_item(&item(&format!("Ctrl+Alt+F{n}"), &format!("ctrl-alt-f{n}")));
    }
    menu.append_section(None, &terminals);
    let print = gio::Menu::new();
    print.append_item(&item(&gettext("Print Screen"), "print"));
    menu.append_section(None, &print);
    menu
}

fn main_menu() -> gio::Menu {
    let menu = gio::Menu::new();
    let keys = gio::Menu::new();
    keys.append_submenu(Some(&gettext("_Send Keys")), &send_keys_menu());
    menu.append_section(None, &keys);

    let scaling = gio::Menu::new();
    scaling.append(Some(&gettext("_Fit Window")), Some("viewer.scaling::fit"));
    scaling.append(
        Some(&gettext("_Original Size")),
        Some("viewer.scaling::one-to-one"),
    );
    scaling.append(Some(&gettext("S_tretch")), Some("viewer.scaling::stretch"));
    scaling.append(Some(&gettext("S_mooth Scaling")), Some("viewer.smooth"));
    menu.append_section(Some(&gettext("Scaling")), &scaling);

    let zoom = gio::Menu::new();
    zoom.append(Some(&gettext("Zoom _In")), Some("viewer.zoom-in"));
    zoom.append(Some(&gettext("Zoom O_ut")), Some("viewer.zoom-out"));
    zoom.append(Some(&gettext("_Reset Zoom")), Some("viewer.zoom-reset"));
    menu.append_section(Some(&gettext("Zoom")), &zoom);

    let session = gio::Menu::new();
    session.append(
        Some(&gettext("Resize _Guest With Window")),
        Some("viewer.resize-guest"),
    );
    session.append(Some(&gettext("_View Only")), Some("viewer.view-only"));
    session.append(Some(&gettext("Play _Sound")), Some("viewer.audio"));
    session.append(
        Some(&gettext("Take _Screenshot…")),
        Some("viewer.screenshot"),
    );
    session.append(Some(&gettext("_Fullscreen")), Some("viewer.fullscreen"));
    menu.append_section(None, &session);

    let connection = gio::Menu::new();
    connection.append(Some(&gettext("_Disconnect")), Some("viewer.disconnect"));
    connection.append(Some(&gettext("_Reconnect")), Some("viewer.reconnect"));
    menu.append_section(None, &connection);
    menu
}

/// An icon-only menu button that screen readers call `label`.
fn icon_menu_button(icon: &str, label: &str, menu: &gio::Menu) -> gtk::MenuButton {
    let button: gtk::MenuButton = labelled("GtkMenuButton", label);
    button.set_icon_name(icon);
    button.set_tooltip_text(Some(label));
    button.set_menu_model(Some(menu));
    button
}

/// Builds the window's content around `display`.
pub fn build(
    window: &adw::ApplicationWindow,
    display: &VncDisplay,
    target: &ViewerTarget,
    sender: &ComponentSender<Viewer>,
) -> Widgets {
    let kiosk = target.options.kiosk;
    let title = adw::WindowTitle::new("", "");
    let header = adw::HeaderBar::new();
    header.set_title_widget(Some(&title));
    let menu_button = icon_menu_button("open-menu-symbolic", &gettext("Main Menu"), &main_menu());
    menu_button.set_primary(true);
    header.pack_end(&menu_button);
    let fullscreen = icon_button("view-fullscreen-symbolic", &gettext("Fullscreen"));
    fullscreen.set_action_name(Some("viewer.fullscreen"));
    header.pack_end(&fullscreen);
    let keys_button = icon_menu_button(
        "input-keyboard-symbolic",
        &gettext("Send Keys"),
        &send_keys_menu(),
    );
    header.pack_start(&keys_button);
    let header_revealer = gtk::Revealer::builder()
        .child(&header)
        .reveal_child(!kiosk)
        .transition_type(gtk::RevealerTransitionType::SlideDown)
        .build();

    // Pages: connecting, the display, an error.
    let spinner = gtk::Spinner::builder()
        .spinning(true)
        .width_request(32)
        .height_request(32)
        .halign(gtk::Align::Center)
        .build();
    let connecting = adw::StatusPage::builder()
        .title(gettext("Connecting…"))
        .description(target.address.to_string())
        .child(&spinner)
        .build();
    let scrolled = gtk::ScrolledWindow::builder()
        .child(display)
        .hexpand(true)
        .vexpand(true)
        .build();
    let retry = gtk::Button::builder()
        .label(gettext("_Retry"))
        .use_underline(true)
        .halign(gtk::Align::Center)
        .css_classes(["pill", "suggested-action"])
        .build();
    let s = sender.clone();
    retry.connect_clicked(move |_| s.input(ViewerMsg::Connect));
    let countdown = gtk::Label::builder()
        .visible(false)
        .css_classes(["dim-label"])
        .build();
    let error_box = gtk::Box::new(gtk::Orientation::Vertical, 12);
    error_box.append(&retry);
    error_box.append(&countdown);
    let error_page = adw::StatusPage::builder().child(&error_box).build();
    let stack = gtk::Stack::new();
    stack.add_named(&connecting, Some("connecting"));
    stack.add_named(&scrolled, Some("display"));
    stack.add_named(&error_page, Some("error"));

    // The toolbar that slides in at the top edge in fullscreen.
    let toolbar_title = gtk::Label::builder()
        .hexpand(true)
        .ellipsize(gtk::pango::EllipsizeMode::End)
        .css_classes(["heading"])
        .build();
    let toolbar = gtk::Box::builder()
        .spacing(6)
        .css_classes(["toolbar", "osd"])
        .build();
    toolbar.append(&icon_menu_button(
        "input-keyboard-symbolic",
        &gettext("Send Keys"),
        &send_keys_menu(),
    ));
    toolbar.append(&toolbar_title);
    let leave = icon_button("view-restore-symbolic", &gettext("Leave Fullscreen"));
    leave.set_action_name(Some("viewer.fullscreen"));
    toolbar.append(&leave);
    let disconnect = icon_button("window-close-symbolic", &gettext("Disconnect"));
    disconnect.set_action_name(Some("viewer.disconnect"));
    toolbar.append(&disconnect);
    let toolbar_revealer = gtk::Revealer::builder()
        .child(&toolbar)
        .valign(gtk::Align::Start)
        .transition_type(gtk::RevealerTransitionType::SlideDown)
        .build();
    let grab_label = gtk::Label::builder().wrap(true).build();
    let grab_box = gtk::Box::builder()
        .css_classes(["app-notification"])
        .build();
    grab_box.append(&grab_label);
    let grab_revealer = gtk::Revealer::builder()
        .child(&grab_box)
        .valign(gtk::Align::Start)
        .halign(gtk::Align::Center)
        .can_target(false)
        .build();

    let w = window.clone();
    stack.connect_visible_child_name_notify(move |stack| {
        let console = stack.visible_child_name().as_deref() == Some("display");
        if console {
            w.add_css_class(super::CONSOLE_CLASS);
        } else {
            w.remove_css_class(super::CONSOLE_CLASS);
        }
    });
    let overlay = gtk::Overlay::builder().child(&stack).build();
    overlay.add_overlay(&grab_revealer);
    if !kiosk {
        overlay.add_overlay(&toolbar_revealer);
    }
    let toasts = adw::ToastOverlay::new();
    toasts.set_child(Some(&overlay));
    let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
    content.append(&header_revealer);
    content.append(&toasts);
    window.set_content(Some(&content));

    // The top edge reveals the toolbar in fullscreen; leaving it hides it.
    let motion = gtk::EventControllerMotion::new();
    motion.set_propagation_phase(gtk::PropagationPhase::Capture);
    let w = window.clone();
    let revealer = toolbar_revealer.clone();
    let note = grab_revealer.clone();
    motion.connect_motion(move |_, _, y| {
        if !w.is_fullscreen() || kiosk {
            return;
        }
        if y < super::HOT_EDGE {
            revealer.set_reveal_child(true);
            // Both sit at the top; the note would cover the toolbar's title.
            note.set_reveal_child(false);
        } else if revealer.reveals_child() && y > f64::from(revealer.height()) + 24.0 {
            revealer.set_reveal_child(false);
        }
    });
    window.add_controller(motion);

    Widgets {
        title,
        toolbar_title,
        header_revealer,
        toolbar_revealer,
        grab_revealer,
        grab_label,
        stack,
        spinner,
        error_page,
        retry,
        countdown,
        toasts,
        actions: gio::SimpleActionGroup::new(),
    }
}

/// The keysyms a `send-keys` target names.
fn keysyms_of(target: &str) -> Option<Vec<u32>> {
    match target {
        "ctrl-alt-del" => Some(keys::CTRL_ALT_DEL.to_vec()),
        "ctrl-alt-backspace" => Some(keys::CTRL_ALT_BACKSPACE.to_vec()),
        "print" => Some(vec![keys::PRINT]),
        other => {
            let n = other.strip_prefix("ctrl-alt-f")?.parse().ok()?;
            keys::ctrl_alt_f(n).map(|k| k.to_vec())
        }
    }
}

fn toggle(
    group: &gio::SimpleActionGroup,
    name: &str,
    initial: bool,
    apply: impl Fn(bool) + 'static,
) {
    let action = gio::SimpleAction::new_stateful(name, None, &initial.to_variant());
    action.connect_activate(|action, _| {
        let on = !action
            .state()
            .and_then(|s| s.get::<bool>())
            .unwrap_or(false);
        action.change_state(&on.to_variant());
    });
    action.connect_change_state(move |action, value| {
        if let Some(value) = value {
            action.set_state(value);
            apply(value.get::<bool>().unwrap_or(false));
        }
    });
    group.add_action(&action);
}

fn simple(group: &gio::SimpleActionGroup, name: &str, run: impl Fn() + 'static) {
    let action = gio::SimpleAction::new(name, None);
    action.connect_activate(move |_, _| run());
    group.add_action(&action);
}

pub fn install_actions(viewer: &Viewer, sender: &ComponentSender<Viewer>) {
    let group = &viewer.widgets.actions;
    let display = viewer.display.clone();
    let settings = viewer.settings.clone();
    let window = viewer.window.clone();

    let send = gio::SimpleAction::new("send-keys", Some(glib::VariantTy::STRING));
    let d = display.clone();
    send.connect_activate(move |_, target| {
        if let Some(keysyms) = target
            .and_then(|t| t.get::<String>())
            .and_then(|t| keysyms_of(&t))
        {
            d.send_keys(&keysyms);
        }
    });
    group.add_action(&send);

    let mode = super::scaling_nick(display.scaling_mode());
    let scaling = gio::SimpleAction::new_stateful(
        "scaling",
        Some(glib::VariantTy::STRING),
        &mode.to_variant(),
    );
    let (d, s, snd) = (display.clone(), settings.clone(), sender.clone());
    scaling.connect_change_state(move |action, value| {
        let Some(value) = value else { return };
        action.set_state(value);
        let mode = super::scaling_from_nick(&value.get::<String>().unwrap_or_default());
        if d.scaling_mode() != mode {
            d.set_scaling_mode(mode);
            save_scaling(&s, &d);
            refresh_resize(&snd);
        }
    });
    group.add_action(&scaling);

    let d = display.clone();
    let s = settings.clone();
    toggle(group, "smooth", display.smooth(), move |on| {
        d.set_smooth(on);
        let _ = s.set_boolean("viewer-smooth-scaling", on);
    });
    let s = settings.clone();
    let snd = sender.clone();
    toggle(
        group,
        "resize-guest",
        viewer
            .target
            .options
            .auto_resize
            .unwrap_or_else(|| settings.boolean("viewer-resize-guest")),
        move |on| {
            let _ = s.set_boolean("viewer-resize-guest", on);
            refresh_resize(&snd);
        },
    );
    let d = display.clone();
    toggle(group, "view-only", display.view_only(), move |on| {
        d.set_view_only(on)
    });
    let d = display.clone();
    let s = settings.clone();
    toggle(group, "audio", display.audio_enabled(), move |on| {
        d.set_audio_enabled(on);
        let _ = s.set_boolean("viewer-audio", on);
    });
    let w = window.clone();
    toggle(group, "fullscreen", window.is_fullscreen(), move |on| {
        if on != w.is_fullscreen() {
            w.set_fullscreened(on);
        }
    });

    for (name, step) in [("zoom-in", 1), ("zoom-out", -1), ("zoom-reset", 0)] {
        let (d, s, snd, g) = (
            display.clone(),
            settings.clone(),
            sender.clone(),
            group.clone(),
        );
        simple(group, name, move || {
            match step {
                1 => d.zoom_in(),
                -1 => d.zoom_out(),
                _ => d.zoom_reset(),
            }
            save_scaling(&s, &d);
            if let Some(action) = g.lookup_action("scaling") {
                action.change_state(&"zoom".to_variant());
            }
            refresh_resize(&snd);
        });
    }

    let d = display.clone();
    simple(group, "release-keyboard", move || d.release_keyboard());
    let snd = sender.clone();
    simple(group, "disconnect", move || {
        snd.input(ViewerMsg::Disconnect)
    });
    let snd = sender.clone();
    simple(group, "reconnect", move || snd.input(ViewerMsg::Connect));
    let (d, w) = (display.clone(), window.clone());
    simple(group, "screenshot", move || save_screenshot(&w, &d));

    window.insert_action_group("viewer", Some(group));
}

/// Applies the resize setting again (it depends on the zoom).
fn refresh_resize(sender: &ComponentSender<Viewer>) {
    sender.input(ViewerMsg::RefreshResize);
}

/// Asks where to save a PNG of the remote screen, and saves it there.
fn save_screenshot(window: &adw::ApplicationWindow, display: &VncDisplay) {
    // The screen as it is now; encoded and written off the main thread
    // once a file is chosen (a 4K PNG takes a while).
    let Some(texture) = display.screenshot() else {
        return;
    };
    let chooser = gtk::FileChooserNative::new(
        Some(&gettext("Save Screenshot")),
        Some(window),
        gtk::FileChooserAction::Save,
        Some(&gettext("_Save")),
        Some(&gettext("_Cancel")),
    );
    chooser.set_modal(true);
    let name = display.desktop_name();
    let name = if name.is_empty() {
        gettext("Screenshot")
    } else {
        name
    };
    chooser.set_current_name(&format!("{}.png", name.replace('/', "-")));
    if let Some(pictures) = glib::user_special_dir(glib::UserDirectory::Pictures) {
        if pictures.is_dir() {
            let _ = chooser.set_current_folder(Some(&gio::File::for_path(pictures)));
        }
    }
    let w = window.clone();
    // GTK does not keep a native dialog alive: this does, until it answers.
    let holder = std::rc::Rc::new(std::cell::RefCell::new(Some(chooser.clone())));
    chooser.connect_response(move |chooser, response| {
        if response == gtk::ResponseType::Accept {
            if let Some(path) = chooser.file().and_then(|f| f.path()) {
                let (w, texture) = (w.clone(), texture.clone());
                glib::spawn_future_local(async move {
                    let shown = path.display().to_string();
                    let saved = gio::spawn_blocking(move || {
                        texture.save_to_png(&path).map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap_or_else(|_| Err(gettext("the encoder stopped")));
                    if let Err(error) = saved {
                        let dialog = adw::MessageDialog::new(
                            Some(&w),
                            Some(&gettext("Could Not Save the Screenshot")),
                            Some(&format!("{shown}: {error}")),
                        );
                        dialog.add_response("close", &gettext("_Close"));
                        dialog.present();
                    }
                });
            }
        }
        chooser.destroy();
        holder.take();
    });
    chooser.show();
}
