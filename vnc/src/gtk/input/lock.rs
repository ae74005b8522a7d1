//! The pointer lock of QEMU's relative mode: while the widget has the grab
//! and the server takes motion as deltas, the pointer is warped back to
//! the widget's centre after it moves, so it never reaches the edge of the
//! screen, where the deltas would stop. GTK 4 has no call to lock or warp
//! the pointer: under X11 (feature `x11`) the widget warps it through an X
//! connection of its own to the window GDK made. Elsewhere (Wayland) there
//! is no lock and the pointer moves freely over the widget.
//!
//! Owns the warps and telling their motion apart from the user's; what is
//! sent to the server, and when the lock starts and ends, is `input`'s.

use gtk::gdk;

/// A warp whose motion event has not arrived yet: events before it still
/// carry positions from before the warp.
#[derive(Debug, Clone, Copy)]
struct PendingWarp {
    /// The target, in surface coordinates.
    to: (f64, f64),
    /// The time of the event that caused it (ms, GDK's clock).
    at: u32,
}

/// A warp that has not shown up within this long (the pointer may have
/// been there already, which makes no motion) is given up.
const WARP_EXPIRES_MS: u32 = 250;

/// The lock, when held.
#[derive(Debug, Default)]
pub struct PointerLock {
    active: Option<Active>,
    /// Warping failed once (no X connection): do not try again for this
    /// widget; relative motion then works as without a lock.
    failed: bool,
}

#[derive(Debug)]
struct Active {
    warper: Warper,
    /// Where the pointer was when the lock began: it goes back there on
    /// release, where the user left it.
    home: (f64, f64),
    warps: WarpTracker,
}

/// Tells the motion of the warps apart from the user's.
#[derive(Debug, Default)]
struct WarpTracker {
    pending: Option<PendingWarp>,
}

impl WarpTracker {
    /// See [`PointerLock::origin_of`].
    fn origin_of(&mut self, position: (f64, f64), last: Option<(f64, f64)>) -> Option<(f64, f64)> {
        let Some(pending) = self.pending else {
            return last;
        };
        let to_target = distance(position, pending.to);
        let after_warp =
            to_target < 0.5 || last.is_none_or(|last| to_target < distance(position, last));
        if after_warp {
            self.pending = None;
            return Some(pending.to);
        }
        last
    }

    /// Whether the pointer at `position` should go back to `centre` now:
    /// it is more than `margin` away on either axis and no warp is on its
    /// way.
    fn due(&mut self, position: (f64, f64), centre: (f64, f64), margin: f64, time: u32) -> bool {
        if let Some(pending) = self.pending {
            if time.wrapping_sub(pending.at) < WARP_EXPIRES_MS {
                return false;
            }
            self.pending = None;
        }
        (position.0 - centre.0).abs() > margin || (position.1 - centre.1).abs() > margin
    }

    fn warped(&mut self, to: (f64, f64), time: u32) {
        self.pending = Some(PendingWarp { to, at: time });
    }
}

impl PointerLock {
    /// Whether the pointer over `surface` can be locked at all.
    pub fn available(&self, surface: Option<&gdk::Surface>) -> bool {
        !self.failed && surface.is_some_and(Warper::supports)
    }

    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Locks the pointer, now at `at` over `surface`, and sends it to
    /// `centre`. False if it cannot be locked.
    pub fn engage(
        &mut self,
        surface: &gdk::Surface,
        at: (f64, f64),
        centre: (f64, f64),
        time: u32,
    ) -> bool {
        if self.active.is_some() {
            return true;
        }
        let Some(warper) = Warper::for_surface(surface) else {
            self.failed = true;
            return false;
        };
        let mut active = Active {
            warper,
            home: at,
            warps: WarpTracker::default(),
        };
        active.warp(centre, time);
        self.active = Some(active);
        true
    }

    /// Where the motion of an event at `position` starts: the last
    /// position seen, or the warp's target once the warp happened. GDK
    /// merges the motion events of one frame into the last of them, so the
    /// warp's own event may never show up: an event nearer the target than
    /// the last position comes after the warp. (Motion merged into the
    /// warp's event is lost; it takes a user's event arriving in the
    /// instant between our warp and the server's.)
    pub fn origin_of(
        &mut self,
        position: (f64, f64),
        last: Option<(f64, f64)>,
    ) -> Option<(f64, f64)> {
        match self.active.as_mut() {
            Some(active) => active.warps.origin_of(position, last),
            None => last,
        }
    }

    /// The pointer is at `position`: sends it back to `centre` once it is
    /// more than `margin` away on either axis, unless a warp is still on
    /// its way.
    pub fn recentre(&mut self, position: (f64, f64), centre: (f64, f64), margin: f64, time: u32) {
        if let Some(active) = self.active.as_mut() {
            if active.warps.due(position, centre, margin, time) {
                active.warp(centre, time);
            }
        }
    }

    /// Ends the lock, putting the pointer back where it was when the lock
    /// began. False if there was no lock.
    pub fn release(&mut self) -> bool {
        match self.active.take() {
            Some(active) => {
                active.warper.warp(active.home);
                // Before the connection closes, and before anyone asks
                // where the pointer is.
                active.warper.wait();
                true
            }
            None => false,
        }
    }
}

impl Active {
    fn warp(&mut self, to: (f64, f64), time: u32) {
        if let Some(to) = self.warper.warp(to) {
            self.warps.warped(to, time);
        }
    }
}

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

#[cfg(feature = "x11")]
use x11::Warper;

#[cfg(feature = "x11")]
mod x11 {
    use gtk::gdk;
    use gtk::prelude::*;
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::ConnectionExt;
    use x11rb::rust_connection::RustConnection;
    use x11rb::wrapper::ConnectionExt as _;

    /// Warps the pointer within one X window. A connection of its own
    /// (GDK's is not reachable without unsafe code): the server orders its
    /// warps with GDK's events all the same, which is what matters.
    #[derive(Debug)]
    pub struct Warper {
        connection: RustConnection,
        window: u32,
        scale: f64,
    }

    impl Warper {
        pub fn supports(surface: &gdk::Surface) -> bool {
            surface.is::<gdk4_x11::X11Surface>()
        }

        pub fn for_surface(surface: &gdk::Surface) -> Option<Self> {
            let x11 = surface.downcast_ref::<gdk4_x11::X11Surface>()?;
            let window = u32::try_from(x11.xid()).ok()?;
            let name = surface.display().name();
            let (connection, _) = x11rb::connect(Some(name.as_str())).ok()?;
            Some(Self {
                connection,
                window,
                scale: f64::from(surface.scale_factor().max(1)),
            })
        }

        /// Moves the pointer to `to` (surface coordinates); returns where
        /// it went, rounded to the device pixel.
        pub fn warp(&self, to: (f64, f64)) -> Option<(f64, f64)> {
            let x = (to.0 * self.scale).round();
            let y = (to.1 * self.scale).round();
            let range = f64::from(i16::MIN)..=f64::from(i16::MAX);
            if !range.contains(&x) || !range.contains(&y) {
                return None;
            }
            self.connection
                .warp_pointer(x11rb::NONE, self.window, 0, 0, 0, 0, x as i16, y as i16)
                .ok()?
                .ignore_error();
            self.connection.flush().ok()?;
            // Nothing is asked of the server; drop whatever it sent (errors
            // for a window already gone) so it does not pile up.
            while let Ok(Some(_)) = self.connection.poll_for_event() {}
            Some((x / self.scale, y / self.scale))
        }

        /// Waits until the server has done the warps asked for.
        pub fn wait(&self) {
            // Failing means the connection is gone, and the warps with it.
            let _ = self.connection.sync();
        }
    }
}

#[cfg(not(feature = "x11"))]
use none::Warper;

#[cfg(not(feature = "x11"))]
mod none {
    use gtk::gdk;

    /// Without the `x11` feature nothing can warp the pointer.
    #[derive(Debug)]
    pub enum Warper {}

    impl Warper {
        pub fn supports(_surface: &gdk::Surface) -> bool {
            false
        }

        pub fn for_surface(_surface: &gdk::Surface) -> Option<Self> {
            None
        }

        pub fn warp(&self, _to: (f64, f64)) -> Option<(f64, f64)> {
            match *self {}
        }

        pub fn wait(&self) {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTRE: (f64, f64) = (360.0, 200.0);
    const MARGIN: f64 = 100.0;

    /// A pointer pushed right in steps of 20 from the centre: warped back
    /// once past the margin.
    fn warped_at_the_margin() -> WarpTracker {
        let mut warps = WarpTracker::default();
        assert!(!warps.due((440.0, 200.0), CENTRE, MARGIN, 1_000));
        assert!(warps.due((480.0, 200.0), CENTRE, MARGIN, 1_020));
        warps.warped(CENTRE, 1_020);
        warps
    }

    #[test]
    fn motion_before_the_warp_counts_from_the_last_position() {
        let mut warps = warped_at_the_margin();
        // Already on its way before the server warped.
        let last = Some((480.0, 200.0));
        assert_eq!(warps.origin_of((500.0, 200.0), last), last);
        // No second warp while the first is on its way.
        assert!(!warps.due((500.0, 200.0), CENTRE, MARGIN, 1_030));
        // The warp's own event: no motion.
        assert_eq!(warps.origin_of(CENTRE, Some((500.0, 200.0))), Some(CENTRE));
        assert_eq!(warps.origin_of((380.0, 200.0), Some(CENTRE)), Some(CENTRE));
    }

    #[test]
    fn a_warp_merged_into_the_next_motion_is_not_counted() {
        let mut warps = warped_at_the_margin();
        // GDK delivered only the user's next event, 20 past the centre.
        assert_eq!(
            warps.origin_of((380.0, 200.0), Some((480.0, 200.0))),
            Some(CENTRE)
        );
        // The warp is done: the next one comes at the margin again.
        assert!(!warps.due((380.0, 200.0), CENTRE, MARGIN, 1_040));
        assert_eq!(
            warps.origin_of((400.0, 200.0), Some((380.0, 200.0))),
            Some((380.0, 200.0))
        );
    }

    #[test]
    fn a_warp_that_never_shows_is_given_up() {
        let mut warps = warped_at_the_margin();
        assert!(!warps.due((500.0, 200.0), CENTRE, MARGIN, 1_020 + WARP_EXPIRES_MS - 1));
        assert!(warps.due((500.0, 200.0), CENTRE, MARGIN, 1_020 + WARP_EXPIRES_MS));
        // GDK's clock wraps around.
        let mut warps = WarpTracker::default();
        warps.warped(CENTRE, u32::MAX - 10);
        assert!(!warps.due((500.0, 200.0), CENTRE, MARGIN, 5));
        assert!(warps.due((500.0, 200.0), CENTRE, MARGIN, WARP_EXPIRES_MS));
    }

    #[test]
    fn without_a_warp_the_last_position_is_the_origin() {
        let mut warps = WarpTracker::default();
        assert_eq!(warps.origin_of((1.0, 2.0), None), None);
        assert_eq!(
            warps.origin_of((1.0, 2.0), Some((0.0, 0.0))),
            Some((0.0, 0.0))
        );
    }
}
