//! What the New VM assistant collected, and carrying it out: the disk
//! volume, the domain XML, define and start. No widgets here; a failure
//! undoes what was made so the user can change a value and try again.

use std::path::PathBuf;

use crate::libvirt::{
    Bus, DeleteOptions, DomainInfo, Firmware, Hypervisor, NetworkChoice, NewDomain, VirtType,
};

/// The system connection's NAT network, used when it is running.
const DEFAULT_NETWORK: &str = "default";
/// `VIR_CONNECT_LIST_NETWORKS_ACTIVE`.
const LIST_ACTIVE: u32 = 2;

/// What the VM boots from first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Media {
    /// Network boot (PXE), or an empty disk to fill later.
    None,
    /// An installer ISO, attached as a CD-ROM.
    Iso(PathBuf),
    /// An existing disk image, used as the VM's hard disk.
    Disk(PathBuf),
}

/// A new, empty disk volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDisk {
    /// The pool to create it in; `None` makes (or picks) the default pool.
    pub pool: Option<String>,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub media: Media,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub new_disk: Option<NewDisk>,
    pub firmware: Firmware,
    pub virt_type: VirtType,
}

impl Plan {
    /// The volume name of the new disk: the VM's name, as virt-manager does.
    pub fn volume_name(&self) -> String {
        format!("{}.qcow2", self.name)
    }
}

/// Creates the disk, defines and starts the VM. On failure everything made
/// so far is removed again (and the message says if that failed too).
pub async fn create(hypervisor: &Hypervisor, plan: &Plan) -> Result<DomainInfo, String> {
    let volume = match &plan.new_disk {
        Some(disk) => {
            let pool = match &disk.pool {
                Some(name) => {
                    let pool = hypervisor
                        .storage_pool(name)
                        .await
                        .map_err(|e| e.to_string())?;
                    pool.ensure_active().await.map_err(|e| e.to_string())?;
                    pool
                }
                None => hypervisor.default_pool().await.map_err(|e| e.to_string())?,
            };
            let volume = pool
                .create_volume(&plan.volume_name(), disk.bytes)
                .await
                .map_err(|e| e.to_string())?;
            Some(volume)
        }
        None => None,
    };
    let mut new = NewDomain::new(&plan.name);
    new.memory_mib = plan.memory_mib;
    new.vcpus = plan.vcpus;
    new.firmware = plan.firmware;
    new.virt_type = plan.virt_type;
    new.network = network_for(hypervisor).await;
    match &plan.media {
        // Without network the guest could not boot from it.
        Media::None => new.network_boot = new.network != NetworkChoice::None,
        Media::Iso(path) => new.iso = Some(path.clone()),
        Media::Disk(path) => new.disk = Some(path.clone()),
    }
    if let Some(volume) = &volume {
        new.disk = Some(volume.path.clone());
    }

    let result = async {
        let domain = hypervisor.define_xml(&new.to_xml()).await?;
        if let Err(error) = domain.start().await {
            let _ = domain.delete(DeleteOptions::default()).await;
            return Err(error);
        }
        domain.info().await
    }
    .await;
    match result {
        Ok(info) => Ok(info),
        Err(error) => {
            if let Some(volume) = volume {
                // The VM is gone; its fresh, empty disk must go too, or the
                // next attempt finds the volume name taken.
                if let Err(cleanup) = volume.delete().await {
                    return Err(format!("{error} (and the new disk remains: {cleanup})"));
                }
            }
            Err(error.to_string())
        }
    }
}

/// User-mode networking works without privileges; a system (or remote)
/// connection gets its NAT network instead when that is running.
async fn network_for(hypervisor: &Hypervisor) -> NetworkChoice {
    if hypervisor.spec().bus == Bus::Session {
        return NetworkChoice::User;
    }
    let connect = hypervisor.connect_proxy();
    let (active, default) = futures_util::join!(
        connect.list_networks(LIST_ACTIVE),
        connect.network_lookup_by_name(DEFAULT_NETWORK)
    );
    match (active, default) {
        (Ok(active), Ok(default)) if active.contains(&default) => {
            NetworkChoice::Network(DEFAULT_NETWORK.to_owned())
        }
        _ => NetworkChoice::User,
    }
}

/// Whether a VM may be called `name`: libvirt accepts almost anything, but
/// the name also names its disk file, so no path separators.
pub fn name_problem(name: &str) -> Option<String> {
    use gettextrs::gettext;
    if name.trim().is_empty() {
        return Some(gettext("Enter a name"));
    }
    if name.contains('/') {
        return Some(gettext("A name cannot contain “/”"));
    }
    if name != name.trim() {
        return Some(gettext("A name cannot start or end with a space"));
    }
    None
}
