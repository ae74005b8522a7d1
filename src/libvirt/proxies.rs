//! zbus proxies for the libvirt-dbus interfaces Porthole uses (generated,
//! see each file's header), and [`build`], the one way to make one: with
//! property caching off, because libvirt-dbus never announces changes.

mod connect;
mod domain;
mod domain_snapshot;
mod network;
mod storage_pool;
mod storage_vol;

pub use connect::ConnectProxy;
pub use domain::DomainProxy;
pub use domain_snapshot::DomainSnapshotProxy;
pub use storage_pool::StoragePoolProxy;
pub use storage_vol::StorageVolProxy;

use zbus::proxy::{CacheProperties, Defaults};
use zbus::zvariant::ObjectPath;

/// A proxy of type `P` for the object at `path` on libvirt-dbus.
pub async fn build<'p, P>(conn: &zbus::Connection, path: ObjectPath<'p>) -> zbus::Result<P>
where
    P: From<zbus::Proxy<'p>> + Defaults,
{
    zbus::proxy::Builder::<P>::new(conn)
        .path(path)?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}
