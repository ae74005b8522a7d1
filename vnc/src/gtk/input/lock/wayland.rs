//! The Wayland backend of the pointer lock: the compositor locks the
//! pointer on the widget's toplevel surface (`zwp_pointer_constraints_v1`)
//! and reports its motion as deltas (`zwp_relative_pointer_manager_v1`),
//! on GDK's own Wayland connection (no second one: the surface and the
//! pointer are GDK's objects).
//!
//! Our objects live on an event queue of our own, which GDK never
//! dispatches. GDK reads the socket in its event source's check, putting
//! our events on our queue; a main-loop watch on the same socket, at GDK's
//! priority so it comes in the same iteration, then dispatches them. The
//! watch never reads the socket itself: a read while GDK holds a prepared
//! read would wait for GDK, which runs on this very thread.
//!
//! The motion sent is the unaccelerated one: the guest applies its own
//! acceleration to the relative motion it gets, and the host's on top of
//! it would make the guest's pointer fly off with every quick move.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use gdk4_wayland::prelude::*;
use gtk::{gdk, glib};
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::wl_registry::WlRegistry;
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};
use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_locked_pointer_v1::{
    self, ZwpLockedPointerV1,
};
use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1::{
    Lifetime, ZwpPointerConstraintsV1,
};
use wayland_protocols::wp::relative_pointer::zv1::client::zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1;
use wayland_protocols::wp::relative_pointer::zv1::client::zwp_relative_pointer_v1::{
    self, ZwpRelativePointerV1,
};

use super::{LockEvent, LockHandler};

/// The compositor's lock, once asked for: nothing until the first lock
/// (or the first question whether one is possible) under Wayland.
#[derive(Default)]
pub struct Wayland {
    handler: Option<LockHandler>,
    protocols: Protocols,
}

#[derive(Default)]
enum Protocols {
    #[default]
    Unknown,
    /// The compositor lacks one of the protocols, or GDK's display is not
    /// a Wayland one.
    Missing,
    Present(Rc<Globals>),
}

/// The connection and the compositor's two managers, for one widget.
struct Globals {
    connection: Connection,
    queue: RefCell<EventQueue<Received>>,
    handle: QueueHandle<Received>,
    constraints: ZwpPointerConstraintsV1,
    relative: ZwpRelativePointerManagerV1,
    /// The display these belong to.
    display: gdk::Display,
}

/// The events dispatched from our queue, handed to the widget once the
/// queue is no longer borrowed (the widget may release the lock in
/// answer).
#[derive(Default)]
struct Received {
    events: Vec<LockEvent>,
}

/// One lock, held until [`Wayland::unlock`].
pub struct Lock {
    locked: ZwpLockedPointerV1,
    relative: ZwpRelativePointerV1,
    watch: Option<Watch>,
}

/// The main-loop watch that dispatches our queue while a lock is held.
struct Watch {
    source: glib::SourceId,
    /// The watch ended itself (the connection broke): its source is gone.
    ended: Rc<Cell<bool>>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked.id())
            .finish_non_exhaustive()
    }
}

impl Wayland {
    pub fn set_handler(&mut self, handler: LockHandler) {
        self.handler = Some(handler);
    }

    /// Whether `surface` is a Wayland one whose compositor can lock the
    /// pointer. The first call asks the compositor (one round trip).
    pub fn supports(&mut self, surface: &gdk::Surface) -> bool {
        if !surface.is::<gdk4_wayland::WaylandSurface>() {
            return false;
        }
        let display = surface.display();
        if let Protocols::Present(globals) = &self.protocols {
            if globals.display != display {
                self.protocols = Protocols::Unknown;
            }
        }
        if matches!(self.protocols, Protocols::Unknown) {
            self.protocols = match Globals::bind(&display) {
                Ok(globals) => Protocols::Present(Rc::new(globals)),
                Err(why) => {
                    glib::g_debug!(
                        "porthole-vnc",
                        "no pointer lock under this Wayland compositor: {why}"
                    );
                    Protocols::Missing
                }
            };
        }
        matches!(self.protocols, Protocols::Present(_))
    }

    /// Locks the pointer on `surface`'s toplevel, where it is now (`at`,
    /// surface coordinates): it stays there until unlocked and shows up
    /// there again afterwards.
    pub fn lock(&mut self, surface: &gdk::Surface, at: (f64, f64)) -> Option<Lock> {
        if !self.supports(surface) {
            return None;
        }
        let Protocols::Present(globals) = &self.protocols else {
            return None;
        };
        let wl_surface = surface
            .downcast_ref::<gdk4_wayland::WaylandSurface>()?
            .wl_surface()?;
        let pointer = surface
            .display()
            .default_seat()?
            .pointer()?
            .downcast::<gdk4_wayland::WaylandDevice>()
            .ok()?
            .wl_pointer()?;
        let handle = &globals.handle;
        let locked = globals.constraints.lock_pointer(
            &wl_surface,
            &pointer,
            None,
            Lifetime::Oneshot,
            handle,
            (),
        );
        // Where the pointer shows again after the lock (applied with the
        // surface's next commit, which GDK makes when it draws).
        locked.set_cursor_position_hint(at.0, at.1);
        let relative = globals.relative.get_relative_pointer(&pointer, handle, ());
        let _ = globals.connection.flush();
        let watch = self.handler.clone().map(|handler| {
            let weak = Rc::downgrade(globals);
            let fd = globals.connection.backend().poll_fd().as_raw_fd();
            let ended = Rc::new(Cell::new(false));
            let ends = Rc::clone(&ended);
            let broken = glib::IOCondition::HUP | glib::IOCondition::ERR | glib::IOCondition::NVAL;
            let source =
                glib_unix::unix_fd_add_local(fd, glib::IOCondition::IN, move |_, condition| {
                    let globals = weak.upgrade().filter(|_| !condition.intersects(broken));
                    let Some(globals) = globals else {
                        // Level-triggered: a broken socket would wake us
                        // forever.
                        ends.set(true);
                        return glib::ControlFlow::Break;
                    };
                    for event in globals.dispatch() {
                        handler(event);
                    }
                    glib::ControlFlow::Continue
                });
            Watch { source, ended }
        });
        Some(Lock {
            locked,
            relative,
            watch,
        })
    }

    /// Ends `lock`: the pointer is free again, at the hinted position.
    pub fn unlock(&mut self, mut lock: Lock) {
        if let Some(watch) = lock.watch.take() {
            if !watch.ended.get() {
                watch.source.remove();
            }
        }
        lock.locked.destroy();
        lock.relative.destroy();
        if let Protocols::Present(globals) = &self.protocols {
            let _ = globals.connection.flush();
        }
    }
}

impl Globals {
    /// Binds the compositor's managers on a queue of our own on `display`'s
    /// connection.
    fn bind(display: &gdk::Display) -> Result<Self, String> {
        let wayland = display
            .downcast_ref::<gdk4_wayland::WaylandDisplay>()
            .ok_or("not a Wayland display")?;
        let backend = wayland
            .wl_display()
            .ok_or("GDK has no Wayland display")?
            .backend()
            .upgrade()
            .ok_or("the Wayland connection is gone")?;
        let connection = Connection::from_backend(backend);
        let (globals, queue) =
            registry_queue_init::<Received>(&connection).map_err(|e| e.to_string())?;
        let handle = queue.handle();
        let constraints = globals
            .bind::<ZwpPointerConstraintsV1, _, _>(&handle, 1..=1, ())
            .map_err(|e| format!("zwp_pointer_constraints_v1: {e}"))?;
        let relative = globals
            .bind::<ZwpRelativePointerManagerV1, _, _>(&handle, 1..=1, ())
            .map_err(|e| format!("zwp_relative_pointer_manager_v1: {e}"))?;
        Ok(Self {
            connection,
            queue: RefCell::new(queue),
            handle,
            constraints,
            relative,
            display: display.clone(),
        })
    }

    /// Dispatches what GDK read for our queue; returns the events for the
    /// widget.
    fn dispatch(&self) -> Vec<LockEvent> {
        let mut received = Received::default();
        if let Ok(mut queue) = self.queue.try_borrow_mut() {
            if let Err(error) = queue.dispatch_pending(&mut received) {
                glib::g_debug!("porthole-vnc", "the pointer lock's events failed: {error}");
            }
        }
        received.events
    }
}

impl Dispatch<WlRegistry, GlobalListContents> for Received {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // The managers, once bound, stay; the list is not needed after.
    }
}

wayland_client::delegate_noop!(Received: ignore ZwpPointerConstraintsV1);
wayland_client::delegate_noop!(Received: ignore ZwpRelativePointerManagerV1);

impl Dispatch<ZwpLockedPointerV1, ()> for Received {
    fn event(
        state: &mut Self,
        _: &ZwpLockedPointerV1,
        event: zwp_locked_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // A one-shot lock that ends is dead: the widget takes a new one
        // with the next event over it while it has the grab.
        if let zwp_locked_pointer_v1::Event::Unlocked = event {
            state.events.push(LockEvent::Lost);
        }
    }
}

impl Dispatch<ZwpRelativePointerV1, ()> for Received {
    fn event(
        state: &mut Self,
        _: &ZwpRelativePointerV1,
        event: zwp_relative_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwp_relative_pointer_v1::Event::RelativeMotion {
            dx_unaccel,
            dy_unaccel,
            ..
        } = event
        {
            state.events.push(LockEvent::Motion(dx_unaccel, dy_unaccel));
        }
    }
}
