//! The performance tab: the last two minutes of CPU, memory, disk and
//! network use, turned from libvirt's cumulative counters into rates (the
//! difference of two reads over the time between them) and drawn with
//! cairo. It owns the history and the drawing; when to poll is decided by
//! the page (only while this tab is visible and the window mapped).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use gettextrs::gettext;
use relm4::gtk::{self, cairo, prelude::*};

use super::overview::format_kib;
use crate::libvirt::DomainStats;

/// Samples kept: one a second for two minutes.
pub const HISTORY_LEN: usize = 120;

/// One point of every graph, computed from two consecutive reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// CPU use in percent of all vCPUs (0–100).
    pub cpu_percent: f64,
    /// Memory the guest has, in KiB.
    pub memory_kib: f64,
    pub disk_read: f64,
    pub disk_write: f64,
    pub net_rx: f64,
    pub net_tx: f64,
}

/// The counters read so far and the rates between them.
#[derive(Debug, Default)]
pub struct History {
    last: Option<(Instant, DomainStats)>,
    points: VecDeque<Point>,
}

impl History {
    /// Adds a read taken at `at` from a guest with `vcpus` vCPUs and
    /// `memory_kib` of memory (shown when the read has no balloon). The first
    /// read only sets the baseline; counters that went backwards (the guest
    /// restarted) start a new baseline instead of a negative rate.
    pub fn push(&mut self, at: Instant, stats: DomainStats, vcpus: u32, memory_kib: u64) {
        if let Some((then, before)) = self.last.replace((at, stats)) {
            let seconds = at.duration_since(then).as_secs_f64();
            if seconds <= 0.0 {
                return;
            }
            let rate = |now: u64, before: u64| match now.checked_sub(before) {
                Some(delta) => delta as f64 / seconds,
                None => 0.0,
            };
            let cpu_percent = match (stats.cpu_time_ns, before.cpu_time_ns) {
                (Some(now), Some(before)) => {
                    let busy = rate(now, before) / 1e9;
                    (busy / f64::from(vcpus.max(1)) * 100.0).clamp(0.0, 100.0)
                }
                _ => 0.0,
            };
            let memory_kib = stats
                .memory_kib
                .or(stats.memory_rss_kib)
                .unwrap_or(memory_kib) as f64;
            self.points.push_back(Point {
                cpu_percent,
                memory_kib,
                disk_read: rate(stats.disk_read_bytes, before.disk_read_bytes),
                disk_write: rate(stats.disk_write_bytes, before.disk_write_bytes),
                net_rx: rate(stats.net_rx_bytes, before.net_rx_bytes),
                net_tx: rate(stats.net_tx_bytes, before.net_tx_bytes),
            });
            while self.points.len() > HISTORY_LEN {
                self.points.pop_front();
            }
        }
    }

    /// Forgets everything (the guest stopped: its counters start again).
    pub fn clear(&mut self) {
        self.last = None;
        self.points.clear();
    }

    pub fn points(&self) -> &VecDeque<Point> {
        &self.points
    }

    pub fn latest(&self) -> Option<Point> {
        self.points.back().copied()
    }
}

/// Bytes per second as people read them: "1.5 MB/s".
pub fn format_rate(bytes_per_second: f64) -> String {
    format!("{}/s", format_bytes(bytes_per_second))
}

fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Which values a graph draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Cpu,
    Memory,
    Disk,
    Network,
}

impl Kind {
    fn series(self, point: &Point) -> [Option<f64>; 2] {
        match self {
            Self::Cpu => [Some(point.cpu_percent), None],
            Self::Memory => [Some(point.memory_kib), None],
            Self::Disk => [Some(point.disk_read), Some(point.disk_write)],
            Self::Network => [Some(point.net_rx), Some(point.net_tx)],
        }
    }

    fn caption(self, point: Option<Point>) -> String {
        let p = point.unwrap_or_default();
        match self {
            Self::Cpu => gettext("CPU {}").replace("{}", &format!("{:.0} %", p.cpu_percent)),
            Self::Memory => gettext("Memory {}").replace("{}", &format_kib(p.memory_kib as u64)),
            Self::Disk => gettext("Disk read {read}, write {write}")
                .replace("{read}", &format_rate(p.disk_read))
                .replace("{write}", &format_rate(p.disk_write)),
            Self::Network => gettext("Network received {rx}, sent {tx}")
                .replace("{rx}", &format_rate(p.net_rx))
                .replace("{tx}", &format_rate(p.net_tx)),
        }
    }
}

/// The four graphs with their captions.
#[derive(Debug)]
pub struct PerformanceTab {
    pub root: gtk::ScrolledWindow,
    history: Rc<RefCell<History>>,
    graphs: Vec<(Kind, gtk::Label, gtk::DrawingArea)>,
    status: gtk::Label,
}

impl PerformanceTab {
    pub fn new() -> Self {
        let column = gtk::Box::new(gtk::Orientation::Vertical, 6);
        column.set_margin_top(12);
        column.set_margin_bottom(12);
        column.set_margin_start(12);
        column.set_margin_end(12);
        let status = gtk::Label::new(Some(&gettext(
            "Statistics are read once a second while this tab is shown.",
        )));
        status.set_xalign(0.0);
        status.set_wrap(true);
        status.add_css_class("dim-label");
        column.append(&status);
        let history = Rc::new(RefCell::new(History::default()));
        let mut graphs = Vec::new();
        for kind in [Kind::Cpu, Kind::Memory, Kind::Disk, Kind::Network] {
            let caption = gtk::Label::new(Some(&kind.caption(None)));
            caption.set_xalign(0.0);
            caption.add_css_class("heading");
            caption.set_margin_top(6);
            let area = gtk::DrawingArea::new();
            area.set_content_height(110);
            area.set_hexpand(true);
            let h = history.clone();
            area.set_draw_func(move |area, cr, width, height| {
                draw(area, cr, width, height, kind, &h.borrow());
            });
            column.append(&caption);
            column.append(&area);
            graphs.push((kind, caption, area));
        }
        let root = gtk::ScrolledWindow::new();
        root.set_hscrollbar_policy(gtk::PolicyType::Never);
        root.set_child(Some(&column));
        root.set_vexpand(true);
        Self {
            root,
            history,
            graphs,
            status,
        }
    }

    pub fn push(&self, stats: DomainStats, vcpus: u32, memory_kib: u64) {
        self.history
            .borrow_mut()
            .push(Instant::now(), stats, vcpus, memory_kib);
        let latest = self.history.borrow().latest();
        for (kind, caption, area) in &self.graphs {
            let text = kind.caption(latest);
            caption.set_label(&text);
            area.queue_draw();
        }
        self.status.set_label(&gettext(
            "Statistics are read once a second while this tab is shown.",
        ));
    }

    pub fn clear(&self) {
        self.history.borrow_mut().clear();
        for (_, _, area) in &self.graphs {
            area.queue_draw();
        }
    }

    /// Says why the graphs stopped (the error stays until a read works).
    pub fn show_error(&self, message: &str) {
        self.status
            .set_label(&gettext("Cannot read statistics: {}").replace("{}", message));
    }
}

/// Colours of the first and second line (read/received, write/sent).
const LINE_COLOURS: [(f64, f64, f64); 2] = [(0.21, 0.52, 0.89), (0.90, 0.38, 0.0)];

fn draw(
    area: &gtk::DrawingArea,
    cr: &cairo::Context,
    width: i32,
    height: i32,
    kind: Kind,
    history: &History,
) {
    let (w, h) = (f64::from(width), f64::from(height));
    // GtkWidget::get_color is 4.10; the style context has it on 4.8.
    #[allow(deprecated)]
    let fg = area.style_context().color();
    // Background and a frame in the theme's colour, faint.
    cr.set_source_rgba(
        f64::from(fg.red()),
        f64::from(fg.green()),
        f64::from(fg.blue()),
        0.06,
    );
    cr.rectangle(0.0, 0.0, w, h);
    let _ = cr.fill();
    cr.set_source_rgba(
        f64::from(fg.red()),
        f64::from(fg.green()),
        f64::from(fg.blue()),
        0.25,
    );
    cr.set_line_width(1.0);
    for i in 1..4 {
        let y = (h * f64::from(i) / 4.0).round() + 0.5;
        cr.move_to(0.0, y);
        cr.line_to(w, y);
    }
    cr.rectangle(0.5, 0.5, w - 1.0, h - 1.0);
    let _ = cr.stroke();

    let points = history.points();
    if points.is_empty() {
        return;
    }
    let max = match kind {
        Kind::Cpu => 100.0,
        _ => {
            points
                .iter()
                .flat_map(|p| kind.series(p))
                .flatten()
                .fold(0.0_f64, f64::max)
                .max(1.0)
                * 1.1
        }
    };
    // The newest point is at the right edge; one sample a second.
    let step = w / (HISTORY_LEN - 1) as f64;
    let count = points.len();
    for (line, colour) in LINE_COLOURS.iter().enumerate() {
        let mut started = false;
        for (i, point) in points.iter().enumerate() {
            let Some(value) = kind.series(point)[line] else {
                continue;
            };
            let x = w - (count - 1 - i) as f64 * step;
            let y = h - 1.0 - (value / max).clamp(0.0, 1.0) * (h - 2.0);
            if started {
                cr.line_to(x, y);
            } else {
                cr.move_to(x, y);
                started = true;
            }
        }
        if started {
            cr.set_source_rgb(colour.0, colour.1, colour.2);
            cr.set_line_width(2.0);
            let _ = cr.stroke();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(cpu_s: u64, read: u64) -> DomainStats {
        DomainStats {
            cpu_time_ns: Some(cpu_s * 1_000_000_000),
            memory_kib: Some(1024),
            disk_read_bytes: read,
            ..DomainStats::default()
        }
    }

    #[test]
    fn rates_come_from_the_difference_of_two_reads() {
        let mut history = History::default();
        let t0 = Instant::now();
        history.push(t0, stats(10, 1000), 2, 0);
        assert!(history.points().is_empty(), "one read is only a baseline");
        history.push(t0 + Duration::from_secs(2), stats(12, 5000), 2, 0);
        let p = history.latest().expect("a point");
        // 2 s of CPU over 2 s on 2 vCPUs is half of the machine.
        assert!((p.cpu_percent - 50.0).abs() < 1e-9, "{p:?}");
        assert!((p.disk_read - 2000.0).abs() < 1e-9, "{p:?}");
        assert_eq!(p.memory_kib, 1024.0);
    }

    #[test]
    fn counters_going_back_give_no_negative_rate_and_history_is_bounded() {
        let mut history = History::default();
        let t0 = Instant::now();
        history.push(t0, stats(100, 9000), 1, 0);
        history.push(t0 + Duration::from_secs(1), stats(1, 10), 1, 0);
        assert_eq!(history.latest().expect("point").cpu_percent, 0.0);
        assert_eq!(history.latest().expect("point").disk_read, 0.0);
        for i in 2..300 {
            history.push(t0 + Duration::from_secs(i), stats(i, 0), 1, 0);
        }
        assert_eq!(history.points().len(), HISTORY_LEN);
    }

    #[test]
    fn byte_rates_read_like_people_write_them() {
        assert_eq!(format_rate(0.0), "0 B/s");
        assert_eq!(format_rate(1500.0), "1.5 kB/s");
        assert_eq!(format_rate(2.0 * 1000.0 * 1000.0 * 1000.0), "2.0 GB/s");
    }
}
