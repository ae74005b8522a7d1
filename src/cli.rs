//! The command line, checked before GApplication sees it so that
//! `--version` and mistakes are answered at once with the right exit status.
//! GApplication still parses it afterwards (for `--help` and to hand the
//! arguments to the running instance).

use gettextrs::gettext;

use crate::target;

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
    for arg in args.iter().skip(1) {
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
    fn help_is_left_to_glib() {
        assert_eq!(run(&["--help", "--bogus"]), Ok(Check::Run));
    }
}
