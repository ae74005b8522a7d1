//! What a hypervisor's host can give a new VM: CPUs, memory, whether KVM
//! is there, and whether UEFI firmware is installed. Asked of libvirt
//! (capabilities XML), never of this machine, since the host may be remote.

use roxmltree::{Document, Node};

use super::connection::{Bus, Hypervisor};
use super::error::{Error, Result};
use super::xml::VirtType;

/// Whether a new VM can boot with UEFI here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UefiSupport {
    Available,
    /// libvirt found no UEFI firmware (OVMF) for this emulator.
    NotInstalled,
    /// libvirt could not say (the driver has no domain capabilities).
    Unknown(String),
}

/// Limits and features of the host, for the New VM assistant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCapabilities {
    /// Logical CPUs (the most vCPUs worth giving one guest).
    pub cpus: u32,
    /// Physical memory in MiB, if libvirt reports it.
    pub memory_mib: Option<u64>,
    pub virt_type: VirtType,
    pub uefi: UefiSupport,
}

impl Hypervisor {
    pub async fn host_capabilities(&self) -> Result<HostCapabilities> {
        let connect = self.connect_proxy();
        let xml = connect
            .get_capabilities()
            .await
            .map_err(|e| self.error(e))?;
        let (cpus, memory_mib, kvm) = parse_capabilities(&xml)?;
        let cpus = match cpus {
            Some(cpus) => cpus,
            None => connect
                .node_get_cpumap(0)
                .await
                .map(|map| u32::try_from(map.len()).unwrap_or(u32::MAX))
                .unwrap_or(1),
        };
        // libvirt lists KVM when its daemon can open /dev/kvm, which says
        // nothing about QEMU running as libvirt's user; on this machine
        // the device's permissions can be checked too.
        let local = !matches!(self.spec().bus, Bus::Ssh { .. });
        let kvm = kvm && (!local || VirtType::detect() == VirtType::Kvm);
        let virt_type = if kvm { VirtType::Kvm } else { VirtType::Qemu };
        let virt = match virt_type {
            VirtType::Kvm => "kvm",
            VirtType::Qemu => "qemu",
        };
        let uefi = match connect
            .get_domain_capabilities("", "x86_64", "", virt, 0)
            .await
        {
            Ok(xml) => {
                if domain_capabilities_have_uefi(&xml)? {
                    UefiSupport::Available
                } else {
                    UefiSupport::NotInstalled
                }
            }
            Err(error) => UefiSupport::Unknown(self.error(error).to_string()),
        };
        Ok(HostCapabilities {
            cpus: cpus.max(1),
            memory_mib,
            virt_type,
            uefi,
        })
    }
}

/// (CPUs, memory in MiB, KVM available for x86_64 guests).
fn parse_capabilities(xml: &str) -> Result<(Option<u32>, Option<u64>, bool)> {
    let doc = Document::parse(xml).map_err(|e| Error::Xml(e.to_string()))?;
    let root = doc.root_element();
    let cells: Vec<Node<'_, '_>> = root
        .descendants()
        .filter(|n| n.has_tag_name("cell"))
        .collect();
    let cpus = cells
        .iter()
        .flat_map(|cell| cell.descendants().filter(|n| n.has_tag_name("cpu")))
        .count();
    let memory_kib: u64 = cells
        .iter()
        .filter_map(|cell| cell.children().find(|n| n.has_tag_name("memory")))
        .filter_map(|m| m.text()?.trim().parse::<u64>().ok())
        .sum();
    let kvm = root
        .children()
        .filter(|n| n.has_tag_name("guest"))
        .flat_map(|guest| guest.children().filter(|n| n.has_tag_name("arch")))
        .filter(|arch| arch.attribute("name") == Some("x86_64"))
        .flat_map(|arch| arch.children().filter(|n| n.has_tag_name("domain")))
        .any(|domain| domain.attribute("type") == Some("kvm"));
    Ok((
        u32::try_from(cpus).ok().filter(|&c| c > 0),
        Some(memory_kib / 1024).filter(|&m| m > 0),
        kvm,
    ))
}

/// Whether libvirt offers `firmware='efi'` (it lists `efi` among the
/// firmware values only when it found an OVMF build and its descriptor).
fn domain_capabilities_have_uefi(xml: &str) -> Result<bool> {
    let doc = Document::parse(xml).map_err(|e| Error::Xml(e.to_string()))?;
    let Some(os) = doc.root_element().children().find(|n| n.has_tag_name("os")) else {
        return Ok(false);
    };
    let values = |node: Node<'_, '_>, name: &str| -> Vec<String> {
        node.children()
            .filter(|n| n.has_tag_name("enum") && n.attribute("name") == Some(name))
            .flat_map(|e| e.children().filter(|n| n.has_tag_name("value")))
            .filter_map(|v| v.text().map(|t| t.trim().to_owned()))
            .collect()
    };
    Ok(values(os, "firmware").iter().any(|v| v == "efi"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_give_cpus_memory_and_kvm() {
        let xml = "<capabilities><host><topology><cells num='2'>\
            <cell id='0'><memory unit='KiB'>2097152</memory><cpus num='2'><cpu id='0'/><cpu id='1'/></cpus></cell>\
            <cell id='1'><memory unit='KiB'>2097152</memory><cpus num='1'><cpu id='2'/></cpus></cell>\
            </cells></topology></host>\
            <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>\
            </capabilities>";
        assert_eq!(
            parse_capabilities(xml).unwrap_or_else(|e| panic!("{e}")),
            (Some(3), Some(4096), true)
        );
        let tcg_only = "<capabilities><host/><guest><arch name='x86_64'><domain type='qemu'/></arch></guest></capabilities>";
        assert_eq!(
            parse_capabilities(tcg_only).unwrap_or_else(|e| panic!("{e}")),
            (None, None, false)
        );
    }

    #[test]
    fn uefi_only_when_libvirt_lists_efi_firmware() {
        let with = "<domainCapabilities><os supported='yes'><enum name='firmware'><value>bios</value><value>efi</value></enum></os></domainCapabilities>";
        let without = "<domainCapabilities><os supported='yes'><enum name='firmware'/><loader supported='yes'/></os></domainCapabilities>";
        assert!(domain_capabilities_have_uefi(with).unwrap_or(false));
        assert!(!domain_capabilities_have_uefi(without).unwrap_or(true));
    }
}
