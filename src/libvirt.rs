//! The libvirt client: talks to libvirt through libvirt-dbus (the
//! `org.libvirt` D-Bus service) with zbus, on the session bus, the system
//! bus, or a remote host's system bus over SSH. It owns the connection,
//! the live domain list, lifecycle actions, domain XML (read and built) and
//! statistics. It has no UI and no GTK: components drive it from async
//! commands and show what it returns.
//!
//! libvirt-dbus's traps are handled here, once: proxies never cache
//! properties, double-wrapped variants are unwrapped in [`variant`], the
//! state comes from `GetState`, events are subscribed before listing, and
//! `org.libvirt.Error` keeps libvirt's message.

mod connection;
mod domain;
mod error;
mod host;
mod proxies;
mod ssh;
mod stats;
mod storage;
mod variant;
mod watch;
mod xml;

// The API the VM manager UI builds on; the app binary uses none of it yet.
#[allow(unused_imports)]
pub use connection::{ssh_address, Bus, ConnectionSpec, Driver, Hypervisor, UriError, SERVICE};
#[allow(unused_imports)]
pub use domain::{
    Action, DeleteOptions, Domain, DomainInfo, DomainState, Scope, Snapshot, SHUTOFF_SAVED,
};
#[allow(unused_imports)]
pub use error::{BusKind, Error, Result};
#[allow(unused_imports)]
pub use host::{HostCapabilities, UefiSupport};
#[allow(unused_imports)]
pub use ssh::{open_console_stream, SshCommand, ASKPASS_ENV};
#[allow(unused_imports)]
pub use stats::DomainStats;
#[allow(unused_imports)]
pub use storage::{StoragePool, StorageVolume, DEFAULT_POOL};
#[allow(unused_imports)]
pub use watch::{Change, DomainWatch};
#[allow(unused_imports)]
pub use xml::{
    DiskSource, DomainOverview, Firmware, Graphics, Interface, NetworkChoice, NewDomain, VirtType,
};
