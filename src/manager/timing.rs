//! Timing lines for the benchmark, printed to stderr only when
//! `PORTHOLE_TIMINGS=1`: when the first list is on screen, and when a state
//! change is on screen (with the wall clock, which the benchmark compares
//! with the moment it caused the change). "On screen" is the end of the
//! next frame painted after the change was applied. Every frame painted is
//! reported too (a frame on software GL costs the CPU the listing needs).

use std::time::{SystemTime, UNIX_EPOCH};

use relm4::gtk::{self, glib, prelude::*};

use crate::libvirt::DomainState;

#[derive(Debug)]
pub struct Timings {
    enabled: bool,
    listed_once: bool,
}

impl Timings {
    pub fn from_env() -> Self {
        Self {
            enabled: std::env::var_os("PORTHOLE_TIMINGS").is_some_and(|v| v == "1"),
            listed_once: false,
        }
    }

    /// The window's first frame (before any list), to tell GTK's start-up
    /// from the listing.
    pub fn first_frame(&self, widget: &impl IsA<gtk::Widget>) {
        if self.enabled {
            after_next_paint(widget.as_ref(), || {
                format!("porthole-timing: window at {}", unix_micros())
            });
            widget.as_ref().connect_realize(|widget| {
                if let Some(clock) = widget.frame_clock() {
                    clock.connect_after_paint(|_| {
                        eprintln!("porthole-timing: frame at {}", unix_micros())
                    });
                }
            });
        }
    }

    /// The first list of the selected connection was applied.
    pub fn listed(&mut self, widget: &impl IsA<gtk::Widget>, count: usize) {
        if !self.enabled || self.listed_once {
            return;
        }
        self.listed_once = true;
        after_next_paint(widget.as_ref(), move || {
            format!("porthole-timing: listed {count} at {}", unix_micros())
        });
    }

    /// A state change of `name` was applied to its row.
    pub fn state_shown(&self, widget: &impl IsA<gtk::Widget>, name: &str, state: DomainState) {
        if !self.enabled {
            return;
        }
        let name = name.to_owned();
        after_next_paint(widget.as_ref(), move || {
            format!(
                "porthole-timing: state {name} {state:?} at {}",
                unix_micros()
            )
        });
    }
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// Prints `line()` once the next frame of `widget`'s window is painted
/// (ticks only run while the widget is mapped).
fn after_next_paint(widget: &gtk::Widget, line: impl FnOnce() -> String + 'static) {
    let line = std::cell::Cell::new(Some(line));
    widget.add_tick_callback(move |_, clock| {
        let line = std::cell::Cell::new(line.take());
        let handler: std::rc::Rc<std::cell::Cell<Option<glib::SignalHandlerId>>> =
            std::rc::Rc::default();
        let handler2 = handler.clone();
        let id = clock.connect_after_paint(move |clock| {
            if let Some(line) = line.take() {
                eprintln!("{}", line());
            }
            if let Some(id) = handler2.take() {
                clock.disconnect(id);
            }
        });
        handler.set(Some(id));
        glib::ControlFlow::Break
    });
}
