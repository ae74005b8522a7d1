//! The command line, checked before GApplication sees it so that
//! `--version` and mistakes are answered at once with the right exit status.
//! GApplication still parses it afterwards (for `--help` and to hand the
//! arguments to the running instance).

use gettextrs::gettext;

use crate::libvirt::ConnectionSpec;
use crate::target;
use crate::viewer::options::ViewerOptions;

/// A flag of Porthole's own, shown by `--help`.
#[derive(Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: u8,
    /// The translated text `--help` shows.
    pub description: fn() -> String,
}

pub const OPTIONS: &[Flag] = &[Flag {
    long: "version",
    short: b'v',
    description: || gettext("Print the version and exit"),
}];

/// An option of Porthole's own that takes a value (`--name VALUE` or `--name=VALUE`).
#[derive(Debug)]
pub struct ValueFlag {
    pub long: &'static str,
    /// The translated text `--help` shows.
    pub description: fn() -> String,
    /// What the value is, as `--help` shows it (e.g. `URI`).
    pub value_name: fn() -> String,
    /// Refuses a value before the app starts; the error is one line.
    pub check: fn(&str) -> Result<(), String>,
}

pub const VALUE_OPTIONS: &[ValueFlag] = &[
    ValueFlag {
        long: CONNECT,
        description: || gettext("Open the libvirt connection URI (like virt-manager's --connect)"),
        value_name: || gettext("URI"),
        check: check_connection_uri,
    },
    ValueFlag {
        long: SHOW_DOMAIN_CONSOLE,
        description: || gettext("Open the console of the virtual machine NAME"),
        value_name: || gettext("NAME"),
        check: |_| Ok(()),
    },
    ValueFlag {
        long: SHOW_DOMAIN_EDITOR,
        description: || gettext("Open the details of the virtual machine NAME"),
        value_name: || gettext("NAME"),
        check: |_| Ok(()),
    },
];

pub const CONNECT: &str = "connect";
pub const SHOW_DOMAIN_CONSOLE: &str = "show-domain-console";
pub const SHOW_DOMAIN_EDITOR: &str = "show-domain-editor";

fn check_connection_uri(uri: &str) -> Result<(), String> {
    ConnectionSpec::from_uri(uri).map(|_| ()).map_err(|_| {
        gettext("unsupported connection URI “{}”: use qemu:///session, qemu:///system, test:///default or qemu+ssh://[user@]host/system").replace("{}", uri)
    })
}

/// Options that GLib itself handles.
const GLIB_OPTIONS: &[&str] = &[
    "-h",
    "--help",
    "--help-all",
    "--help-gapplication",
    "--gapplication-service",
];

#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Run,
    Version,
}

/// Checks `args` (with the program name first).
pub fn check(args: &[String]) -> Result<Check, String> {
    let mut version = false;
    let mut only_targets = false;
    let mut viewer_options = ViewerOptions::default();
    let mut args_iter = args.iter().skip(1);
    while let Some(arg) = args_iter.next() {
        if !only_targets {
            if let Some(result) = check_value_option(arg, &mut args_iter) {
                result?;
                continue;
            }
            if let Some(result) = viewer_options.take_argument(arg, &mut args_iter) {
                result?;
                continue;
            }
        }
        if only_targets || !arg.starts_with('-') || arg == "-" {
            target::parse_argument(arg)?;
        } else if arg == "--" {
            only_targets = true;
        } else if GLIB_OPTIONS.contains(&arg.as_str()) {
            // --help wins over everything else, as GLib prints it and exits.
            return Ok(Check::Run);
        } else if OPTIONS
            .iter()
            .any(|o| arg.strip_prefix("--") == Some(o.long) || arg.as_bytes() == [b'-', o.short])
        {
            version = true;
        } else {
            return Err(gettext("unknown option “{}”; see porthole --help").replace("{}", arg));
        }
    }
    Ok(if version { Check::Version } else { Check::Run })
}

/// Checks `arg` if it is one of [`VALUE_OPTIONS`], taking its value from
/// `rest` when it is not attached with `=`; `None` when it is not one.
fn check_value_option<'a>(
    arg: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Option<Result<(), String>> {
    let body = arg.strip_prefix("--")?;
    let (name, attached) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    let option = VALUE_OPTIONS.iter().find(|o| o.long == name)?;
    let value = match attached {
        Some(value) => value,
        None => match rest.next() {
            Some(value) => value.as_str(),
            None => {
                return Some(Err(gettext(
                    "option “--{}” needs a value; see porthole --help",
                )
                .replace("{}", name)))
            }
        },
    };
    Some((option.check)(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Check, String> {
        let args: Vec<String> = std::iter::once("porthole")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        check(&args)
    }

    #[test]
    fn version_flags() {
        assert_eq!(run(&["--version"]), Ok(Check::Version));
        assert_eq!(run(&["-v"]), Ok(Check::Version));
    }

    #[test]
    fn valid_address_runs_the_app() {
        assert_eq!(run(&["vnc://example.org:5901"]), Ok(Check::Run));
        assert_eq!(run(&["--", "host:1"]), Ok(Check::Run));
        assert_eq!(run(&[]), Ok(Check::Run));
    }

    #[test]
    fn bad_address_and_unknown_option_are_refused() {
        assert!(run(&["vnc://"]).unwrap_err().contains("VNC address"));
        assert!(run(&["--bogus"]).unwrap_err().contains("--bogus"));
    }

    #[test]
    fn connection_and_domain_options_take_values() {
        assert_eq!(run(&["--connect", "test:///default"]), Ok(Check::Run));
        assert_eq!(
            run(&["--connect=qemu+ssh://me@host/system"]),
            Ok(Check::Run)
        );
        assert_eq!(
            run(&[
                "--connect",
                "qemu:///system",
                "--show-domain-editor",
                "test"
            ]),
            Ok(Check::Run)
        );
        // A VM name that looks like an address is not taken for one.
        assert_eq!(run(&["--show-domain-console", "vnc://"]), Ok(Check::Run));
        assert!(run(&["--connect", "bad://"])
            .unwrap_err()
            .contains("bad://"));
        assert!(run(&["--connect"]).unwrap_err().contains("--connect"));
    }

    #[test]
    fn viewer_options_are_checked_before_the_app_starts() {
        assert_eq!(
            run(&["--full-screen", "--zoom", "150", "--view-only", "host:1"]),
            Ok(Check::Run)
        );
        assert_eq!(
            run(&[
                "--kiosk",
                "--kiosk-quit=on-disconnect",
                "--hotkeys=quit=ctrl+alt+q",
                "h:1"
            ]),
            Ok(Check::Run)
        );
        assert_eq!(
            run(&["--keymap=F1=CTRL+ALT+F1", "--exclusive", "h:1"]),
            Ok(Check::Run)
        );
        assert!(run(&["--zoom=1000", "h:1"]).unwrap_err().contains("1000"));
        assert!(run(&["--shared", "--exclusive"]).is_err());
        assert!(run(&["--hotkeys=explode=ctrl+x"])
            .unwrap_err()
            .contains("explode"));
        assert!(run(&["--keymap=F1=NOKEY"]).unwrap_err().contains("NOKEY"));
        assert!(run(&["--kiosk-quit", "sometimes"])
            .unwrap_err()
            .contains("sometimes"));
        assert!(run(&["--auto-resize=maybe"]).is_err());
        // The value of --zoom is not taken for an address.
        assert_eq!(run(&["-z", "50"]), Ok(Check::Run));
    }

    #[test]
    fn help_is_left_to_glib() {
        assert_eq!(run(&["--help", "--bogus"]), Ok(Check::Run));
    }
}
