//! The standalone viewer window: one `VncDisplay` per target in its own
//! `adw::ApplicationWindow`, with the header bar and its menu (send keys,
//! scaling, zoom, resize, view only, screenshot, fullscreen, disconnect),
//! the authentication and certificate dialogs, the error pages with retry
//! and automatic reconnection, fullscreen with a top-edge toolbar, kiosk
//! mode and the command line's hotkeys and key remapping. It owns no
//! protocol: the widget does that.

mod dialogs;
mod keys;
pub mod options;
mod problem;
mod secrets;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use gettextrs::gettext;
use porthole_vnc::address::Address;
use porthole_vnc::gtk::display::{ConnectOptions, DisconnectKind};
use porthole_vnc::gtk::{ScalingMode, VncDisplay};
use porthole_vnc::security::{Credentials, Fingerprint, PinStore};
use relm4::adw::prelude::*;
use relm4::gtk::{gio, glib};
use relm4::{
    adw, gtk, Component, ComponentController, ComponentParts, ComponentSender, Controller,
};

use crate::config;
use crate::target::ViewerTarget;
use options::{HotkeyAction, KioskQuit};

/// The CSS class that marks viewer windows among the app's windows.
const VIEWER_CLASS: &str = "porthole-viewer";

/// Pointer rows at the top of a fullscreen window that reveal the toolbar.
const HOT_EDGE: f64 = 4.0;

/// Pages shorter than this show the error page compact.
const COMPACT_BELOW: i32 = 560;

/// How long the "press … to release" note stays over the screen.
const GRAB_NOTE: Duration = Duration::from_secs(4);

thread_local! {
    /// The open viewers; each is dropped when its window closes.
    static VIEWERS: RefCell<Vec<Controller<Viewer>>> = const { RefCell::new(Vec::new()) };
}

/// Opens a viewer window for `target`.
pub fn open(target: ViewerTarget) {
    let app = relm4::main_application();
    if target.options.standalone {
        // `porthole ADDRESS` shows just the console, as virt-viewer does.
        for window in app.windows() {
            if !window.has_css_class(VIEWER_CLASS) {
                window.set_visible(false);
            }
        }
    }
    load_style();
    forget_closed_viewers(&app);
    let controller = Viewer::builder().launch(target).detach();
    VIEWERS.with(|v| v.borrow_mut().push(controller));
}

/// Once per app: a viewer window leaving the app (closed) is forgotten.
/// Not on "destroy": that comes only with the last reference, and the
/// list of viewers holds one.
fn forget_closed_viewers(app: &gtk::Application) {
    thread_local! {
        static WATCHING: Cell<bool> = const { Cell::new(false) };
    }
    if WATCHING.with(|w| w.replace(true)) {
        return;
    }
    app.connect_window_removed(|_, window| {
        if let Ok(window) = window.clone().downcast::<adw::ApplicationWindow>() {
            if window.has_css_class(VIEWER_CLASS) {
                glib::idle_add_local_once(move || forget(&window));
            }
        }
    });
}

/// The window's class while it shows a console.
const CONSOLE_CLASS: &str = "console";

/// Without a compositor GTK frames client-decorated windows with a
/// 5-pixel border for resizing ("solid-csd"), which libadwaita keeps in
/// fullscreen: a fullscreen console must reach the screen's edges.
///
/// While a console shows, the display draws every pixel of its area (the
/// picture and black around it), so the window's background under it
/// would be a full-window pass thrown away each frame: on software GL
/// about 6% of the viewer's CPU per frame at 1080p.
fn load_style() {
    thread_local! {
        static LOADED: Cell<bool> = const { Cell::new(false) };
    }
    if LOADED.with(|l| l.replace(true)) {
        return;
    }
    let provider = gtk::CssProvider::new();
    provider.load_from_data(&format!(
        "window.{VIEWER_CLASS}.fullscreen {{ padding: 0; box-shadow: none; }}
         window.{VIEWER_CLASS}.{CONSOLE_CLASS} {{ background: none; }}"
    ));
    if let Some(display) = gtk::gdk::Display::default() {
        gtk::style_context_add_provider_for_display(
            &display,
            &provider,
            gtk::STYLE_PROVIDER_PRIORITY_APPLICATION,
        );
    }
}

/// Drops the viewer of a closed window; quits when no window is visible.
fn forget(window: &adw::ApplicationWindow) {
    let gone = VIEWERS.with(|v| {
        let mut viewers = v.borrow_mut();
        let index = viewers.iter().position(|c| c.widget() == window);
        index.map(|i| viewers.remove(i))
    });
    drop(gone);
    let app = relm4::main_application();
    if !app.windows().iter().any(|w| w.is_visible()) {
        for window in app.windows() {
            window.close();
        }
    }
}

#[derive(Debug)]
pub enum ViewerMsg {
    /// Connect now (first time, Retry, Reconnect, after a trust decision).
    Connect,
    Connected,
    Disconnected(String),
    AuthRequired {
        username: bool,
        password: bool,
    },
    /// The user answered the authentication dialog.
    Credentials {
        username: Option<String>,
        password: Option<String>,
        remember: bool,
    },
    AuthCancelled,
    Trust {
        fingerprint: Fingerprint,
        always: bool,
    },
    /// Disconnect (the menu), without reconnecting.
    Disconnect,
    /// One second of the reconnection countdown passed.
    Tick,
    DesktopName(String),
    KeyboardGrabbed(bool),
    Fullscreen(bool),
    /// The kiosk's way out, or the end of a kiosk session.
    Quit,
    /// The zoom or the resize setting changed.
    RefreshResize,
    /// Try again to fit the window to the remote screen (it was not laid out).
    SizeToRemote,
}

#[derive(Debug)]
pub enum ViewerCmd {
    /// What the Secret Service holds for the address, for a pending request.
    Stored {
        stored: Option<secrets::Stored>,
        username: bool,
        password: bool,
    },
    Remembered(Result<(), String>),
    /// The certificate was written to the pin store ("Always Trust").
    Pinned(Result<(), String>),
}

/// Where the credentials of the running attempt came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CredentialSource {
    None,
    /// The Secret Service or the `.vv` file: on failure, ask the user.
    Saved,
    User,
}

pub struct Viewer {
    target: ViewerTarget,
    settings: gio::Settings,
    window: adw::ApplicationWindow,
    display: VncDisplay,
    widgets: widgets::Widgets,
    /// A session ran since the window opened: drops reconnect by themselves.
    established: bool,
    credential_source: CredentialSource,
    /// Don't try saved credentials on the next request (they failed).
    skip_saved: bool,
    /// The saved credentials were just refused: the next question says so.
    saved_refused: bool,
    /// Credentials typed with "Remember", stored once they worked.
    to_remember: Option<(Option<String>, String)>,
    /// Certificates trusted for this window's life only.
    trusted_once: Vec<Fingerprint>,
    reconnect: Option<glib::SourceId>,
    attempt: u32,
    countdown: u32,
    /// The window was sized to the remote screen once.
    sized: bool,
    allow_close: Rc<Cell<bool>>,
    /// The timer that hides the grab note; it clears itself when it
    /// fires, as removing a source that already ran aborts.
    grab_note: Rc<RefCell<Option<glib::SourceId>>>,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("address", &self.target.address)
            .finish_non_exhaustive()
    }
}

mod widgets;

impl Component for Viewer {
    type Init = ViewerTarget;
    type Input = ViewerMsg;
    type Output = ();
    type CommandOutput = ViewerCmd;
    type Root = adw::ApplicationWindow;
    type Widgets = ();

    fn init_root() -> Self::Root {
        let window = adw::ApplicationWindow::builder()
            .default_width(1024)
            .default_height(768)
            .icon_name(config::APP_ID)
            .build();
        window.add_css_class(VIEWER_CLASS);
        window
    }

    fn init(
        target: ViewerTarget,
        window: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        window.set_application(Some(&relm4::main_application()));
        let settings = config::settings();
        let display = VncDisplay::new();
        crate::accels::suspend_while_grabbed(&display);
        let widgets = widgets::build(&window, &display, &target, &sender);

        let model = Viewer {
            settings: settings.clone(),
            window: window.clone(),
            display: display.clone(),
            widgets,
            established: false,
            credential_source: CredentialSource::None,
            skip_saved: false,
            saved_refused: false,
            to_remember: None,
            trusted_once: Vec::new(),
            reconnect: None,
            attempt: 0,
            countdown: 0,
            sized: false,
            allow_close: Rc::new(Cell::new(!target.options.kiosk)),
            grab_note: Rc::default(),
            target,
        };
        model.set_title(None);
        model.apply_settings();
        model.install_actions(&sender);
        model.session_actions(false);
        keys::attach(&model, &sender);
        model.connect_display(&sender);

        let allow_close = model.allow_close.clone();
        window.connect_close_request(move |_| {
            if allow_close.get() {
                glib::Propagation::Proceed
            } else {
                glib::Propagation::Stop
            }
        });
        let s = sender.clone();
        window.connect_fullscreened_notify(move |w| {
            s.input(ViewerMsg::Fullscreen(w.is_fullscreen()))
        });
        if model.target.options.full_screen || model.target.options.kiosk {
            window.fullscreen();
        }
        window.present();
        sender.input(ViewerMsg::Connect);
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, msg: ViewerMsg, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ViewerMsg::Connect => self.connect(),
            ViewerMsg::Connected => self.connected(&sender),
            ViewerMsg::Disconnected(details) => self.disconnected(&details, &sender),
            ViewerMsg::AuthRequired { username, password } => {
                if self.skip_saved {
                    self.ask_credentials(username, password, &sender);
                } else {
                    let key = self.target.address.to_string();
                    sender.oneshot_command(async move {
                        ViewerCmd::Stored {
                            stored: secrets::lookup(&key).await,
                            username,
                            password,
                        }
                    });
                }
            }
            ViewerMsg::Credentials {
                username,
                password,
                remember,
            } => {
                self.credential_source = CredentialSource::User;
                self.to_remember = remember
                    .then(|| password.clone().map(|p| (username.clone(), p)))
                    .flatten();
                self.display
                    .provide_credentials(username.as_deref(), password.as_deref());
            }
            ViewerMsg::AuthCancelled => self.display.disconnect(),
            ViewerMsg::Trust {
                fingerprint,
                always,
            } => {
                if always {
                    if let Some((store, key)) = self.pin_store() {
                        // Written off the UI thread; this connection trusts
                        // the certificate already (`trusted_once`).
                        sender.spawn_oneshot_command(move || {
                            ViewerCmd::Pinned(
                                store.pin(&key, fingerprint).map_err(|e| e.to_string()),
                            )
                        });
                    }
                }
                self.trusted_once.push(fingerprint);
                self.connect();
            }
            ViewerMsg::Disconnect => {
                self.cancel_reconnect();
                self.display.disconnect();
            }
            ViewerMsg::Tick => self.tick(&sender),
            ViewerMsg::DesktopName(name) => self.set_title(Some(&name)),
            ViewerMsg::KeyboardGrabbed(grabbed) => self.keyboard_grabbed(grabbed),
            ViewerMsg::Fullscreen(fullscreen) => self.fullscreen_changed(fullscreen),
            ViewerMsg::RefreshResize => self.update_resize_guest(),
            ViewerMsg::SizeToRemote => self.size_to_remote(&sender),
            ViewerMsg::Quit => {
                self.allow_close.set(true);
                self.cancel_reconnect();
                self.window.close();
            }
        }
    }

    fn update_cmd(&mut self, msg: ViewerCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ViewerCmd::Stored {
                stored: Some(stored),
                ..
            } => {
                self.credential_source = CredentialSource::Saved;
                self.display
                    .provide_credentials(stored.username.as_deref(), Some(&stored.password));
            }
            ViewerCmd::Stored {
                stored: None,
                username,
                password,
            } => self.ask_credentials(username, password, &sender),
            ViewerCmd::Remembered(Ok(())) => {}
            ViewerCmd::Remembered(Err(error)) => self.toast(&format!(
                "{}: {error}",
                gettext("The password could not be saved in the keyring")
            )),
            ViewerCmd::Pinned(Ok(())) => {}
            ViewerCmd::Pinned(Err(error)) => self.toast(&format!(
                "{}: {error}",
                gettext("Could not remember the certificate")
            )),
        }
    }
}

impl Viewer {
    fn connect_display(&self, sender: &ComponentSender<Self>) {
        let s = sender.clone();
        self.display
            .connect_connected(move |_| s.input(ViewerMsg::Connected));
        let s = sender.clone();
        self.display.connect_disconnected(move |_, reason| {
            s.input(ViewerMsg::Disconnected(reason.to_owned()))
        });
        let s = sender.clone();
        self.display
            .connect_auth_required(move |_, username, password| {
                s.input(ViewerMsg::AuthRequired { username, password })
            });
        let s = sender.clone();
        self.display
            .connect_notify_local(Some("desktop-name"), move |display, _| {
                s.input(ViewerMsg::DesktopName(display.desktop_name()))
            });
        let s = sender.clone();
        self.display
            .connect_notify_local(Some("keyboard-grabbed"), move |display, _| {
                s.input(ViewerMsg::KeyboardGrabbed(display.keyboard_grabbed()))
            });
    }

    fn connect(&mut self) {
        self.cancel_reconnect();
        self.widgets.stack.set_visible_child_name("connecting");
        self.widgets.spinner.set_visible(true);
        self.widgets.spinner.set_spinning(true);
        self.window.set_title(Some(&self.widgets.title.title()));
        // A `.vv` file's password answers the first request; if the
        // server refuses it, the user is asked.
        let credentials = match (&self.target.password, self.skip_saved) {
            (Some(password), false) => {
                self.credential_source = CredentialSource::Saved;
                Some(Credentials {
                    username: self.target.username.clone(),
                    password: Some(password.clone()),
                })
            }
            _ => {
                self.credential_source = CredentialSource::None;
                None
            }
        };
        let options = ConnectOptions {
            shared: self.target.options.shared.unwrap_or(true),
            quality: None,
            pinned: self.trusted_once.clone(),
            pin_store: self.pin_store().map(|(store, _)| store),
            credentials,
        };
        self.display
            .connect_address_with(&self.target.address, options);
    }

    /// What needs a session (a screenshot, keys to send) is offered only
    /// while one runs.
    fn session_actions(&self, enabled: bool) {
        for name in ["screenshot", "send-keys"] {
            if let Some(action) = self
                .widgets
                .actions
                .lookup_action(name)
                .and_downcast::<gio::SimpleAction>()
            {
                action.set_enabled(enabled);
            }
        }
    }

    fn connected(&mut self, sender: &ComponentSender<Self>) {
        self.session_actions(true);
        self.established = true;
        self.attempt = 0;
        self.skip_saved = false;
        self.widgets.stack.set_visible_child_name("display");
        self.widgets.spinner.set_spinning(false);
        self.set_title(Some(&self.display.desktop_name()));
        self.display.grab_focus();
        self.size_to_remote(sender);
        if let Some((username, password)) = self.to_remember.take() {
            let key = self.target.address.to_string();
            sender.oneshot_command(async move {
                ViewerCmd::Remembered(secrets::store(&key, username.as_deref(), &password).await)
            });
        }
    }

    fn disconnected(&mut self, details: &str, sender: &ComponentSender<Self>) {
        self.session_actions(false);
        let kind = self.display.last_disconnect();
        if kind == DisconnectKind::AuthenticationFailed
            && self.credential_source == CredentialSource::Saved
        {
            // Saved credentials failed: ask the user instead, at once.
            self.skip_saved = true;
            self.saved_refused = true;
            self.connect();
            return;
        }
        self.to_remember = None;
        let options = &self.target.options;
        if options.kiosk && options.kiosk_quit == KioskQuit::OnDisconnect {
            sender.input(ViewerMsg::Quit);
            return;
        }
        let problem = problem::describe(&kind, details, &self.target.address.to_string());
        let w = &self.widgets;
        w.error_page.set_icon_name(Some(problem.icon));
        w.error_page.set_title(&problem.title);
        w.error_page.set_description(Some(
            glib::markup_escape_text(&problem.description).as_str(),
        ));
        w.retry.set_label(&if kind == DisconnectKind::Requested {
            gettext("_Reconnect")
        } else {
            gettext("_Retry")
        });
        w.countdown.set_visible(false);
        // A window sized to a small remote screen would hide Retry and the
        // countdown below the fold at full size.
        if w.stack.height() > 0 && w.stack.height() < COMPACT_BELOW {
            w.error_page.add_css_class("compact");
        } else {
            w.error_page.remove_css_class("compact");
        }
        w.stack.set_visible_child_name("error");
        w.spinner.set_spinning(false);
        // The title says it too: in the task switcher, and for tests.
        self.window.set_title(Some(&format!(
            "{} – {}",
            problem.title,
            self.widgets.title.title()
        )));
        w.retry.grab_focus();
        match &kind {
            DisconnectKind::CertificateNotTrusted {
                fingerprint,
                reason,
            } => dialogs::certificate(&self.window, *fingerprint, Some(reason), sender),
            DisconnectKind::CertificateChanged { fingerprint } => {
                dialogs::certificate(&self.window, *fingerprint, None, sender)
            }
            _ => {}
        }
        let automatic = self.settings.boolean("viewer-auto-reconnect") || options.kiosk;
        if automatic && self.established && problem.transient {
            self.countdown = problem::backoff(self.attempt);
            self.attempt += 1;
            self.show_countdown();
            let s = sender.clone();
            self.reconnect = Some(glib::timeout_add_seconds_local(1, move || {
                s.input(ViewerMsg::Tick);
                glib::ControlFlow::Continue
            }));
        }
    }

    fn tick(&mut self, sender: &ComponentSender<Self>) {
        self.countdown = self.countdown.saturating_sub(1);
        if self.countdown == 0 {
            self.cancel_reconnect();
            sender.input(ViewerMsg::Connect);
        } else {
            self.show_countdown();
        }
    }

    fn show_countdown(&self) {
        let text = gettext("Reconnecting in {} s…").replace("{}", &self.countdown.to_string());
        self.widgets.countdown.set_label(&text);
        self.widgets.countdown.set_visible(true);
    }

    fn cancel_reconnect(&mut self) {
        if let Some(id) = self.reconnect.take() {
            id.remove();
        }
        self.widgets.countdown.set_visible(false);
    }

    fn ask_credentials(&mut self, username: bool, password: bool, sender: &ComponentSender<Self>) {
        // Waiting on the user, not the network: nothing should spin. (A
        // spinner redraws every frame; with software GL that is most of a
        // core, and it starves the idle work screen readers need.)
        self.widgets.spinner.set_spinning(false);
        self.widgets.spinner.set_visible(false);
        dialogs::credentials(
            &self.window,
            &self.target.address.to_string(),
            (username, password),
            self.target.username.as_deref(),
            std::mem::take(&mut self.saved_refused),
            sender,
        );
    }

    /// The pin store and this server's key in it (TCP servers only).
    fn pin_store(&self) -> Option<(PinStore, String)> {
        let Address::Tcp { host, port } = &self.target.address else {
            return None;
        };
        Some((
            PinStore::new(PinStore::default_path()?),
            PinStore::key(host, *port),
        ))
    }

    fn set_title(&self, desktop_name: Option<&str>) {
        let title = desktop_name
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| self.target.title.clone())
            .unwrap_or_else(|| self.target.address.to_string());
        self.window.set_title(Some(&title));
        self.widgets.title.set_title(&title);
        if !self.display.keyboard_grabbed() {
            self.widgets.title.set_subtitle(&self.address_subtitle());
        }
        self.widgets.toolbar_title.set_label(&title);
    }

    /// The address under the title, unless the title already is it.
    fn address_subtitle(&self) -> String {
        let address = self.target.address.to_string();
        if self.widgets.title.title() == address {
            String::new()
        } else {
            address
        }
    }

    /// Makes the window just large enough for the remote screen at the
    /// current zoom, the first time a session starts, when it fits.
    fn size_to_remote(&mut self, sender: &ComponentSender<Self>) {
        if self.sized || self.window.is_fullscreen() || self.window.is_maximized() {
            return;
        }
        if self.widgets.stack.width() == 0 {
            // Not laid out yet: what surrounds the pages is still unknown.
            let s = sender.clone();
            glib::timeout_add_local_once(Duration::from_millis(50), move || {
                s.input(ViewerMsg::SizeToRemote)
            });
            return;
        }
        self.sized = true;
        let zoom = match self.display.scaling_mode() {
            ScalingMode::Zoom => self.display.zoom(),
            _ => 1.0,
        };
        let scale = f64::from(self.window.scale_factor().max(1));
        let width = (f64::from(self.display.remote_width()) * zoom / scale).ceil() as i32;
        let height = (f64::from(self.display.remote_height()) * zoom / scale).ceil() as i32;
        // Whatever surrounds the pages (header bar, the frame GTK draws
        // without a compositor) stays as it is.
        let (window_width, window_height) = self.window.default_size();
        let extra_width = (window_width - self.widgets.stack.width()).max(0);
        let extra_height = (window_height - self.widgets.stack.height()).max(0);
        let (width, height) = (width + extra_width, height + extra_height);
        let monitor = self
            .window
            .surface()
            .and_then(|s| gtk::prelude::WidgetExt::display(&self.window).monitor_at_surface(&s))
            .map(|m| m.geometry());
        let fits = monitor.is_none_or(|m| width <= m.width() && height <= m.height());
        if fits {
            self.window.set_default_size(width, height);
        }
    }

    fn keyboard_grabbed(&mut self, grabbed: bool) {
        let note =
            gettext("Press {} to release the keyboard").replace("{}", &self.display.ungrab_keys());
        if let Some(id) = self.grab_note.take() {
            id.remove();
        }
        // A kiosk has nowhere else to go: no note about leaving the console.
        if grabbed && !self.target.options.kiosk {
            self.widgets.title.set_subtitle(&note);
            self.widgets.grab_label.set_label(&note);
            self.widgets.grab_revealer.set_reveal_child(true);
            let revealer = self.widgets.grab_revealer.clone();
            let timer = self.grab_note.clone();
            let id = glib::timeout_add_local_once(GRAB_NOTE, move || {
                timer.take();
                revealer.set_reveal_child(false)
            });
            self.grab_note.replace(Some(id));
        } else {
            self.widgets.title.set_subtitle(&self.address_subtitle());
            self.widgets.grab_revealer.set_reveal_child(false);
        }
    }

    fn fullscreen_changed(&self, fullscreen: bool) {
        let kiosk = self.target.options.kiosk;
        self.widgets
            .header_revealer
            .set_reveal_child(!fullscreen && !kiosk);
        self.widgets.toolbar_revealer.set_reveal_child(false);
        if let Some(action) = self.widgets.actions.lookup_action("fullscreen") {
            action.change_state(&fullscreen.to_variant());
        }
    }

    fn toast(&self, text: &str) {
        let toast = adw::Toast::new(text);
        toast.set_timeout(6);
        self.widgets.toasts.add_toast(toast);
    }

    /// Scaling, smoothing and resizing from the settings, then the
    /// command line's zoom and view-only on top (not saved).
    fn apply_settings(&self) {
        let display = &self.display;
        let mode = scaling_from_nick(&self.settings.string("viewer-scaling"));
        display.set_zoom(f64::from(self.settings.int("viewer-zoom")) / 100.0);
        display.set_scaling_mode(mode);
        display.set_smooth(self.settings.boolean("viewer-smooth-scaling"));
        display.set_clipboard_sharing(self.settings.boolean("viewer-clipboard"));
        display.set_audio_enabled(self.settings.boolean("viewer-audio"));
        let options = &self.target.options;
        if let Some(zoom) = options.zoom {
            display.set_zoom(f64::from(zoom) / 100.0);
            display.set_scaling_mode(ScalingMode::Zoom);
        }
        display.set_view_only(options.view_only);
        // The widget itself then releases the grab with --hotkeys' keys.
        if let Some((_, combo)) = options
            .hotkeys
            .iter()
            .find(|(action, _)| *action == HotkeyAction::ReleaseCursor)
        {
            display.set_ungrab_keys(combo.label());
        }
        self.update_resize_guest();
    }

    /// Whether the widget asks the server to follow the window: the
    /// setting (or `--auto-resize`), but never while zoomed, where the
    /// window's size is not the screen's.
    fn update_resize_guest(&self) {
        let wanted = self
            .target
            .options
            .auto_resize
            .unwrap_or_else(|| self.settings.boolean("viewer-resize-guest"));
        let zoomed = self.display.scaling_mode() == ScalingMode::Zoom
            && (self.display.zoom() - 1.0).abs() > f64::EPSILON;
        self.display.set_resize_guest(wanted && !zoomed);
    }

    fn install_actions(&self, sender: &ComponentSender<Self>) {
        widgets::install_actions(self, sender);
    }
}

/// A scaling mode's name in the settings and the menu's action state.
fn scaling_nick(mode: ScalingMode) -> &'static str {
    match mode {
        ScalingMode::OneToOne => "one-to-one",
        ScalingMode::Stretch => "stretch",
        ScalingMode::Zoom => "zoom",
        _ => "fit",
    }
}

/// The scaling mode a [`scaling_nick`] names; fit for anything else.
fn scaling_from_nick(nick: &str) -> ScalingMode {
    match nick {
        "one-to-one" => ScalingMode::OneToOne,
        "stretch" => ScalingMode::Stretch,
        "zoom" => ScalingMode::Zoom,
        _ => ScalingMode::Fit,
    }
}

/// Saves the display's scaling and zoom (from the menu or the keys).
fn save_scaling(settings: &gio::Settings, display: &VncDisplay) {
    let _ = settings.set_string("viewer-scaling", scaling_nick(display.scaling_mode()));
    let _ = settings.set_int("viewer-zoom", (display.zoom() * 100.0).round() as i32);
}

/// Runs a hotkey's action on the viewer.
fn run_hotkey(
    action: HotkeyAction,
    window: &adw::ApplicationWindow,
    sender: &ComponentSender<Viewer>,
) {
    let name = match action {
        HotkeyAction::ToggleFullscreen => "fullscreen",
        HotkeyAction::ReleaseCursor => "release-keyboard",
        HotkeyAction::SecureAttention => {
            let _ = WidgetExt::activate_action(
                window,
                "viewer.send-keys",
                Some(&"ctrl-alt-del".to_variant()),
            );
            return;
        }
        HotkeyAction::ZoomIn => "zoom-in",
        HotkeyAction::ZoomOut => "zoom-out",
        HotkeyAction::ZoomReset => "zoom-reset",
        HotkeyAction::Quit => {
            sender.input(ViewerMsg::Quit);
            return;
        }
    };
    let _ = WidgetExt::activate_action(window, &format!("viewer.{name}"), None);
}
