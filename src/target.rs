//! What the user asked Porthole to open — a VNC address typed in the
//! Connect dialog or given on the command line, or a virt-viewer `.vv`
//! file — checked and turned into one [`ViewerTarget`].

use std::path::{Path, PathBuf};

use gettextrs::gettext;
use porthole_vnc::address::Address;
use relm4::gtk::glib;

use crate::viewer::options::ViewerOptions;

/// A console to open in a viewer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerTarget {
    pub address: Address,
    /// The password a `.vv` file carried; never logged.
    pub password: Option<String>,
    /// The user name a `.vv` file carried, for servers that ask for one.
    pub username: Option<String>,
    pub title: Option<String>,
    /// A `.vv` file that asked to be deleted once read (`delete-this-file=1`,
    /// as oVirt writes them: they hold a one-time password). Deleted by
    /// [`ViewerTarget::delete_file_asked_for`], not while parsing, since the
    /// command line is also parsed only to check it.
    pub delete_after_reading: Option<PathBuf>,
    /// How the viewer starts (the command line's viewer options).
    pub options: ViewerOptions,
}

/// `.vv` files are a few hundred bytes; anything much larger is not one.
const MAX_VV_FILE: u64 = 64 * 1024;

/// Parses a command-line argument: a `.vv` file when it names one, else an address.
pub fn parse_argument(arg: &str) -> Result<ViewerTarget, String> {
    let path = Path::new(arg);
    if arg.ends_with(".vv") || (path.is_file() && !arg.contains("://")) {
        return parse_vv_file(path);
    }
    parse_address(arg)
}

/// Parses a VNC address as typed by the user.
pub fn parse_address(text: &str) -> Result<ViewerTarget, String> {
    let address = text
        .trim()
        .parse::<Address>()
        .map_err(|err| format!("{}: {err}", gettext("Not a valid VNC address")))?;
    Ok(ViewerTarget {
        address,
        password: None,
        username: None,
        title: None,
        delete_after_reading: None,
        options: ViewerOptions::default(),
    })
}

impl ViewerTarget {
    /// Deletes the `.vv` file this target came from if the file asked for
    /// it; what went wrong, if anything, for the user to see.
    pub fn delete_file_asked_for(&mut self) -> Result<(), String> {
        let Some(path) = self.delete_after_reading.take() else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(format!(
                "{} {}: {err}",
                gettext("Cannot delete the connection file"),
                path.display()
            )),
        }
    }
}

/// Reads a virt-viewer connection file (`[virt-viewer]` with `type=vnc`).
pub fn parse_vv_file(path: &Path) -> Result<ViewerTarget, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|err| format!("{} {shown}: {err}", gettext("Cannot read")))?;
    // A pipe or device named *.vv would block the reader forever.
    if !metadata.is_file() {
        return Err(format!("{shown}: {}", gettext("not a virt-viewer file")));
    }
    if metadata.len() > MAX_VV_FILE {
        return Err(format!(
            "{shown}: {}",
            gettext("too large to be a virt-viewer file")
        ));
    }
    let file = glib::KeyFile::new();
    file.load_from_file(path, glib::KeyFileFlags::NONE)
        .map_err(|err| format!("{shown}: {}: {err}", gettext("not a virt-viewer file")))?;
    let mut target = parse_vv(&file).map_err(|err| format!("{shown}: {err}"))?;
    if vv_flag(&file, "delete-this-file") {
        target.delete_after_reading = Some(path.to_path_buf());
    }
    Ok(target)
}

/// A `.vv` boolean: virt-viewer writes 1/0, some generators true/false.
fn vv_flag(file: &glib::KeyFile, key: &str) -> bool {
    file.string("virt-viewer", key)
        .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "True" | "yes"))
}

fn parse_vv(file: &glib::KeyFile) -> Result<ViewerTarget, String> {
    const GROUP: &str = "virt-viewer";
    let get = |key: &str| file.string(GROUP, key).ok().map(|v| v.trim().to_string());
    match get("type").as_deref() {
        Some("vnc") => {}
        Some(other) => {
            return Err(gettext(
                "the file asks for a “{}” console; Porthole opens VNC consoles only",
            )
            .replace("{}", other))
        }
        None => return Err(gettext("the file has no [virt-viewer] type=vnc entry")),
    }
    let host = get("host").ok_or_else(|| gettext("the file names no host"))?;
    let port = get("port").ok_or_else(|| gettext("the file names no port"))?;
    let port: u16 = port.parse().map_err(|_| {
        gettext("the file’s port “{}” is not a TCP port number").replace("{}", &port)
    })?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let address = format!("{host}::{port}")
        .parse::<Address>()
        .map_err(|err| err.to_string())?;
    Ok(ViewerTarget {
        address,
        password: get("password").filter(|p| !p.is_empty()),
        username: get("username").filter(|u| !u.is_empty()),
        title: get("title").filter(|t| !t.is_empty()),
        delete_after_reading: None,
        options: ViewerOptions {
            full_screen: vv_flag(file, "fullscreen"),
            ..ViewerOptions::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(text: &str) -> Result<ViewerTarget, String> {
        let file = glib::KeyFile::new();
        file.load_from_data(text, glib::KeyFileFlags::NONE)
            .map_err(|e| e.to_string())?;
        parse_vv(&file)
    }

    #[test]
    fn vv_file_with_vnc_gives_address_password_and_title() {
        let target = vv(
            "[virt-viewer]\ntype=vnc\nhost=192.0.2.7\nport=5905\npassword=s3cret\ntitle=Fedora\n",
        )
        .unwrap();
        assert_eq!(
            target.address,
            "192.0.2.7::5905".parse::<Address>().unwrap()
        );
        assert_eq!(target.password.as_deref(), Some("s3cret"));
        assert_eq!(target.title.as_deref(), Some("Fedora"));
    }

    #[test]
    fn vv_file_gives_username_and_fullscreen() {
        let target =
            vv("[virt-viewer]\ntype=vnc\nhost=h\nport=5900\nusername=ada\nfullscreen=1\n").unwrap();
        assert_eq!(target.username.as_deref(), Some("ada"));
        assert!(target.options.full_screen);
        let target = vv("[virt-viewer]\ntype=vnc\nhost=h\nport=5900\nfullscreen=0\n").unwrap();
        assert!(!target.options.full_screen);
        assert_eq!(target.username, None);
    }

    #[test]
    fn a_vv_file_that_asks_is_deleted_after_reading_and_not_before() {
        let dir = std::env::temp_dir().join(format!("porthole-vv-del-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let once = dir.join("once.vv");
        let kept = dir.join("kept.vv");
        let body = "[virt-viewer]\ntype=vnc\nhost=h\nport=5900\npassword=otp\n";
        std::fs::write(&once, format!("{body}delete-this-file=1\n")).unwrap();
        std::fs::write(&kept, body).unwrap();
        // Parsing alone (as the command-line check does) deletes nothing.
        let mut target = parse_argument(once.to_str().unwrap()).unwrap();
        assert!(once.exists());
        assert_eq!(target.password.as_deref(), Some("otp"));
        target.delete_file_asked_for().unwrap();
        assert!(!once.exists());
        let mut target = parse_argument(kept.to_str().unwrap()).unwrap();
        target.delete_file_asked_for().unwrap();
        assert!(kept.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn vv_file_with_ipv6_host() {
        let target = vv("[virt-viewer]\ntype=vnc\nhost=::1\nport=5900\n").unwrap();
        assert_eq!(target.address, "[::1]::5900".parse::<Address>().unwrap());
    }

    #[test]
    fn spice_vv_file_is_refused_by_name() {
        let err = vv("[virt-viewer]\ntype=spice\nhost=h\nport=1\n").unwrap_err();
        assert!(err.contains("spice"), "{err}");
    }

    #[test]
    fn vv_file_without_port_or_with_bad_port_is_refused() {
        assert!(vv("[virt-viewer]\ntype=vnc\nhost=h\n")
            .unwrap_err()
            .contains("port"));
        assert!(vv("[virt-viewer]\ntype=vnc\nhost=h\nport=99999\n")
            .unwrap_err()
            .contains("99999"));
    }

    #[test]
    fn a_pipe_named_vv_is_refused_without_reading_it() {
        let dir = std::env::temp_dir().join(format!("porthole-vv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pipe = dir.join("console.vv");
        let made = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(made.success());
        let err = parse_vv_file(&pipe).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("not a virt-viewer file"), "{err}");
    }

    #[test]
    fn bad_addresses_are_refused() {
        assert!(parse_address("vnc://").is_err());
        assert!(parse_address("").is_err());
        assert!(parse_address("host:1").is_ok());
    }
}
