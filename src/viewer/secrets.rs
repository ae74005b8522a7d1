//! VNC credentials in the Secret Service (`org.freedesktop.secrets`: GNOME
//! Keyring, KWallet, KeePassXC; reachable from Flatpak with
//! `--talk-name=org.freedesktop.secrets`): one item per server address,
//! with the attributes `{app, address, username}`, in the default
//! collection. Never written anywhere else, never logged.
//!
//! A handful of plain zbus calls rather than a client crate: the app
//! already has zbus, and the five methods needed are one call each. The
//! "plain" session algorithm is used: the secret crosses only the local
//! session bus, as with libsecret's own plain sessions.

use std::collections::HashMap;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::Connection;

use crate::config::APP_ID;

const SERVICE: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const DEFAULT_COLLECTION: &str = "/org/freedesktop/secrets/aliases/default";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";

/// Credentials found for an address.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub username: Option<String>,
    pub password: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stored(<redacted>)")
    }
}

/// The `username` attribute of a server that asks for none.
const NO_USERNAME: &str = "";

/// A secret as the Secret Service passes it: session, parameters,
/// value, content type.
type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

async fn open_session(connection: &Connection) -> zbus::Result<OwnedObjectPath> {
    let reply = connection
        .call_method(
            Some(SERVICE),
            SERVICE_PATH,
            Some(SERVICE_IFACE),
            "OpenSession",
            &("plain", Value::from("")),
        )
        .await?;
    let (_, session): (OwnedValue, OwnedObjectPath) = reply.body().deserialize()?;
    Ok(session)
}

/// The credentials stored for `address`, if any. A Secret Service that is
/// missing, or an item that is locked, counts as holding none.
pub async fn lookup(address: &str) -> Option<Stored> {
    lookup_inner(address).await.ok().flatten()
}

async fn lookup_inner(address: &str) -> zbus::Result<Option<Stored>> {
    let connection = Connection::session().await?;
    let attributes = HashMap::from([("app", APP_ID), ("address", address)]);
    let reply = connection
        .call_method(
            Some(SERVICE),
            SERVICE_PATH,
            Some(SERVICE_IFACE),
            "SearchItems",
            &(attributes,),
        )
        .await?;
    let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
        reply.body().deserialize()?;
    let Some(item) = unlocked.into_iter().next() else {
        return Ok(None);
    };
    let session = open_session(&connection).await?;
    let reply = connection
        .call_method(
            Some(SERVICE),
            SERVICE_PATH,
            Some(SERVICE_IFACE),
            "GetSecrets",
            &(vec![item.clone()], session),
        )
        .await?;
    let (secrets,): (HashMap<OwnedObjectPath, Secret>,) = reply.body().deserialize()?;
    let Some((_, _, value, _)) = secrets.get(&item) else {
        return Ok(None);
    };
    let Ok(password) = String::from_utf8(value.clone()) else {
        return Ok(None);
    };
    let reply = connection
        .call_method(
            Some(SERVICE),
            item.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(ITEM_IFACE, "Attributes"),
        )
        .await?;
    let attributes: HashMap<String, String> = reply
        .body()
        .deserialize::<Value>()
        .ok()
        .map(|value| match value {
            Value::Value(inner) => *inner,
            other => other,
        })
        .and_then(|value| HashMap::<String, String>::try_from(value).ok())
        .unwrap_or_default();
    let username = attributes
        .get("username")
        .filter(|u| u.as_str() != NO_USERNAME)
        .cloned();
    Ok(Some(Stored { username, password }))
}

/// Remembers credentials for `address` in the default collection,
/// replacing what was stored for it.
pub async fn store(address: &str, username: Option<&str>, password: &str) -> Result<(), String> {
    store_inner(address, username, password)
        .await
        .map_err(|e| e.to_string())
}

async fn store_inner(address: &str, username: Option<&str>, password: &str) -> zbus::Result<()> {
    let connection = Connection::session().await?;
    let session = open_session(&connection).await?;
    let attributes = HashMap::from([
        ("app", APP_ID),
        ("address", address),
        ("username", username.unwrap_or(NO_USERNAME)),
    ]);
    let label = format!("VNC password for {address}");
    let properties = HashMap::from([
        ("org.freedesktop.Secret.Item.Label", Value::from(label)),
        (
            "org.freedesktop.Secret.Item.Attributes",
            Value::from(attributes),
        ),
    ]);
    let secret = (
        session,
        Vec::<u8>::new(),
        password.as_bytes().to_vec(),
        "text/plain; charset=utf8",
    );
    let reply = connection
        .call_method(
            Some(SERVICE),
            DEFAULT_COLLECTION,
            Some(COLLECTION_IFACE),
            "CreateItem",
            &(properties, secret, true),
        )
        .await?;
    let (_item, prompt): (OwnedObjectPath, OwnedObjectPath) = reply.body().deserialize()?;
    if prompt.as_str() != "/" {
        // A locked keyring would need its unlock prompt: not remembered.
        return Err(zbus::Error::Failure(
            "the keyring is locked; unlock it and try again".to_owned(),
        ));
    }
    Ok(())
}
