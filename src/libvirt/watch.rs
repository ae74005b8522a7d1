//! The live VM list of one connection: subscribes to libvirt-dbus's
//! signals *before* listing (libvirt-dbus opens its libvirt connection
//! lazily, on the first call, and only then forwards events), re-reads just
//! the domain an event names, and follows libvirt-dbus going away and
//! coming back (`NameOwnerChanged`) by re-listing. No polling.
//!
//! A listing comes in two steps so the rows show at once: names and states
//! first ([`Change::Listed`]), then what only each domain's XML says
//! ([`Change::Details`]), read in the background.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zbus::zvariant::OwnedObjectPath;

use super::connection::{Hypervisor, SERVICE};
use super::domain::DomainInfo;
use super::error::Result;
use super::xml::DomainOverview;

/// What changed on a connection, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Every domain, sorted by name: first when watching starts, and again
    /// after libvirt-dbus came back (replaces whatever was shown). Titles,
    /// descriptions, vCPUs and memory are not read yet: `Details` follow.
    Listed(Vec<DomainInfo>),
    /// Listed domains with their details from the XML added (only those
    /// where they differ from the listing), in batches.
    Details(Vec<DomainInfo>),
    /// A domain appeared (defined, or a transient one started).
    Added(DomainInfo),
    /// A domain is gone (undefined, or a transient one stopped).
    Removed(OwnedObjectPath),
    /// A domain's state changed (started, paused, shut off, …).
    StateChanged(DomainInfo),
    /// A domain's configuration changed, not its state (renamed, edited).
    Updated(DomainInfo),
    /// A network was defined, started, stopped or undefined (`virNetworkEventLifecycleType`).
    Network { path: OwnedObjectPath, event: i32 },
    /// A storage pool changed (`virStoragePoolEventLifecycleType`).
    StoragePool { path: OwnedObjectPath, event: i32 },
    /// libvirt-dbus left the bus (restarted, crashed, or stopped).
    Disconnected,
    /// libvirt-dbus is back; a `Listed` follows.
    Reconnected,
    /// Re-reading after an event failed; the list may be stale until the next event.
    Failed(String),
}

/// The changes of one connection. Dropping it stops watching.
#[derive(Debug)]
pub struct DomainWatch {
    changes: mpsc::UnboundedReceiver<Change>,
    task: JoinHandle<()>,
}

impl DomainWatch {
    /// The next change; `None` once the bus connection is gone for good.
    pub async fn next(&mut self) -> Option<Change> {
        self.changes.recv().await
    }
}

impl Drop for DomainWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How often, and how far apart, to try listing after libvirt-dbus came back
/// (its libvirt connection may still be starting).
const RELIST_ATTEMPTS: u32 = 10;
const RELIST_PAUSE: Duration = Duration::from_millis(200);

/// XML reads in flight at once while filling in details: few, so the
/// background reading leaves libvirt-dbus free to answer the user's actions.
const DETAIL_CONCURRENCY: usize = 8;
/// Details are sent in batches of this many (and the rest at the end), so
/// a thousand domains are a few main-loop messages, not a thousand.
const DETAIL_BATCH: usize = 100;

/// The XML reads of a listing still to come.
type DetailReads = Pin<Box<dyn Stream<Item = (OwnedObjectPath, Result<DomainOverview>)> + Send>>;
impl Hypervisor {
    /// Starts watching: the first change is [`Change::Listed`] with every
    /// domain; later ones follow libvirt's events.
    pub async fn watch(&self) -> Result<DomainWatch> {
        let err = |e| self.error(e);
        let dbus = zbus::fdo::DBusProxy::new(self.connection())
            .await
            .map_err(err)?;
        let owners = dbus
            .receive_name_owner_changed_with_args(&[(0, SERVICE)])
            .await
            .map_err(err)?;
        let connect = self.connect_proxy();
        let domain_events = connect.receive_domain_event().await.map_err(err)?;
        let network_events = connect.receive_network_event().await.map_err(err)?;
        let pool_events = connect.receive_storage_pool_event().await.map_err(err)?;
        // Subscribed: now the list cannot miss a change.
        let list = self.list_domains_brief().await?;
        let (sender, changes) = mpsc::unbounded_channel();
        let mut watcher = Watcher {
            hypervisor: self.clone(),
            sender,
            known: HashMap::new(),
            details: Box::pin(stream::empty()),
            awaiting: HashSet::new(),
            batch: Vec::new(),
        };
        watcher.listed(list);
        let task = tokio::spawn(async move {
            let mut owners = owners.fuse();
            let mut domain_events = domain_events.fuse();
            let mut network_events = network_events.fuse();
            let mut pool_events = pool_events.fuse();
            loop {
                tokio::select! {
                    // Events first: the user's actions show before details.
                    biased;
                    Some(event) = domain_events.next() => {
                        if let Ok(args) = event.args() {
                            watcher.domain_changed(args.domain().to_owned().into()).await;
                        }
                    }
                    Some(event) = network_events.next() => {
                        if let Ok(args) = event.args() {
                            watcher.send(Change::Network {
                                path: args.network().to_owned().into(),
                                event: *args.event(),
                            });
                        }
                    }
                    Some(event) = pool_events.next() => {
                        if let Ok(args) = event.args() {
                            watcher.send(Change::StoragePool {
                                path: args.storagePool().to_owned().into(),
                                event: *args.event(),
                            });
                        }
                    }
                    Some(change) = owners.next() => {
                        let back = change.args().is_ok_and(|a| a.new_owner().is_some());
                        if back {
                            watcher.send(Change::Reconnected);
                            watcher.relist().await;
                        } else {
                            watcher.send(Change::Disconnected);
                        }
                    }
                    Some((path, overview)) = watcher.details.next(), if !watcher.awaiting.is_empty() => {
                        watcher.details_read(path, overview);
                    }
                    else => break,
                }
                if watcher.sender.is_closed() {
                    break;
                }
            }
        });
        Ok(DomainWatch { changes, task })
    }
}

struct Watcher {
    hypervisor: Hypervisor,
    sender: mpsc::UnboundedSender<Change>,
    known: HashMap<OwnedObjectPath, DomainInfo>,
    /// The XML reads of the last listing.
    details: DetailReads,
    /// Listed domains whose details are still to come; a domain re-read
    /// in full after an event leaves, so an older read cannot undo it.
    awaiting: HashSet<OwnedObjectPath>,
    /// Details read and not sent yet.
    batch: Vec<DomainInfo>,
}

impl Watcher {
    fn send(&self, change: Change) {
        let _ = self.sender.send(change);
    }

    /// Sends a new listing and starts reading its details.
    fn listed(&mut self, list: Vec<DomainInfo>) {
        self.known = list.iter().map(|d| (d.path.clone(), d.clone())).collect();
        self.awaiting = self.known.keys().cloned().collect();
        self.batch.clear();
        let hypervisor = self.hypervisor.clone();
        let paths: Vec<OwnedObjectPath> = list.iter().map(|d| d.path.clone()).collect();
        self.details = Box::pin(
            stream::iter(paths)
                .map(move |path| {
                    let hypervisor = hypervisor.clone();
                    async move {
                        let overview = hypervisor.domain_overview(path.clone()).await;
                        (path, overview)
                    }
                })
                .buffer_unordered(DETAIL_CONCURRENCY)
                .fuse(),
        );
        self.send(Change::Listed(list));
    }

    /// Adds one domain's details; sends a batch when it is full or the last.
    fn details_read(&mut self, path: OwnedObjectPath, overview: Result<DomainOverview>) {
        if self.awaiting.remove(&path) {
            // A failed read (the domain went away: its event follows) leaves
            // the row as listed.
            if let (Some(info), Ok(overview)) = (self.known.get_mut(&path), overview) {
                let before = info.clone();
                info.add_details(overview);
                if *info != before {
                    self.batch.push(info.clone());
                }
            }
        }
        if self.batch.len() >= DETAIL_BATCH || self.awaiting.is_empty() {
            self.flush_details();
        }
    }

    fn flush_details(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.send(Change::Details(batch));
        }
    }

    /// Re-reads the one domain an event named and reports what differs.
    async fn domain_changed(&mut self, path: OwnedObjectPath) {
        // Details read before this change go out first: they are older.
        self.flush_details();
        self.awaiting.remove(&path);
        match self.hypervisor.domain_info(path.clone()).await {
            Ok(info) => {
                let change = match self.known.get(&path) {
                    None => Change::Added(info.clone()),
                    Some(old) if old.state != info.state || old.reason != info.reason => {
                        Change::StateChanged(info.clone())
                    }
                    Some(old) if *old == info => return,
                    Some(_) => Change::Updated(info.clone()),
                };
                self.known.insert(path, info);
                self.send(change);
            }
            Err(error) if error.is_not_found() => {
                if self.known.remove(&path).is_some() {
                    self.send(Change::Removed(path));
                }
            }
            Err(error) => self.send(Change::Failed(error.to_string())),
        }
    }

    /// Lists again after libvirt-dbus restarted; this call is also what
    /// makes the new libvirt-dbus open libvirt and forward events again.
    async fn relist(&mut self) {
        let mut last_error = None;
        for _ in 0..RELIST_ATTEMPTS {
            match self.hypervisor.list_domains_brief().await {
                Ok(list) => {
                    self.listed(list);
                    return;
                }
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(RELIST_PAUSE).await;
        }
        if let Some(error) = last_error {
            self.send(Change::Failed(error.to_string()));
        }
    }
}
