//! Compiles what the app needs at run time into OUT_DIR so that a plain
//! `cargo run` works without an install step: the GResource bundle from
//! `ui/` (embedded in the binary), the GSettings schema (a fallback for when
//! the schema is not installed) and the translations from `po/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    compile_resources(&out);
    compile_schemas(&out);
    compile_translations(&out);
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what} failed ({status}): {cmd:?}"),
        Err(err) => panic!(
            "{what} could not run ({err}); install the build tools with the README's command: {cmd:?}"
        ),
    }
}

fn compile_resources(out: &Path) {
    println!("cargo:rerun-if-changed=ui");
    run(
        Command::new("glib-compile-resources")
            .arg("--sourcedir=ui")
            .arg(format!(
                "--target={}",
                out.join("porthole.gresource").display()
            ))
            .arg("ui/porthole.gresource.xml"),
        "glib-compile-resources",
    );
}

fn compile_schemas(out: &Path) {
    println!("cargo:rerun-if-changed=data/io.github.porthole.Porthole.gschema.xml");
    let dir = out.join("schemas");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    std::fs::copy(
        "data/io.github.porthole.Porthole.gschema.xml",
        dir.join("io.github.porthole.Porthole.gschema.xml"),
    )
    .expect("data/io.github.porthole.Porthole.gschema.xml exists");
    run(
        Command::new("glib-compile-schemas")
            .arg("--strict")
            .arg(&dir),
        "glib-compile-schemas",
    );
}

fn compile_translations(out: &Path) {
    println!("cargo:rerun-if-changed=po");
    let linguas = std::fs::read_to_string("po/LINGUAS").expect("po/LINGUAS exists");
    for lang in linguas
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let dir = out.join("locale").join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
        run(
            Command::new("msgfmt")
                .arg("--check")
                .arg("-o")
                .arg(dir.join("porthole.mo"))
                .arg(format!("po/{lang}.po")),
            "msgfmt",
        );
    }
}
