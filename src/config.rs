//! Build-time constants and the run-time locations of what the app loads:
//! its GSettings schema and its translations, found installed or, for a
//! plain `cargo run`, in the build's own output.

use std::path::{Path, PathBuf};

use relm4::gtk::gio;

pub const APP_ID: &str = "io.github.porthole.Porthole";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GETTEXT_PACKAGE: &str = "porthole";
pub const WEBSITE: &str = "https://github.com/porthole/porthole";
pub const ISSUES: &str = "https://github.com/porthole/porthole/issues";

/// The compiled GResource bundle from `ui/`, embedded in the binary.
const RESOURCES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/porthole.gresource"));

/// Where the build compiled the schema and translations.
const BUILD_DIR: &str = env!("OUT_DIR");

pub fn register_resources() -> Result<(), relm4::gtk::glib::Error> {
    let bytes = relm4::gtk::glib::Bytes::from_static(RESOURCES);
    let resource = gio::Resource::from_data(&bytes)?;
    gio::resources_register(&resource);
    Ok(())
}

/// The app's settings: the installed schema if there is one, else the one
/// this build compiled.
pub fn settings() -> gio::Settings {
    let installed = gio::SettingsSchemaSource::default().and_then(|s| s.lookup(APP_ID, true));
    let schema = installed.or_else(|| {
        let dir = Path::new(BUILD_DIR).join("schemas");
        gio::SettingsSchemaSource::from_directory(
            &dir,
            gio::SettingsSchemaSource::default().as_ref(),
            false,
        )
        .ok()
        .and_then(|source| source.lookup(APP_ID, false))
    });
    match schema {
        Some(schema) => gio::Settings::new_full(&schema, None::<&gio::SettingsBackend>, None),
        // Only reachable with a broken install; GSettings then reports the missing schema itself.
        None => gio::Settings::new(APP_ID),
    }
}

/// The directory holding `LANG/LC_MESSAGES/porthole.mo`: `PREFIX/share/locale`
/// next to an installed binary (also `/app` in Flatpak), else the build's.
pub fn locale_dir() -> PathBuf {
    let installed = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()?
            .parent()
            .map(|prefix| prefix.join("share/locale"))
    });
    match installed {
        Some(dir) if has_catalogue(&dir) => dir,
        _ => Path::new(BUILD_DIR).join("locale"),
    }
}

fn has_catalogue(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|lang| {
            lang.path()
                .join("LC_MESSAGES")
                .join(format!("{GETTEXT_PACKAGE}.mo"))
                .is_file()
        })
    })
}
