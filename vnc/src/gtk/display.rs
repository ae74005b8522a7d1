//! The `VncDisplay` GObject: its properties and signals, the connection it
//! drives (the driver runs on the shared tokio runtime; its events reach
//! this, the GTK main thread, through the driver's channel polled by a
//! main-context future), and layout. Drawing, input, cursor, clipboard and
//! scaling geometry live in the sibling modules.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::OwnedFd;
use std::time::Duration;

use gtk::glib::subclass::Signal;
use gtk::glib::Properties;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib, graphene};

use super::audio::{self, AudioOutput};
use super::clipboard::ClipboardLink;
use super::cursor::{self, CursorMode};
use super::input::{self, InputState, Leds, UngrabKeys};
use super::render::{self, Damage, GlRenderer, ScreenTexture};
use super::scaling::{self, Placement, ScalingMode};
use crate::address::Address;
use crate::driver::{self, DriverError, DriverEvent, Events, Handle, Stream};
use crate::proto::{self, Config, Event, Extension, Quality};
use crate::security::{Credentials, Fingerprint, PinStore};

/// How long the window must keep a size before the server is asked for it.
const RESIZE_DEBOUNCE: Duration = Duration::from_millis(300);

/// Events handled per main-loop turn before the widget draws and lets
/// other sources run.
const EVENT_BATCH: usize = 512;

/// The priority at which the driver's events are handled: below input, so
/// a server that floods updates cannot hold back the user's keys, and
/// above drawing (GDK's redraw priority is 120), so a frame shows every
/// update that arrived before it.
const EVENT_PRIORITY: glib::Priority = glib::Priority::HIGH_IDLE;

/// Why the last connection ended, sorted for a UI that explains it and
/// says what to do ([`VncDisplay::last_disconnect`]); the `disconnected`
/// signal's text has the details.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DisconnectKind {
    /// [`VncDisplay::disconnect`] was called (or nothing ended yet).
    #[default]
    Requested,
    /// Nothing listens at the address, or the server turned the client away.
    Refused,
    /// The host name does not resolve.
    HostNotFound,
    /// No answer in time, or no route to the host.
    Unreachable,
    /// The server rejected the credentials.
    AuthenticationFailed,
    /// The server ended a running session or hung up during the handshake.
    ClosedByServer,
    /// The server sent something that is not valid RFB (or went over a limit).
    Protocol,
    /// No common security type, or the security handshake failed.
    Security,
    /// TLS verification failed; the user may trust this fingerprint.
    CertificateNotTrusted {
        fingerprint: Fingerprint,
        reason: String,
    },
    /// The host's pinned certificate was replaced by this one.
    CertificateChanged { fingerprint: Fingerprint },
    /// Anything else (a local error).
    Other,
}

impl DisconnectKind {
    /// Sorts a driver error.
    pub fn of(error: &DriverError) -> Self {
        match error {
            DriverError::Resolve { .. } | DriverError::NoAddress { .. } => Self::HostNotFound,
            DriverError::Connect { source, .. }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                Self::Refused
            }
            DriverError::Connect { .. } | DriverError::ConnectTimeout { .. } => Self::Unreachable,
            DriverError::Io(_)
            | DriverError::ClosedDuringHandshake
            | DriverError::ClosedByServer => Self::ClosedByServer,
            DriverError::Session(error) => match error {
                proto::Error::AuthenticationFailed { .. }
                | proto::Error::MissingCredentials { .. } => Self::AuthenticationFailed,
                proto::Error::ConnectionRefused { .. } => Self::Refused,
                proto::Error::CertificateNotTrusted {
                    fingerprint,
                    reason,
                } => Self::CertificateNotTrusted {
                    fingerprint: *fingerprint,
                    reason: reason.clone(),
                },
                proto::Error::CertificateChanged { fingerprint } => Self::CertificateChanged {
                    fingerprint: *fingerprint,
                },
                proto::Error::NoAcceptableSecurity { .. }
                | proto::Error::SecurityFailed { .. }
                | proto::Error::Tls(_) => Self::Security,
                proto::Error::Closed => Self::ClosedByServer,
                _ => Self::Protocol,
            },
        }
    }
}

/// How [`VncDisplay::connect_address_with`] connects.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Let other clients stay connected (ClientInit's shared flag).
    pub shared: bool,
    /// `None`: [`Quality::auto_for`] the address.
    pub quality: Option<Quality>,
    /// Certificates trusted for this host whatever signed them.
    pub pinned: Vec<Fingerprint>,
    /// A store whose certificates pinned for the address's host and port
    /// are trusted too; the connection task reads it, not the UI thread.
    pub pin_store: Option<PinStore>,
    /// Answers the server's first request for credentials (a stored or
    /// given password); a later request emits `auth-required`.
    pub credentials: Option<Credentials>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            shared: true,
            quality: None,
            pinned: Vec::new(),
            pin_store: None,
            credentials: None,
        }
    }
}

/// Which renderer draws the screen.
#[derive(Debug, Default)]
pub(crate) enum Renderer {
    /// Not realized yet.
    #[default]
    Pending,
    Gl(Box<GlRenderer>),
    /// A texture of the whole screen, rebuilt after each update.
    Software(Option<gdk::Texture>),
}

mod imp {
    use super::*;

    #[derive(Debug, Default, Properties)]
    #[properties(wrapper_type = super::VncDisplay)]
    pub struct VncDisplay {
        /// How the screen fits the widget.
        #[property(get, set = Self::set_scaling_mode, builder(ScalingMode::Fit))]
        pub(crate) scaling_mode: Cell<ScalingMode>,
        /// The zoom factor of `ScalingMode::Zoom`, 0.25–4.0.
        #[property(get, set = Self::set_zoom, minimum = scaling::MIN_ZOOM, maximum = scaling::MAX_ZOOM, default = 1.0)]
        pub(crate) zoom: Cell<f64>,
        /// Linear filtering when scaling (`false`: nearest, crisp).
        #[property(get, set = Self::set_smooth, default = true)]
        pub(crate) smooth: Cell<bool>,
        /// Ask the server to take the widget's size when it can.
        #[property(get, set = Self::set_resize_guest, default = true)]
        pub(crate) resize_guest: Cell<bool>,
        /// Show the screen but send no input.
        #[property(get, set, default = false)]
        pub(crate) view_only: Cell<bool>,
        /// Share the clipboard with the server both ways.
        #[property(get, set = Self::set_clipboard_sharing, default = true)]
        pub(crate) clipboard_sharing: Cell<bool>,
        /// The session finished its handshake and runs.
        #[property(get)]
        pub(crate) connected: Cell<bool>,
        #[property(get)]
        pub(crate) desktop_name: RefCell<String>,
        #[property(get)]
        pub(crate) remote_width: Cell<u32>,
        #[property(get)]
        pub(crate) remote_height: Cell<u32>,
        /// The keyboard is grabbed: the desktop's shortcuts go to the
        /// remote machine until the ungrab keys are pressed. In QEMU's
        /// relative pointer mode the pointer is locked in the widget
        /// meanwhile (with the `x11` and `wayland` features).
        #[property(get)]
        pub(crate) keyboard_grabbed: Cell<bool>,
        /// The keys that release the keyboard grab, e.g. "Ctrl+Alt" or
        /// "Ctrl+Alt+G" (see `UngrabKeys::parse`); also for the UI to show.
        #[property(get, set = Self::set_ungrab_keys, default = "Ctrl+Alt")]
        pub(crate) ungrab_keys: RefCell<String>,
        /// How the remote cursor is shown.
        #[property(get, set = Self::set_cursor_mode, builder(CursorMode::Local))]
        pub(crate) cursor_mode: Cell<CursorMode>,
        /// The remote machine's Caps Lock LED (QEMU), kept in step with
        /// the local keyboard's.
        #[property(get)]
        pub(crate) caps_lock: Cell<bool>,
        #[property(get)]
        pub(crate) num_lock: Cell<bool>,
        #[property(get)]
        pub(crate) scroll_lock: Cell<bool>,
        /// Sound the desktop's bell when the remote machine rings.
        #[property(get, set, default = true)]
        pub(crate) bell_enabled: Cell<bool>,
        /// Play the remote machine's audio (QEMU; needs the `audio`
        /// feature).
        #[property(get, set = Self::set_audio_enabled, default = false)]
        pub(crate) audio_enabled: Cell<bool>,
        /// `"gl"` or `"software"` once realized.
        #[property(get)]
        pub(crate) renderer_name: RefCell<String>,
        /// Microseconds from the moment the driver read the last byte of
        /// the oldest update not yet shown to the end of painting the
        /// frame that shows it (0 until one was shown).
        #[property(get)]
        pub(crate) frame_latency_us: Cell<u64>,

        pub(crate) handle: RefCell<Option<Handle>>,
        /// Bumped by every connect and disconnect, so a stale connection's
        /// events are ignored.
        pub(crate) generation: Cell<u64>,
        pub(crate) damage: RefCell<Damage>,
        pub(crate) renderer: RefCell<Renderer>,
        pub(crate) gl_area: RefCell<Option<gtk::GLArea>>,
        /// With GL: the screen as a texture GTK draws itself (see
        /// `render`); the GL area is drawn only for sharp scaling.
        pub(crate) screen_texture: RefCell<Option<ScreenTexture>>,
        pub(crate) input: RefCell<InputState>,
        pub(crate) clipboard: ClipboardLink,
        pub(crate) audio: AudioOutput,
        pub(crate) resize_timeout: RefCell<Option<glib::SourceId>>,
        /// The server takes desktop size requests (it sent a layout).
        pub(crate) can_resize: Cell<bool>,
        /// The server takes XT scancodes (QEMU extended key events).
        pub(crate) extended_keys: Cell<bool>,
        /// The size last asked of the server, not to ask twice.
        pub(crate) requested_size: Cell<(u16, u16)>,
        /// When the oldest update not yet on screen was read, and whether a
        /// frame has drawn it.
        pub(crate) update_arrived: Cell<Option<std::time::Instant>>,
        /// `UpdateComplete` events of this connection so far.
        pub(crate) updates_completed: Cell<u64>,
        pub(crate) update_drawn: Cell<bool>,
        pub(crate) after_paint: RefCell<Option<(gdk::FrameClock, glib::SignalHandlerId)>>,
        pub(crate) last_disconnect: RefCell<DisconnectKind>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for VncDisplay {
        const NAME: &'static str = "PortholeVncDisplay";
        type Type = super::VncDisplay;
        type ParentType = gtk::Widget;

        fn class_init(klass: &mut Self::Class) {
            klass.set_css_name("vnc-display");
            klass.set_accessible_role(gtk::AccessibleRole::Img);
        }
    }

    #[glib::derived_properties]
    impl ObjectImpl for VncDisplay {
        fn signals() -> &'static [Signal] {
            static SIGNALS: std::sync::OnceLock<Vec<Signal>> = std::sync::OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    Signal::builder("connected").build(),
                    // The reason, empty after a requested disconnect.
                    Signal::builder("disconnected")
                        .param_types([String::static_type()])
                        .build(),
                    // Which credentials the server wants: username, password.
                    Signal::builder("auth-required")
                        .param_types([bool::static_type(), bool::static_type()])
                        .build(),
                    Signal::builder("desktop-name-changed")
                        .param_types([String::static_type()])
                        .build(),
                    // The remote screen's new width and height.
                    Signal::builder("resized")
                        .param_types([u32::static_type(), u32::static_type()])
                        .build(),
                    Signal::builder("bell").build(),
                ]
            })
        }

        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.set_focusable(true);
            obj.set_hexpand(true);
            obj.set_vexpand(true);
            self.zoom.set(1.0);
            self.smooth.set(true);
            self.resize_guest.set(true);
            self.clipboard_sharing.set(true);
            self.ungrab_keys.replace("Ctrl+Alt".to_owned());
            self.bell_enabled.set(true);
            if !render::software_requested() {
                let area = gtk::GLArea::new();
                area.set_auto_render(false);
                area.set_has_depth_buffer(false);
                area.set_has_stencil_buffer(false);
                area.set_parent(&*obj);
                let weak = obj.downgrade();
                area.connect_realize(move |area| {
                    if let Some(display) = weak.upgrade() {
                        display.imp().realize_gl(area);
                    }
                });
                let weak = obj.downgrade();
                area.connect_unrealize(move |area| {
                    if let Some(display) = weak.upgrade() {
                        display.imp().unrealize_gl(area);
                    }
                });
                let weak = obj.downgrade();
                area.connect_render(move |area, _| {
                    if let Some(display) = weak.upgrade() {
                        display.imp().render_gl(area);
                    }
                    glib::Propagation::Stop
                });
                self.gl_area.replace(Some(area));
            } else {
                self.use_software();
            }
            input::attach(&obj);
        }

        fn dispose(&self) {
            self.disconnect_quietly();
            if let Some(area) = self.gl_area.take() {
                area.unparent();
            }
        }
    }

    impl WidgetImpl for VncDisplay {
        fn realize(&self) {
            self.parent_realize();
            let obj = self.obj();
            if let Some(clock) = obj.frame_clock() {
                let weak = obj.downgrade();
                let id = clock.connect_after_paint(move |_| {
                    if let Some(display) = weak.upgrade() {
                        display.imp().frame_painted();
                    }
                });
                self.after_paint.replace(Some((clock, id)));
            }
            if self.gl_area.borrow().is_some() {
                match ScreenTexture::new(&*obj) {
                    Ok(texture) => {
                        self.screen_texture.replace(Some(texture));
                    }
                    Err(reason) => glib::g_warning!(
                        "porthole-vnc",
                        "GTK cannot draw the screen's texture itself ({reason}); drawing through the GL area"
                    ),
                }
            }
        }

        fn unrealize(&self) {
            if let Some((clock, id)) = self.after_paint.take() {
                clock.disconnect(id);
            }
            if let Some(texture) = self.screen_texture.take() {
                texture.destroy();
            }
            self.parent_unrealize();
        }

        fn measure(&self, orientation: gtk::Orientation, _for_size: i32) -> (i32, i32, i32, i32) {
            let scale = f64::from(self.obj().scale_factor().max(1));
            let (w, h) =
                scaling::natural_size(self.scaling_mode.get(), self.zoom.get(), self.remote_size());
            let natural = match orientation {
                gtk::Orientation::Horizontal => w,
                _ => h,
            };
            // One remote pixel is one device pixel: divide by the scale.
            let natural = (natural / scale).ceil() as i32;
            let minimum = match self.scaling_mode.get() {
                ScalingMode::OneToOne | ScalingMode::Zoom => natural,
                ScalingMode::Fit | ScalingMode::Stretch => 1,
            };
            (minimum, natural.max(minimum), -1, -1)
        }

        fn size_allocate(&self, width: i32, height: i32, baseline: i32) {
            if let Some(area) = self.gl_area.borrow().as_ref() {
                area.allocate(width, height, baseline, None);
            }
            self.schedule_guest_resize();
        }

        fn snapshot(&self, snapshot: &gtk::Snapshot) {
            let obj = self.obj();
            self.mark_drawn();
            if !self.draws_directly() {
                if let Some(area) = self.gl_area.borrow().as_ref() {
                    obj.snapshot_child(area, snapshot);
                    return;
                }
            }
            let (width, height) = (f64::from(obj.width()), f64::from(obj.height()));
            let scale = f64::from(obj.scale_factor().max(1));
            let p = self.placement((width * scale, height * scale));
            let rect = graphene::Rect::new(
                (p.x / scale) as f32,
                (p.y / scale) as f32,
                (p.width / scale) as f32,
                (p.height / scale) as f32,
            );
            // Black only around the picture: with software GL every pixel
            // drawn twice costs a frame a few ms.
            for bar in bars(width as f32, height as f32, &rect) {
                snapshot.append_color(&gdk::RGBA::BLACK, &bar);
            }
            let mut screen_texture = self.screen_texture.borrow_mut();
            if let Some(screen) = screen_texture.as_mut() {
                let damage = self.damage.replace(Damage::None);
                if !damage.is_none() {
                    if let Renderer::Gl(gl) = &mut *self.renderer.borrow_mut() {
                        gl.invalidate();
                    }
                }
                let handle = self.handle.borrow();
                // Locked only for this frame's uploads.
                let framebuffer = handle.as_ref().map(|h| h.lock_framebuffer());
                // One texel per device pixel needs no filtering: nearest
                // reads one texel where linear reads four.
                let smooth = self.smooth.get() && !p.is_one_to_one(self.remote_size());
                let texture = screen.update(framebuffer.as_deref(), damage, smooth);
                drop(framebuffer);
                if let Some(texture) = texture {
                    snapshot.append_texture(&texture, &rect);
                }
                return;
            }
            if !self.damage.borrow().is_none() {
                self.damage.replace(Damage::None);
                let texture = self
                    .handle
                    .borrow()
                    .as_ref()
                    .and_then(|h| render::texture_of(&h.lock_framebuffer()));
                if texture.is_some() {
                    self.renderer.replace(Renderer::Software(texture));
                }
            }
            if let Renderer::Software(Some(texture)) = &*self.renderer.borrow() {
                // GTK 4.8 has no filter choice here (4.10 does): software
                // rendering always scales smoothly.
                snapshot.append_texture(texture, &rect);
            }
        }
    }

    impl VncDisplay {
        fn set_scaling_mode(&self, mode: ScalingMode) {
            self.scaling_mode.set(mode);
            self.layout_changed();
        }

        fn set_zoom(&self, zoom: f64) {
            self.zoom.set(scaling::clamp_zoom(zoom));
            self.layout_changed();
        }

        fn set_smooth(&self, smooth: bool) {
            self.smooth.set(smooth);
            self.redraw();
        }

        fn set_resize_guest(&self, resize: bool) {
            self.resize_guest.set(resize);
            self.requested_size.set((0, 0));
            self.schedule_guest_resize();
        }

        fn set_ungrab_keys(&self, keys: String) {
            match UngrabKeys::parse(&keys) {
                Some(parsed) => {
                    self.input.borrow_mut().ungrab = parsed;
                    self.ungrab_keys.replace(keys);
                }
                None => glib::g_warning!(
                    "porthole-vnc",
                    "ungrab keys {keys:?} are not a key combination such as \"Ctrl+Alt\"; keeping {:?}",
                    self.ungrab_keys.borrow()
                ),
            }
        }

        fn set_cursor_mode(&self, mode: CursorMode) {
            self.cursor_mode.set(mode);
            if let Some(handle) = self.handle.borrow().as_ref() {
                handle.set_local_cursor(mode != CursorMode::Remote);
            }
            cursor::refresh(&self.obj());
        }

        fn set_audio_enabled(&self, enabled: bool) {
            self.audio_enabled.set(enabled);
            audio::apply(&self.obj());
        }

        fn set_clipboard_sharing(&self, sharing: bool) {
            self.clipboard_sharing.set(sharing);
            let obj = self.obj();
            match (sharing, self.handle.borrow().clone()) {
                (true, Some(handle)) => self.clipboard.start(&*obj, handle),
                _ => self.clipboard.stop(&*obj),
            }
        }

        pub(crate) fn remote_size(&self) -> (u16, u16) {
            let w = u16::try_from(self.remote_width.get()).unwrap_or(u16::MAX);
            let h = u16::try_from(self.remote_height.get()).unwrap_or(u16::MAX);
            (w, h)
        }

        /// Where the screen goes in an `area` of device pixels.
        pub(crate) fn placement(&self, area: (f64, f64)) -> Placement {
            scaling::place(
                self.scaling_mode.get(),
                self.zoom.get(),
                self.remote_size(),
                area,
            )
        }

        fn layout_changed(&self) {
            self.obj().queue_resize();
            self.redraw();
        }

        /// Draws again (after damage or a change of how to draw).
        pub(crate) fn redraw(&self) {
            match self.gl_area.borrow().as_ref() {
                Some(area) if !self.draws_directly() => area.queue_render(),
                _ => self.obj().queue_draw(),
            }
        }

        /// Whether GTK draws the screen's texture itself: at one remote
        /// pixel per device pixel, or scaled smoothly (GTK 4.8 always
        /// filters linearly). Sharp scaling needs the GL area's quad.
        fn draws_directly(&self) -> bool {
            if self.screen_texture.borrow().is_none() {
                return false;
            }
            if self.smooth.get() {
                return true;
            }
            let obj = self.obj();
            let scale = f64::from(obj.scale_factor().max(1));
            let area = (
                f64::from(obj.width()) * scale,
                f64::from(obj.height()) * scale,
            );
            self.placement(area).is_one_to_one(self.remote_size())
        }

        fn use_software(&self) {
            self.renderer.replace(Renderer::Software(None));
            self.renderer_name.replace("software".to_owned());
            self.damage.replace(Damage::Full);
            self.obj().notify_renderer_name();
        }

        fn realize_gl(&self, area: &gtk::GLArea) {
            match GlRenderer::new(area) {
                Ok(renderer) => {
                    self.renderer.replace(Renderer::Gl(Box::new(renderer)));
                    self.renderer_name.replace("gl".to_owned());
                    self.damage.replace(Damage::Full);
                    self.obj().notify_renderer_name();
                }
                Err(reason) => {
                    glib::g_warning!(
                        "porthole-vnc",
                        "GL rendering is not available ({reason}); drawing in software"
                    );
                    // Unparenting inside the realize handler would
                    // unrealize mid-signal: drop the area from an idle.
                    let area = area.clone();
                    glib::idle_add_local_once(move || area.unparent());
                    self.gl_area.replace(None);
                    self.screen_texture.replace(None);
                    self.use_software();
                    self.obj().queue_draw();
                }
            }
        }

        fn unrealize_gl(&self, area: &gtk::GLArea) {
            area.make_current();
            if let Renderer::Gl(renderer) = self.renderer.replace(Renderer::Pending) {
                renderer.destroy();
            }
        }

        /// A frame is being drawn: it shows the updates that arrived.
        fn mark_drawn(&self) {
            if self.update_arrived.get().is_some() {
                self.update_drawn.set(true);
            }
        }

        fn frame_painted(&self) {
            if !self.update_drawn.replace(false) {
                return;
            }
            if let Some(arrived) = self.update_arrived.take() {
                let micros = u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.frame_latency_us.set(micros);
                self.obj().notify_frame_latency_us();
            }
        }

        fn render_gl(&self, area: &gtk::GLArea) {
            self.mark_drawn();
            let mut renderer = self.renderer.borrow_mut();
            let Renderer::Gl(gl) = &mut *renderer else {
                return;
            };
            let scale = area.scale_factor().max(1);
            let viewport = (area.width() * scale, area.height() * scale);
            let placement = self.placement((f64::from(viewport.0), f64::from(viewport.1)));
            let damage = self.damage.replace(Damage::None);
            if !damage.is_none() {
                if let Some(screen) = self.screen_texture.borrow_mut().as_mut() {
                    screen.invalidate();
                }
            }
            let handle = self.handle.borrow();
            // The lock is held only for the uploads of this frame.
            let framebuffer = handle.as_ref().map(|h| h.lock_framebuffer());
            gl.draw(
                framebuffer.as_deref(),
                damage,
                placement,
                viewport,
                self.smooth.get(),
            );
        }

        /// Asks the server, after the size settled, for the widget's size
        /// in device pixels.
        pub(crate) fn schedule_guest_resize(&self) {
            if let Some(id) = self.resize_timeout.take() {
                id.remove();
            }
            if !self.resize_guest.get() || !self.connected.get() || !self.can_resize.get() {
                return;
            }
            let weak = self.obj().downgrade();
            let id = glib::timeout_add_local_once(RESIZE_DEBOUNCE, move || {
                if let Some(display) = weak.upgrade() {
                    display.imp().resize_timeout.replace(None);
                    display.imp().request_guest_size();
                }
            });
            self.resize_timeout.replace(Some(id));
        }

        fn request_guest_size(&self) {
            let obj = self.obj();
            let scale = obj.scale_factor().max(1);
            let size = (
                u16::try_from(obj.width() * scale).unwrap_or(0),
                u16::try_from(obj.height() * scale).unwrap_or(0),
            );
            if size.0 < 16 || size.1 < 16 || size == self.remote_size() {
                return;
            }
            if size == self.requested_size.get() {
                return;
            }
            if let Some(handle) = self.handle.borrow().as_ref() {
                handle.request_desktop_size(size.0, size.1);
                self.requested_size.set(size);
            }
        }

        /// Ends the current connection without a `disconnected` signal
        /// (a new connection replaces it, or the widget goes away).
        pub(crate) fn disconnect_quietly(&self) {
            self.generation.set(self.generation.get().wrapping_add(1));
            if let Some(handle) = self.handle.take() {
                handle.shutdown();
            }
            self.reset_session_state();
        }

        fn reset_session_state(&self) {
            let obj = self.obj();
            input::release_all(&obj);
            input::ungrab(&obj);
            self.clipboard.stop(&*obj);
            if let Some(id) = self.resize_timeout.take() {
                id.remove();
            }
            self.requested_size.set((0, 0));
            self.can_resize.set(false);
            self.extended_keys.set(false);
            self.updates_completed.set(0);
            self.input.borrow_mut().reset_session();
            // No server, no lit LEDs.
            self.set_leds(false, false, false);
            self.audio.reset();
            obj.set_cursor(None);
            if self.connected.replace(false) {
                obj.notify_connected();
            }
        }

        /// The server's lock LEDs as properties, notified when they change.
        fn set_leds(&self, caps: bool, num: bool, scroll: bool) {
            let obj = self.obj();
            for (cell, value, name) in [
                (&self.caps_lock, caps, "caps-lock"),
                (&self.num_lock, num, "num-lock"),
                (&self.scroll_lock, scroll, "scroll-lock"),
            ] {
                if cell.replace(value) != value {
                    obj.notify(name);
                }
            }
        }

        /// Handles one driver event on the main thread.
        pub(crate) fn handle_event(&self, event: DriverEvent) {
            let obj = self.obj();
            let event = match event {
                DriverEvent::Session(event) => event,
                DriverEvent::Closed(result) => {
                    self.generation.set(self.generation.get().wrapping_add(1));
                    self.handle.replace(None);
                    self.reset_session_state();
                    let kind = result.as_ref().err().map(DisconnectKind::of);
                    self.last_disconnect.replace(kind.unwrap_or_default());
                    let reason = result.err().map(|e| e.to_string()).unwrap_or_default();
                    obj.emit_by_name::<()>("disconnected", &[&reason]);
                    return;
                }
            };
            match event {
                Event::Connected {
                    name,
                    width,
                    height,
                    ..
                } => {
                    self.set_remote_size(width, height);
                    self.desktop_name.replace(name.clone());
                    self.connected.set(true);
                    obj.notify_desktop_name();
                    obj.notify_connected();
                    if self.clipboard_sharing.get() {
                        if let Some(handle) = self.handle.borrow().clone() {
                            self.clipboard.start(&*obj, handle);
                        }
                    }
                    if self.cursor_mode.get() == CursorMode::Remote {
                        if let Some(handle) = self.handle.borrow().as_ref() {
                            handle.set_local_cursor(false);
                        }
                    }
                    cursor::refresh(&obj);
                    input::session_started(&obj);
                    obj.emit_by_name::<()>("connected", &[]);
                    obj.emit_by_name::<()>("desktop-name-changed", &[&name]);
                    self.schedule_guest_resize();
                }
                Event::Resized { width, height } => {
                    self.set_remote_size(width, height);
                    obj.emit_by_name::<()>("resized", &[&u32::from(width), &u32::from(height)]);
                }
                Event::Damage(rect) => self.damage.borrow_mut().add(rect),
                Event::UpdateComplete => {
                    let number = self.updates_completed.get();
                    self.updates_completed.set(number + 1);
                    if self.update_arrived.get().is_none() {
                        let read_at = self
                            .handle
                            .borrow()
                            .as_ref()
                            .and_then(|h| h.update_read_at(number));
                        self.update_arrived
                            .set(Some(read_at.unwrap_or_else(std::time::Instant::now)));
                    }
                    self.redraw();
                }
                Event::CredentialsRequired { username, password } => {
                    obj.emit_by_name::<()>("auth-required", &[&username, &password]);
                }
                Event::Cursor(image) => cursor::server_cursor(&obj, image),
                Event::Bell => {
                    if self.bell_enabled.get() {
                        obj.error_bell();
                    }
                    obj.emit_by_name::<()>("bell", &[]);
                }
                Event::ServerCutText(text) if self.clipboard_sharing.get() => {
                    self.clipboard.show_server_text(&*obj, text);
                }
                Event::ClipboardText(text) if self.clipboard_sharing.get() => {
                    self.clipboard.show_server_text(&*obj, text);
                }
                Event::DesktopLayout { .. } if !self.can_resize.get() => {
                    self.can_resize.set(true);
                    self.schedule_guest_resize();
                }
                Event::Supported(Extension::ExtendedKeys) => self.extended_keys.set(true),
                Event::Supported(Extension::Audio) => audio::supported(&obj),
                Event::Leds { caps, num, scroll } => {
                    input::leds_changed(&obj, Leds { caps, num, scroll });
                    self.set_leds(caps, num, scroll);
                }
                Event::PointerMode { relative } => input::pointer_mode(&obj, relative),
                Event::AudioStarted(format) => audio::started(&obj, format),
                Event::AudioData(samples) => audio::data(&obj, samples),
                Event::AudioStopped => audio::stopped(&obj),
                Event::DesktopName(name) => {
                    self.desktop_name.replace(name.clone());
                    obj.notify_desktop_name();
                    obj.emit_by_name::<()>("desktop-name-changed", &[&name]);
                }
                // The local cursor already is where the user put it; the
                // rest are handshake details.
                _ => {}
            }
        }

        fn set_remote_size(&self, width: u16, height: u16) {
            let obj = self.obj();
            self.remote_width.set(u32::from(width));
            self.remote_height.set(u32::from(height));
            obj.notify_remote_width();
            obj.notify_remote_height();
            self.damage.replace(Damage::Full);
            obj.queue_resize();
            self.redraw();
        }
    }
}

glib::wrapper! {
    /// A VNC console: shows a remote screen, scaled to fit by default, and
    /// sends keyboard, pointer and clipboard to it.
    ///
    /// Connect with [`VncDisplay::connect_address`] (or a socket someone
    /// else opened); follow `connected`, `disconnected`, `auth-required`
    /// (answer with [`VncDisplay::provide_credentials`]) and the read-only
    /// properties. Decoding runs on a background tokio runtime; this
    /// widget only uploads changed pixels and draws.
    pub struct VncDisplay(ObjectSubclass<imp::VncDisplay>)
        @extends gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget;
}

impl Default for VncDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl VncDisplay {
    pub fn new() -> Self {
        glib::Object::new()
    }

    /// Connects to a server at `address` (replacing any connection).
    pub fn connect_address(&self, address: &Address) {
        let address = address.clone();
        self.start(async move {
            let stream = driver::connect(&address, driver::DEFAULT_CONNECT_TIMEOUT).await?;
            let (handle, events, _join) = driver::spawn(stream, Config::default(), None);
            Ok((handle, events))
        });
    }

    /// Connects to a server at `address` with `options`; the TLS
    /// certificate must be for the address's host (or pinned).
    pub fn connect_address_with(&self, address: &Address, options: ConnectOptions) {
        let address = address.clone();
        let mut config = Config {
            shared: options.shared,
            quality: options
                .quality
                .unwrap_or_else(|| Quality::auto_for(&address)),
            ..Config::default()
        };
        config.tls.pinned = options.pinned;
        let mut pins = None;
        if let Address::Tcp { host, port } = &address {
            config.tls.server_name = Some(host.clone());
            pins = options
                .pin_store
                .map(|store| (store, PinStore::key(host, *port)));
        }
        self.start(async move {
            if let Some((store, key)) = pins {
                // An unreadable store trusts nothing more: the certificate
                // dialog then asks, and "always" writes the store anew.
                if let Ok(Ok(pinned)) = tokio::task::spawn_blocking(move || store.load(&key)).await
                {
                    config.tls.pinned.extend(pinned);
                }
            }
            let stream = driver::connect(&address, driver::DEFAULT_CONNECT_TIMEOUT).await?;
            let (handle, events, _join) = driver::spawn(stream, config, options.credentials);
            Ok((handle, events))
        });
    }

    /// Why the last connection ended (kept until the next one ends).
    pub fn last_disconnect(&self) -> DisconnectKind {
        self.imp().last_disconnect.borrow().clone()
    }

    /// Gives the keyboard back to the desktop if it was grabbed (as the
    /// ungrab keys do), for an application's own release shortcut.
    pub fn release_keyboard(&self) {
        input::ungrab(self);
    }

    /// Runs a session over an already-connected socket, such as the one
    /// libvirt's `OpenGraphicsFD` returns.
    pub fn connect_fd(&self, fd: OwnedFd) {
        self.start(async move {
            let stream = Stream::from_fd(fd)?;
            let (handle, events, _join) = driver::spawn(stream, Config::default(), None);
            Ok((handle, events))
        });
    }

    /// Runs a session over any stream (a TLS or SSH tunnel, a test pipe).
    pub fn connect_stream(&self, stream: Stream) {
        self.start(async move {
            let (handle, events, _join) = driver::spawn(stream, Config::default(), None);
            Ok((handle, events))
        });
    }

    /// Answers `auth-required`.
    pub fn provide_credentials(&self, username: Option<&str>, password: Option<&str>) {
        if let Some(handle) = self.imp().handle.borrow().as_ref() {
            handle.provide_credentials(Credentials {
                username: username.map(str::to_owned),
                password: password.map(str::to_owned),
            });
        }
    }

    /// Closes the connection; `disconnected` follows with an empty reason.
    pub fn disconnect(&self) {
        if let Some(handle) = self.imp().handle.borrow().as_ref() {
            handle.shutdown();
        }
    }

    /// Presses `keysyms` in order and releases them in reverse, e.g.
    /// Control_L, Alt_L, Delete for Ctrl+Alt+Del (see [`super::keys`]).
    pub fn send_keys(&self, keysyms: &[u32]) {
        if let Some(handle) = self.imp().handle.borrow().as_ref() {
            for keysym in keysyms {
                handle.key_event(true, *keysym);
            }
            for keysym in keysyms.iter().rev() {
                handle.key_event(false, *keysym);
            }
        }
    }

    /// The remote screen as it is now; `None` before the first update.
    pub fn screenshot(&self) -> Option<gdk::Texture> {
        let handle = self.handle()?;
        let framebuffer = handle.lock_framebuffer();
        render::texture_of(&framebuffer)
    }

    /// The remote screen as PNG bytes.
    pub fn screenshot_png(&self) -> Option<glib::Bytes> {
        Some(self.screenshot()?.save_to_png_bytes())
    }

    /// Zooms one step in (`ScalingMode::Zoom` from now on).
    pub fn zoom_in(&self) {
        self.set_zoom(scaling::step_zoom(self.zoom(), true));
        self.set_scaling_mode(ScalingMode::Zoom);
    }

    /// Zooms one step out (`ScalingMode::Zoom` from now on).
    pub fn zoom_out(&self) {
        self.set_zoom(scaling::step_zoom(self.zoom(), false));
        self.set_scaling_mode(ScalingMode::Zoom);
    }

    /// Back to one remote pixel per device pixel.
    pub fn zoom_reset(&self) {
        self.set_zoom(1.0);
        self.set_scaling_mode(ScalingMode::Zoom);
    }

    /// Runs `f` when the session is up.
    pub fn connect_connected<F: Fn(&Self) + 'static>(&self, f: F) -> glib::SignalHandlerId {
        self.connect_closure(
            "connected",
            false,
            glib::closure_local!(move |display: &Self| f(display)),
        )
    }

    /// Runs `f` when the connection ended, with the reason (empty after
    /// [`VncDisplay::disconnect`]).
    pub fn connect_disconnected<F: Fn(&Self, &str) + 'static>(
        &self,
        f: F,
    ) -> glib::SignalHandlerId {
        self.connect_closure(
            "disconnected",
            false,
            glib::closure_local!(move |display: &Self, reason: &str| f(display, reason)),
        )
    }

    /// Runs `f` when the server wants credentials (whether a username,
    /// whether a password); answer with [`VncDisplay::provide_credentials`].
    pub fn connect_auth_required<F: Fn(&Self, bool, bool) + 'static>(
        &self,
        f: F,
    ) -> glib::SignalHandlerId {
        self.connect_closure(
            "auth-required",
            false,
            glib::closure_local!(move |display: &Self, username: bool, password: bool| {
                f(display, username, password)
            }),
        )
    }

    /// Runs `f` when the remote screen changes size.
    pub fn connect_resized<F: Fn(&Self, u32, u32) + 'static>(&self, f: F) -> glib::SignalHandlerId {
        self.connect_closure(
            "resized",
            false,
            glib::closure_local!(move |display: &Self, width: u32, height: u32| {
                f(display, width, height)
            }),
        )
    }

    /// Runs `f` when the remote machine rings its bell (the widget has
    /// already sounded the desktop's bell).
    pub fn connect_bell<F: Fn(&Self) + 'static>(&self, f: F) -> glib::SignalHandlerId {
        self.connect_closure(
            "bell",
            false,
            glib::closure_local!(move |display: &Self| f(display)),
        )
    }

    /// The running connection's handle (for the sibling modules).
    pub(crate) fn handle(&self) -> Option<Handle> {
        self.imp().handle.borrow().clone()
    }

    /// Connects with `connect` on the shared runtime, then forwards the
    /// driver's events to this widget until the connection ends or the
    /// widget is gone.
    fn start<F>(&self, connect: F)
    where
        F: Future<Output = Result<(Handle, Events), DriverError>> + Send + 'static,
    {
        let imp = self.imp();
        imp.disconnect_quietly();
        let generation = imp.generation.get();
        let weak = self.downgrade();
        let task = super::runtime().map(|runtime| runtime.spawn(connect));
        glib::MainContext::default().spawn_local_with_priority(EVENT_PRIORITY, async move {
            let connected = match task {
                Ok(join) => match join.await {
                    Ok(result) => result,
                    Err(error) => Err(DriverError::Io(std::io::Error::other(error))),
                },
                Err(error) => Err(DriverError::Io(error)),
            };
            let (handle, mut events) = match connected {
                Ok(pair) => pair,
                Err(error) => {
                    if let Some(display) = weak.upgrade() {
                        if display.imp().generation.get() == generation {
                            display.imp().handle_event(DriverEvent::Closed(Err(error)));
                        }
                    }
                    return;
                }
            };
            match weak.upgrade() {
                Some(display) if display.imp().generation.get() == generation => {
                    display.imp().handle.replace(Some(handle));
                }
                _ => {
                    handle.shutdown();
                    return;
                }
            }
            while let Some(first) = events.recv().await {
                let Some(display) = weak.upgrade() else {
                    return;
                };
                let imp = display.imp();
                if imp.generation.get() != generation {
                    return;
                }
                let mut next = Some(first);
                let mut handled = 0;
                while let Some(event) = next.take() {
                    let closed = matches!(event, DriverEvent::Closed(_));
                    imp.handle_event(event);
                    if closed {
                        return;
                    }
                    handled += 1;
                    if handled < EVENT_BATCH {
                        next = events.try_recv().ok();
                    }
                }
                drop(display);
                if handled >= EVENT_BATCH {
                    // More are waiting and `recv` would not yield: wait for
                    // a turn below drawing, so a flood cannot hold frames back.
                    glib::timeout_future_with_priority(
                        glib::Priority::DEFAULT_IDLE,
                        Duration::ZERO,
                    )
                    .await;
                }
            }
            // The driver always ends with `Closed`; a channel that closed
            // without it means its task died.
            if let Some(display) = weak.upgrade() {
                if display.imp().generation.get() == generation {
                    let error =
                        DriverError::Io(std::io::Error::other("the connection task stopped"));
                    display.imp().handle_event(DriverEvent::Closed(Err(error)));
                }
            }
        });
    }
}

/// The parts of a `width × height` widget that `picture` leaves uncovered
/// (at most four bars around it).
fn bars(width: f32, height: f32, picture: &graphene::Rect) -> Vec<graphene::Rect> {
    let left = picture.x().clamp(0.0, width);
    let right = (picture.x() + picture.width()).clamp(left, width);
    let top = picture.y().clamp(0.0, height);
    let bottom = (picture.y() + picture.height()).clamp(top, height);
    [
        graphene::Rect::new(0.0, 0.0, width, top),
        graphene::Rect::new(0.0, bottom, width, height - bottom),
        graphene::Rect::new(0.0, top, left, bottom - top),
        graphene::Rect::new(right, top, width - right, bottom - top),
    ]
    .into_iter()
    .filter(|bar| bar.width() > 0.0 && bar.height() > 0.0)
    .collect()
}
