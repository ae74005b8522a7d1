//! The VM page: everything shown for one VM, in the content pane of the
//! manager window. A top row with the lifecycle actions valid for the
//! VM's state and a view switcher over five tabs: overview (with the
//! everyday settings), console, performance, snapshots and XML.
//!
//! The page talks to libvirt only about its own VM, through the client in
//! [`crate::libvirt`]; lifecycle actions go out to the manager (which asks
//! for confirmation and performs them), and the manager forwards every
//! event of this VM as [`VmPageMsg::Info`]. Nothing is polled except the
//! statistics while the performance tab is visible.

mod console;
mod overview;
mod performance;
mod snapshots;
mod xml_editor;

use std::future::Future;
use std::os::fd::OwnedFd;

use gettextrs::gettext;
use relm4::adw::prelude::*;
use relm4::gtk::{gdk, glib};
use relm4::{adw, gtk, Component, ComponentParts, ComponentSender};

use crate::libvirt::{
    open_console_stream, Action, Domain, DomainInfo, DomainOverview, DomainState, DomainStats,
    Hypervisor, Result, Scope, Snapshot,
};
use console::{ConsoleTab, ConsoleView};
use overview::OverviewTab;
use performance::PerformanceTab;
use snapshots::SnapshotsTab;
use xml_editor::XmlTab;

/// What the manager gives a page.
#[derive(Debug)]
pub struct VmPageInit {
    pub hypervisor: Hypervisor,
    pub info: DomainInfo,
    pub tab: VmTab,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmTab {
    Overview,
    Console,
    Performance,
    Snapshots,
    Xml,
}

impl VmTab {
    const ALL: [VmTab; 5] = [
        Self::Overview,
        Self::Console,
        Self::Performance,
        Self::Snapshots,
        Self::Xml,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            Self::Console => "console",
            Self::Performance => "performance",
            Self::Snapshots => "snapshots",
            Self::Xml => "xml",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn title(self) -> String {
        match self {
            Self::Overview => gettext("Overview"),
            Self::Console => gettext("Console"),
            Self::Performance => gettext("Performance"),
            Self::Snapshots => gettext("Snapshots"),
            Self::Xml => gettext("XML"),
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Self::Overview => "dialog-information-symbolic",
            Self::Console => "video-display-symbolic",
            Self::Performance => "power-profile-performance-symbolic",
            Self::Snapshots => "camera-photo-symbolic",
            Self::Xml => "text-x-generic-symbolic",
        }
    }
}

#[derive(Debug)]
pub enum VmPageMsg {
    /// The manager forwards every state or configuration change of this VM.
    Info(DomainInfo),
    /// The view switcher changed the tab.
    TabShown(VmTab),
    /// A lifecycle button: handed to the manager.
    Lifecycle(Action),
    Rename(String),
    SetVcpus(u32),
    SetMemoryMib(u64),
    SetAutostart(bool),
    ApplyXml(String),
    RevertXml,
    ConnectConsole,
    ConsoleConnected,
    ConsoleDisconnected(String),
    /// Once a second: statistics (performance tab shown) and thumbnails.
    Tick,
    AskCreateSnapshot,
    CreateSnapshot {
        name: String,
        description: String,
    },
    AskRevertSnapshot(String),
    RevertSnapshot(String),
    AskDeleteSnapshot(String),
    DeleteSnapshot(String),
}

#[derive(Debug)]
pub enum VmPageOutput {
    Toast(String),
    /// The manager performs it, asking for confirmation where it must.
    Lifecycle(Action),
    /// The console's screen, about 160 pixels wide, for the VM list.
    Thumbnail(zbus::zvariant::OwnedObjectPath, gdk::Texture),
}

/// The settings the overview edits, to say which one failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Vcpus,
    Memory,
    Autostart,
}

/// What a load of the domain's XML brings.
#[derive(Debug)]
pub struct Loaded {
    live: DomainOverview,
    config: DomainOverview,
    config_xml: String,
}

#[derive(Debug)]
pub enum VmPageCmd {
    Loaded(Result<Box<Loaded>>),
    Edited(Field, Result<()>),
    XmlApplied(Result<()>),
    XmlReverted(Result<String>),
    GraphicsFd(Result<OwnedFd>),
    Stats(Result<DomainStats>),
    Snapshots(Result<Vec<Snapshot>>),
    SnapshotDone(String, Result<()>),
}

/// The lifecycle buttons of the top row, in order.
const ACTIONS: [Action; 8] = [
    Action::Start,
    Action::Shutdown,
    Action::Reboot,
    Action::Pause,
    Action::Resume,
    Action::Save,
    Action::ForceOff,
    Action::Delete,
];

/// The actions in the "More" menu rather than on the row.
const MENU_ACTIONS: [Action; 3] = [Action::Reboot, Action::Save, Action::Delete];

/// How wide the thumbnails for the VM list are.
const THUMBNAIL_WIDTH: usize = 160;
/// Seconds between thumbnails while the console is connected.
const THUMBNAIL_EVERY: u64 = 2;

pub struct VmPage {
    hypervisor: Hypervisor,
    info: DomainInfo,
    tab: VmTab,
    live: Option<DomainOverview>,
    console: ConsoleView,
    stats_pending: bool,
    snapshots: Vec<Snapshot>,
    ticker: Option<glib::SourceId>,
    ticks: u64,
}

impl std::fmt::Debug for VmPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmPage")
            .field("name", &self.info.name)
            .field("tab", &self.tab)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct VmPageWidgets {
    actions: Vec<(Action, gtk::Button)>,
    more: gtk::MenuButton,
    overview: OverviewTab,
    console: ConsoleTab,
    performance: PerformanceTab,
    snapshots: SnapshotsTab,
    xml: XmlTab,
}

/// The state as the page and the list say it.
pub(crate) fn state_text(info: &DomainInfo) -> String {
    match info.state {
        DomainState::Running | DomainState::Blocked => gettext("Running"),
        DomainState::Paused => gettext("Paused"),
        DomainState::ShuttingDown => gettext("Shutting down"),
        DomainState::Shutoff if info.has_saved_state() => gettext("Saved"),
        DomainState::Shutoff => gettext("Shut off"),
        DomainState::Crashed => gettext("Crashed"),
        DomainState::PmSuspended => gettext("Suspended"),
        DomainState::NoState | DomainState::Unknown(_) => gettext("Unknown"),
    }
}

fn action_label(action: Action, info: &DomainInfo) -> String {
    match action {
        Action::Start if info.has_saved_state() => gettext("Restore"),
        Action::Start => gettext("Start"),
        Action::Shutdown => gettext("Shut Down"),
        Action::Reboot => gettext("Reboot"),
        Action::ForceOff => gettext("Force Off"),
        Action::Pause => gettext("Pause"),
        Action::Resume => gettext("Resume"),
        Action::Save => gettext("Save"),
        Action::Delete => gettext("Delete"),
        Action::Autostart => gettext("Autostart"),
    }
}

fn action_tooltip(action: Action) -> Option<String> {
    Some(match action {
        Action::Shutdown => gettext("Ask the guest to shut down"),
        Action::ForceOff => gettext("Turn off at once, like pulling the plug"),
        Action::Save => gettext("Save the memory to disk and stop; Start restores it"),
        Action::Delete => gettext("Delete this VM"),
        _ => return None,
    })
}

impl Component for VmPage {
    type Init = VmPageInit;
    type Input = VmPageMsg;
    type Output = VmPageOutput;
    type CommandOutput = VmPageCmd;
    type Root = gtk::Box;
    type Widgets = VmPageWidgets;

    fn init_root() -> gtk::Box {
        let root = gtk::Box::new(gtk::Orientation::Vertical, 0);
        root.set_hexpand(true);
        root.set_vexpand(true);
        root
    }

    fn init(
        init: VmPageInit,
        root: gtk::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let input = sender.input_sender();

        let top = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        top.set_margin_top(6);
        top.set_margin_bottom(6);
        top.set_margin_start(12);
        top.set_margin_end(12);
        // The everyday actions as buttons, the rarer ones in a menu, so
        // the row fits next to the view switcher.
        let more_box = gtk::Box::new(gtk::Orientation::Vertical, 0);
        let more_popover = gtk::Popover::new();
        more_popover.set_child(Some(&more_box));
        let more = gtk::MenuButton::builder()
            .label(gettext("More"))
            .tooltip_text(gettext("More actions"))
            .popover(&more_popover)
            .build();
        let mut actions = Vec::new();
        for action in ACTIONS {
            let button = gtk::Button::with_label(&action_label(action, &init.info));
            button.set_tooltip_text(action_tooltip(action).as_deref());
            let s = input.clone();
            let popover = more_popover.clone();
            button.connect_clicked(move |_| {
                popover.popdown();
                s.emit(VmPageMsg::Lifecycle(action));
            });
            if MENU_ACTIONS.contains(&action) {
                button.add_css_class("flat");
                more_box.append(&button);
            } else {
                if action == Action::ForceOff {
                    button.add_css_class("destructive-action");
                }
                if action == Action::Start {
                    button.add_css_class("suggested-action");
                }
                top.append(&button);
            }
            actions.push((action, button));
        }
        top.append(&more);
        let spacer = gtk::Box::new(gtk::Orientation::Horizontal, 0);
        spacer.set_hexpand(true);
        top.append(&spacer);

        let stack = adw::ViewStack::new();
        stack.set_vexpand(true);
        let switcher = adw::ViewSwitcher::builder()
            .stack(&stack)
            .policy(adw::ViewSwitcherPolicy::Narrow)
            .build();
        top.append(&switcher);
        root.append(&top);
        root.append(&gtk::Separator::new(gtk::Orientation::Horizontal));
        root.append(&stack);

        let overview = OverviewTab::new(input);
        let console = ConsoleTab::new(input);
        let performance = PerformanceTab::new();
        let snapshots = SnapshotsTab::new(input);
        let xml = XmlTab::new(input);
        for tab in VmTab::ALL {
            let child: gtk::Widget = match tab {
                VmTab::Overview => overview.root.clone().upcast(),
                VmTab::Console => console.root.clone().upcast(),
                VmTab::Performance => performance.root.clone().upcast(),
                VmTab::Snapshots => snapshots.root.clone().upcast(),
                VmTab::Xml => xml.root.clone().upcast(),
            };
            stack
                .add_titled(&child, Some(tab.name()), &tab.title())
                .set_icon_name(Some(tab.icon()));
        }
        stack.set_visible_child_name(init.tab.name());
        let s = input.clone();
        stack.connect_visible_child_name_notify(move |stack| {
            if let Some(tab) = stack
                .visible_child_name()
                .and_then(|n| VmTab::from_name(&n))
            {
                s.emit(VmPageMsg::TabShown(tab));
            }
        });

        let s = input.clone();
        let ticker = glib::timeout_add_seconds_local(1, move || {
            s.emit(VmPageMsg::Tick);
            glib::ControlFlow::Continue
        });

        let model = VmPage {
            hypervisor: init.hypervisor,
            info: init.info,
            tab: init.tab,
            live: None,
            console: ConsoleView::Loading,
            stats_pending: false,
            snapshots: Vec::new(),
            ticker: Some(ticker),
            ticks: 0,
        };
        let widgets = VmPageWidgets {
            actions,
            more,
            overview,
            console,
            performance,
            snapshots,
            xml,
        };
        model.show_actions(&widgets);
        widgets.overview.show_state(&model.info);
        model.load(&sender);
        model.load_snapshots(&sender);
        ComponentParts { model, widgets }
    }

    fn update_with_view(
        &mut self,
        widgets: &mut VmPageWidgets,
        msg: VmPageMsg,
        sender: ComponentSender<Self>,
        root: &gtk::Box,
    ) {
        match msg {
            VmPageMsg::Info(info) => {
                let was_active = self.info.state.is_active();
                self.info = info;
                self.show_actions(widgets);
                widgets.overview.show_state(&self.info);
                let active = self.info.state.is_active();
                if was_active != active {
                    widgets.performance.clear();
                    // Started: connect once the new XML (with the display's
                    // port) is read. Stopped: the screen is gone.
                    self.console = ConsoleView::Loading;
                    if !active {
                        widgets.console.display.disconnect();
                    }
                }
                self.load(&sender);
                self.show_console(widgets);
            }
            VmPageMsg::TabShown(tab) => {
                self.tab = tab;
                if tab == VmTab::Snapshots {
                    self.load_snapshots(&sender);
                }
            }
            VmPageMsg::Lifecycle(action) => {
                let _ = sender.output(VmPageOutput::Lifecycle(action));
            }
            VmPageMsg::Rename(name) => {
                if name.is_empty() {
                    self.toast(&sender, gettext("A VM needs a name"));
                } else if name != self.info.name {
                    self.run(&sender, move |d| async move { d.rename(&name).await }, |r| {
                        VmPageCmd::Edited(Field::Name, r)
                    });
                }
            }
            VmPageMsg::SetVcpus(vcpus) => self.run(
                &sender,
                move |d| async move { d.set_vcpus(vcpus, Scope::Config).await },
                |r| VmPageCmd::Edited(Field::Vcpus, r),
            ),
            VmPageMsg::SetMemoryMib(mib) => self.run(
                &sender,
                move |d| async move { d.set_memory(mib * 1024, Scope::Config).await },
                |r| VmPageCmd::Edited(Field::Memory, r),
            ),
            VmPageMsg::SetAutostart(on) => {
                if on != self.info.autostart {
                    self.run(
                        &sender,
                        move |d| async move { d.set_autostart(on).await },
                        |r| VmPageCmd::Edited(Field::Autostart, r),
                    );
                }
            }
            VmPageMsg::ApplyXml(xml) => {
                let hypervisor = self.hypervisor.clone();
                sender.oneshot_command(async move {
                    VmPageCmd::XmlApplied(hypervisor.define_xml(&xml).await.map(|_| ()))
                });
            }
            VmPageMsg::RevertXml => self.run(
                &sender,
                |d| async move { d.xml(true).await },
                VmPageCmd::XmlReverted,
            ),
            VmPageMsg::ConnectConsole => self.connect_console(widgets, &sender),
            VmPageMsg::ConsoleConnected => {
                self.console = ConsoleView::Connected;
                self.show_console(widgets);
            }
            VmPageMsg::ConsoleDisconnected(reason) => {
                self.console = if self.info.state.is_active() {
                    ConsoleView::Failed(reason)
                } else {
                    ConsoleView::Loading
                };
                self.show_console(widgets);
            }
            VmPageMsg::Tick => self.tick(widgets, &sender, root),
            VmPageMsg::AskCreateSnapshot => ask_snapshot(root, sender.input_sender().clone()),
            VmPageMsg::CreateSnapshot { name, description } => {
                let what = gettext("take snapshot “{}”").replace("{}", &name);
                self.run(
                    &sender,
                    move |d| async move { d.create_snapshot(&name, &description).await.map(|_| ()) },
                    move |r| VmPageCmd::SnapshotDone(what, r),
                );
            }
            VmPageMsg::AskRevertSnapshot(name) => confirm(
                root,
                &gettext("Revert to “{}”?").replace("{}", &name),
                &gettext("The VM's disks, and its memory if the snapshot has it, go back to this snapshot. Changes since then are lost."),
                &gettext("Revert"),
                sender.input_sender().clone(),
                VmPageMsg::RevertSnapshot(name),
            ),
            VmPageMsg::AskDeleteSnapshot(name) => confirm(
                root,
                &gettext("Delete snapshot “{}”?").replace("{}", &name),
                &gettext("The VM stays as it is; only the way back to this snapshot is gone. Snapshots taken after it are kept."),
                &gettext("Delete"),
                sender.input_sender().clone(),
                VmPageMsg::DeleteSnapshot(name),
            ),
            VmPageMsg::RevertSnapshot(name) => self.snapshot_action(&sender, name, true),
            VmPageMsg::DeleteSnapshot(name) => self.snapshot_action(&sender, name, false),
        }
    }

    fn update_cmd_with_view(
        &mut self,
        widgets: &mut VmPageWidgets,
        cmd: VmPageCmd,
        sender: ComponentSender<Self>,
        _root: &gtk::Box,
    ) {
        match cmd {
            VmPageCmd::Loaded(Ok(loaded)) => {
                widgets
                    .overview
                    .show(&self.info, &loaded.live, &loaded.config);
                widgets.xml.load(&loaded.config_xml, false);
                self.live = Some(loaded.live);
                if self.console == ConsoleView::Loading {
                    self.console = ConsoleView::Connecting;
                    self.show_console(widgets);
                    if self.console == ConsoleView::Connecting {
                        self.connect_console(widgets, &sender);
                    }
                }
            }
            VmPageCmd::Loaded(Err(error)) => {
                if !error.is_not_found() {
                    self.toast(
                        &sender,
                        gettext("Cannot read the VM's configuration: {}")
                            .replace("{}", &error.to_string()),
                    );
                }
            }
            VmPageCmd::Edited(field, Ok(())) => {
                if field != Field::Autostart {
                    widgets.overview.applied();
                }
                self.load(&sender);
                let text = match field {
                    Field::Name => gettext("Renamed"),
                    Field::Vcpus | Field::Memory if self.info.state.is_active() => {
                        gettext("Saved; the change applies when the VM next starts")
                    }
                    Field::Vcpus | Field::Memory => gettext("Saved"),
                    Field::Autostart => return,
                };
                self.toast(&sender, text);
            }
            VmPageCmd::Edited(field, Err(error)) => {
                let what = match field {
                    Field::Name => gettext("Cannot rename the VM: {}"),
                    Field::Vcpus => gettext("Cannot change the vCPUs: {}"),
                    Field::Memory => gettext("Cannot change the memory: {}"),
                    Field::Autostart => gettext("Cannot change autostart: {}"),
                };
                if field == Field::Autostart {
                    widgets.overview.reset_autostart(self.info.autostart);
                }
                self.toast(&sender, what.replace("{}", &error.to_string()));
            }
            VmPageCmd::XmlApplied(Ok(())) => {
                widgets.xml.applied();
                self.toast(&sender, gettext("XML applied"));
                self.load(&sender);
            }
            VmPageCmd::XmlApplied(Err(error)) => widgets.xml.show_error(&error.to_string()),
            VmPageCmd::XmlReverted(Ok(xml)) => widgets.xml.load(&xml, true),
            VmPageCmd::XmlReverted(Err(error)) => self.toast(
                &sender,
                gettext("Cannot read the VM's XML: {}").replace("{}", &error.to_string()),
            ),
            VmPageCmd::GraphicsFd(Ok(fd)) => {
                if self.console == ConsoleView::Connecting {
                    widgets.console.display.connect_fd(fd);
                }
            }
            VmPageCmd::GraphicsFd(Err(error)) => {
                self.console = ConsoleView::Failed(error.to_string());
                self.show_console(widgets);
            }
            VmPageCmd::Stats(result) => {
                self.stats_pending = false;
                match result {
                    Ok(stats) => {
                        widgets
                            .performance
                            .push(stats, self.info.vcpus, self.info.memory_kib)
                    }
                    Err(error) => widgets.performance.show_error(&error.to_string()),
                }
            }
            VmPageCmd::Snapshots(Ok(list)) => {
                widgets.snapshots.show(&list);
                self.snapshots = list;
            }
            VmPageCmd::Snapshots(Err(error)) => self.toast(
                &sender,
                gettext("Cannot list the snapshots: {}").replace("{}", &error.to_string()),
            ),
            VmPageCmd::SnapshotDone(what, result) => {
                if let Err(error) = result {
                    self.toast(
                        &sender,
                        gettext("Cannot {what}: {error}")
                            .replace("{what}", &what)
                            .replace("{error}", &error.to_string()),
                    );
                }
                self.load_snapshots(&sender);
                self.load(&sender);
            }
        }
    }

    fn shutdown(&mut self, widgets: &mut VmPageWidgets, _output: relm4::Sender<VmPageOutput>) {
        if let Some(ticker) = self.ticker.take() {
            ticker.remove();
        }
        widgets.console.display.disconnect();
    }
}

impl VmPage {
    /// Runs `f` on this VM's domain handle and turns its result into a command.
    fn run<T, Fut>(
        &self,
        sender: &ComponentSender<Self>,
        f: impl FnOnce(Domain) -> Fut + Send + 'static,
        done: impl FnOnce(Result<T>) -> VmPageCmd + Send + 'static,
    ) where
        Fut: Future<Output = Result<T>> + Send,
        T: Send + 'static,
    {
        let hypervisor = self.hypervisor.clone();
        let path = self.info.path.clone();
        sender.oneshot_command(async move {
            let result = match hypervisor.domain(path).await {
                Ok(domain) => f(domain).await,
                Err(error) => Err(error),
            };
            done(result)
        });
    }

    fn toast(&self, sender: &ComponentSender<Self>, text: String) {
        let _ = sender.output(VmPageOutput::Toast(text));
    }

    /// Reads the running XML (what the guest has now) and the inactive one
    /// (what the next start uses, and what the XML tab edits).
    fn load(&self, sender: &ComponentSender<Self>) {
        self.run(
            sender,
            |d| async move {
                let (live, config) = futures_util::join!(d.xml(false), d.xml(true));
                let config_xml = config?;
                Ok(Box::new(Loaded {
                    live: DomainOverview::parse(&live?)?,
                    config: DomainOverview::parse(&config_xml)?,
                    config_xml,
                }))
            },
            VmPageCmd::Loaded,
        );
    }

    fn load_snapshots(&self, sender: &ComponentSender<Self>) {
        self.run(
            sender,
            |d| async move { d.snapshots().await },
            VmPageCmd::Snapshots,
        );
    }

    fn show_actions(&self, widgets: &VmPageWidgets) {
        for (action, button) in &widgets.actions {
            button.set_visible(self.info.state.allows(*action));
            button.set_label(&action_label(*action, &self.info));
        }
        widgets.more.set_visible(
            MENU_ACTIONS
                .iter()
                .any(|action| self.info.state.allows(*action)),
        );
    }

    /// Shows why there is no screen, or the screen. A `Connecting` that
    /// cannot connect (no display, not running) becomes the reason.
    fn show_console(&mut self, widgets: &VmPageWidgets) {
        let view = match (&self.live, &self.console) {
            (_, ConsoleView::Connected) => ConsoleView::Connected,
            (None, _) => ConsoleView::Loading,
            (Some(live), _) if live.vnc().is_none() => ConsoleView::NoGraphics,
            (Some(_), _) if !self.info.state.is_active() => ConsoleView::NotRunning {
                saved: self.info.has_saved_state(),
            },
            (Some(_), view) => view.clone(),
        };
        if matches!(
            view,
            ConsoleView::NoGraphics | ConsoleView::NotRunning { .. }
        ) {
            self.console = view.clone();
        }
        widgets.console.show(&view);
    }

    /// Opens the screen: locally through `OpenGraphicsFD`, on a remote
    /// host through an SSH tunnel on the connection's login.
    fn connect_console(&mut self, widgets: &VmPageWidgets, sender: &ComponentSender<Self>) {
        if self.live.as_ref().and_then(DomainOverview::vnc).is_none()
            || !self.info.state.is_active()
        {
            return;
        }
        self.console = ConsoleView::Connecting;
        self.show_console(widgets);
        let hypervisor = self.hypervisor.clone();
        self.run(
            sender,
            |d| async move { open_console_stream(&hypervisor, &d).await },
            VmPageCmd::GraphicsFd,
        );
    }

    /// Polls statistics only while the graphs can be seen, and sends a
    /// thumbnail every few seconds while the console is connected.
    fn tick(&mut self, widgets: &VmPageWidgets, sender: &ComponentSender<Self>, root: &gtk::Box) {
        self.ticks += 1;
        let visible = root.is_mapped() && !window_minimized(root);
        if self.tab == VmTab::Performance
            && visible
            && self.info.state.is_active()
            && !self.stats_pending
        {
            self.stats_pending = true;
            self.run(sender, |d| async move { d.stats().await }, VmPageCmd::Stats);
        }
        if self.console == ConsoleView::Connected && self.ticks.is_multiple_of(THUMBNAIL_EVERY) {
            if let Some(small) = widgets
                .console
                .display
                .screenshot()
                .and_then(|screen| console::thumbnail(&screen, THUMBNAIL_WIDTH))
            {
                let _ = sender.output(VmPageOutput::Thumbnail(self.info.path.clone(), small));
            }
        }
    }

    fn snapshot_action(&self, sender: &ComponentSender<Self>, name: String, revert: bool) {
        let Some(snapshot) = self.snapshots.iter().find(|s| s.name == name).cloned() else {
            self.load_snapshots(sender);
            return;
        };
        let what = if revert {
            gettext("revert to snapshot “{}”").replace("{}", &name)
        } else {
            gettext("delete snapshot “{}”").replace("{}", &name)
        };
        sender.oneshot_command(async move {
            let result = if revert {
                snapshot.revert().await
            } else {
                snapshot.delete().await
            };
            VmPageCmd::SnapshotDone(what, result)
        });
    }
}

fn window_minimized(widget: &impl IsA<gtk::Widget>) -> bool {
    widget
        .native()
        .and_then(|native| native.surface())
        .and_then(|surface| surface.downcast::<gdk::Toplevel>().ok())
        .is_some_and(|toplevel| toplevel.state().contains(gdk::ToplevelState::MINIMIZED))
}

fn parent_window(widget: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
    widget
        .root()
        .and_then(|root| root.downcast::<gtk::Window>().ok())
}

/// Asks "are you sure?" and sends `msg` only on yes.
fn confirm(
    widget: &impl IsA<gtk::Widget>,
    heading: &str,
    body: &str,
    yes: &str,
    input: relm4::Sender<VmPageMsg>,
    msg: VmPageMsg,
) {
    let dialog = adw::MessageDialog::new(parent_window(widget).as_ref(), Some(heading), Some(body));
    dialog.add_response("cancel", &gettext("Cancel"));
    dialog.add_response("yes", yes);
    dialog.set_response_appearance("yes", adw::ResponseAppearance::Destructive);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    let msg = std::cell::Cell::new(Some(msg));
    dialog.connect_response(None, move |_, response| {
        if response == "yes" {
            if let Some(msg) = msg.take() {
                input.emit(msg);
            }
        }
    });
    dialog.present();
}

/// Asks for a new snapshot's name and description.
fn ask_snapshot(widget: &impl IsA<gtk::Widget>, input: relm4::Sender<VmPageMsg>) {
    let dialog = adw::MessageDialog::new(
        parent_window(widget).as_ref(),
        Some(&gettext("Take Snapshot")),
        Some(&gettext(
            "Keeps the VM's disks, and its memory while it runs, to return to later.",
        )),
    );
    let fields = gtk::ListBox::new();
    fields.add_css_class("boxed-list");
    fields.set_selection_mode(gtk::SelectionMode::None);
    let default_name = glib::DateTime::now_local()
        .ok()
        .and_then(|now| now.format("snapshot-%Y%m%d-%H%M%S").ok())
        .map(|s| s.to_string())
        .unwrap_or_else(|| "snapshot".to_owned());
    let name = adw::EntryRow::builder()
        .title(gettext("Name"))
        .text(default_name)
        .build();
    let description = adw::EntryRow::builder()
        .title(gettext("Description"))
        .build();
    fields.append(&name);
    fields.append(&description);
    dialog.set_extra_child(Some(&fields));
    dialog.add_response("cancel", &gettext("Cancel"));
    dialog.add_response("create", &gettext("Take Snapshot"));
    dialog.set_response_appearance("create", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("create"));
    dialog.set_close_response("cancel");
    dialog.connect_response(None, move |_, response| {
        let name = name.text().trim().to_owned();
        if response == "create" && !name.is_empty() {
            input.emit(VmPageMsg::CreateSnapshot {
                name,
                description: description.text().trim().to_owned(),
            });
        }
    });
    dialog.present();
}
