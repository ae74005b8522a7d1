//! The errors of the libvirt client, sorted by what the user can do about
//! them. libvirt-dbus reports every libvirt failure as the one D-Bus error
//! `org.libvirt.Error`; its message is libvirt's own and is kept verbatim.

use std::fmt;

/// Which bus a connection goes over, to say where something is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusKind {
    Session,
    System,
    /// A bus given by address (tests, or a bus the user named).
    Address(String),
    /// The system bus of a remote host, over SSH.
    Remote(String),
}

impl fmt::Display for BusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Session => f.write_str("session bus"),
            Self::System => f.write_str("system bus"),
            Self::Address(address) => write!(f, "bus at {address}"),
            Self::Remote(host) => write!(f, "system bus of {host}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "libvirt-dbus is not running on the {bus}: install the libvirt-dbus package and make sure it \
         can start (on the system bus it is started by D-Bus activation or `systemctl start libvirt-dbus`)"
    )]
    ServiceMissing { bus: BusKind },
    #[error(
        "permission denied on the {bus}: add your user to the group `libvirt` (or allow it through \
         polkit) and log in again ({message})"
    )]
    PermissionDenied { bus: BusKind, message: String },
    #[error("cannot reach the {bus}: {source}")]
    BusUnreachable {
        bus: BusKind,
        #[source]
        source: Box<zbus::Error>,
    },
    /// libvirt refused or failed; the message is libvirt's.
    #[error("{0}")]
    Libvirt(String),
    /// The domain (or snapshot, volume) does not exist, or no longer: it may
    /// have been deleted meanwhile.
    #[error("{0}: it may have been deleted meanwhile, refresh the list")]
    NotFound(String),
    /// The connection to libvirt-dbus dropped (it restarted, or the bus went away).
    #[error("lost the connection to libvirt-dbus: {0}")]
    Disconnected(String),
    #[error("libvirt-dbus answered something unexpected: {0}")]
    Protocol(String),
    #[error("libvirt returned domain XML that cannot be read: {0}")]
    Xml(String),
    #[error("d-bus error: {0}")]
    DBus(Box<zbus::Error>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// libvirt's "no such domain/snapshot/volume" messages, as libvirt words them.
const NOT_FOUND_MARKERS: [&str; 4] = [
    "Domain not found",
    "Domain snapshot not found",
    "Storage volume not found",
    "no domain with matching",
];

impl Error {
    /// Sorts a D-Bus error from a call on `bus`.
    pub fn from_dbus(error: zbus::Error, bus: &BusKind) -> Self {
        let (name, message) = match &error {
            zbus::Error::MethodError(name, message, _) => (
                name.as_str().to_owned(),
                message.clone().unwrap_or_default(),
            ),
            zbus::Error::FDO(fdo) => match fdo.as_ref() {
                zbus::fdo::Error::ServiceUnknown(m) | zbus::fdo::Error::NameHasNoOwner(m) => (
                    "org.freedesktop.DBus.Error.ServiceUnknown".to_owned(),
                    m.clone(),
                ),
                zbus::fdo::Error::AccessDenied(m) => (
                    "org.freedesktop.DBus.Error.AccessDenied".to_owned(),
                    m.clone(),
                ),
                zbus::fdo::Error::UnknownObject(m) => (
                    "org.freedesktop.DBus.Error.UnknownObject".to_owned(),
                    m.clone(),
                ),
                _ => return Self::DBus(Box::new(error)),
            },
            zbus::Error::InputOutput(io) => return Self::Disconnected(io.to_string()),
            _ => return Self::DBus(Box::new(error)),
        };
        match name.as_str() {
            "org.libvirt.Error" if NOT_FOUND_MARKERS.iter().any(|m| message.contains(m)) => {
                Self::NotFound(message)
            }
            "org.libvirt.Error" => Self::Libvirt(message),
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
                Self::ServiceMissing { bus: bus.clone() }
            }
            "org.freedesktop.DBus.Error.AccessDenied" => Self::PermissionDenied {
                bus: bus.clone(),
                message,
            },
            "org.freedesktop.DBus.Error.UnknownObject"
            | "org.freedesktop.DBus.Error.UnknownMethod" => Self::NotFound(message),
            "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Disconnected" => {
                Self::Disconnected(message)
            }
            _ => Self::DBus(Box::new(error)),
        }
    }

    /// Whether the thing the call was about is gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_tell_the_user_what_to_do() {
        let missing = Error::ServiceMissing {
            bus: BusKind::System,
        };
        assert!(missing
            .to_string()
            .contains("install the libvirt-dbus package"));
        let denied = Error::PermissionDenied {
            bus: BusKind::System,
            message: "rejected".into(),
        };
        assert!(denied.to_string().contains("group `libvirt`"));
        assert!(denied.to_string().contains("rejected"));
    }
}
