//! The pointer lock of QEMU's relative mode: while the widget has the grab
//! and the server takes motion as deltas, the pointer must not stop at the
//! edge of the screen. GTK 4 has no call for it, so there are two
//! backends: under X11 (feature `x11`, [`x11`]) the pointer is warped back
//! to the widget's centre after it moves, and the motion is read from the
//! positions; under Wayland (feature `wayland`, [`wayland`]) the compositor
//! locks the pointer and reports the motion itself. Elsewhere, or where the
//! compositor lacks the protocols, there is no lock and the pointer moves
//! freely over the widget.
//!
//! Owns the choice of backend, the warps and telling their motion apart
//! from the user's; what is sent to the server, and when the lock starts
//! and ends, is `input`'s.

use std::rc::Rc;

use gtk::gdk;

#[cfg(feature = "wayland")]
mod wayland;
#[cfg(feature = "x11")]
mod x11;

/// What a lock that reports motion itself (Wayland) tells the widget, from
/// the main loop.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(not(feature = "wayland"), allow(dead_code))]
pub enum LockEvent {
    /// The pointer moved by this much, in surface coordinates.
    Motion(f64, f64),
    /// The compositor ended the lock (e.g. another window took the
    /// pointer).
    Lost,
}

/// Receives the [`LockEvent`]s.
pub type LockHandler = Rc<dyn Fn(LockEvent)>;

/// A warp whose motion event has not arrived yet: events before it still
/// carry positions from before the warp.
#[cfg_attr(not(feature = "x11"), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
struct PendingWarp {
    /// The target, in surface coordinates.
    to: (f64, f64),
    /// The time of the event that caused it (ms, GDK's clock).
    at: u32,
}

/// A warp that has not shown up within this long (the pointer may have
/// been there already, which makes no motion) is given up.
#[cfg_attr(not(feature = "x11"), allow(dead_code))]
const WARP_EXPIRES_MS: u32 = 250;

/// The lock, when held, and the backends' connections, kept for the
/// widget's life once opened.
#[derive(Default)]
pub struct PointerLock {
    active: Option<Active>,
    #[cfg(feature = "x11")]
    x11: x11::X11,
    #[cfg(feature = "wayland")]
    wayland: wayland::Wayland,
}

impl std::fmt::Debug for PointerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointerLock")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Active {
    /// The pointer is warped back to the centre.
    #[cfg(feature = "x11")]
    Warp {
        warper: x11::Warper,
        /// Where the pointer was when the lock began: it goes back there
        /// on release, where the user left it.
        home: (f64, f64),
        warps: WarpTracker,
    },
    /// The compositor holds the pointer and reports its motion.
    #[cfg(feature = "wayland")]
    Wayland(wayland::Lock),
    /// Without a backend there is never a lock.
    #[cfg(not(any(feature = "x11", feature = "wayland")))]
    #[allow(dead_code)]
    Never(std::convert::Infallible),
}

/// Tells the motion of the warps apart from the user's.
#[cfg_attr(not(feature = "x11"), allow(dead_code))]
#[derive(Debug, Default)]
struct WarpTracker {
    pending: Option<PendingWarp>,
}

#[cfg_attr(not(feature = "x11"), allow(dead_code))]
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
    /// Where a lock that reports motion itself sends it. Set once, when
    /// the widget is made.
    pub fn set_handler(&mut self, handler: LockHandler) {
        #[cfg(feature = "wayland")]
        self.wayland.set_handler(handler);
        #[cfg(not(feature = "wayland"))]
        drop(handler);
    }

    /// Whether the pointer over `surface` can be locked at all. Under
    /// Wayland the first call asks the compositor for its protocols.
    pub fn available(&mut self, surface: Option<&gdk::Surface>) -> bool {
        let Some(surface) = surface else {
            return false;
        };
        #[cfg(feature = "x11")]
        if self.x11.supports(surface) {
            return true;
        }
        #[cfg(feature = "wayland")]
        if self.wayland.supports(surface) {
            return true;
        }
        let _ = surface;
        false
    }

    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Whether the lock reports the motion itself ([`LockEvent::Motion`]):
    /// the pointer events' positions then say nothing.
    pub fn owns_motion(&self) -> bool {
        #[cfg(feature = "wayland")]
        if matches!(self.active, Some(Active::Wayland(_))) {
            return true;
        }
        false
    }

    /// Locks the pointer, now at `at` over `surface`; a warping lock sends
    /// it to `centre`. False if it cannot be locked.
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
        #[cfg(feature = "x11")]
        if let Some(warper) = self.x11.warper(surface) {
            let mut warps = WarpTracker::default();
            if let Some(to) = self.x11.warp(&warper, centre) {
                warps.warped(to, time);
            }
            self.active = Some(Active::Warp {
                warper,
                home: at,
                warps,
            });
            return true;
        }
        #[cfg(feature = "wayland")]
        if let Some(lock) = self.wayland.lock(surface, at) {
            self.active = Some(Active::Wayland(lock));
            return true;
        }
        let _ = (surface, at, centre, time);
        false
    }

    /// Where the motion of an event at `position` starts: the last
    /// position seen, or the warp's target once the warp happened. GDK
    /// merges the motion events of one frame into the last of them, so the
    /// warp's own event may never show up: an event nearer the target than
    /// the last position comes after the warp. (Motion merged into the
    /// warp's event is lost; it takes a user's event arriving in the
    /// instant between our warp and the server's.)
    #[cfg_attr(not(feature = "x11"), allow(unused_variables))]
    pub fn origin_of(
        &mut self,
        position: (f64, f64),
        last: Option<(f64, f64)>,
    ) -> Option<(f64, f64)> {
        match self.active.as_mut() {
            #[cfg(feature = "x11")]
            Some(Active::Warp { warps, .. }) => warps.origin_of(position, last),
            _ => last,
        }
    }

    /// The pointer is at `position`: a warping lock sends it back to
    /// `centre` once it is more than `margin` away on either axis, unless
    /// a warp is still on its way.
    pub fn recentre(&mut self, position: (f64, f64), centre: (f64, f64), margin: f64, time: u32) {
        #[cfg(feature = "x11")]
        if let Some(Active::Warp { warper, warps, .. }) = self.active.as_mut() {
            if warps.due(position, centre, margin, time) {
                if let Some(to) = self.x11.warp(warper, centre) {
                    warps.warped(to, time);
                }
            }
        }
        let _ = (position, centre, margin, time);
    }

    /// Ends the lock, leaving the pointer where it was when the lock
    /// began. False if there was no lock.
    pub fn release(&mut self) -> bool {
        match self.active.take() {
            #[cfg(feature = "x11")]
            Some(Active::Warp { warper, home, .. }) => {
                self.x11.warp(&warper, home);
                // Before anyone asks where the pointer is.
                self.x11.wait();
                true
            }
            #[cfg(feature = "wayland")]
            Some(Active::Wayland(lock)) => {
                self.wayland.unlock(lock);
                true
            }
            #[cfg(not(any(feature = "x11", feature = "wayland")))]
            Some(Active::Never(never)) => match never {},
            None => false,
        }
    }
}

impl Drop for PointerLock {
    /// A widget that goes away while locked (e.g. taken out of its window)
    /// gives the pointer back.
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg_attr(not(feature = "x11"), allow(dead_code))]
fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
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
