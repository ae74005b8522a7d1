//! The New VM assistant: a modal window that walks through name, install
//! media, memory and processors, a new disk in a storage pool, firmware and
//! a summary, then creates and starts the VM. It talks to libvirt only
//! through [`plan`] and the client; what the user entered survives every
//! error, so a failed Create can be fixed and tried again.

mod plan;

use std::path::PathBuf;

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::{adw, gtk, Component, ComponentParts, ComponentSender};

use crate::libvirt::{Bus, DomainInfo, Firmware, HostCapabilities, Hypervisor, UefiSupport};
use plan::{Media, NewDisk, Plan};

#[derive(Debug)]
pub struct NewVmInit {
    pub hypervisor: Hypervisor,
}

#[derive(Debug)]
pub enum NewVmOutput {
    /// Defined and started; the manager opens its console.
    Created(DomainInfo),
    Toast(String),
}

#[derive(Debug)]
pub enum NewVmMsg {
    Next,
    Back,
    /// Something the current page validates changed.
    Changed,
    ChooseFile,
    FileChosen(PathBuf),
}

#[derive(Debug)]
pub enum NewVmCmd {
    Loaded {
        host: Result<HostCapabilities, String>,
        pools: Result<Vec<String>, String>,
    },
    /// Whether the name is free (`Ok(false)`: taken).
    NameChecked(String, Result<bool, String>),
    Created(Result<DomainInfo, String>),
}

/// The pages, in order.
const PAGES: [&str; 6] = [
    "name",
    "media",
    "resources",
    "storage",
    "firmware",
    "summary",
];

/// Defaults for a desktop guest, lowered to what the host has.
const DEFAULT_MEMORY_MIB: f64 = 2048.0;
const DEFAULT_VCPUS: f64 = 2.0;
const DEFAULT_DISK_GIB: f64 = 20.0;
const MIN_MEMORY_MIB: f64 = 128.0;
/// When libvirt does not say how much memory the host has.
const FALLBACK_MAX_MEMORY_MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug)]
pub struct NewVm {
    hypervisor: Hypervisor,
    window: adw::Window,
    page: usize,
    busy: bool,
    host: Option<HostCapabilities>,
    /// Pool names; empty when the host has none (a default one is made).
    pools: Vec<String>,
    chooser: Option<gtk::FileChooserNative>,
    w: Widgets,
}

#[derive(Debug)]
struct Widgets {
    stack: gtk::Stack,
    title: adw::WindowTitle,
    back: gtk::Button,
    next: gtk::Button,
    spinner: gtk::Spinner,
    name: adw::EntryRow,
    name_problem: gtk::Label,
    media_iso: gtk::CheckButton,
    media_disk: gtk::CheckButton,
    media_path: adw::EntryRow,
    media_problem: gtk::Label,
    memory: gtk::SpinButton,
    memory_row: adw::ActionRow,
    vcpus: gtk::SpinButton,
    vcpus_row: adw::ActionRow,
    new_disk: gtk::Switch,
    new_disk_row: adw::ActionRow,
    disk_size: gtk::SpinButton,
    disk_size_row: adw::ActionRow,
    pool: adw::ComboRow,
    pool_list: gtk::StringList,
    bios: gtk::CheckButton,
    uefi: gtk::CheckButton,
    uefi_row: adw::ActionRow,
    summary: gtk::ListBox,
    create_problem: gtk::Label,
}

impl Component for NewVm {
    type Init = NewVmInit;
    type Input = NewVmMsg;
    type Output = NewVmOutput;
    type CommandOutput = NewVmCmd;
    type Root = adw::Window;
    type Widgets = ();

    fn init_root() -> Self::Root {
        adw::Window::builder()
            .title(gettext("New Virtual Machine"))
            .modal(true)
            .default_width(520)
            .default_height(560)
            .build()
    }

    fn init(
        init: Self::Init,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let w = build(&root, &sender, &init.hypervisor);
        let hypervisor = init.hypervisor;
        let h = hypervisor.clone();
        sender.oneshot_command(async move {
            let (host, pools) = futures_util::join!(h.host_capabilities(), h.storage_pools());
            NewVmCmd::Loaded {
                host: host.map_err(|e| e.to_string()),
                pools: pools
                    .map(|pools| pools.into_iter().map(|p| p.name).collect())
                    .map_err(|e| e.to_string()),
            }
        });
        let model = NewVm {
            hypervisor,
            window: root.clone(),
            page: 0,
            busy: false,
            host: None,
            pools: Vec::new(),
            chooser: None,
            w,
        };
        model.show_page();
        root.present();
        model.w.name.grab_focus();
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, msg: NewVmMsg, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            NewVmMsg::Changed => self.show_page(),
            NewVmMsg::Back => {
                if self.page > 0 && !self.busy {
                    self.page -= 1;
                    self.show_page();
                }
            }
            NewVmMsg::Next => self.next(&sender),
            NewVmMsg::ChooseFile => self.choose_file(&sender),
            NewVmMsg::FileChosen(path) => {
                self.w.media_path.set_text(&path.to_string_lossy());
                self.chooser = None;
            }
        }
    }

    fn update_cmd(&mut self, cmd: NewVmCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        match cmd {
            NewVmCmd::Loaded { host, pools } => {
                match host {
                    Ok(host) => self.apply_host(host),
                    Err(error) => {
                        let _ = sender.output(NewVmOutput::Toast(
                            gettext("Could not read the host’s limits: {}").replace("{}", &error),
                        ));
                    }
                }
                match pools {
                    Ok(pools) => self.apply_pools(pools),
                    Err(error) => self.apply_pools_error(&error),
                }
                self.show_page();
            }
            NewVmCmd::NameChecked(name, result) => {
                self.set_busy(false);
                // The user may have typed on meanwhile: only the checked name counts.
                if name != self.w.name.text().as_str() {
                    return;
                }
                match result {
                    Ok(true) => {
                        self.page += 1;
                        self.show_page();
                    }
                    Ok(false) => self.set_name_problem(Some(
                        gettext("A virtual machine called “{}” exists already")
                            .replace("{}", &name),
                    )),
                    Err(error) => self.set_name_problem(Some(error)),
                }
            }
            NewVmCmd::Created(result) => {
                self.set_busy(false);
                match result {
                    Ok(info) => {
                        let _ = sender.output(NewVmOutput::Created(info));
                        self.window.close();
                    }
                    Err(error) => {
                        self.w.create_problem.set_label(
                            &gettext("Could not create the virtual machine: {}")
                                .replace("{}", &error),
                        );
                        self.w.create_problem.set_visible(true);
                    }
                }
            }
        }
    }
}

impl NewVm {
    fn next(&mut self, sender: &ComponentSender<Self>) {
        if self.busy || self.page_problem().is_some() {
            return;
        }
        match PAGES[self.page] {
            "name" => {
                let name = self.w.name.text().to_string();
                self.set_busy(true);
                let hypervisor = self.hypervisor.clone();
                sender.oneshot_command(async move {
                    let free = match hypervisor.domain_by_name(&name).await {
                        Ok(_) => Ok(false),
                        Err(error) if error.is_not_found() => Ok(true),
                        Err(error) => Err(error.to_string()),
                    };
                    NewVmCmd::NameChecked(name, free)
                });
            }
            "summary" => {
                let plan = self.plan();
                self.w.create_problem.set_visible(false);
                self.set_busy(true);
                let hypervisor = self.hypervisor.clone();
                sender.oneshot_command(async move {
                    NewVmCmd::Created(plan::create(&hypervisor, &plan).await)
                });
            }
            _ => {
                self.page += 1;
                self.show_page();
            }
        }
    }

    fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
        self.w.spinner.set_visible(busy);
        self.w.spinner.set_spinning(busy);
        self.w.back.set_sensitive(!busy);
        self.w.stack.set_sensitive(!busy);
        self.show_buttons();
    }

    fn media(&self) -> Media {
        let path = PathBuf::from(self.w.media_path.text().trim());
        if self.w.media_iso.is_active() {
            Media::Iso(path)
        } else if self.w.media_disk.is_active() {
            Media::Disk(path)
        } else {
            Media::None
        }
    }

    fn plan(&self) -> Plan {
        // Typed text becomes a spin button's value only on Enter or focus
        // out: take what is shown.
        for spin in [&self.w.memory, &self.w.vcpus, &self.w.disk_size] {
            spin.update();
        }
        let media = self.media();
        let new_disk =
            (self.w.new_disk.is_active() && !matches!(media, Media::Disk(_))).then(|| NewDisk {
                pool: self.pools.get(self.w.pool.selected() as usize).cloned(),
                // Whole MiB: image formats round to sectors or clusters anyway.
                bytes: ((self.w.disk_size.value() * 1024.0).ceil() as u64) << 20,
            });
        let firmware = if self.w.uefi.is_active() && self.uefi_available() {
            Firmware::Uefi
        } else {
            Firmware::Bios
        };
        Plan {
            name: self.w.name.text().to_string(),
            media,
            memory_mib: self.w.memory.value() as u64,
            vcpus: self.w.vcpus.value() as u32,
            new_disk,
            firmware,
            virt_type: self
                .host
                .as_ref()
                .map(|h| h.virt_type)
                .unwrap_or(crate::libvirt::VirtType::Qemu),
        }
    }

    fn uefi_available(&self) -> bool {
        self.host
            .as_ref()
            .is_some_and(|h| h.uefi == UefiSupport::Available)
    }

    /// What keeps the current page from going on, if anything.
    fn page_problem(&self) -> Option<String> {
        match PAGES[self.page] {
            "name" => plan::name_problem(&self.w.name.text()),
            "media" => self.media_problem(),
            _ => None,
        }
    }

    fn media_problem(&self) -> Option<String> {
        let path = match self.media() {
            Media::None => return None,
            Media::Iso(path) | Media::Disk(path) => path,
        };
        if path.as_os_str().is_empty() {
            return Some(gettext("Choose an image file"));
        }
        if !path.is_absolute() {
            return Some(gettext("Enter the image’s full path, starting with “/”"));
        }
        // On this computer the file can be checked now; a remote host's cannot.
        if matches!(self.hypervisor.spec().bus, Bus::Session | Bus::System) && !path.is_file() {
            return Some(gettext("There is no file at this path"));
        }
        None
    }

    fn set_name_problem(&self, problem: Option<String>) {
        show_problem(&self.w.name_problem, problem.as_deref());
        if problem.is_some() {
            self.w.name.add_css_class("error");
        } else {
            self.w.name.remove_css_class("error");
        }
    }

    fn show_page(&self) {
        let page = PAGES[self.page];
        self.w.stack.set_visible_child_name(page);
        self.w.title.set_subtitle(&match page {
            "name" => gettext("Name"),
            "media" => gettext("Install Media"),
            "resources" => gettext("Memory and Processors"),
            "storage" => gettext("Storage"),
            "firmware" => gettext("Firmware"),
            _ => gettext("Summary"),
        });
        self.w.back.set_visible(self.page > 0);
        let text = self.w.name.text();
        // An empty name is not an error yet: nothing was typed.
        self.set_name_problem(plan::name_problem(&text).filter(|_| !text.is_empty()));
        let media = self.media();
        self.w
            .media_path
            .set_sensitive(!matches!(media, Media::None));
        show_problem(
            &self.w.media_problem,
            self.media_problem()
                .filter(|_| !self.w.media_path.text().is_empty())
                .as_deref(),
        );
        let existing = matches!(media, Media::Disk(_));
        self.w.new_disk_row.set_sensitive(!existing);
        self.w.new_disk_row.set_subtitle(&if existing {
            gettext("The existing disk image is the VM’s hard disk")
        } else {
            gettext("An empty disk to install the system on")
        });
        let new_disk = self.w.new_disk.is_active() && !existing;
        self.w.disk_size_row.set_sensitive(new_disk);
        self.w.pool.set_sensitive(new_disk);
        if page == "summary" {
            self.fill_summary();
        }
        self.show_buttons();
    }

    fn show_buttons(&self) {
        let last = self.page + 1 == PAGES.len();
        self.w.next.set_label(&if last {
            gettext("_Create")
        } else {
            gettext("_Next")
        });
        self.w
            .next
            .set_sensitive(!self.busy && self.page_problem().is_none());
    }

    fn fill_summary(&self) {
        let plan = self.plan();
        while let Some(row) = self.w.summary.first_child() {
            self.w.summary.remove(&row);
        }
        let media = match &plan.media {
            Media::None => gettext("None (network boot)"),
            Media::Iso(path) => path.to_string_lossy().into_owned(),
            Media::Disk(path) => gettext("Existing disk {}").replace("{}", &path.to_string_lossy()),
        };
        let disk = match &plan.new_disk {
            Some(disk) => {
                let pool = disk.pool.clone().unwrap_or_else(|| {
                    gettext("“{name}”, created in {dir}")
                        .replace("{name}", crate::libvirt::DEFAULT_POOL)
                        .replace(
                            "{dir}",
                            &self.hypervisor.default_pool_dir().to_string_lossy(),
                        )
                });
                gettext("New {size} disk “{volume}” in pool {pool}")
                    .replace("{size}", &format_gib(disk.bytes))
                    .replace("{volume}", &plan.volume_name())
                    .replace("{pool}", &pool)
            }
            None if matches!(plan.media, Media::Disk(_)) => gettext("The existing disk image"),
            None => gettext("None"),
        };
        let rows = [
            (gettext("Name"), plan.name.clone()),
            (gettext("Install media"), media),
            (
                gettext("Memory"),
                gettext("{} MiB").replace("{}", &plan.memory_mib.to_string()),
            ),
            (gettext("Processors"), plan.vcpus.to_string()),
            (gettext("Disk"), disk),
            (
                gettext("Firmware"),
                match plan.firmware {
                    Firmware::Bios => gettext("BIOS"),
                    Firmware::Uefi => gettext("UEFI"),
                },
            ),
        ];
        for (title, value) in rows {
            let row = adw::ActionRow::builder()
                .title(title)
                .subtitle(value)
                .build();
            self.w.summary.append(&row);
        }
    }

    fn apply_host(&mut self, host: HostCapabilities) {
        let max_memory = host
            .memory_mib
            .map(|m| m as f64)
            .unwrap_or(FALLBACK_MAX_MEMORY_MIB)
            .max(MIN_MEMORY_MIB);
        // The user may have typed values before the host answered: keep them.
        self.w.memory.update();
        self.w.vcpus.update();
        let untouched = self.w.memory.value() == DEFAULT_MEMORY_MIB;
        self.w.memory.set_range(MIN_MEMORY_MIB, max_memory);
        if untouched {
            // Half the host at most by default, so the host stays usable.
            self.w.memory.set_value(
                DEFAULT_MEMORY_MIB
                    .min((max_memory / 2.0).max(MIN_MEMORY_MIB))
                    .round(),
            );
        }
        if let Some(total) = host.memory_mib {
            self.w
                .memory_row
                .set_subtitle(&gettext("The host has {} MiB").replace("{}", &total.to_string()));
        }
        let cpus = f64::from(host.cpus);
        let untouched = self.w.vcpus.value() == DEFAULT_VCPUS;
        self.w.vcpus.set_range(1.0, cpus);
        if untouched {
            self.w.vcpus.set_value(DEFAULT_VCPUS.min(cpus));
        }
        self.w.vcpus_row.set_subtitle(
            &gettext("The host has {} processors").replace("{}", &host.cpus.to_string()),
        );
        match &host.uefi {
            UefiSupport::Available => {
                self.w.uefi_row.set_sensitive(true);
                self.w.uefi_row.set_subtitle(&gettext(
                    "Needed by some newer systems, and for Secure Boot",
                ));
            }
            UefiSupport::NotInstalled => {
                self.w.uefi_row.set_sensitive(false);
                self.w.uefi_row.set_subtitle(&gettext(
                    "No UEFI firmware is installed on the host: install OVMF (the package “ovmf” or “edk2-ovmf”) to use it",
                ));
            }
            UefiSupport::Unknown(why) => {
                self.w.uefi_row.set_sensitive(false);
                self.w.uefi_row.set_subtitle(
                    &gettext("This host cannot say whether it has UEFI firmware: {}")
                        .replace("{}", why),
                );
            }
        }
        if !self.uefi_available() {
            self.w.bios.set_active(true);
        }
        self.host = Some(host);
    }

    fn apply_pools(&mut self, pools: Vec<String>) {
        let list = &self.w.pool_list;
        list.splice(0, list.n_items(), &[]);
        if pools.is_empty() {
            list.append(
                &gettext("“{name}” (new, in {dir})")
                    .replace("{name}", crate::libvirt::DEFAULT_POOL)
                    .replace(
                        "{dir}",
                        &self.hypervisor.default_pool_dir().to_string_lossy(),
                    ),
            );
            self.w.pool.set_subtitle(&gettext(
                "The host has no storage pool yet: one will be created",
            ));
        } else {
            for pool in &pools {
                list.append(pool);
            }
            let default = pools
                .iter()
                .position(|p| p == crate::libvirt::DEFAULT_POOL)
                .unwrap_or(0);
            self.w.pool.set_selected(default as u32);
        }
        self.pools = pools;
    }

    fn apply_pools_error(&mut self, error: &str) {
        self.w
            .pool
            .set_subtitle(&gettext("Could not list the storage pools: {}").replace("{}", error));
    }

    fn choose_file(&mut self, sender: &ComponentSender<Self>) {
        let disk = self.w.media_disk.is_active();
        let chooser = gtk::FileChooserNative::new(
            Some(&if disk {
                gettext("Choose a Disk Image")
            } else {
                gettext("Choose an ISO Image")
            }),
            Some(&self.window),
            gtk::FileChooserAction::Open,
            Some(&gettext("_Open")),
            Some(&gettext("_Cancel")),
        );
        let filter = gtk::FileFilter::new();
        if disk {
            filter.set_name(Some(&gettext("Disk images")));
            for pattern in ["*.qcow2", "*.img", "*.raw", "*.vmdk", "*.vdi", "*.vhdx"] {
                filter.add_pattern(pattern);
            }
        } else {
            filter.set_name(Some(&gettext("ISO images")));
            filter.add_pattern("*.iso");
            filter.add_mime_type("application/x-cd-image");
        }
        chooser.add_filter(&filter);
        let all = gtk::FileFilter::new();
        all.set_name(Some(&gettext("All files")));
        all.add_pattern("*");
        chooser.add_filter(&all);
        let s = sender.clone();
        chooser.connect_response(move |chooser, response| {
            if response == gtk::ResponseType::Accept {
                if let Some(path) = chooser.file().and_then(|f| f.path()) {
                    s.input(NewVmMsg::FileChosen(path));
                }
            }
        });
        chooser.show();
        // A native chooser is not a widget: it lives only while referenced.
        self.chooser = Some(chooser);
    }
}

fn show_problem(label: &gtk::Label, problem: Option<&str>) {
    label.set_visible(problem.is_some());
    label.set_label(problem.unwrap_or_default());
}

fn format_gib(bytes: u64) -> String {
    let gib = bytes as f64 / f64::from(1u32 << 30);
    gettext("{} GiB").replace("{}", &format!("{gib:.1}"))
}

fn problem_label() -> gtk::Label {
    gtk::Label::builder()
        .wrap(true)
        .xalign(0.0)
        .visible(false)
        .margin_top(6)
        .css_classes(["error", "caption"])
        .build()
}

fn page(stack: &gtk::Stack, name: &str, groups: &[&adw::PreferencesGroup]) {
    let page = adw::PreferencesPage::new();
    for group in groups {
        page.add(*group);
    }
    stack.add_named(&page, Some(name));
}

fn radio_row(
    title: &str,
    subtitle: &str,
    group: Option<&gtk::CheckButton>,
) -> (adw::ActionRow, gtk::CheckButton) {
    let check = gtk::CheckButton::new();
    check.set_valign(gtk::Align::Center);
    if let Some(group) = group {
        check.set_group(Some(group));
    }
    let row = adw::ActionRow::builder()
        .title(title)
        .subtitle(subtitle)
        .activatable_widget(&check)
        .build();
    row.add_prefix(&check);
    (row, check)
}

fn spin_row(
    title: &str,
    adjustment: gtk::Adjustment,
    digits: u32,
) -> (adw::ActionRow, gtk::SpinButton) {
    let spin: gtk::SpinButton = crate::manager::labelled::labelled("GtkSpinButton", title);
    spin.configure(Some(&adjustment), 1.0, digits);
    spin.set_valign(gtk::Align::Center);
    spin.set_numeric(true);
    let row = adw::ActionRow::builder()
        .title(title)
        .activatable_widget(&spin)
        .build();
    row.add_suffix(&spin);
    (row, spin)
}

/// Builds the window's content: header bar with Back/Next and one page per step.
fn build(root: &adw::Window, sender: &ComponentSender<NewVm>, hypervisor: &Hypervisor) -> Widgets {
    let changed = {
        let s = sender.clone();
        move || s.input(NewVmMsg::Changed)
    };

    let title = adw::WindowTitle::new(&gettext("New Virtual Machine"), "");
    let back = gtk::Button::with_mnemonic(&gettext("_Back"));
    let next = gtk::Button::with_mnemonic(&gettext("_Next"));
    next.add_css_class("suggested-action");
    let spinner = gtk::Spinner::builder().visible(false).build();
    let header = adw::HeaderBar::builder().title_widget(&title).build();
    header.pack_start(&back);
    header.pack_end(&next);
    header.pack_end(&spinner);
    let s = sender.clone();
    back.connect_clicked(move |_| s.input(NewVmMsg::Back));
    let s = sender.clone();
    next.connect_clicked(move |_| s.input(NewVmMsg::Next));

    let stack = gtk::Stack::builder()
        .transition_type(gtk::StackTransitionType::SlideLeftRight)
        .vexpand(true)
        .build();

    // Name.
    let name = adw::EntryRow::builder().title(gettext("Name")).build();
    let c = changed.clone();
    name.connect_changed(move |_| c());
    let s = sender.clone();
    name.connect_entry_activated(move |_| s.input(NewVmMsg::Next));
    let name_problem = problem_label();
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Name"))
        .description(gettext(
            "How the virtual machine is called in the list. It also names its disk.",
        ))
        .build();
    group.add(&name);
    group.add(&name_problem);
    page(&stack, "name", &[&group]);

    // Install media.
    let (iso_row, media_iso) = radio_row(
        &gettext("ISO image"),
        &gettext("Install an operating system from a CD or DVD image"),
        None,
    );
    let (disk_row, media_disk) = radio_row(
        &gettext("Existing disk image"),
        &gettext("Start a system that is already installed on a disk image"),
        Some(&media_iso),
    );
    let (none_row, media_none) = radio_row(
        &gettext("No media"),
        &gettext("Boot from the network, or start with an empty disk"),
        Some(&media_iso),
    );
    media_iso.set_active(true);
    let media_path = adw::EntryRow::builder()
        .title(gettext("Image file"))
        .build();
    let choose: gtk::Button = crate::manager::labelled::labelled("GtkButton", &gettext("Choose…"));
    choose.set_icon_name("document-open-symbolic");
    choose.set_valign(gtk::Align::Center);
    choose.set_tooltip_text(Some(&gettext("Choose…")));
    choose.add_css_class("flat");
    if matches!(hypervisor.spec().bus, Bus::Ssh { .. }) {
        // A local file chooser would show this computer's files.
        choose.set_sensitive(false);
        choose.set_tooltip_text(Some(&gettext(
            "Type the path of the image on the remote host",
        )));
    }
    media_path.add_suffix(&choose);
    let s = sender.clone();
    choose.connect_clicked(move |_| s.input(NewVmMsg::ChooseFile));
    for check in [&media_iso, &media_disk, &media_none] {
        let c = changed.clone();
        check.connect_toggled(move |_| c());
    }
    let c = changed.clone();
    media_path.connect_changed(move |_| c());
    let media_problem = problem_label();
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Install Media"))
        .build();
    group.add(&iso_row);
    group.add(&disk_row);
    group.add(&none_row);
    let file_group = adw::PreferencesGroup::new();
    file_group.add(&media_path);
    file_group.add(&media_problem);
    page(&stack, "media", &[&group, &file_group]);

    // Memory and processors.
    let (memory_row, memory) = spin_row(
        &gettext("Memory (MiB)"),
        gtk::Adjustment::new(
            DEFAULT_MEMORY_MIB,
            MIN_MEMORY_MIB,
            FALLBACK_MAX_MEMORY_MIB,
            256.0,
            1024.0,
            0.0,
        ),
        0,
    );
    let (vcpus_row, vcpus) = spin_row(
        &gettext("Processors"),
        gtk::Adjustment::new(DEFAULT_VCPUS, 1.0, 64.0, 1.0, 1.0, 0.0),
        0,
    );
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Memory and Processors"))
        .build();
    group.add(&memory_row);
    group.add(&vcpus_row);
    page(&stack, "resources", &[&group]);

    // Storage.
    let new_disk: gtk::Switch =
        crate::manager::labelled::labelled("GtkSwitch", &gettext("Create a new disk"));
    new_disk.set_active(true);
    new_disk.set_valign(gtk::Align::Center);
    let new_disk_row = adw::ActionRow::builder()
        .title(gettext("Create a new disk"))
        .activatable_widget(&new_disk)
        .build();
    new_disk_row.add_suffix(&new_disk);
    let c = changed.clone();
    new_disk.connect_active_notify(move |_| c());
    let (disk_size_row, disk_size) = spin_row(
        &gettext("Disk size (GiB)"),
        gtk::Adjustment::new(DEFAULT_DISK_GIB, 0.1, 16384.0, 1.0, 10.0, 0.0),
        1,
    );
    let pool_list = gtk::StringList::new(&[]);
    let pool = adw::ComboRow::builder()
        .title(gettext("Storage pool"))
        .model(&pool_list)
        .build();
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Storage"))
        .description(gettext(
            "The disk grows as the system writes to it, up to its size.",
        ))
        .build();
    group.add(&new_disk_row);
    group.add(&disk_size_row);
    group.add(&pool);
    page(&stack, "storage", &[&group]);

    // Firmware.
    let (bios_row, bios) = radio_row(
        &gettext("BIOS"),
        &gettext("Works with every system (SeaBIOS)"),
        None,
    );
    let (uefi_row, uefi) = radio_row(
        &gettext("UEFI"),
        &gettext("Checking the host…"),
        Some(&bios),
    );
    bios.set_active(true);
    uefi_row.set_sensitive(false);
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Firmware"))
        .build();
    group.add(&bios_row);
    group.add(&uefi_row);
    page(&stack, "firmware", &[&group]);

    // Summary.
    let summary = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .css_classes(["boxed-list"])
        .build();
    let create_problem = problem_label();
    create_problem.set_selectable(true);
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Summary"))
        .description(gettext("Create defines the virtual machine and starts it."))
        .build();
    group.add(&summary);
    group.add(&create_problem);
    page(&stack, "summary", &[&group]);

    let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
    content.append(&header);
    content.append(&stack);
    root.set_content(Some(&content));
    root.set_default_widget(Some(&next));

    Widgets {
        stack,
        title,
        back,
        next,
        spinner,
        name,
        name_problem,
        media_iso,
        media_disk,
        media_path,
        media_problem,
        memory,
        memory_row,
        vcpus,
        vcpus_row,
        new_disk,
        new_disk_row,
        disk_size,
        disk_size_row,
        pool,
        pool_list,
        bios,
        uefi,
        uefi_row,
        summary,
        create_problem,
    }
}
