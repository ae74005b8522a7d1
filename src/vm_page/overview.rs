//! The overview tab: what the VM is (state, vCPUs, memory, OS, firmware,
//! disks, network interfaces, displays, read from its XML) and the few
//! settings people change often (name, vCPUs, memory, autostart). A field
//! the user edited keeps their value until it is applied, also when libvirt
//! refuses it, so nothing typed is lost.

use std::cell::Cell;
use std::rc::Rc;

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, Sender};

use super::{state_text, VmPageMsg};
use crate::libvirt::{DiskSource, DomainInfo, DomainOverview, DomainState, Firmware};

/// The overview's widgets.
#[derive(Debug)]
pub struct OverviewTab {
    pub root: adw::PreferencesPage,
    state: gtk::Label,
    vcpus: gtk::Label,
    memory: gtk::Label,
    os: gtk::Label,
    firmware: gtk::Label,
    devices: adw::PreferencesGroup,
    device_rows: Vec<adw::ActionRow>,
    settings: adw::PreferencesGroup,
    name: gtk::Entry,
    name_row: adw::ActionRow,
    vcpus_spin: gtk::SpinButton,
    memory_spin: gtk::SpinButton,
    autostart: gtk::Switch,
    /// Set while the code (not the user) changes a widget.
    updating: Rc<Cell<bool>>,
    /// The configuration the fields were last filled from.
    shown: Option<DomainOverview>,
}

fn value_row(group: &adw::PreferencesGroup, title: &str) -> gtk::Label {
    let row = adw::ActionRow::builder().title(title).build();
    let value = gtk::Label::new(None);
    value.set_selectable(true);
    value.set_xalign(1.0);
    value.add_css_class("dim-label");
    row.add_suffix(&value);
    group.add(&row);
    value
}

impl OverviewTab {
    pub fn new(input: &Sender<VmPageMsg>) -> Self {
        let root = adw::PreferencesPage::new();
        let details = adw::PreferencesGroup::builder()
            .title(gettext("Details"))
            .build();
        let state = value_row(&details, &gettext("State"));
        let vcpus = value_row(&details, &gettext("Processors (vCPUs)"));
        let memory = value_row(&details, &gettext("Memory"));
        let os = value_row(&details, &gettext("Operating system type"));
        let firmware = value_row(&details, &gettext("Firmware"));
        root.add(&details);

        let devices = adw::PreferencesGroup::builder()
            .title(gettext("Devices"))
            .build();
        root.add(&devices);

        let settings = adw::PreferencesGroup::builder()
            .title(gettext("Settings"))
            .build();
        // A row with an entry and a labelled button (like the rows below)
        // rather than an AdwEntryRow: GTK 4.8 shows screen readers nothing
        // inside an entry row, not even its apply button.
        let name = gtk::Entry::new();
        name.set_valign(gtk::Align::Center);
        name.set_width_chars(20);
        let rename = gtk::Button::with_label(&gettext("Rename"));
        rename.set_valign(gtk::Align::Center);
        let s = input.clone();
        let entry = name.clone();
        rename.connect_clicked(move |_| s.emit(VmPageMsg::Rename(entry.text().trim().to_owned())));
        // Enter renames too (the page ignores an unchanged name).
        let s = input.clone();
        name.connect_activate(move |entry| {
            s.emit(VmPageMsg::Rename(entry.text().trim().to_owned()))
        });
        let name_row = adw::ActionRow::builder().title(gettext("Name")).build();
        name_row.add_suffix(&name);
        name_row.add_suffix(&rename);
        settings.add(&name_row);

        let updating = Rc::new(Cell::new(false));
        let (vcpus_spin, vcpus_row) = spin_row(
            &gettext("vCPUs at next start"),
            1.0,
            512.0,
            1.0,
            input,
            |value| VmPageMsg::SetVcpus(value as u32),
        );
        settings.add(&vcpus_row);
        let (memory_spin, memory_row) = spin_row(
            &gettext("Memory at next start (MiB)"),
            16.0,
            4.0 * 1024.0 * 1024.0,
            64.0,
            input,
            |value| VmPageMsg::SetMemoryMib(value as u64),
        );
        settings.add(&memory_row);

        let autostart = gtk::Switch::new();
        autostart.set_valign(gtk::Align::Center);
        let autostart_row = adw::ActionRow::builder()
            .title(gettext("Start when the host boots"))
            .activatable_widget(&autostart)
            .build();
        autostart_row.add_suffix(&autostart);
        let s = input.clone();
        let quiet = updating.clone();
        autostart.connect_active_notify(move |switch| {
            if !quiet.get() {
                s.emit(VmPageMsg::SetAutostart(switch.is_active()));
            }
        });
        settings.add(&autostart_row);
        root.add(&settings);

        Self {
            root,
            state,
            vcpus,
            memory,
            os,
            firmware,
            devices,
            device_rows: Vec::new(),
            settings,
            name,
            name_row,
            vcpus_spin,
            memory_spin,
            autostart,
            updating,
            shown: None,
        }
    }

    /// Shows the running guest (`live`) and fills the settings from the
    /// configuration of the next boot (`config`), leaving alone any field
    /// the user changed and has not applied.
    pub fn show(&mut self, info: &DomainInfo, live: &DomainOverview, config: &DomainOverview) {
        self.vcpus.set_label(&live.vcpus.to_string());
        self.memory
            .set_label(&format_kib(live.current_memory_kib.max(info.memory_kib)));
        let mut os = live.os_type.clone();
        if let Some(arch) = &live.arch {
            os.push_str(&format!(" ({arch})"));
        }
        self.os.set_label(&os);
        self.firmware.set_label(&match live.firmware {
            Firmware::Bios => gettext("BIOS"),
            Firmware::Uefi => gettext("UEFI"),
        });
        self.show_devices(live);

        let previous = self.shown.take();
        let untouched = |now: String, before: Option<String>| match before {
            Some(before) => now == before,
            None => true,
        };
        self.updating.set(true);
        if untouched(
            self.name.text().to_string(),
            previous.as_ref().map(|p| p.name.clone()),
        ) {
            self.name.set_text(&config.name);
        }
        if untouched(
            (self.vcpus_spin.value() as u32).to_string(),
            previous.as_ref().map(|p| p.vcpus.to_string()),
        ) {
            self.vcpus_spin.set_value(f64::from(config.vcpus));
        }
        if untouched(
            ((self.memory_spin.value()) as u64).to_string(),
            previous.as_ref().map(|p| (p.memory_kib / 1024).to_string()),
        ) {
            self.memory_spin
                .set_value((config.memory_kib / 1024) as f64);
        }
        self.updating.set(false);
        self.shown = Some(config.clone());
        self.show_state(info);
    }

    /// Follows a change of state: the state text, whether renaming is
    /// possible, and autostart.
    pub fn show_state(&self, info: &DomainInfo) {
        self.state.set_label(&state_text(info));
        let renamable = info.state == DomainState::Shutoff;
        self.name_row.set_sensitive(renamable);
        self.settings.set_description(Some(&if renamable {
            gettext("vCPU and memory changes apply to the configuration used at the next start.")
        } else {
            gettext("The name can be changed only while the VM is shut off. vCPU and memory changes apply to the configuration used at the next start.")
        }));
        self.updating.set(true);
        self.autostart.set_active(info.autostart);
        self.updating.set(false);
    }

    /// After libvirt refused autostart: show what really is.
    pub fn reset_autostart(&self, autostart: bool) {
        self.updating.set(true);
        self.autostart.set_active(autostart);
        self.updating.set(false);
    }

    /// The field was applied: the next load may fill it again.
    pub fn applied(&mut self) {
        self.shown = None;
    }

    fn show_devices(&mut self, live: &DomainOverview) {
        for row in self.device_rows.drain(..) {
            self.devices.remove(&row);
        }
        let mut rows = Vec::new();
        for disk in &live.disks {
            let kind = match disk.device.as_str() {
                "cdrom" => gettext("CD/DVD drive"),
                "floppy" => gettext("Floppy drive"),
                _ => gettext("Disk"),
            };
            let title = match &disk.target {
                Some(target) => format!("{kind} {target}"),
                None => kind,
            };
            let source = match &disk.source {
                Some(DiskSource::File(file)) => file.clone(),
                Some(DiskSource::Volume { pool, volume }) => format!("{pool}/{volume}"),
                Some(DiskSource::Other(what)) => what.clone(),
                None => gettext("empty"),
            };
            let subtitle = match &disk.bus {
                Some(bus) => format!("{source} · {bus}"),
                None => source,
            };
            rows.push((title, subtitle));
        }
        for interface in &live.interfaces {
            let parts: Vec<String> = [
                Some(match &interface.source {
                    Some(source) => format!("{} {source}", interface.kind),
                    None => interface.kind.clone(),
                }),
                interface.mac.clone(),
                interface.model.clone(),
            ]
            .into_iter()
            .flatten()
            .collect();
            rows.push((gettext("Network interface"), parts.join(" · ")));
        }
        for graphics in &live.graphics {
            let place = match (&graphics.listen, graphics.port) {
                (Some(listen), Some(port)) if port > 0 => format!(" {listen}:{port}"),
                (None, Some(port)) if port > 0 => format!(" :{port}"),
                _ => String::new(),
            };
            rows.push((
                gettext("Display"),
                format!("{}{place}", graphics.kind.to_uppercase()),
            ));
        }
        if rows.is_empty() {
            rows.push((gettext("No devices"), String::new()));
        }
        for (title, subtitle) in rows {
            // Paths and MAC addresses are text, not markup.
            let row = adw::ActionRow::builder()
                .title(title)
                .subtitle(subtitle)
                .use_markup(false)
                .build();
            self.devices.add(&row);
            self.device_rows.push(row);
        }
    }
}

fn spin_row(
    title: &str,
    min: f64,
    max: f64,
    step: f64,
    input: &Sender<VmPageMsg>,
    msg: fn(f64) -> VmPageMsg,
) -> (gtk::SpinButton, adw::ActionRow) {
    let spin = gtk::SpinButton::with_range(min, max, step);
    spin.set_valign(gtk::Align::Center);
    spin.set_numeric(true);
    let apply = gtk::Button::with_label(&gettext("Apply"));
    apply.set_valign(gtk::Align::Center);
    let s = input.clone();
    let value_of = spin.clone();
    apply.connect_clicked(move |_| {
        // Take what is typed even if Enter was not pressed.
        value_of.update();
        s.emit(msg(value_of.value()));
    });
    let row = adw::ActionRow::builder().title(title).build();
    row.add_suffix(&spin);
    row.add_suffix(&apply);
    (spin, row)
}

/// KiB as people read memory sizes: "2 GiB", "512 MiB".
pub fn format_kib(kib: u64) -> String {
    const GIB: u64 = 1024 * 1024;
    if kib >= GIB && kib.is_multiple_of(GIB) {
        format!("{} GiB", kib / GIB)
    } else if kib >= 10 * GIB {
        format!("{:.1} GiB", kib as f64 / GIB as f64)
    } else {
        format!("{} MiB", kib / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::format_kib;

    #[test]
    fn memory_reads_in_mib_or_gib() {
        assert_eq!(format_kib(2 * 1024 * 1024), "2 GiB");
        assert_eq!(format_kib(512 * 1024), "512 MiB");
        assert_eq!(format_kib(1536 * 1024), "1536 MiB");
        assert_eq!(format_kib(64 * 1024 * 1024 + 5), "64.0 GiB");
    }
}
