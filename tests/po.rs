//! Translations stay usable: `po/POTFILES.in` names exactly the files with
//! translatable strings, the template is current, and every language in
//! `po/LINGUAS` translates every message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use porthole_harness::process::{in_ci, tools_available};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Files that contain translatable strings, relative to the repository.
fn translatable_files() -> BTreeSet<String> {
    let mut candidates = Vec::new();
    files_under(&root().join("src"), "rs", &mut candidates);
    files_under(&root().join("ui"), "ui", &mut candidates);
    candidates
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text.contains("gettext(") || text.contains("translatable=\"yes\"")
        })
        .map(|path| {
            path.strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string()
        })
        .collect()
}

fn listed(potfiles: &str) -> BTreeSet<String> {
    potfiles
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// What POTFILES.in misses and what it lists in vain, as a message; `None` when in sync.
fn potfiles_drift(listed: &BTreeSet<String>, found: &BTreeSet<String>) -> Option<String> {
    let missing: Vec<_> = found.difference(listed).collect();
    let stale: Vec<_> = listed.difference(found).collect();
    (!missing.is_empty() || !stale.is_empty()).then(|| {
        format!("po/POTFILES.in is out of sync: add {missing:?}, remove {stale:?}, then run po/update.sh")
    })
}

#[test]
fn potfiles_drift_is_detected() {
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        potfiles_drift(&set(&["src/a.rs"]), &set(&["src/a.rs"])),
        None
    );
    let drift = potfiles_drift(
        &set(&["src/a.rs", "src/old.rs"]),
        &set(&["src/a.rs", "src/new.rs"]),
    );
    let drift = drift.unwrap_or_default();
    assert!(
        drift.contains("src/new.rs") && drift.contains("src/old.rs"),
        "{drift}"
    );
}

#[test]
fn potfiles_lists_every_file_with_translatable_strings() {
    let potfiles =
        std::fs::read_to_string(root().join("po/POTFILES.in")).unwrap_or_else(|e| panic!("{e}"));
    if let Some(drift) = potfiles_drift(&listed(&potfiles), &translatable_files()) {
        panic!("{drift}");
    }
}

fn gettext_tools() -> bool {
    let tools = ["xgettext", "msgcat", "msgfmt"];
    if tools_available(&tools) {
        return true;
    }
    assert!(!in_ci(), "CI must have {tools:?} (Debian package gettext)");
    eprintln!("SKIPPED: needs {tools:?} (Debian package gettext)");
    false
}

#[test]
fn template_is_current() {
    if !gettext_tools() {
        return;
    }
    let out = Command::new("bash")
        .arg(root().join("po/update.sh"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_language_translates_every_message() {
    if !gettext_tools() {
        return;
    }
    let count = |args: &[&str]| -> String {
        let out = Command::new("msgfmt")
            .args(args)
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "msgfmt {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    };
    // The template's statistics say how many messages there are (all untranslated).
    let template = count(&["--statistics", "-o", "/dev/null", "po/porthole.pot"]);
    let total: usize = template
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();
    assert!(total > 20, "suspiciously few messages: {template}");
    let linguas = std::fs::read_to_string(root().join("po/LINGUAS")).unwrap_or_default();
    for lang in linguas
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let stats = count(&[
            "--check",
            "--statistics",
            "-o",
            "/dev/null",
            &format!("po/{lang}.po"),
        ]);
        assert_eq!(
            stats,
            format!("{total} translated messages."),
            "po/{lang}.po is incomplete"
        );
    }
}
