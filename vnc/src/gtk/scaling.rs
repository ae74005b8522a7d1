//! Where the remote screen goes inside the widget: the scaling modes, zoom
//! limits, and the mapping between widget coordinates and remote pixels.
//! Pure geometry in device pixels; it knows nothing of GTK or GL.

use gtk::glib;

/// How the remote screen is fitted into the widget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, glib::Enum)]
#[enum_type(name = "PortholeVncScalingMode")]
pub enum ScalingMode {
    /// As large as fits, keeping the aspect ratio, centred.
    #[default]
    Fit,
    /// One remote pixel per device pixel, whatever the widget's size; the
    /// widget asks for the remote size so a `GtkScrolledWindow` scrolls it.
    OneToOne,
    /// The `zoom` property's factor (one remote pixel per device pixel at
    /// 1.0); like `OneToOne`, the widget asks for the zoomed size.
    Zoom,
    /// Fills the widget, ignoring the aspect ratio.
    Stretch,
}

/// The smallest zoom factor.
pub const MIN_ZOOM: f64 = 0.25;
/// The largest zoom factor.
pub const MAX_ZOOM: f64 = 4.0;
/// The zoom steps Ctrl+plus / Ctrl+minus move between.
pub const ZOOM_STEPS: [f64; 9] = [0.25, 0.33, 0.5, 0.67, 1.0, 1.5, 2.0, 3.0, 4.0];

/// A rectangle in device pixels (may be fractional while fitting).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Placement {
    /// Whether one remote pixel is one device pixel.
    pub fn is_one_to_one(&self, remote: (u16, u16)) -> bool {
        self.width == f64::from(remote.0) && self.height == f64::from(remote.1)
    }

    /// Where the remote pixel under the device point `(px, py)` is,
    /// clamped to the screen; `None` for an empty screen or placement.
    pub fn to_remote(&self, px: f64, py: f64, remote: (u16, u16)) -> Option<(u16, u16)> {
        let (rw, rh) = remote;
        if rw == 0 || rh == 0 || self.width <= 0.0 || self.height <= 0.0 {
            return None;
        }
        let x = ((px - self.x) * f64::from(rw) / self.width).floor();
        let y = ((py - self.y) * f64::from(rh) / self.height).floor();
        // Clamped, so dragging out of the picture holds the pointer at
        // the edge as a local pointer would.
        let x = x.clamp(0.0, f64::from(rw - 1));
        let y = y.clamp(0.0, f64::from(rh - 1));
        Some((x as u16, y as u16))
    }
}

/// Clamps a zoom factor to what the widget supports.
pub fn clamp_zoom(zoom: f64) -> f64 {
    if zoom.is_finite() {
        zoom.clamp(MIN_ZOOM, MAX_ZOOM)
    } else {
        1.0
    }
}

/// The next zoom step above (`up`) or below `zoom`.
pub fn step_zoom(zoom: f64, up: bool) -> f64 {
    let next = if up {
        ZOOM_STEPS.iter().copied().find(|s| *s > zoom + 1e-6)
    } else {
        ZOOM_STEPS.iter().rev().copied().find(|s| *s < zoom - 1e-6)
    };
    next.unwrap_or(zoom)
}

/// The remote screen's size in device pixels when shown with `mode`
/// without a size to fit into (what the widget asks for).
pub fn natural_size(mode: ScalingMode, zoom: f64, remote: (u16, u16)) -> (f64, f64) {
    let factor = match mode {
        ScalingMode::Zoom => clamp_zoom(zoom),
        _ => 1.0,
    };
    (f64::from(remote.0) * factor, f64::from(remote.1) * factor)
}

/// Where the remote screen of size `remote` goes in a widget of `area`
/// device pixels. Zoomed and one-to-one pictures are centred when smaller
/// than the area and start at the top left when larger (the widget then
/// asked for more than it got, or sits in a scrolled window).
pub fn place(mode: ScalingMode, zoom: f64, remote: (u16, u16), area: (f64, f64)) -> Placement {
    let (rw, rh) = (f64::from(remote.0), f64::from(remote.1));
    let (aw, ah) = area;
    if rw <= 0.0 || rh <= 0.0 {
        return Placement {
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 0.0,
        };
    }
    let (width, height) = match mode {
        ScalingMode::Fit => {
            let factor = (aw / rw).min(ah / rh).max(0.0);
            (rw * factor, rh * factor)
        }
        ScalingMode::Stretch => (aw, ah),
        ScalingMode::OneToOne | ScalingMode::Zoom => natural_size(mode, zoom, remote),
    };
    // Whole device pixels, so 1:1 and integer zooms stay sharp.
    let x = ((aw - width) / 2.0).max(0.0).floor();
    let y = ((ah - height) / 2.0).max(0.0).floor();
    Placement {
        x,
        y,
        width,
        height,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio_and_centres() {
        let p = place(ScalingMode::Fit, 1.0, (800, 600), (1000.0, 600.0));
        assert_eq!((p.x, p.y, p.width, p.height), (100.0, 0.0, 800.0, 600.0));
        let p = place(ScalingMode::Fit, 1.0, (800, 600), (400.0, 600.0));
        assert_eq!((p.x, p.y, p.width, p.height), (0.0, 150.0, 400.0, 300.0));
    }

    #[test]
    fn stretch_fills_and_one_to_one_ignores_the_area() {
        let p = place(ScalingMode::Stretch, 1.0, (800, 600), (1000.0, 500.0));
        assert_eq!((p.width, p.height), (1000.0, 500.0));
        let p = place(ScalingMode::OneToOne, 3.0, (800, 600), (400.0, 300.0));
        assert_eq!((p.x, p.y, p.width, p.height), (0.0, 0.0, 800.0, 600.0));
    }

    #[test]
    fn zoom_is_clamped_and_steps_between_levels() {
        let p = place(ScalingMode::Zoom, 9.0, (100, 50), (10.0, 10.0));
        assert_eq!((p.width, p.height), (400.0, 200.0));
        assert_eq!(clamp_zoom(0.01), MIN_ZOOM);
        assert_eq!(clamp_zoom(f64::NAN), 1.0);
        assert_eq!(step_zoom(1.0, true), 1.5);
        assert_eq!(step_zoom(1.0, false), 0.67);
        assert_eq!(step_zoom(4.0, true), 4.0);
        assert_eq!(step_zoom(0.4, false), 0.33);
    }

    #[test]
    fn pointer_maps_to_the_remote_pixel_under_it_and_clamps() {
        let p = place(ScalingMode::Zoom, 2.0, (100, 50), (200.0, 100.0));
        assert_eq!(p.to_remote(0.0, 0.0, (100, 50)), Some((0, 0)));
        assert_eq!(p.to_remote(3.9, 5.0, (100, 50)), Some((1, 2)));
        assert_eq!(p.to_remote(500.0, -4.0, (100, 50)), Some((99, 0)));
        assert_eq!(p.to_remote(1.0, 1.0, (0, 0)), None);
    }
}
