//! Domain XML: the overview the VM page shows, read with a real XML
//! parser (libvirt's XML has namespaces, metadata from other tools and
//! attributes in any order), and the XML of a new VM. Nothing here talks
//! to libvirt; libvirt validates what we define.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};

use super::error::{Error, Result};

/// BIOS (SeaBIOS) or UEFI (OVMF).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Firmware {
    #[default]
    Bios,
    Uefi,
}

/// Where a disk's data is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskSource {
    File(String),
    Volume {
        pool: String,
        volume: String,
    },
    /// A block device, a network disk, …: shown, never deleted.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `disk`, `cdrom`, `floppy`, `lun`.
    pub device: String,
    pub source: Option<DiskSource>,
    pub target: Option<String>,
    pub bus: Option<String>,
}

impl Disk {
    /// Whether deleting the VM "with its storage" should delete this one:
    /// hard disks only, never install media.
    pub fn is_storage(&self) -> bool {
        self.device == "disk"
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `network`, `bridge`, `user`, `direct`, …
    pub kind: String,
    /// The network or bridge (or device) it is attached to.
    pub source: Option<String>,
    pub mac: Option<String>,
    pub model: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graphics {
    /// `vnc`, `spice`, …
    pub kind: String,
    /// The TCP port while running, if libvirt chose or was given one.
    pub port: Option<u16>,
    pub autoport: bool,
    pub listen: Option<String>,
}

/// What the VM page shows about a domain, from its XML.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainOverview {
    /// `kvm`, `qemu`, `test`, …
    pub virt_type: String,
    pub name: String,
    pub uuid: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// vCPUs the guest has now (`current`, else the maximum).
    pub vcpus: u32,
    pub max_vcpus: u32,
    /// Maximum memory in KiB.
    pub memory_kib: u64,
    /// Memory the guest has now (balloon), in KiB.
    pub current_memory_kib: u64,
    /// `hvm`, `linux`, `exe`, …
    pub os_type: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub firmware: Firmware,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<Interface>,
    pub graphics: Vec<Graphics>,
}

impl DomainOverview {
    pub fn parse(xml: &str) -> Result<Self> {
        let doc = Document::parse(xml).map_err(|e| Error::Xml(e.to_string()))?;
        let domain = doc.root_element();
        if domain.tag_name().name() != "domain" {
            return Err(Error::Xml(format!(
                "expected <domain>, found <{}>",
                domain.tag_name().name()
            )));
        }
        let max_vcpus = child(domain, "vcpu")
            .and_then(|v| v.text())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1);
        let vcpus = child(domain, "vcpu")
            .and_then(|v| v.attribute("current"))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(max_vcpus);
        let memory_kib = child(domain, "memory").and_then(kib).unwrap_or(0);
        let current_memory_kib = child(domain, "currentMemory")
            .and_then(kib)
            .unwrap_or(memory_kib);
        let os = child(domain, "os");
        let os_type_node = os.and_then(|os| child(os, "type"));
        let devices: Vec<Node<'_, '_>> = child(domain, "devices")
            .map(|d| d.children().filter(Node::is_element).collect())
            .unwrap_or_default();
        let named = |name: &'static str| {
            devices
                .iter()
                .copied()
                .filter(move |d| d.has_tag_name(name))
        };
        Ok(Self {
            virt_type: domain.attribute("type").unwrap_or_default().to_owned(),
            name: text(domain, "name").unwrap_or_default(),
            uuid: text(domain, "uuid").unwrap_or_default(),
            title: text(domain, "title"),
            description: text(domain, "description"),
            vcpus,
            max_vcpus,
            memory_kib,
            current_memory_kib,
            os_type: os_type_node
                .and_then(|t| t.text())
                .map(|t| t.trim().to_owned())
                .unwrap_or_default(),
            arch: os_type_node
                .and_then(|t| t.attribute("arch"))
                .map(str::to_owned),
            machine: os_type_node
                .and_then(|t| t.attribute("machine"))
                .map(str::to_owned),
            firmware: os.map(firmware).unwrap_or_default(),
            disks: named("disk").map(disk).collect(),
            interfaces: named("interface").map(interface).collect(),
            graphics: named("graphics").map(graphics).collect(),
        })
    }

    /// The first VNC display, if any: what the console tab can show.
    pub fn vnc(&self) -> Option<&Graphics> {
        self.graphics.iter().find(|g| g.kind == "vnc")
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

/// A `<memory unit=…>` value in KiB (libvirt's default unit).
fn kib(node: Node<'_, '_>) -> Option<u64> {
    let value: u64 = node.text()?.trim().parse().ok()?;
    let bytes_per_unit: u64 = match node.attribute("unit").unwrap_or("KiB") {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1024,
        "MB" => 1000 * 1000,
        "M" | "MiB" => 1024 * 1024,
        "GB" => 1000 * 1000 * 1000,
        "G" | "GiB" => 1024 * 1024 * 1024,
        "TB" => 1000 * 1000 * 1000 * 1000,
        "T" | "TiB" => 1024 * 1024 * 1024 * 1024,
        _ => return None,
    };
    Some(value.saturating_mul(bytes_per_unit) / 1024)
}

fn firmware(os: Node<'_, '_>) -> Firmware {
    if os.attribute("firmware") == Some("efi") {
        return Firmware::Uefi;
    }
    match child(os, "loader") {
        Some(loader)
            if loader.attribute("type") == Some("pflash")
                || loader.text().is_some_and(|p| {
                    p.contains("OVMF") || p.contains("edk2") || p.contains("AAVMF")
                }) =>
        {
            Firmware::Uefi
        }
        _ => Firmware::Bios,
    }
}

fn disk(node: Node<'_, '_>) -> Disk {
    let source = child(node, "source").map(|s| {
        match (
            s.attribute("file"),
            s.attribute("pool"),
            s.attribute("volume"),
        ) {
            (Some(file), _, _) => DiskSource::File(file.to_owned()),
            (None, Some(pool), Some(volume)) => DiskSource::Volume {
                pool: pool.to_owned(),
                volume: volume.to_owned(),
            },
            _ => DiskSource::Other(
                s.attribute("dev")
                    .or_else(|| s.attribute("name"))
                    .or_else(|| s.attribute("dir"))
                    .unwrap_or("unknown source")
                    .to_owned(),
            ),
        }
    });
    let target = child(node, "target");
    Disk {
        device: node.attribute("device").unwrap_or("disk").to_owned(),
        source,
        target: target.and_then(|t| t.attribute("dev")).map(str::to_owned),
        bus: target.and_then(|t| t.attribute("bus")).map(str::to_owned),
    }
}

fn interface(node: Node<'_, '_>) -> Interface {
    let source = child(node, "source").and_then(|s| {
        s.attribute("network")
            .or_else(|| s.attribute("bridge"))
            .or_else(|| s.attribute("dev"))
            .map(str::to_owned)
    });
    Interface {
        kind: node.attribute("type").unwrap_or_default().to_owned(),
        source,
        mac: child(node, "mac")
            .and_then(|m| m.attribute("address"))
            .map(str::to_owned),
        model: child(node, "model")
            .and_then(|m| m.attribute("type"))
            .map(str::to_owned),
    }
}

fn graphics(node: Node<'_, '_>) -> Graphics {
    let listen = node
        .attribute("listen")
        .or_else(|| child(node, "listen").and_then(|l| l.attribute("address")))
        .map(str::to_owned);
    Graphics {
        kind: node.attribute("type").unwrap_or_default().to_owned(),
        // libvirt writes port='-1' until an autoport display is running.
        port: node.attribute("port").and_then(|p| p.parse().ok()),
        autoport: node.attribute("autoport") == Some("yes"),
        listen,
    }
}

/// Full virtualization (`kvm`) or emulation (`qemu`, TCG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtType {
    Kvm,
    Qemu,
}

impl VirtType {
    /// `kvm` when this machine has a KVM device QEMU can use: it must exist
    /// and be open to more than root, since libvirt runs QEMU as its own user.
    pub fn detect() -> Self {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata("/dev/kvm") {
            Ok(meta) if meta.permissions().mode() & 0o066 != 0 => Self::Kvm,
            _ => Self::Qemu,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Qemu => "qemu",
        }
    }
}

/// How a new VM reaches a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkChoice {
    None,
    /// QEMU's user-mode network (works without privileges, the session default).
    User,
    /// A libvirt network by name (e.g. `default` on the system connection).
    Network(String),
}

/// The choices of the New VM assistant, turned into domain XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDomain {
    pub name: String,
    pub title: Option<String>,
    pub memory_mib: u64,
    pub vcpus: u32,
    /// Install media, attached as a CD-ROM and booted first.
    pub iso: Option<PathBuf>,
    /// The hard disk: an existing image, or a volume just created for it.
    pub disk: Option<PathBuf>,
    pub firmware: Firmware,
    pub virt_type: VirtType,
    pub network: NetworkChoice,
    /// Try a network (PXE) boot after the disks.
    pub network_boot: bool,
}

impl NewDomain {
    /// Sane defaults for a desktop guest: 2 GiB, 2 vCPUs, BIOS, user network.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            title: None,
            memory_mib: 2048,
            vcpus: 2,
            iso: None,
            disk: None,
            firmware: Firmware::Bios,
            virt_type: VirtType::detect(),
            network: NetworkChoice::User,
            network_boot: false,
        }
    }

    pub fn to_xml(&self) -> String {
        let mut xml = String::new();
        let _ = writeln!(xml, "<domain type='{}'>", self.virt_type.as_str());
        let _ = writeln!(xml, "  <name>{}</name>", escape(&self.name));
        if let Some(title) = &self.title {
            let _ = writeln!(xml, "  <title>{}</title>", escape(title));
        }
        let _ = writeln!(xml, "  <memory unit='MiB'>{}</memory>", self.memory_mib);
        let _ = writeln!(xml, "  <vcpu>{}</vcpu>", self.vcpus.max(1));
        match self.firmware {
            Firmware::Bios => xml.push_str("  <os>\n"),
            // libvirt picks the OVMF build and its NVRAM template itself.
            Firmware::Uefi => xml.push_str("  <os firmware='efi'>\n"),
        }
        xml.push_str("    <type arch='x86_64'>hvm</type>\n");
        if self.iso.is_some() {
            xml.push_str("    <boot dev='cdrom'/>\n");
        }
        xml.push_str("    <boot dev='hd'/>\n");
        if self.network_boot {
            xml.push_str("    <boot dev='network'/>\n");
        }
        xml.push_str("  </os>\n");
        xml.push_str("  <features><acpi/><apic/></features>\n");
        xml.push_str("  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n");
        xml.push_str("  <devices>\n");
        if let Some(disk) = &self.disk {
            let _ = write!(
                xml,
                "    <disk type='file' device='disk'>\n      <driver name='qemu' type='{}'/>\n      \
                 <source file='{}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n",
                image_format(disk),
                escape(&disk.to_string_lossy())
            );
        }
        if let Some(iso) = &self.iso {
            // SATA works on both the pc and q35 machine types (IDE is pc only).
            let _ = write!(
                xml,
                "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      \
                 <source file='{}'/>\n      <target dev='sda' bus='sata'/>\n      <readonly/>\n    </disk>\n",
                escape(&iso.to_string_lossy())
            );
        }
        match &self.network {
            NetworkChoice::None => {}
            NetworkChoice::User => {
                xml.push_str("    <interface type='user'><model type='virtio'/></interface>\n");
            }
            NetworkChoice::Network(name) => {
                let _ = writeln!(
                    xml,
                    "    <interface type='network'><source network='{}'/><model type='virtio'/></interface>",
                    escape(name)
                );
            }
        }
        // Loopback only: the console goes through OpenGraphicsFD or an SSH tunnel.
        xml.push_str("    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n");
        xml.push_str("    <video><model type='vga'/></video>\n");
        xml.push_str("    <input type='tablet' bus='usb'/>\n");
        xml.push_str("  </devices>\n</domain>\n");
        xml
    }
}

/// qcow2 by its extension, otherwise raw (what qemu-img makes by default).
fn image_format(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("qcow2") => "qcow2",
        _ => "raw",
    }
}

/// Escapes text for XML content and single- or double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_DOMAIN: &str = r#"<domain type='kvm' id='3' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>fedora</name>
  <uuid>c0ba11f0-ffed-4329-bff3-fdcb655f21c6</uuid>
  <title>Fedora 41</title>
  <description>desktop &amp; tests</description>
  <metadata><app:x xmlns:app='http://example.org/app'>1</app:x></metadata>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/libvirt/images/fedora.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='volume' device='disk'>
      <source pool='default' volume='data.img'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/isos/Fedora.iso'/>
      <target dev='sda' bus='sata'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'><source bridge='br0'/></interface>
    <graphics type='vnc' port='5900' autoport='yes'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
  </devices>
</domain>"#;

    #[test]
    fn overview_shows_what_the_vm_page_lists() {
        let o = DomainOverview::parse(QEMU_DOMAIN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.name, "fedora");
        assert_eq!(o.title.as_deref(), Some("Fedora 41"));
        assert_eq!(o.description.as_deref(), Some("desktop & tests"));
        assert_eq!((o.vcpus, o.max_vcpus), (2, 4));
        assert_eq!(o.memory_kib, 4 * 1024 * 1024);
        assert_eq!(o.current_memory_kib, 2 * 1024 * 1024);
        assert_eq!(o.os_type, "hvm");
        assert_eq!(o.arch.as_deref(), Some("x86_64"));
        assert_eq!(o.machine.as_deref(), Some("pc-q35-7.2"));
        assert_eq!(o.firmware, Firmware::Uefi);
        assert_eq!(o.disks.len(), 3);
        assert_eq!(
            o.disks[1].source,
            Some(DiskSource::Volume {
                pool: "default".into(),
                volume: "data.img".into()
            })
        );
        assert!(
            !o.disks[2].is_storage(),
            "install media is never deleted with the VM"
        );
        assert_eq!(o.interfaces[0].mac.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(o.interfaces[1].source.as_deref(), Some("br0"));
        let vnc = o.vnc().unwrap_or_else(|| panic!("no vnc"));
        assert_eq!((vnc.port, vnc.autoport), (Some(5900), true));
        assert_eq!(vnc.listen.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn a_domain_without_graphics_has_no_console() {
        let o = DomainOverview::parse("<domain type='test'><name>t</name><vcpu>1</vcpu></domain>")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.vnc().is_none());
        assert_eq!(o.firmware, Firmware::Bios);
    }

    #[test]
    fn broken_xml_is_an_error_not_a_panic() {
        assert!(DomainOverview::parse("<domain><name>").is_err());
        assert!(DomainOverview::parse("<network/>").is_err());
    }

    #[test]
    fn new_vm_xml_reads_back_as_what_was_chosen() {
        let mut new = NewDomain::new("it's <new>");
        new.iso = Some("/isos/debian.iso".into());
        new.disk = Some("/images/new.qcow2".into());
        new.firmware = Firmware::Uefi;
        new.virt_type = VirtType::Qemu;
        new.memory_mib = 1536;
        new.vcpus = 3;
        let o = DomainOverview::parse(&new.to_xml()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.name, "it's <new>");
        assert_eq!(o.virt_type, "qemu");
        assert_eq!(o.memory_kib, 1536 * 1024);
        assert_eq!(o.vcpus, 3);
        assert_eq!(o.firmware, Firmware::Uefi);
        assert_eq!(o.disks.len(), 2);
        assert_eq!(
            o.disks[0].source,
            Some(DiskSource::File("/images/new.qcow2".into()))
        );
        assert_eq!(o.disks[1].device, "cdrom");
        let vnc = o.vnc().unwrap_or_else(|| panic!("no vnc"));
        assert!(vnc.autoport);
        assert_eq!(vnc.listen.as_deref(), Some("127.0.0.1"));
    }
}
