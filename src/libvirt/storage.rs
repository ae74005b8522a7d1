//! Storage pools and volumes, as the New VM assistant needs them: list the
//! pools, create the usual `dir` pool when a host has none, create a disk
//! volume for a new VM and delete it again. Pools and volumes are read from
//! their XML (one call each) rather than from libvirt-dbus properties,
//! which come double-wrapped and cannot tell a pool's directory.

use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};
use zbus::zvariant::{ObjectPath, OwnedObjectPath};

use super::connection::{Bus, Hypervisor};
use super::error::{Error, Result};
use super::proxies::{self, StoragePoolProxy, StorageVolProxy};
use super::xml::escape;

/// The pool libvirt tools create and look for first.
pub const DEFAULT_POOL: &str = "default";

/// `VIR_STORAGE_POOL_RUNNING` from `GetInfo`.
const POOL_RUNNING: i32 = 2;

/// A storage pool on the hypervisor.
#[derive(Clone, Debug)]
pub struct StoragePool {
    proxy: StoragePoolProxy<'static>,
    hypervisor: Hypervisor,
    pub name: String,
    /// `dir`, `logical`, `netfs`, …
    pub kind: String,
    /// Where its volumes are (for a `dir` pool, the directory).
    pub target: Option<PathBuf>,
    pub active: bool,
    /// Bytes free for new volumes (0 while inactive).
    pub available: u64,
}

/// A storage volume (a disk image) in a pool.
#[derive(Clone, Debug)]
pub struct StorageVolume {
    proxy: StorageVolProxy<'static>,
    hypervisor: Hypervisor,
    pub name: String,
    /// The file (or device) path, as a domain's `<source file=…>` names it.
    pub path: PathBuf,
    /// Size the guest sees, in bytes.
    pub capacity: u64,
}

impl Hypervisor {
    /// Every pool, active or not, sorted by name.
    pub async fn storage_pools(&self) -> Result<Vec<StoragePool>> {
        let paths = self
            .connect_proxy()
            .list_storage_pools(0)
            .await
            .map_err(|e| self.error(e))?;
        let mut pools = Vec::with_capacity(paths.len());
        for path in paths {
            match StoragePool::read(self, path).await {
                Ok(pool) => pools.push(pool),
                // Undefined between the list and the read.
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
        pools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(pools)
    }

    pub async fn storage_pool(&self, name: &str) -> Result<StoragePool> {
        let path = self
            .connect_proxy()
            .storage_pool_lookup_by_name(name)
            .await
            .map_err(|e| self.error(e))?;
        StoragePool::read(self, path).await
    }

    /// Defines a `dir` pool at `dir`, creates the directory (libvirt's
    /// `Build`), starts the pool and marks it autostart, as virt-manager
    /// does for its default pool.
    pub async fn create_dir_pool(&self, name: &str, dir: &Path) -> Result<StoragePool> {
        let xml = format!(
            "<pool type='dir'>\n  <name>{}</name>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
            escape(name),
            escape(&dir.to_string_lossy())
        );
        let path = self
            .connect_proxy()
            .storage_pool_define_xml(&xml, 0)
            .await
            .map_err(|e| self.error(e))?;
        let proxy = proxies::build::<StoragePoolProxy>(self.connection(), path.clone().into())
            .await
            .map_err(|e| self.error(e))?;
        let started = async {
            proxy.build(0).await?;
            proxy.create(0).await?;
            proxy.set_autostart(true).await
        }
        .await;
        if let Err(error) = started {
            // Leave nothing half made behind: the user may retry.
            let _ = proxy.undefine().await;
            return Err(self.error(error));
        }
        StoragePool::read(self, path).await
    }

    /// Where the default pool goes when a host has none: libvirt's own
    /// choices, the user's data directory for the session connection and
    /// `/var/lib/libvirt/images` for a system (or remote) one.
    pub fn default_pool_dir(&self) -> PathBuf {
        match self.spec().bus {
            Bus::Session => user_data_dir().join("libvirt").join("images"),
            _ => PathBuf::from("/var/lib/libvirt/images"),
        }
    }

    /// The pool a new disk goes to when the user did not pick one: `default`
    /// if it exists, else the first active pool, else a new `default` `dir`
    /// pool in [`Self::default_pool_dir`]. Starts the pool if it is inactive.
    pub async fn default_pool(&self) -> Result<StoragePool> {
        let pools = self.storage_pools().await?;
        let chosen = pools
            .iter()
            .find(|p| p.name == DEFAULT_POOL)
            .or_else(|| pools.iter().find(|p| p.active))
            .cloned();
        match chosen {
            Some(pool) => {
                pool.ensure_active().await?;
                Ok(pool)
            }
            None => {
                self.create_dir_pool(DEFAULT_POOL, &self.default_pool_dir())
                    .await
            }
        }
    }
}

/// `$XDG_DATA_HOME`, or `~/.local/share`.
fn user_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".local").join("share")
}

impl StoragePool {
    async fn read(hypervisor: &Hypervisor, path: OwnedObjectPath) -> Result<Self> {
        let proxy = proxies::build::<StoragePoolProxy>(hypervisor.connection(), path.into())
            .await
            .map_err(|e| hypervisor.error(e))?;
        let (xml, info) = futures_util::join!(proxy.get_xmldesc(0), proxy.get_info());
        let xml = xml.map_err(|e| hypervisor.error(e))?;
        let ((state, _capacity, _allocation, available),) =
            info.map_err(|e| hypervisor.error(e))?;
        let doc = Document::parse(&xml).map_err(|e| Error::Xml(e.to_string()))?;
        let root = doc.root_element();
        Ok(Self {
            proxy,
            hypervisor: hypervisor.clone(),
            name: text(root, "name").unwrap_or_default(),
            kind: root.attribute("type").unwrap_or_default().to_owned(),
            target: child(root, "target")
                .and_then(|t| text(t, "path"))
                .map(PathBuf::from),
            active: state == POOL_RUNNING,
            available,
        })
    }

    pub fn object_path(&self) -> ObjectPath<'_> {
        self.proxy.inner().path().clone()
    }

    /// Starts the pool unless it runs already.
    pub async fn ensure_active(&self) -> Result<()> {
        if self.active {
            return Ok(());
        }
        self.proxy
            .create(0)
            .await
            .map_err(|e| self.hypervisor.error(e))
    }

    /// Creates an empty disk image of `capacity` bytes (qcow2: it takes
    /// space only as the guest writes).
    pub async fn create_volume(&self, name: &str, capacity: u64) -> Result<StorageVolume> {
        let xml = format!(
            "<volume>\n  <name>{}</name>\n  <capacity unit='bytes'>{capacity}</capacity>\n  \
             <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n",
            escape(name)
        );
        let path = self
            .proxy
            .storage_vol_create_xml(&xml, 0)
            .await
            .map_err(|e| self.hypervisor.error(e))?;
        StorageVolume::read(&self.hypervisor, path).await
    }

    /// The pool's volumes, sorted by name.
    pub async fn volumes(&self) -> Result<Vec<StorageVolume>> {
        let paths = self
            .proxy
            .list_storage_volumes(0)
            .await
            .map_err(|e| self.hypervisor.error(e))?;
        let mut volumes = Vec::with_capacity(paths.len());
        for path in paths {
            volumes.push(StorageVolume::read(&self.hypervisor, path).await?);
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Stops the pool and forgets it, leaving its directory and files.
    pub async fn undefine(&self) -> Result<()> {
        let err = |e| self.hypervisor.error(e);
        if self.active {
            self.proxy.destroy().await.map_err(err)?;
        }
        self.proxy.undefine().await.map_err(err)
    }

    /// Stops the pool, removes its directory (libvirt refuses while it
    /// holds files) and forgets it.
    pub async fn delete(&self) -> Result<()> {
        let err = |e| self.hypervisor.error(e);
        if self.active {
            self.proxy.destroy().await.map_err(err)?;
        }
        self.proxy.delete(0).await.map_err(err)?;
        self.proxy.undefine().await.map_err(err)
    }
}

impl StorageVolume {
    async fn read(hypervisor: &Hypervisor, path: OwnedObjectPath) -> Result<Self> {
        let proxy = proxies::build::<StorageVolProxy>(hypervisor.connection(), path.into())
            .await
            .map_err(|e| hypervisor.error(e))?;
        let xml = proxy
            .get_xmldesc(0)
            .await
            .map_err(|e| hypervisor.error(e))?;
        let doc = Document::parse(&xml).map_err(|e| Error::Xml(e.to_string()))?;
        let root = doc.root_element();
        Ok(Self {
            name: text(root, "name").unwrap_or_default(),
            path: child(root, "target")
                .and_then(|t| text(t, "path"))
                .map(PathBuf::from)
                .unwrap_or_default(),
            capacity: child(root, "capacity")
                .and_then(|c| c.text())
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
            proxy,
            hypervisor: hypervisor.clone(),
        })
    }

    /// Deletes the volume and its data.
    pub async fn delete(&self) -> Result<()> {
        self.proxy
            .delete(0)
            .await
            .map_err(|e| self.hypervisor.error(e))
    }
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}
