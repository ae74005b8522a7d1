//! Checks the desktop data in `data/` the way a desktop and a software centre
//! will read it: with the real validators, and against each other (the names
//! that tie the desktop file, metainfo, icons and schema together). Also checks
//! that `make install` puts every piece where a desktop looks for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const APP_ID: &str = "io.github.porthole.Porthole";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn data_file(name: &str) -> PathBuf {
    root().join("data").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
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

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn combined_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The value of `key` in the `[Desktop Entry]` group of a desktop file.
fn desktop_entry_value<'a>(desktop: &'a str, key: &str) -> Option<&'a str> {
    desktop
        .lines()
        .skip_while(|line| line.trim() != "[Desktop Entry]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim())
        })
}

#[test]
fn desktop_file_passes_desktop_file_validate() {
    if !tool_available("desktop-file-validate", "desktop-file-utils") {
        return;
    }
    let output =
        run(Command::new("desktop-file-validate").arg(data_file(&format!("{APP_ID}.desktop"))));
    let text = combined_output(&output);
    assert!(
        output.status.success(),
        "desktop-file-validate failed:\n{text}"
    );
    // Hints (e.g. two main categories, which Emulator + RemoteAccess need) are
    // advice; errors and warnings are not.
    assert!(
        !text.contains("error:") && !text.contains("warning:"),
        "desktop-file-validate complained:\n{text}"
    );
}

#[test]
fn metainfo_passes_appstreamcli_validate() {
    if !tool_available("appstreamcli", "appstream") {
        return;
    }
    let output = run(Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(data_file(&format!("{APP_ID}.metainfo.xml"))));
    let text = combined_output(&output);
    assert!(
        output.status.success(),
        "appstreamcli validate failed:\n{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "appstreamcli validate reported errors or warnings:\n{text}"
    );
}

#[test]
fn gsettings_schema_compiles_strictly() {
    if !tool_available("glib-compile-schemas", "libglib2.0-bin") {
        return;
    }
    let output = run(Command::new("glib-compile-schemas")
        .args(["--strict", "--dry-run"])
        .arg(root().join("data")));
    assert!(
        output.status.success(),
        "glib-compile-schemas --strict rejected data/:\n{}",
        combined_output(&output)
    );
}

#[test]
fn desktop_file_launches_porthole_and_handles_vnc_links() {
    let desktop = read(&data_file(&format!("{APP_ID}.desktop")));
    // %u passes the vnc:// link or .vv file the desktop opens us with.
    assert_eq!(desktop_entry_value(&desktop, "Exec"), Some("porthole %u"));
    assert_eq!(desktop_entry_value(&desktop, "Icon"), Some(APP_ID));
    let mime_types = desktop_entry_value(&desktop, "MimeType").unwrap_or_default();
    for mime in ["x-scheme-handler/vnc", "application/x-virt-viewer"] {
        assert!(
            mime_types.split(';').any(|m| m == mime),
            "the desktop file does not claim {mime}: {mime_types}"
        );
    }
}

#[test]
fn icons_exist_under_the_app_id() {
    let icons = root().join("data/icons/hicolor");
    let scalable = icons.join(format!("scalable/apps/{APP_ID}.svg"));
    let symbolic = icons.join(format!("symbolic/apps/{APP_ID}-symbolic.svg"));
    assert!(read(&scalable).contains(r#"viewBox="0 0 128 128""#));
    let symbolic = read(&symbolic);
    assert!(symbolic.contains(r#"viewBox="0 0 16 16""#));
    // GTK recolours symbolic icons from #2e3436 (and a few named accents); any
    // other colour would stay fixed and vanish on a dark theme.
    let colours: Vec<&str> = symbolic
        .match_indices('#')
        .filter_map(|(i, _)| symbolic.get(i..i + 7))
        .collect();
    assert!(!colours.is_empty(), "the symbolic icon names no colour");
    assert!(
        colours.iter().all(|c| c.eq_ignore_ascii_case("#2e3436")),
        "the symbolic icon uses colours other than #2e3436: {colours:?}"
    );
}

#[test]
fn metainfo_names_this_app_and_this_release() {
    let metainfo = read(&data_file(&format!("{APP_ID}.metainfo.xml")));
    assert!(metainfo.contains(&format!("<id>{APP_ID}</id>")));
    assert!(metainfo.contains(&format!(
        r#"<launchable type="desktop-id">{APP_ID}.desktop</launchable>"#
    )));
    // Software centres show the newest <release> as the installed version: a
    // version bump without release notes would show the old one.
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        metainfo.contains(&format!(r#"<release version="{version}""#)),
        "data/{APP_ID}.metainfo.xml has no <release> for version {version}; add its release notes"
    );
}

#[test]
fn gsettings_schema_uses_the_app_id_and_path() {
    let schema = read(&data_file(&format!("{APP_ID}.gschema.xml")));
    assert!(schema.contains(&format!(
        r#"<schema id="{APP_ID}" path="/io/github/porthole/Porthole/">"#
    )));
}

/// Languages listed in po/LINGUAS (several per line allowed, # comments).
fn linguas() -> Vec<String> {
    let path = root().join("po/LINGUAS");
    if !path.exists() {
        return Vec::new();
    }
    read(&path)
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(str::split_whitespace)
        .map(str::to_owned)
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn make_install_puts_everything_where_a_desktop_finds_it_and_uninstall_removes_it() {
    if !tool_available("make", "make") || !tool_available("msgfmt", "gettext") {
        return;
    }
    let scratch =
        std::env::temp_dir().join(format!("porthole-install-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    // Stand-in binaries: this test is about where files go, not about
    // building (CARGO=true turns the release step into a no-op).
    let target = scratch.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    for binary in ["porthole", "porthole-vnc"] {
        std::fs::write(target.join("release").join(binary), "#!/bin/sh\n").unwrap();
    }
    let destdir = scratch.join("stage");
    let make = |goal: &str| {
        let output = run(Command::new("make")
            .arg("-C")
            .arg(root())
            .arg(goal)
            .arg(format!("DESTDIR={}", destdir.display()))
            .arg("PREFIX=/usr")
            .arg("CARGO=true")
            .arg(format!("CARGO_TARGET_DIR={}", target.display())));
        assert!(
            output.status.success(),
            "make {goal} failed:\n{}",
            combined_output(&output)
        );
    };

    make("install");
    let usr = destdir.join("usr");
    let mut expected: Vec<PathBuf> = [
        "bin/porthole".to_owned(),
        "bin/porthole-vnc".to_owned(),
        format!("share/applications/{APP_ID}.desktop"),
        format!("share/metainfo/{APP_ID}.metainfo.xml"),
        format!("share/icons/hicolor/scalable/apps/{APP_ID}.svg"),
        format!("share/icons/hicolor/symbolic/apps/{APP_ID}-symbolic.svg"),
        format!("share/glib-2.0/schemas/{APP_ID}.gschema.xml"),
    ]
    .into_iter()
    .chain(
        linguas()
            .iter()
            .map(|lang| format!("share/locale/{lang}/LC_MESSAGES/porthole.mo")),
    )
    .map(|relative| usr.join(relative))
    .collect();
    expected.sort();
    assert_eq!(files_under(&destdir), expected);

    make("uninstall");
    let left = files_under(&destdir);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert!(left.is_empty(), "make uninstall left {left:?}");
}

#[test]
fn metainfo_screenshots_are_committed_pngs() {
    // Software centres download screenshots from the repository's main
    // branch, so each must be a file committed under that path.
    const RAW_MAIN: &str = "https://raw.githubusercontent.com/porthole/porthole/main/";
    let metainfo = read(&data_file(&format!("{APP_ID}.metainfo.xml")));
    let images: Vec<&str> = metainfo
        .split("<image>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</image>").map(|(url, _)| url.trim()))
        .collect();
    assert!(!images.is_empty(), "the metainfo shows no screenshot");
    for url in images {
        let relative = url
            .strip_prefix(RAW_MAIN)
            .unwrap_or_else(|| panic!("screenshot {url} is not served from {RAW_MAIN}"));
        let path = root().join(relative);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("screenshot {url} needs the file {relative} in the repository: {e}")
        });
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{relative} is not a PNG"
        );
    }
}
