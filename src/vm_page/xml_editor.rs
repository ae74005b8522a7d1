//! The XML tab: the domain's configuration as libvirt stores it, in a
//! plain monospace text view. Apply hands the text to libvirt, which
//! validates it; a refusal is shown above the text and the text stays as
//! the user left it. Revert reloads libvirt's version.

use std::cell::Cell;
use std::rc::Rc;

use gettextrs::gettext;
use relm4::gtk::{self, prelude::*};
use relm4::Sender;

use super::VmPageMsg;

#[derive(Debug)]
pub struct XmlTab {
    pub root: gtk::Box,
    view: gtk::TextView,
    error: gtk::Label,
    revealer: gtk::Revealer,
    /// The user changed the text since it was loaded or applied.
    dirty: Rc<Cell<bool>>,
    loading: Rc<Cell<bool>>,
}

impl XmlTab {
    pub fn new(input: &Sender<VmPageMsg>) -> Self {
        let root = gtk::Box::new(gtk::Orientation::Vertical, 0);

        let bar = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        bar.set_margin_top(6);
        bar.set_margin_bottom(6);
        bar.set_margin_start(12);
        bar.set_margin_end(12);
        let hint = gtk::Label::new(Some(&gettext(
            "The configuration used at the next start. libvirt checks it when you apply.",
        )));
        hint.set_xalign(0.0);
        hint.set_hexpand(true);
        hint.set_wrap(true);
        hint.add_css_class("dim-label");
        let revert = gtk::Button::with_label(&gettext("Revert"));
        revert.set_tooltip_text(Some(&gettext("Discard your changes and reload the XML")));
        let apply = gtk::Button::with_label(&gettext("Apply XML"));
        apply.add_css_class("suggested-action");
        bar.append(&hint);
        bar.append(&revert);
        bar.append(&apply);
        root.append(&bar);

        let error = gtk::Label::new(None);
        error.set_xalign(0.0);
        error.set_wrap(true);
        error.set_selectable(true);
        error.add_css_class("error");
        error.set_margin_start(12);
        error.set_margin_end(12);
        error.set_margin_bottom(6);
        let revealer = gtk::Revealer::new();
        revealer.set_child(Some(&error));
        root.append(&revealer);

        let view = gtk::TextView::new();
        view.set_monospace(true);
        view.set_wrap_mode(gtk::WrapMode::None);
        view.set_left_margin(8);
        view.set_top_margin(8);
        let scrolled = gtk::ScrolledWindow::new();
        scrolled.set_vexpand(true);
        scrolled.set_child(Some(&view));
        root.append(&gtk::Separator::new(gtk::Orientation::Horizontal));
        root.append(&scrolled);

        let dirty = Rc::new(Cell::new(false));
        let loading = Rc::new(Cell::new(false));
        let (d, l) = (dirty.clone(), loading.clone());
        view.buffer().connect_changed(move |_| {
            if !l.get() {
                d.set(true);
            }
        });
        let s = input.clone();
        let buffer = view.buffer();
        apply.connect_clicked(move |_| {
            let (start, end) = buffer.bounds();
            s.emit(VmPageMsg::ApplyXml(
                buffer.text(&start, &end, false).to_string(),
            ));
        });
        let s = input.clone();
        revert.connect_clicked(move |_| s.emit(VmPageMsg::RevertXml));

        Self {
            root,
            view,
            error,
            revealer,
            dirty,
            loading,
        }
    }

    /// Shows libvirt's XML, unless the user has edits that are not applied
    /// (`force` replaces them: Revert).
    pub fn load(&self, xml: &str, force: bool) {
        if self.dirty.get() && !force {
            return;
        }
        self.loading.set(true);
        self.view.buffer().set_text(xml);
        self.loading.set(false);
        self.dirty.set(false);
        self.revealer.set_reveal_child(false);
    }

    /// Shows why libvirt refused the text; the text is not touched.
    pub fn show_error(&self, message: &str) {
        self.error
            .set_label(&gettext("libvirt refused this XML: {}").replace("{}", message));
        self.revealer.set_reveal_child(true);
    }

    /// The text was accepted: the next load may replace it.
    pub fn applied(&self) {
        self.dirty.set(false);
        self.revealer.set_reveal_child(false);
    }
}
