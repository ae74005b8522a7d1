//! The VM manager: the sidebar of libvirt connections and, for the
//! selected one, the live VM list, the lifecycle actions on it and the VM
//! page. Each connection runs its own watch task (connect, then follow
//! libvirt-dbus's events); the UI only applies the changes it reports.
//! Dialogs and the VM page are built elsewhere; this module routes.

mod add_connection;
mod connections;
pub mod labelled;
pub mod lifecycle;
mod timing;
mod vm_item;
mod vm_list;

use gettextrs::gettext;
use relm4::adw::{self, prelude::*};
use relm4::gtk::{self, gio, glib};
use relm4::{Component, ComponentController, ComponentParts, ComponentSender, Controller};

use crate::libvirt::{Action, Change, ConnectionSpec, DeleteOptions, DomainInfo, Hypervisor};
use crate::new_vm::{NewVm, NewVmInit, NewVmOutput};
use crate::vm_page::{VmPage, VmPageInit, VmPageMsg, VmPageOutput, VmTab};
use connections::{SidebarRow, Status};
use vm_item::VmItem;
use vm_list::{VmList, VmStore};

/// What a command line asks the manager to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Launch {
    /// `--connect URI`: select this connection, adding it for this run.
    pub connect: Option<ConnectionSpec>,
    /// `--show-domain-*`: open this VM once its connection lists it.
    pub show: Option<(String, VmTab)>,
}

impl Launch {
    /// Reads the options GApplication parsed (checked before, in `cli`).
    pub fn from_options(options: &glib::VariantDict) -> Self {
        let string = |name: &str| options.lookup::<String>(name).ok().flatten();
        let connect =
            string(crate::cli::CONNECT).and_then(|uri| ConnectionSpec::from_uri(&uri).ok());
        let show = string(crate::cli::SHOW_DOMAIN_CONSOLE)
            .map(|name| (name, VmTab::Console))
            .or_else(|| string(crate::cli::SHOW_DOMAIN_EDITOR).map(|name| (name, VmTab::Overview)));
        Self { connect, show }
    }
}

#[derive(Debug)]
pub enum ManagerMsg {
    Launch(Launch),
    AskConnection,
    AddConnection {
        spec: ConnectionSpec,
        save: bool,
    },
    RemoveConnection(u32),
    /// Connects the selected connection again after it failed.
    RetrySelected,
    SelectConnection(u32),
    SelectionChanged,
    /// A lifecycle action on the selected VM (or the page's).
    Lifecycle(Action),
    Perform {
        action: Action,
        path: String,
        options: lifecycle::Options,
    },
    /// Opens the selected VM's page.
    OpenSelected,
    Back,
    NewVm,
    /// The assistant defined and started a VM on `connection`.
    Created {
        connection: u32,
        info: DomainInfo,
    },
    Toast(String),
    /// The VM page's thumbnail of its console.
    Thumbnail(zbus::zvariant::OwnedObjectPath, gtk::gdk::Texture),
}

#[derive(Debug)]
pub enum ManagerOutput {
    Toast(String),
}

#[derive(Debug)]
pub enum ManagerCmd {
    Connected(u32, Hypervisor),
    Failed(u32, String),
    Change(u32, Change),
    /// A lifecycle action finished; `info` is re-read when no event follows
    /// (autostart).
    Done {
        connection: u32,
        name: String,
        result: Result<(), String>,
        info: Option<DomainInfo>,
    },
}

/// One connection in the sidebar and everything it has.
#[derive(Debug)]
struct Connection {
    id: u32,
    spec: ConnectionSpec,
    saved: bool,
    status: Status,
    hypervisor: Option<Hypervisor>,
    vms: VmStore,
    row: SidebarRow,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Listed at least once (the `--show-domain-*` lookup waits for it).
    listed: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The VM whose page is open.
#[derive(Debug)]
struct OpenPage {
    connection: u32,
    path: String,
    page: Controller<VmPage>,
}

pub struct Manager {
    settings: gio::Settings,
    root: gtk::Paned,
    connections: Vec<Connection>,
    next_id: u32,
    selected: Option<u32>,
    started: bool,
    list: VmList,
    sidebar: gtk::ListBox,
    content: gtk::Stack,
    error_page: adw::StatusPage,
    missing_page: adw::StatusPage,
    /// Holds the open VM's page below a bar with the way back.
    page_slot: gtk::Box,
    page_title: gtk::Label,
    page: Option<OpenPage>,
    /// `--show-domain-*` waiting for its connection's list.
    pending: Option<(Option<u32>, String, VmTab)>,
    actions: gio::SimpleActionGroup,
    timings: timing::Timings,
    new_vm: Option<Controller<NewVm>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

/// Below this width (in pixels) an open VM page hides the sidebar.
const NARROW_WIDTH: i32 = 1000;

/// The lifecycle actions of the `vm` action group, by action name.
const LIFECYCLE: [(&str, Action); 9] = [
    ("start", Action::Start),
    ("restore", Action::Start),
    ("shutdown", Action::Shutdown),
    ("reboot", Action::Reboot),
    ("force-off", Action::ForceOff),
    ("pause", Action::Pause),
    ("resume", Action::Resume),
    ("save", Action::Save),
    ("delete", Action::Delete),
];

impl Component for Manager {
    type Init = gio::Settings;
    type Input = ManagerMsg;
    type Output = ManagerOutput;
    type CommandOutput = ManagerCmd;
    type Root = gtk::Paned;
    type Widgets = ();

    fn init_root() -> Self::Root {
        gtk::Paned::builder()
            .position(260)
            .shrink_start_child(false)
            .resize_start_child(false)
            .vexpand(true)
            .build()
    }

    fn init(
        settings: gio::Settings,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let menu = vm_menu();
        let list = VmList::new(menu.upcast_ref());
        lifecycle::attach_menu(&list.list_view, menu.upcast_ref());
        let actions = install_actions(&root, &sender);

        let sidebar = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::Single)
            .css_classes(["navigation-sidebar"])
            .build();
        {
            let sender = sender.clone();
            sidebar.connect_row_selected(move |_, row| {
                if let Some(id) = row.and_then(|r| r.widget_name().parse().ok()) {
                    sender.input(ManagerMsg::SelectConnection(id));
                }
            });
        }
        let add = gtk::Button::builder()
            .label(gettext("Add Connection…"))
            .margin_start(12)
            .margin_end(12)
            .margin_top(6)
            .margin_bottom(12)
            .build();
        {
            let sender = sender.clone();
            add.connect_clicked(move |_| sender.input(ManagerMsg::AskConnection));
        }
        let sidebar_box = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .width_request(220)
            .css_classes(["sidebar"])
            .build();
        sidebar_box.append(
            &gtk::Label::builder()
                .label(gettext("Connections"))
                .xalign(0.0)
                .margin_top(12)
                .margin_bottom(6)
                .margin_start(12)
                .css_classes(["heading"])
                .build(),
        );
        sidebar_box.append(
            &gtk::ScrolledWindow::builder()
                .hscrollbar_policy(gtk::PolicyType::Never)
                .vexpand(true)
                .child(&sidebar)
                .build(),
        );
        sidebar_box.append(&add);
        root.set_start_child(Some(&sidebar_box));

        let content = gtk::Stack::builder()
            .hexpand(true)
            .transition_type(gtk::StackTransitionType::Crossfade)
            .build();
        let list_page = gtk::Box::new(gtk::Orientation::Vertical, 0);
        list_page.append(&list.root);
        list_page.append(&action_bar(&menu));
        content.add_named(&list_page, Some("list"));

        let spinner = gtk::Spinner::builder()
            .width_request(32)
            .height_request(32)
            .build();
        // A spinning spinner keeps GTK 4.8's frame clock at 60 frames a
        // second even while its page is hidden: spin only while shown.
        spinner.connect_map(|spinner| spinner.start());
        spinner.connect_unmap(|spinner| spinner.stop());
        let connecting = adw::StatusPage::builder()
            .title(gettext("Connecting…"))
            .child(&spinner)
            .build();
        content.add_named(&connecting, Some("connecting"));

        let new_vm = pill_button(&gettext("New Virtual Machine…"), "vm.new", true);
        let empty = adw::StatusPage::builder()
            .icon_name("computer-symbolic")
            .title(gettext("No Virtual Machines"))
            .description(gettext("This connection has no virtual machines yet."))
            .child(&new_vm)
            .build();
        content.add_named(&empty, Some("empty"));

        let retry = pill_button(&gettext("Try Again"), "vm.retry", false);
        let error_page = adw::StatusPage::builder()
            .icon_name("dialog-warning-symbolic")
            .title(gettext("Cannot Connect"))
            .child(&retry)
            .build();
        content.add_named(&error_page, Some("error"));

        let gone = adw::StatusPage::builder()
            .icon_name("network-offline-symbolic")
            .title(gettext("libvirt-dbus Stopped"))
            .description(gettext(
                "libvirt-dbus stopped — waiting for it to come back…",
            ))
            .build();
        content.add_named(&gone, Some("gone"));

        let back = pill_button(&gettext("Back to the List"), "vm.back", false);
        let missing_page = adw::StatusPage::builder()
            .icon_name("edit-find-symbolic")
            .title(gettext("No Such Virtual Machine"))
            .child(&back)
            .build();
        content.add_named(&missing_page, Some("missing"));

        let page_bar = gtk::Box::builder()
            .spacing(6)
            .margin_top(6)
            .margin_start(6)
            .margin_end(6)
            .build();
        let back = labelled::icon_button("go-previous-symbolic", &gettext("Back to the List"));
        back.set_action_name(Some("vm.back"));
        page_bar.append(&back);
        let page_title = gtk::Label::builder()
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .css_classes(["title-4"])
            .build();
        page_bar.append(&page_title);
        let page_slot = gtk::Box::new(gtk::Orientation::Vertical, 0);
        page_slot.append(&page_bar);
        content.add_named(&page_slot, Some("page"));
        root.set_end_child(Some(&content));
        connections::collapse_when_narrow(&root, &content, NARROW_WIDTH);

        {
            let sender = sender.clone();
            let sender2 = sender.clone();
            list.selection
                .connect_selected_item_notify(move |_| sender.input(ManagerMsg::SelectionChanged));
            list.list_view
                .connect_activate(move |_, _| sender2.input(ManagerMsg::OpenSelected));
        }

        let model = Manager {
            settings,
            root,
            connections: Vec::new(),
            next_id: 0,
            selected: None,
            started: false,
            list,
            sidebar,
            content,
            error_page,
            missing_page,
            page_slot,
            page_title,
            page: None,
            pending: None,
            actions,
            timings: timing::Timings::from_env(),
            new_vm: None,
        };
        model.update_actions();
        model.timings.first_frame(&model.root);
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, msg: ManagerMsg, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ManagerMsg::Launch(launch) => self.launch(launch, &sender),
            ManagerMsg::AskConnection => {
                let Some(window) = self.window() else { return };
                let sender = sender.clone();
                add_connection::show(&window, move |spec| {
                    sender.input(ManagerMsg::AddConnection { spec, save: true })
                });
            }
            ManagerMsg::AddConnection { spec, save } => {
                let id = match self.connections.iter_mut().find(|c| c.spec == spec) {
                    // Already there (maybe only for this run): keep one row.
                    Some(conn) => {
                        conn.saved |= save;
                        conn.id
                    }
                    None => self.add_connection(spec, save, &sender),
                };
                self.select_row(id);
                if save {
                    self.save_connections();
                }
            }
            ManagerMsg::RemoveConnection(id) => self.remove_connection(id),
            ManagerMsg::RetrySelected => {
                if let Some(id) = self.selected {
                    self.connect(id, &sender);
                }
            }
            ManagerMsg::SelectConnection(id) => {
                self.selected = Some(id);
                if let Some(conn) = self.connection(id) {
                    self.list.show_store(&conn.vms.store);
                }
                if self.page.as_ref().is_some_and(|p| p.connection != id) {
                    self.close_page();
                }
                self.show_content();
                self.update_actions();
            }
            ManagerMsg::SelectionChanged => self.update_actions(),
            ManagerMsg::Lifecycle(action) => self.lifecycle(action, &sender),
            ManagerMsg::Perform {
                action,
                path,
                options,
            } => self.perform(action, path, options, &sender),
            ManagerMsg::OpenSelected => {
                if let (Some(item), Some(connection)) = (self.list.selected(), self.selected) {
                    self.open_page(connection, &item, VmTab::Overview, &sender);
                }
            }
            ManagerMsg::Back => self.close_page(),
            ManagerMsg::NewVm => self.new_vm(&sender),
            ManagerMsg::Created { connection, info } => {
                let Some(conn) = self.connection_mut(connection) else {
                    return;
                };
                let path = info.path.as_str().to_owned();
                conn.vms.upsert(info);
                let vms = conn.vms.len();
                self.set_status(connection, Status::Connected { vms });
                let item = self
                    .connection(connection)
                    .and_then(|c| c.vms.get(&path))
                    .cloned();
                if let Some(item) = item {
                    if self.selected != Some(connection) {
                        self.select_row(connection);
                    }
                    self.list.select(&item);
                    self.open_page(connection, &item, VmTab::Console, &sender);
                }
            }
            ManagerMsg::Toast(text) => {
                let _ = sender.output(ManagerOutput::Toast(text));
            }
            ManagerMsg::Thumbnail(path, texture) => {
                let item = self.page.as_ref().and_then(|page| {
                    self.connection(page.connection)
                        .and_then(|c| c.vms.get(path.as_str()))
                });
                if let Some(item) = item {
                    item.set_thumbnail(Some(texture));
                }
            } // Pages close only when the manager drops them, which it did.
        }
    }

    fn update_cmd(&mut self, cmd: ManagerCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        match cmd {
            ManagerCmd::Connected(id, hypervisor) => {
                if let Some(conn) = self.connection_mut(id) {
                    conn.hypervisor = Some(hypervisor);
                }
            }
            ManagerCmd::Failed(id, message) => {
                self.set_status(id, Status::Failed(message));
                self.settle_pending(&sender);
            }
            ManagerCmd::Change(id, change) => self.apply(id, change, &sender),
            ManagerCmd::Done {
                connection,
                name,
                result,
                info,
            } => {
                if let Err(message) = result {
                    let text = gettext("“{name}”: {message}")
                        .replace("{name}", &name)
                        .replace("{message}", &message);
                    let _ = sender.output(ManagerOutput::Toast(text));
                }
                if let Some(info) = info {
                    if let Some(page) = &self.page {
                        if page.connection == connection && page.path == info.path.as_str() {
                            page.page.emit(VmPageMsg::Info(info.clone()));
                        }
                    }
                    if let Some(conn) = self.connection_mut(connection) {
                        conn.vms.upsert(info);
                    }
                    self.update_actions();
                }
            }
        }
    }
}

impl Manager {
    fn launch(&mut self, launch: Launch, sender: &ComponentSender<Self>) {
        let mut select = None;
        if !self.started {
            self.started = true;
            let saved_explicitly = !self.settings.strv("connections").is_empty();
            // With --connect and nothing saved, only that connection is shown
            // (the default user session would be a surprise guest).
            if saved_explicitly || launch.connect.is_none() {
                for spec in connections::saved(&self.settings) {
                    let id = self.add_connection(spec, true, sender);
                    select.get_or_insert(id);
                }
            }
        }
        let connect = launch.connect.is_some();
        if let Some(spec) = launch.connect {
            let id = match self.connections.iter().find(|c| c.spec == spec) {
                Some(conn) => conn.id,
                None => self.add_connection(spec, false, sender),
            };
            select = Some(id);
        }
        if let Some((name, view)) = launch.show {
            // With --connect the VM is looked for there only, else anywhere.
            self.pending = Some((select.filter(|_| connect), name, view));
        }
        if let Some(id) = select {
            self.select_row(id);
        }
        self.settle_pending(sender);
    }

    fn add_connection(
        &mut self,
        spec: ConnectionSpec,
        saved: bool,
        sender: &ComponentSender<Self>,
    ) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let row = SidebarRow::new(&spec);
        row.row.set_widget_name(&id.to_string());
        {
            let sender = sender.clone();
            row.remove
                .connect_clicked(move |_| sender.input(ManagerMsg::RemoveConnection(id)));
        }
        self.sidebar.append(&row.row);
        self.connections.push(Connection {
            id,
            spec,
            saved,
            status: Status::Connecting,
            hypervisor: None,
            vms: VmStore::default(),
            row,
            task: None,
            listed: false,
        });
        self.connect(id, sender);
        id
    }

    /// (Re)starts a connection's task: connect, list, follow events.
    fn connect(&mut self, id: u32, sender: &ComponentSender<Self>) {
        let out = sender.command_sender().clone();
        let Some(conn) = self.connection_mut(id) else {
            return;
        };
        if let Some(task) = conn.task.take() {
            task.abort();
        }
        let spec = conn.spec.clone();
        conn.task = Some(relm4::spawn(async move {
            let hypervisor = loop {
                match Hypervisor::connect(&spec).await {
                    Ok(hypervisor) => break hypervisor,
                    Err(error) => {
                        let missing = matches!(error, crate::libvirt::Error::ServiceMissing { .. });
                        out.emit(ManagerCmd::Failed(id, error.to_string()));
                        // Not running yet: connect when it starts.
                        if !missing || !connections::service_appeared(&spec).await {
                            return;
                        }
                        out.emit(ManagerCmd::Change(id, Change::Reconnected));
                    }
                }
            };
            let mut watch = match hypervisor.watch().await {
                Ok(watch) => watch,
                Err(error) => {
                    out.emit(ManagerCmd::Failed(id, error.to_string()));
                    return;
                }
            };
            out.emit(ManagerCmd::Connected(id, hypervisor));
            while let Some(change) = watch.next().await {
                out.emit(ManagerCmd::Change(id, change));
            }
            out.emit(ManagerCmd::Failed(
                id,
                gettext("lost the connection to the bus; try again"),
            ));
        }));
        self.set_status(id, Status::Connecting);
    }

    fn remove_connection(&mut self, id: u32) {
        let Some(index) = self.connections.iter().position(|c| c.id == id) else {
            return;
        };
        let conn = self.connections.remove(index);
        self.sidebar.remove(&conn.row.row);
        if conn.saved {
            self.save_connections();
        }
        if self.selected == Some(id) {
            self.selected = None;
            self.close_page();
            match self.connections.first().map(|c| c.id) {
                Some(next) => self.select_row(next),
                None => {
                    self.list.show_store(&gio::ListStore::new::<VmItem>());
                    self.show_content();
                }
            }
        }
    }

    fn save_connections(&self) {
        let specs: Vec<ConnectionSpec> = self
            .connections
            .iter()
            .filter(|c| c.saved)
            .map(|c| c.spec.clone())
            .collect();
        connections::save(&self.settings, &specs);
    }

    fn select_row(&self, id: u32) {
        if let Some(conn) = self.connection(id) {
            self.sidebar.select_row(Some(&conn.row.row));
        }
    }

    fn connection(&self, id: u32) -> Option<&Connection> {
        self.connections.iter().find(|c| c.id == id)
    }

    fn connection_mut(&mut self, id: u32) -> Option<&mut Connection> {
        self.connections.iter_mut().find(|c| c.id == id)
    }

    fn selected_connection(&self) -> Option<&Connection> {
        self.selected.and_then(|id| self.connection(id))
    }

    fn set_status(&mut self, id: u32, status: Status) {
        if let Some(conn) = self.connection_mut(id) {
            conn.row.set_status(&status);
            conn.status = status;
        }
        if self.selected == Some(id) {
            self.show_content();
        }
    }

    /// Applies one change of connection `id` to its rows.
    fn apply(&mut self, id: u32, change: Change, sender: &ComponentSender<Self>) {
        let selected = self.selected == Some(id);
        let relisted = selected && matches!(change, Change::Listed(_));
        if relisted {
            // The sorted, filtered view takes a whole new store in one pass
            // far faster than a splice of every row under it (0.25 s for
            // 1,000 rows).
            self.list.show_store(&gio::ListStore::new::<VmItem>());
        }
        let page_path = self
            .page
            .as_ref()
            .filter(|p| p.connection == id)
            .map(|p| p.path.clone());
        let Some(conn) = self.connection_mut(id) else {
            return;
        };
        let mut shown = None;
        match change {
            Change::Listed(list) => {
                let count = list.len();
                conn.vms.replace(list);
                conn.listed = true;
                let vms = conn.vms.len();
                let store = conn.vms.store.clone();
                if relisted {
                    self.list.show_store(&store);
                }
                self.set_status(id, Status::Connected { vms });
                if selected {
                    self.timings.listed(&self.root, count);
                }
                self.settle_pending(sender);
            }
            Change::Added(info) => {
                conn.vms.upsert(info);
                let vms = conn.vms.len();
                self.set_status(id, Status::Connected { vms });
            }
            Change::Removed(path) => {
                let name = conn.vms.get(path.as_str()).map(|item| item.name());
                conn.vms.remove(path.as_str());
                let vms = conn.vms.len();
                self.set_status(id, Status::Connected { vms });
                if self
                    .page
                    .as_ref()
                    .is_some_and(|p| p.connection == id && p.path == path.as_str())
                {
                    self.close_page();
                    if let Some(name) = name {
                        let _ = sender.output(ManagerOutput::Toast(
                            gettext("“{}” was deleted").replace("{}", &name),
                        ));
                    }
                }
            }
            Change::StateChanged(info) | Change::Updated(info) => {
                shown = Some(info.clone());
                conn.vms.upsert(info);
                if selected {
                    self.list.state_changed();
                }
            }
            // Titles, descriptions, vCPUs and memory, read after the list.
            Change::Details(list) => {
                for info in list {
                    if page_path.as_deref() == Some(info.path.as_str()) {
                        shown = Some(info.clone());
                    }
                    conn.vms.upsert(info);
                }
            }
            Change::Disconnected => self.set_status(id, Status::ServiceGone),
            Change::Reconnected => self.set_status(id, Status::Connecting),
            Change::Failed(message) => {
                let _ = sender.output(ManagerOutput::Toast(message));
            }
            Change::Network { .. } | Change::StoragePool { .. } => {}
        }
        if let Some(info) = shown {
            if selected {
                self.timings.state_shown(&self.root, &info.name, info.state);
            }
            if let Some(page) = &self.page {
                if page.connection == id && page.path == info.path.as_str() {
                    page.page.emit(VmPageMsg::Info(info));
                }
            }
            self.refresh_page_title();
        }
        self.update_actions();
    }

    /// Shows what fits the selected connection: its list, or why there is none.
    fn show_content(&self) {
        let Some(conn) = self.selected_connection() else {
            self.error_page.set_title(&gettext("No Connection"));
            self.error_page.set_description(Some(&gettext(
                "Add a libvirt connection to see its virtual machines.",
            )));
            self.content.set_visible_child_name("error");
            return;
        };
        // The sidebar follows the page (`connections::collapse_when_narrow`).
        if self.page.is_some() {
            self.content.set_visible_child_name("page");
            return;
        }
        let name = match &conn.status {
            Status::Connecting => "connecting",
            Status::ServiceGone => "gone",
            Status::Failed(message) => {
                self.error_page.set_title(&gettext("Cannot Connect"));
                self.error_page.set_description(Some(message));
                "error"
            }
            Status::Connected { vms: 0 } => "empty",
            Status::Connected { .. } => "list",
        };
        self.content.set_visible_child_name(name);
    }

    /// Opens a `--show-domain-*` VM once its connection listed it, or says
    /// that it does not exist once every connection it may be on answered.
    fn settle_pending(&mut self, sender: &ComponentSender<Self>) {
        let Some((connection, name, view)) = self.pending.clone() else {
            return;
        };
        let candidates: Vec<&Connection> = self
            .connections
            .iter()
            .filter(|c| connection.is_none_or(|id| c.id == id))
            .collect();
        for conn in &candidates {
            if let Some(item) = conn.vms.find_by_name(&name) {
                let (id, item) = (conn.id, item.clone());
                self.pending = None;
                self.select_row(id);
                self.selected = Some(id);
                self.list.show_store(
                    &self
                        .connection(id)
                        .map(|c| c.vms.store.clone())
                        .unwrap_or_else(gio::ListStore::new::<VmItem>),
                );
                self.list.select(&item);
                self.open_page(id, &item, view, sender);
                return;
            }
        }
        let settled = candidates
            .iter()
            .all(|c| c.listed || matches!(c.status, Status::Failed(_)));
        if settled && !candidates.is_empty() {
            self.pending = None;
            let where_ = candidates
                .iter()
                .map(|c| connections::title(&c.spec))
                .collect::<Vec<_>>()
                .join(", ");
            self.missing_page.set_description(Some(
                &gettext("There is no virtual machine called “{name}” on {where}. Check the name with the list.")
                    .replace("{name}", &name)
                    .replace("{where}", &where_),
            ));
            self.content.set_visible_child_name("missing");
        }
    }

    fn open_page(
        &mut self,
        connection: u32,
        item: &VmItem,
        tab: VmTab,
        sender: &ComponentSender<Self>,
    ) {
        let Some(conn) = self.connection(connection) else {
            return;
        };
        let (Some(hypervisor), Some(info)) = (conn.hypervisor.clone(), item.info()) else {
            return;
        };
        self.close_page();
        let page = VmPage::builder()
            .launch(VmPageInit {
                hypervisor,
                info,
                tab,
            })
            .forward(sender.input_sender(), |output| match output {
                VmPageOutput::Toast(text) => ManagerMsg::Toast(text),
                VmPageOutput::Lifecycle(action) => ManagerMsg::Lifecycle(action),
                VmPageOutput::Thumbnail(path, texture) => ManagerMsg::Thumbnail(path, texture),
            });
        self.page_slot.append(page.widget());
        self.page = Some(OpenPage {
            connection,
            path: item.path(),
            page,
        });
        self.refresh_page_title();
        self.show_content();
        self.update_actions();
    }

    /// Drops the open VM page (its console disconnects) and shows the list.
    fn close_page(&mut self) {
        if let Some(open) = self.page.take() {
            self.page_slot.remove(open.page.widget());
        }
        self.show_content();
        self.update_actions();
    }

    /// The open VM's name above its page.
    fn refresh_page_title(&self) {
        let Some(page) = &self.page else { return };
        if let Some(item) = self
            .connection(page.connection)
            .and_then(|c| c.vms.get(&page.path))
        {
            self.page_title.set_label(&item.name());
        }
    }

    /// The VM the lifecycle actions apply to: the page's, else the selected row's.
    fn target(&self) -> Option<VmItem> {
        match &self.page {
            Some(page) => self
                .connection(page.connection)
                .and_then(|c| c.vms.get(&page.path))
                .cloned(),
            None => self.list.selected(),
        }
    }

    /// Enables exactly the actions the target VM's state allows.
    fn update_actions(&self) {
        let info = self.target().and_then(|item| item.info());
        for (name, action) in LIFECYCLE {
            let enabled = info.as_ref().is_some_and(|info| {
                lifecycle::allowed(info, action)
                    && match name {
                        "start" => !info.has_saved_state(),
                        "restore" => info.has_saved_state(),
                        _ => true,
                    }
            });
            set_enabled(&self.actions, name, enabled);
        }
        let autostart = info
            .as_ref()
            .is_some_and(|i| lifecycle::allowed(i, Action::Autostart));
        set_enabled(&self.actions, "autostart", autostart);
        if let Some(action) = self
            .actions
            .lookup_action("autostart")
            .and_downcast::<gio::SimpleAction>()
        {
            action.set_state(&info.as_ref().is_some_and(|i| i.autostart).to_variant());
        }
        set_enabled(&self.actions, "open", info.is_some());
        let connected = self
            .selected_connection()
            .is_some_and(|c| matches!(c.status, Status::Connected { .. }));
        set_enabled(&self.actions, "new", connected);
    }

    fn lifecycle(&mut self, action: Action, sender: &ComponentSender<Self>) {
        let Some(item) = self.target() else { return };
        let Some(info) = item.info() else { return };
        let path = item.path();
        let mut options = lifecycle::Options::default();
        if action == Action::Autostart {
            options.autostart = Some(!info.autostart);
        }
        if !lifecycle::needs_confirmation(action) {
            self.perform(action, path, options, sender);
            return;
        }
        let Some(window) = self.window() else { return };
        let sender = sender.clone();
        lifecycle::confirm(&window, action, &info.name, move |confirmed, volumes| {
            if confirmed {
                options.delete = DeleteOptions {
                    storage: volumes,
                    nvram: true,
                };
                sender.input(ManagerMsg::Perform {
                    action,
                    path,
                    options,
                });
            }
        });
    }

    fn perform(
        &mut self,
        action: Action,
        path: String,
        options: lifecycle::Options,
        sender: &ComponentSender<Self>,
    ) {
        let connection = match &self.page {
            Some(page) if page.path == path => page.connection,
            _ => match self.selected {
                Some(id) => id,
                None => return,
            },
        };
        let Some(conn) = self.connection(connection) else {
            return;
        };
        let Some(hypervisor) = conn.hypervisor.clone() else {
            return;
        };
        let name = conn.vms.get(&path).map(|i| i.name()).unwrap_or_default();
        let Ok(object_path) = zbus::zvariant::OwnedObjectPath::try_from(path) else {
            return;
        };
        sender.oneshot_command(async move {
            let result = async {
                let domain = hypervisor.domain(object_path).await?;
                lifecycle::perform(&domain, action, options).await?;
                // Autostart raises no domain event: read the row again.
                if action == Action::Autostart {
                    return domain.info().await.map(Some);
                }
                Ok(None)
            }
            .await;
            match result {
                Ok(info) => ManagerCmd::Done {
                    connection,
                    name,
                    result: Ok(()),
                    info,
                },
                Err(error) => ManagerCmd::Done {
                    connection,
                    name,
                    result: Err(error.to_string()),
                    info: None,
                },
            }
        });
    }

    /// Opens the New VM assistant for the selected connection.
    fn new_vm(&mut self, sender: &ComponentSender<Self>) {
        let Some(conn) = self.selected_connection() else {
            return;
        };
        let Some(hypervisor) = conn.hypervisor.clone() else {
            return;
        };
        let connection = conn.id;
        let mut builder = NewVm::builder();
        if let Some(window) = self.window() {
            builder = builder.transient_for(&window);
        }
        self.new_vm = Some(builder.launch(NewVmInit { hypervisor }).forward(
            sender.input_sender(),
            move |output| match output {
                NewVmOutput::Created(info) => ManagerMsg::Created { connection, info },
                NewVmOutput::Toast(text) => ManagerMsg::Toast(text),
            },
        ));
    }

    fn window(&self) -> Option<gtk::Window> {
        self.root.root().and_downcast::<gtk::Window>()
    }
}

fn set_enabled(group: &gio::SimpleActionGroup, name: &str, enabled: bool) {
    if let Some(action) = group
        .lookup_action(name)
        .and_downcast::<gio::SimpleAction>()
    {
        action.set_enabled(enabled);
    }
}

/// The `vm.*` actions, on the manager's widgets (the buttons, the row menu).
fn install_actions(root: &gtk::Paned, sender: &ComponentSender<Manager>) -> gio::SimpleActionGroup {
    let group = gio::SimpleActionGroup::new();
    for (name, action) in LIFECYCLE {
        let simple = gio::SimpleAction::new(name, None);
        let sender = sender.clone();
        simple.connect_activate(move |_, _| sender.input(ManagerMsg::Lifecycle(action)));
        group.add_action(&simple);
    }
    let autostart = gio::SimpleAction::new_stateful("autostart", None, &false.to_variant());
    {
        let sender = sender.clone();
        autostart
            .connect_activate(move |_, _| sender.input(ManagerMsg::Lifecycle(Action::Autostart)));
    }
    group.add_action(&autostart);
    let simple = |name: &str, msg: fn() -> ManagerMsg| {
        let action = gio::SimpleAction::new(name, None);
        let sender = sender.clone();
        action.connect_activate(move |_, _| sender.input(msg()));
        group.add_action(&action);
    };
    simple("open", || ManagerMsg::OpenSelected);
    simple("back", || ManagerMsg::Back);
    simple("new", || ManagerMsg::NewVm);
    simple("retry", || ManagerMsg::RetrySelected);
    root.insert_action_group("vm", Some(&group));
    group
}

/// The lifecycle menu: the row context menu and the "more" button.
fn vm_menu() -> gio::Menu {
    let menu = gio::Menu::new();
    let main = gio::Menu::new();
    main.append(Some(&gettext("Open")), Some("vm.open"));
    menu.append_section(None, &main);
    let power = gio::Menu::new();
    for (label, action) in [
        (gettext("Start"), "vm.start"),
        (gettext("Restore"), "vm.restore"),
        (gettext("Pause"), "vm.pause"),
        (gettext("Resume"), "vm.resume"),
        (gettext("Shut Down"), "vm.shutdown"),
        (gettext("Reboot"), "vm.reboot"),
        (gettext("Save"), "vm.save"),
        (gettext("Force Off…"), "vm.force-off"),
    ] {
        let item = gio::MenuItem::new(Some(&label), Some(action));
        item.set_attribute_value("hidden-when", Some(&"action-disabled".to_variant()));
        power.append_item(&item);
    }
    menu.append_section(None, &power);
    let other = gio::Menu::new();
    other.append(Some(&gettext("Start at Boot")), Some("vm.autostart"));
    other.append(Some(&gettext("Delete…")), Some("vm.delete"));
    menu.append_section(None, &other);
    menu
}

/// The bar under the list: new VM, the common actions, the rest in a menu.
fn action_bar(menu: &gio::Menu) -> gtk::ActionBar {
    let bar = gtk::ActionBar::new();
    let new_vm = labelled::icon_button("list-add-symbolic", &gettext("New Virtual Machine…"));
    new_vm.set_action_name(Some("vm.new"));
    bar.pack_start(&new_vm);
    let more: gtk::MenuButton = labelled::labelled("GtkMenuButton", &gettext("More Actions"));
    more.set_icon_name("view-more-symbolic");
    more.set_tooltip_text(Some(&gettext("More Actions")));
    more.set_menu_model(Some(menu));
    bar.pack_end(&more);
    for (icon, label, action) in [
        (
            "system-shutdown-symbolic",
            gettext("Shut Down"),
            "vm.shutdown",
        ),
        (
            "media-playback-pause-symbolic",
            gettext("Pause"),
            "vm.pause",
        ),
        (
            "media-playback-start-symbolic",
            gettext("Resume"),
            "vm.resume",
        ),
        ("document-revert-symbolic", gettext("Restore"), "vm.restore"),
        (
            "media-playback-start-symbolic",
            gettext("Start"),
            "vm.start",
        ),
    ] {
        let button = labelled::icon_button(icon, &label);
        button.set_action_name(Some(action));
        // Only what the state allows is shown, so the bar stays short.
        button.set_visible(false);
        button.connect_sensitive_notify(|button| button.set_visible(button.is_sensitive()));
        bar.pack_end(&button);
    }
    bar
}

fn pill_button(label: &str, action: &str, suggested: bool) -> gtk::Button {
    let button = gtk::Button::builder()
        .label(label)
        .halign(gtk::Align::Center)
        .action_name(action)
        .css_classes(["pill"])
        .build();
    if suggested {
        button.add_css_class("suggested-action");
    }
    button
}
