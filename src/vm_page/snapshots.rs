//! The snapshots tab: the domain's snapshots as a tree (each indented
//! under its parent, as the snapshot XML names it), with revert and delete
//! on each and "Take Snapshot" above. Asking for confirmation and talking
//! to libvirt is the page's job; this only shows and forwards.

use std::collections::HashMap;

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, Sender};

use super::VmPageMsg;
use crate::libvirt::Snapshot;

/// How far a child is indented under its parent, in pixels.
const INDENT: i32 = 24;

#[derive(Debug)]
pub struct SnapshotsTab {
    pub root: gtk::Box,
    list: gtk::ListBox,
    stack: gtk::Stack,
    input: Sender<VmPageMsg>,
}

impl SnapshotsTab {
    pub fn new(input: &Sender<VmPageMsg>) -> Self {
        let root = gtk::Box::new(gtk::Orientation::Vertical, 0);
        let bar = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        bar.set_margin_top(6);
        bar.set_margin_bottom(6);
        bar.set_margin_start(12);
        bar.set_margin_end(12);
        let hint = gtk::Label::new(Some(&gettext(
            "A snapshot keeps the VM's disks (and memory, while it runs) to return to later.",
        )));
        hint.set_xalign(0.0);
        hint.set_hexpand(true);
        hint.set_wrap(true);
        hint.add_css_class("dim-label");
        let create = gtk::Button::with_label(&gettext("Take Snapshot…"));
        create.add_css_class("suggested-action");
        let s = input.clone();
        create.connect_clicked(move |_| s.emit(VmPageMsg::AskCreateSnapshot));
        bar.append(&hint);
        bar.append(&create);
        root.append(&bar);

        let list = gtk::ListBox::new();
        list.set_selection_mode(gtk::SelectionMode::None);
        list.add_css_class("boxed-list");
        list.set_margin_top(6);
        list.set_margin_bottom(12);
        list.set_margin_start(12);
        list.set_margin_end(12);
        list.set_valign(gtk::Align::Start);
        let scrolled = gtk::ScrolledWindow::new();
        scrolled.set_vexpand(true);
        scrolled.set_hscrollbar_policy(gtk::PolicyType::Never);
        scrolled.set_child(Some(&list));

        let empty = adw::StatusPage::builder()
            .icon_name("camera-photo-symbolic")
            .title(gettext("No Snapshots"))
            .description(gettext(
                "Take a snapshot before a risky change to be able to go back.",
            ))
            .vexpand(true)
            .build();
        let stack = gtk::Stack::new();
        stack.add_named(&scrolled, Some("list"));
        stack.add_named(&empty, Some("empty"));
        stack.set_visible_child_name("empty");
        root.append(&stack);
        Self {
            root,
            list,
            stack,
            input: input.clone(),
        }
    }

    /// Shows `snapshots` (parents before children, as the client lists them).
    pub fn show(&self, snapshots: &[Snapshot]) {
        while let Some(row) = self.list.first_child() {
            self.list.remove(&row);
        }
        let parents: HashMap<&str, Option<&str>> = snapshots
            .iter()
            .map(|s| (s.name.as_str(), s.parent.as_deref()))
            .collect();
        for snapshot in snapshots {
            self.list
                .append(&self.row(snapshot, depth(&parents, &snapshot.name)));
        }
        self.stack.set_visible_child_name(if snapshots.is_empty() {
            "empty"
        } else {
            "list"
        });
    }

    fn row(&self, snapshot: &Snapshot, depth: i32) -> adw::ActionRow {
        let mut details = Vec::new();
        if snapshot.is_current {
            details.push(gettext("current"));
        }
        if let Some(state) = &snapshot.state {
            details.push(state_of(state));
        }
        if let Some(time) = snapshot.creation_time.and_then(format_time) {
            details.push(time);
        }
        if let Some(description) = &snapshot.description {
            details.push(description.clone());
        }
        let row = adw::ActionRow::builder()
            .title(&snapshot.name)
            .subtitle(details.join(" · "))
            .use_markup(false)
            .build();
        if depth > 0 {
            // Children under their parent, with a branch mark.
            let branch = gtk::Image::from_icon_name("go-next-symbolic");
            branch.set_margin_start(INDENT * (depth - 1));
            branch.add_css_class("dim-label");
            row.add_prefix(&branch);
        }
        if snapshot.is_current {
            let mark = gtk::Image::from_icon_name("emblem-ok-symbolic");
            mark.set_tooltip_text(Some(&gettext("The VM is based on this snapshot")));
            row.add_prefix(&mark);
        }
        let revert = gtk::Button::with_label(&gettext("Revert"));
        revert.set_valign(gtk::Align::Center);
        let s = self.input.clone();
        let name = snapshot.name.clone();
        revert.connect_clicked(move |_| s.emit(VmPageMsg::AskRevertSnapshot(name.clone())));
        // Labelled, not an icon: GTK 4.8 gives an icon button no name
        // for screen readers.
        let delete = gtk::Button::with_label(&gettext("Delete"));
        delete.set_valign(gtk::Align::Center);
        delete.add_css_class("flat");
        delete.set_tooltip_text(Some(&gettext("Delete Snapshot")));
        let s = self.input.clone();
        let name = snapshot.name.clone();
        delete.connect_clicked(move |_| s.emit(VmPageMsg::AskDeleteSnapshot(name.clone())));
        row.add_suffix(&revert);
        row.add_suffix(&delete);
        row
    }
}

/// How many ancestors `name` has among the listed snapshots.
fn depth(parents: &HashMap<&str, Option<&str>>, name: &str) -> i32 {
    let mut depth = 0;
    let mut current = name;
    // Bounded: a cycle cannot come from libvirt, but must not hang the UI.
    while let Some(Some(parent)) = parents.get(current) {
        if !parents.contains_key(parent) || depth > 64 {
            break;
        }
        depth += 1;
        current = parent;
    }
    depth
}

fn state_of(state: &str) -> String {
    match state {
        "running" => gettext("taken while running"),
        "paused" => gettext("taken while paused"),
        "shutoff" => gettext("taken while shut off"),
        other => other.to_owned(),
    }
}

fn format_time(seconds: i64) -> Option<String> {
    let time = gtk::glib::DateTime::from_unix_local(seconds).ok()?;
    time.format("%Y-%m-%d %H:%M").ok().map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_listed_ancestors_only() {
        let parents: HashMap<&str, Option<&str>> = [
            ("a", None),
            ("b", Some("a")),
            ("c", Some("b")),
            ("orphan", Some("gone")),
        ]
        .into_iter()
        .collect();
        assert_eq!(depth(&parents, "a"), 0);
        assert_eq!(depth(&parents, "c"), 2);
        assert_eq!(depth(&parents, "orphan"), 0);
    }
}
