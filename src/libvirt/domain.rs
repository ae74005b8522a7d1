//! One domain (VM): what the list shows about it ([`DomainInfo`], with
//! [`DomainState`] from `GetState`, since libvirt-dbus has no state
//! property), and [`Domain`], the handle for its lifecycle, settings,
//! console, statistics and snapshots. Every call reports libvirt's own
//! message on failure.

use std::os::fd::OwnedFd;

use zbus::zvariant::OwnedObjectPath;

use super::connection::Hypervisor;
use super::error::{Error, Result};
use super::proxies::{self, DomainProxy, DomainSnapshotProxy};
use super::stats::DomainStats;
use super::variant::Params;
use super::xml::{escape, DiskSource, DomainOverview};

/// A domain's state (`virDomainState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainState {
    NoState,
    Running,
    /// Blocked on a resource (still running, for the user).
    Blocked,
    Paused,
    /// Shutting down: the guest was asked and is on its way.
    ShuttingDown,
    Shutoff,
    Crashed,
    /// Suspended by the guest's power management.
    PmSuspended,
    /// A state newer than this client.
    Unknown(i32),
}

/// The reason of a shut-off domain that has a managed save image
/// (`VIR_DOMAIN_SHUTOFF_SAVED`): starting it restores the saved memory.
pub const SHUTOFF_SAVED: i32 = 5;

impl DomainState {
    pub fn from_raw(state: i32) -> Self {
        match state {
            0 => Self::NoState,
            1 => Self::Running,
            2 => Self::Blocked,
            3 => Self::Paused,
            4 => Self::ShuttingDown,
            5 => Self::Shutoff,
            6 => Self::Crashed,
            7 => Self::PmSuspended,
            other => Self::Unknown(other),
        }
    }

    /// Whether the guest is running (has a QEMU process), paused or not.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Shutoff | Self::Crashed | Self::NoState)
    }

    /// Whether `action` makes sense now, so the UI can offer only these.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Self::Running | Self::Blocked => matches!(
                action,
                Shutdown | Reboot | ForceOff | Pause | Save | Autostart | Delete
            ),
            Self::Paused => matches!(action, Resume | ForceOff | Save | Autostart | Delete),
            Self::ShuttingDown => matches!(action, ForceOff | Autostart),
            Self::PmSuspended => matches!(action, ForceOff | Autostart | Delete),
            Self::Shutoff | Self::Crashed | Self::NoState => {
                matches!(action, Start | Autostart | Delete)
            }
            Self::Unknown(_) => matches!(action, ForceOff | Autostart),
        }
    }
}

/// The lifecycle actions the list and the VM page offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Boots, or restores a managed save.
    Start,
    Shutdown,
    Reboot,
    ForceOff,
    Pause,
    Resume,
    /// Managed save: stop with memory kept; Start restores it.
    Save,
    Delete,
    Autostart,
}

/// A row of the VM list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    pub path: OwnedObjectPath,
    pub name: String,
    pub uuid: String,
    /// Title, description, vCPUs and memory come from the domain's XML: a
    /// first listing leaves them empty (`vcpus` 0) and
    /// [`Change::Details`](super::Change::Details) fills them in.
    pub title: Option<String>,
    pub description: Option<String>,
    pub state: DomainState,
    /// The raw reason code that goes with `state`.
    pub reason: i32,
    pub autostart: bool,
    pub persistent: bool,
    pub vcpus: u32,
    /// Current memory in KiB.
    pub memory_kib: u64,
}

impl DomainInfo {
    /// What the list needs to show a row: the properties and the state,
    /// without the XML's details.
    pub(crate) fn brief(
        path: OwnedObjectPath,
        properties: &Params,
        state: i32,
        reason: i32,
    ) -> Self {
        Self {
            path,
            name: properties.str("Name").unwrap_or_default().to_owned(),
            uuid: properties.str("UUID").unwrap_or_default().to_owned(),
            title: None,
            description: None,
            state: DomainState::from_raw(state),
            reason,
            autostart: properties.bool("Autostart").unwrap_or(false),
            persistent: properties.bool("Persistent").unwrap_or(true),
            vcpus: 0,
            memory_kib: 0,
        }
    }

    /// Takes what only the XML has (and the name and UUID from it when the
    /// properties lacked them).
    pub(crate) fn add_details(&mut self, overview: DomainOverview) {
        if self.name.is_empty() {
            self.name = overview.name;
        }
        if self.uuid.is_empty() {
            self.uuid = overview.uuid;
        }
        self.title = overview.title;
        self.description = overview.description;
        self.vcpus = overview.vcpus;
        self.memory_kib = overview.current_memory_kib;
    }

    /// Shut off with a managed save image: Start restores it.
    pub fn has_saved_state(&self) -> bool {
        self.state == DomainState::Shutoff && self.reason == SHUTOFF_SAVED
    }
}

/// Whether a change of settings applies to the next boot only, or also now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The persistent configuration (next boot).
    Config,
    /// The running guest and the configuration.
    LiveAndConfig,
}

impl Scope {
    fn flags(self) -> u32 {
        match self {
            Self::Config => AFFECT_CONFIG,
            Self::LiveAndConfig => AFFECT_CONFIG | AFFECT_LIVE,
        }
    }
}

const AFFECT_LIVE: u32 = 1;
const AFFECT_CONFIG: u32 = 2;
/// `VIR_DOMAIN_VCPU_MAXIMUM` and `VIR_DOMAIN_MEM_MAXIMUM` share the value.
const SET_MAXIMUM: u32 = 4;

/// `virDomainUndefineFlagsValues`.
const UNDEFINE_MANAGED_SAVE: u32 = 1;
const UNDEFINE_SNAPSHOTS_METADATA: u32 = 2;
const UNDEFINE_NVRAM: u32 = 4;

/// What else goes when a VM is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Delete its hard disks' storage volumes (never install media).
    pub storage: bool,
    /// Delete its UEFI variable store.
    pub nvram: bool,
}

/// A domain snapshot.
#[derive(Clone, Debug)]
pub struct Snapshot {
    proxy: DomainSnapshotProxy<'static>,
    hypervisor: Hypervisor,
    pub name: String,
    pub description: Option<String>,
    /// The parent snapshot's name (snapshots form a tree).
    pub parent: Option<String>,
    pub is_current: bool,
    /// The domain state the snapshot captured (`running`, `shutoff`, …).
    pub state: Option<String>,
    /// Seconds since the epoch.
    pub creation_time: Option<i64>,
}

impl Snapshot {
    /// Returns the domain to this snapshot.
    pub async fn revert(&self) -> Result<()> {
        self.proxy
            .revert(0)
            .await
            .map_err(|e| self.hypervisor.error(e))
    }

    /// Deletes this snapshot (its children are kept, re-parented).
    pub async fn delete(&self) -> Result<()> {
        self.proxy
            .delete(0)
            .await
            .map_err(|e| self.hypervisor.error(e))
    }
}

/// A handle on one domain of a [`Hypervisor`].
#[derive(Clone, Debug)]
pub struct Domain {
    hypervisor: Hypervisor,
    path: OwnedObjectPath,
    proxy: DomainProxy<'static>,
}

impl Domain {
    pub(crate) async fn new(hypervisor: Hypervisor, path: OwnedObjectPath) -> Result<Self> {
        let proxy = proxies::build::<DomainProxy>(hypervisor.connection(), path.clone().into())
            .await
            .map_err(|e| hypervisor.error(e))?;
        Ok(Self {
            hypervisor,
            path,
            proxy,
        })
    }

    pub fn path(&self) -> &OwnedObjectPath {
        &self.path
    }

    fn err(&self, error: zbus::Error) -> Error {
        self.hypervisor.error(error)
    }

    pub async fn info(&self) -> Result<DomainInfo> {
        self.hypervisor.domain_info(self.path.clone()).await
    }

    pub async fn name(&self) -> Result<String> {
        self.proxy.name().await.map_err(|e| self.err(e))
    }

    pub async fn state(&self) -> Result<(DomainState, i32)> {
        let ((state, reason),) = self.proxy.get_state(0).await.map_err(|e| self.err(e))?;
        Ok((DomainState::from_raw(state), reason))
    }

    /// Boots the domain, or restores its managed save image if it has one.
    pub async fn start(&self) -> Result<()> {
        self.proxy.create(0).await.map_err(|e| self.err(e))
    }

    /// Asks the guest to shut down (ACPI); it may take its time or refuse.
    pub async fn shutdown(&self) -> Result<()> {
        self.proxy.shutdown(0).await.map_err(|e| self.err(e))
    }

    pub async fn reboot(&self) -> Result<()> {
        self.proxy.reboot(0).await.map_err(|e| self.err(e))
    }

    /// Pulls the plug (libvirt's "destroy").
    pub async fn force_off(&self) -> Result<()> {
        self.proxy.destroy(0).await.map_err(|e| self.err(e))
    }

    pub async fn pause(&self) -> Result<()> {
        self.proxy.suspend().await.map_err(|e| self.err(e))
    }

    pub async fn resume(&self) -> Result<()> {
        self.proxy.resume().await.map_err(|e| self.err(e))
    }

    /// Saves the memory to disk and stops; [`Domain::start`] restores it.
    pub async fn save(&self) -> Result<()> {
        self.proxy.managed_save(0).await.map_err(|e| self.err(e))
    }

    pub async fn autostart(&self) -> Result<bool> {
        self.proxy.autostart().await.map_err(|e| self.err(e))
    }

    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.proxy
            .set_autostart(autostart)
            .await
            .map_err(|e| self.err(e))
    }

    /// The domain XML (`inactive`: the configuration of the next boot).
    pub async fn xml(&self, inactive: bool) -> Result<String> {
        // VIR_DOMAIN_XML_INACTIVE
        let flags = if inactive { 2 } else { 0 };
        self.proxy.get_xmldesc(flags).await.map_err(|e| self.err(e))
    }

    pub async fn overview(&self) -> Result<DomainOverview> {
        DomainOverview::parse(&self.xml(false).await?)
    }

    /// Renames a shut-off domain (libvirt refuses while it runs).
    pub async fn rename(&self, name: &str) -> Result<()> {
        self.proxy.rename(name, 0).await.map_err(|e| self.err(e))
    }

    /// Sets the number of vCPUs, raising or lowering the maximum as needed
    /// (libvirt wants the maximum raised first and lowered last).
    pub async fn set_vcpus(&self, vcpus: u32, scope: Scope) -> Result<()> {
        let config = DomainOverview::parse(&self.xml(true).await?)?;
        let set = |flags| self.proxy.set_vcpus(vcpus, flags);
        if vcpus > config.max_vcpus {
            set(AFFECT_CONFIG | SET_MAXIMUM)
                .await
                .map_err(|e| self.err(e))?;
            set(scope.flags()).await.map_err(|e| self.err(e))
        } else {
            set(scope.flags()).await.map_err(|e| self.err(e))?;
            if scope == Scope::Config {
                set(AFFECT_CONFIG | SET_MAXIMUM)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        }
    }

    /// Sets the memory in KiB, with the maximum following it in the
    /// configuration.
    pub async fn set_memory(&self, kib: u64, scope: Scope) -> Result<()> {
        let config = DomainOverview::parse(&self.xml(true).await?)?;
        let set = |flags| self.proxy.set_memory(kib, flags);
        if kib > config.memory_kib {
            set(AFFECT_CONFIG | SET_MAXIMUM)
                .await
                .map_err(|e| self.err(e))?;
            set(scope.flags()).await.map_err(|e| self.err(e))
        } else {
            set(scope.flags()).await.map_err(|e| self.err(e))?;
            if scope == Scope::Config {
                set(AFFECT_CONFIG | SET_MAXIMUM)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        }
    }

    /// Deletes the domain: its definition, managed save image and snapshot
    /// metadata, and on request its disks' volumes and its NVRAM. Storage
    /// is deleted only after libvirt accepted the undefine, and only what
    /// libvirt knows as a storage volume.
    pub async fn delete(&self, options: DeleteOptions) -> Result<Vec<Error>> {
        let disks = if options.storage {
            DomainOverview::parse(&self.xml(true).await?)?.disks
        } else {
            Vec::new()
        };
        let mut flags = UNDEFINE_MANAGED_SAVE | UNDEFINE_SNAPSHOTS_METADATA;
        if options.nvram {
            flags |= UNDEFINE_NVRAM;
        }
        self.proxy.undefine(flags).await.map_err(|e| self.err(e))?;
        let mut failures = Vec::new();
        for source in disks
            .into_iter()
            .filter(|d| d.is_storage())
            .filter_map(|d| d.source)
            .filter(|s| !matches!(s, DiskSource::Other(_)))
        {
            if let Err(error) = self.hypervisor.delete_volume(&source).await {
                failures.push(error);
            }
        }
        Ok(failures)
    }

    /// A socket already connected to the domain's first graphics display
    /// (no TCP port, no password). Local connections only: descriptors do
    /// not cross SSH.
    pub async fn open_graphics_fd(&self) -> Result<OwnedFd> {
        let fd = self
            .proxy
            .open_graphics_fd(0, 0)
            .await
            .map_err(|e| self.err(e))?;
        Ok(fd.into())
    }

    /// CPU, memory, disk and network counters now (graphs diff two reads).
    pub async fn stats(&self) -> Result<DomainStats> {
        let records = self
            .proxy
            .get_stats(DomainStats::REQUEST, 0)
            .await
            .map_err(|e| self.err(e))?;
        Ok(DomainStats::from_params(&Params::new(records)))
    }

    /// All snapshots, parents before children.
    pub async fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let paths = self
            .proxy
            .list_domain_snapshots(0)
            .await
            .map_err(|e| self.err(e))?;
        let mut snapshots = Vec::with_capacity(paths.len());
        for path in paths {
            snapshots.push(self.snapshot(path).await?);
        }
        Ok(tree_order(snapshots))
    }

    async fn snapshot(&self, path: OwnedObjectPath) -> Result<Snapshot> {
        let proxy =
            proxies::build::<DomainSnapshotProxy>(self.hypervisor.connection(), path.into())
                .await
                .map_err(|e| self.err(e))?;
        let xml = proxy.get_xmldesc(0).await.map_err(|e| self.err(e))?;
        let is_current = proxy.is_current(0).await.map_err(|e| self.err(e))?;
        let doc = roxmltree::Document::parse(&xml).map_err(|e| Error::Xml(e.to_string()))?;
        let root = doc.root_element();
        let text = |node: roxmltree::Node<'_, '_>, name: &str| {
            node.children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .map(|t| t.trim().to_owned())
        };
        let parent = root
            .children()
            .find(|c| c.has_tag_name("parent"))
            .and_then(|p| text(p, "name"));
        Ok(Snapshot {
            name: text(root, "name").unwrap_or_default(),
            description: text(root, "description").filter(|d| !d.is_empty()),
            parent,
            is_current,
            state: text(root, "state"),
            creation_time: text(root, "creationTime").and_then(|t| t.parse().ok()),
            proxy,
            hypervisor: self.hypervisor.clone(),
        })
    }

    /// Takes a snapshot with this name and description.
    pub async fn create_snapshot(&self, name: &str, description: &str) -> Result<Snapshot> {
        let xml = format!(
            "<domainsnapshot><name>{}</name><description>{}</description></domainsnapshot>",
            escape(name),
            escape(description)
        );
        let path = self
            .proxy
            .snapshot_create_xml(&xml, 0)
            .await
            .map_err(|e| self.err(e))?;
        self.snapshot(path).await
    }
}

/// Snapshots with every parent before its children (depth first, older
/// siblings first): creation times only have seconds, so they cannot order
/// snapshots taken in the same second.
fn tree_order(mut snapshots: Vec<Snapshot>) -> Vec<Snapshot> {
    snapshots.sort_by(|a, b| (a.creation_time, &a.name).cmp(&(b.creation_time, &b.name)));
    let names: std::collections::HashSet<String> =
        snapshots.iter().map(|s| s.name.clone()).collect();
    let mut ordered = Vec::with_capacity(snapshots.len());
    // Roots are snapshots whose parent is unknown (none, or not listed).
    let mut stack: Vec<Snapshot> = Vec::new();
    let (roots, mut rest): (Vec<_>, Vec<_>) = snapshots
        .into_iter()
        .partition(|s| s.parent.as_ref().is_none_or(|p| !names.contains(p)));
    stack.extend(roots.into_iter().rev());
    while let Some(snapshot) = stack.pop() {
        let (children, others): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|s| s.parent.as_deref() == Some(snapshot.name.as_str()));
        rest = others;
        stack.extend(children.into_iter().rev());
        ordered.push(snapshot);
    }
    // A cycle cannot come from libvirt; keep anything left rather than drop it.
    ordered.extend(rest);
    ordered
}
