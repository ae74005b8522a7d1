//! The console tab: the VM's screen in a [`VncDisplay`], a small toolbar
//! (keys the desktop would keep for itself, scaling), and a status page
//! saying plainly why there is no screen (no VNC display, not running,
//! connecting, disconnected); and the thumbnail of the screen for the VM
//! list. The socket to the screen comes from the client
//! ([`crate::libvirt::open_console_stream`]).

use gettextrs::gettext;
use porthole_vnc::gtk::{keys, ScalingMode, VncDisplay};
use relm4::adw::prelude::*;
use relm4::gtk::{gdk, glib};
use relm4::{adw, gtk, Sender};

use super::VmPageMsg;
use crate::libvirt::Action;

/// What the console shows instead of (or as) the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleView {
    Loading,
    /// The VM has no VNC display.
    NoGraphics,
    /// Shut off (`saved`: with a managed save to restore).
    NotRunning {
        saved: bool,
    },
    Connecting,
    Connected,
    /// The connection failed or ended while the VM runs.
    Failed(String),
}

#[derive(Debug)]
pub struct ConsoleTab {
    pub root: gtk::Stack,
    pub display: VncDisplay,
    status: adw::StatusPage,
    start: gtk::Button,
    reconnect: gtk::Button,
}

impl ConsoleTab {
    pub fn new(input: &Sender<VmPageMsg>) -> Self {
        let display = VncDisplay::new();
        crate::accels::suspend_while_grabbed(&display);
        let s = input.clone();
        display.connect_connected(move |_| s.emit(VmPageMsg::ConsoleConnected));
        let s = input.clone();
        display.connect_disconnected(move |_, reason| {
            s.emit(VmPageMsg::ConsoleDisconnected(reason.to_owned()))
        });

        let screen = gtk::Box::new(gtk::Orientation::Vertical, 0);
        screen.append(&toolbar(&display));
        let scrolled = gtk::ScrolledWindow::new();
        scrolled.set_vexpand(true);
        scrolled.set_hexpand(true);
        scrolled.set_child(Some(&display));
        screen.append(&scrolled);

        let start = gtk::Button::with_label(&gettext("Start"));
        start.add_css_class("pill");
        start.add_css_class("suggested-action");
        start.set_halign(gtk::Align::Center);
        let s = input.clone();
        start.connect_clicked(move |_| s.emit(VmPageMsg::Lifecycle(Action::Start)));
        let reconnect = gtk::Button::with_label(&gettext("Reconnect"));
        reconnect.add_css_class("pill");
        reconnect.set_halign(gtk::Align::Center);
        let s = input.clone();
        reconnect.connect_clicked(move |_| s.emit(VmPageMsg::ConnectConsole));
        let buttons = gtk::Box::new(gtk::Orientation::Vertical, 6);
        buttons.append(&start);
        buttons.append(&reconnect);
        let status = adw::StatusPage::builder()
            .icon_name("computer-symbolic")
            .vexpand(true)
            .child(&buttons)
            .build();

        let root = gtk::Stack::new();
        root.add_named(&screen, Some("screen"));
        root.add_named(&status, Some("status"));
        let tab = Self {
            root,
            display,
            status,
            start,
            reconnect,
        };
        tab.show(&ConsoleView::Loading);
        tab
    }

    pub fn show(&self, view: &ConsoleView) {
        let (title, description, start, reconnect) = match view {
            ConsoleView::Connected => {
                self.root.set_visible_child_name("screen");
                return;
            }
            ConsoleView::Loading => (gettext("Loading…"), String::new(), false, false),
            ConsoleView::NoGraphics => (
                gettext("No Graphical Console"),
                gettext("This VM has no VNC display, so there is no screen to show. Add <graphics type='vnc'/> to its devices in the XML tab to get one."),
                false,
                false,
            ),
            ConsoleView::NotRunning { saved } => (
                gettext("The VM Is Not Running"),
                if *saved {
                    gettext("Start it to restore its saved state and see its screen.")
                } else {
                    gettext("Start it to see its screen.")
                },
                true,
                false,
            ),
            ConsoleView::Connecting => (gettext("Connecting…"), String::new(), false, false),
            ConsoleView::Failed(reason) => (
                gettext("Console Disconnected"),
                if reason.is_empty() {
                    gettext("The connection to the VM's screen ended.")
                } else {
                    gettext("The connection to the VM's screen ended: {}").replace("{}", reason)
                },
                false,
                true,
            ),
        };
        self.status.set_title(&title);
        // The description is markup: libvirt's messages may hold < or &.
        let description = glib::markup_escape_text(&description);
        self.status
            .set_description((!description.is_empty()).then_some(description.as_str()));
        self.start.set_visible(start);
        self.reconnect.set_visible(reconnect);
        self.root.set_visible_child_name("status");
    }
}

fn toolbar(display: &VncDisplay) -> gtk::Box {
    let bar = gtk::Box::new(gtk::Orientation::Horizontal, 6);
    bar.set_margin_top(4);
    bar.set_margin_bottom(4);
    bar.set_margin_start(6);
    bar.set_margin_end(6);

    let keys_box = gtk::Box::new(gtk::Orientation::Vertical, 0);
    let popover = gtk::Popover::new();
    let mut combos: Vec<(String, Vec<u32>)> = vec![
        ("Ctrl+Alt+Del".to_owned(), keys::CTRL_ALT_DEL.to_vec()),
        (
            "Ctrl+Alt+Backspace".to_owned(),
            keys::CTRL_ALT_BACKSPACE.to_vec(),
        ),
    ];
    combos.extend(
        (1..=12).filter_map(|n| Some((format!("Ctrl+Alt+F{n}"), keys::ctrl_alt_f(n)?.to_vec()))),
    );
    combos.push((gettext("Print Screen"), vec![keys::PRINT]));
    for (label, keysyms) in combos {
        let button = gtk::Button::with_label(&label);
        button.add_css_class("flat");
        let d = display.clone();
        let p = popover.clone();
        button.connect_clicked(move |_| {
            p.popdown();
            d.send_keys(&keysyms);
        });
        keys_box.append(&button);
    }
    popover.set_child(Some(&keys_box));
    let send_keys = gtk::MenuButton::builder()
        .label(gettext("Send Key"))
        .popover(&popover)
        .tooltip_text(gettext(
            "Send a key combination the desktop would take for itself",
        ))
        .build();
    bar.append(&send_keys);

    let modes = [
        (ScalingMode::Fit, gettext("Fit to Window")),
        (ScalingMode::OneToOne, gettext("Original Size")),
        (ScalingMode::Stretch, gettext("Stretch")),
    ];
    let labels: Vec<&str> = modes.iter().map(|(_, l)| l.as_str()).collect();
    let scaling = gtk::DropDown::from_strings(&labels);
    scaling.set_tooltip_text(Some(&gettext("Scaling")));
    let d = display.clone();
    scaling.connect_selected_notify(move |dropdown| {
        if let Some((mode, _)) = modes.get(dropdown.selected() as usize) {
            d.set_scaling_mode(*mode);
        }
    });
    bar.append(&scaling);

    let zoom_out = gtk::Button::from_icon_name("zoom-out-symbolic");
    zoom_out.set_tooltip_text(Some(&gettext("Zoom Out")));
    let d = display.clone();
    zoom_out.connect_clicked(move |_| d.zoom_out());
    let zoom_in = gtk::Button::from_icon_name("zoom-in-symbolic");
    zoom_in.set_tooltip_text(Some(&gettext("Zoom In")));
    let d = display.clone();
    zoom_in.connect_clicked(move |_| d.zoom_in());
    bar.append(&zoom_out);
    bar.append(&zoom_in);

    let hint = gtk::Label::new(None);
    hint.set_hexpand(true);
    hint.set_xalign(1.0);
    hint.add_css_class("dim-label");
    let h = hint.clone();
    display.connect_keyboard_grabbed_notify(move |display| {
        h.set_label(&if display.keyboard_grabbed() {
            gettext("Press {} to release the keyboard").replace("{}", &display.ungrab_keys())
        } else {
            String::new()
        });
    });
    bar.append(&hint);
    bar
}

/// The screen scaled down to `width` pixels wide (averaging the pixels
/// each thumbnail pixel covers), for the VM list.
pub fn thumbnail(screen: &gdk::Texture, width: usize) -> Option<gdk::Texture> {
    let (w, h) = (
        usize::try_from(screen.width()).ok()?,
        usize::try_from(screen.height()).ok()?,
    );
    if w == 0 || h == 0 {
        return None;
    }
    let stride = w * 4;
    let mut source = vec![0u8; stride * h];
    // The default memory format: B8G8R8A8 premultiplied (as cairo's ARGB32).
    screen.download(&mut source, stride);
    let tw = width.clamp(1, w);
    let th = (h * tw / w).max(1);
    let mut out = vec![0u8; tw * th * 4];
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = [0u32; 4];
            for row in source[y0 * stride..y1 * stride].chunks_exact(stride) {
                for pixel in row[x0 * 4..x1 * 4].chunks_exact(4) {
                    for (s, p) in sum.iter_mut().zip(pixel) {
                        *s += u32::from(*p);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            let at = (ty * tw + tx) * 4;
            for (o, s) in out[at..at + 4].iter_mut().zip(sum) {
                *o = (s / n) as u8;
            }
        }
    }
    let texture = gdk::MemoryTexture::new(
        i32::try_from(tw).ok()?,
        i32::try_from(th).ok()?,
        gdk::MemoryFormat::B8g8r8a8Premultiplied,
        &glib::Bytes::from_owned(out),
        tw * 4,
    );
    Some(texture.upcast())
}
