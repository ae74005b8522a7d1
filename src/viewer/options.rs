//! The viewer's command-line options, like virt-viewer's (`--full-screen`,
//! `--view-only`, `--shared`/`--exclusive`, `--zoom`, `--keymap`,
//! `--hotkeys`, `--kiosk`, `--kiosk-quit`): their values parsed and
//! checked, and the key combinations they name. Pure parsing; applying
//! them is the viewer window's job.

use gettextrs::gettext;
use relm4::gtk::glib::translate::IntoGlib;
use relm4::gtk::{gdk, glib};

/// How a viewer window starts, from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewerOptions {
    pub full_screen: bool,
    pub view_only: bool,
    /// `Some(false)` with `--exclusive`: ask the server to disconnect
    /// other clients. `None`: the default, shared.
    pub shared: Option<bool>,
    /// `--zoom` in percent (25–400).
    pub zoom: Option<u32>,
    pub keymap: Vec<KeyRemap>,
    pub hotkeys: Vec<(HotkeyAction, Combo)>,
    /// `--auto-resize`: whether the server follows the window; `None`
    /// leaves it to the setting.
    pub auto_resize: Option<bool>,
    pub kiosk: bool,
    pub kiosk_quit: KioskQuit,
    /// Opened from the command line of the first instance: the viewer is
    /// the app's only window (the manager window is hidden).
    pub standalone: bool,
}

/// What happens in kiosk mode when the connection ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KioskQuit {
    /// Stay, and reconnect.
    #[default]
    Never,
    OnDisconnect,
}

/// The actions `--hotkeys` can bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotkeyAction {
    ToggleFullscreen,
    ReleaseCursor,
    /// Ctrl+Alt+Del to the remote machine.
    SecureAttention,
    ZoomIn,
    ZoomOut,
    ZoomReset,
    /// Closes the viewer, also in kiosk mode (Porthole's own addition).
    Quit,
}

impl HotkeyAction {
    const ALL: [(&'static str, Self); 7] = [
        ("toggle-fullscreen", Self::ToggleFullscreen),
        ("release-cursor", Self::ReleaseCursor),
        ("secure-attention", Self::SecureAttention),
        ("zoom-in", Self::ZoomIn),
        ("zoom-out", Self::ZoomOut),
        ("zoom-reset", Self::ZoomReset),
        ("quit", Self::Quit),
    ];
}

/// A key combination: modifiers and, unless only modifiers make it up
/// (like `ctrl+alt`), a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Combo {
    pub modifiers: gdk::ModifierType,
    pub key: Option<gdk::Key>,
}

/// The modifiers a combination may name.
const MODIFIER_MASK: gdk::ModifierType = gdk::ModifierType::SHIFT_MASK
    .union(gdk::ModifierType::CONTROL_MASK)
    .union(gdk::ModifierType::ALT_MASK)
    .union(gdk::ModifierType::SUPER_MASK);

impl Combo {
    /// Parses `shift+f11`, `ctrl+alt`, `ctrl+alt+end` (case does not matter).
    pub fn parse(text: &str) -> Option<Self> {
        let mut modifiers = gdk::ModifierType::empty();
        let mut key = None;
        for part in text.split('+').map(str::trim) {
            if key.is_some() {
                // Only the last part may be a key.
                return None;
            }
            match modifier(part) {
                Some(m) => modifiers |= m,
                None => key = Some(key_named(part)?),
            }
        }
        (!modifiers.is_empty() || key.is_some()).then_some(Self { modifiers, key })
    }

    /// Whether pressing `keyval` with `state` (the modifiers held before
    /// it) completes this combination.
    pub fn matches(&self, keyval: gdk::Key, state: gdk::ModifierType) -> bool {
        let state = state & MODIFIER_MASK;
        match self.key {
            Some(key) => state == self.modifiers && keyval.to_lower() == key.to_lower(),
            None => {
                // Modifiers only: the pressed key is the last one missing.
                let Some(pressed) = modifier_of_key(keyval) else {
                    return false;
                };
                !state.contains(pressed) && (state | pressed) == self.modifiers
            }
        }
    }

    /// How the combination is shown to the user, e.g. `Ctrl+Alt`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        for (mask, name) in [
            (gdk::ModifierType::CONTROL_MASK, "Ctrl"),
            (gdk::ModifierType::ALT_MASK, "Alt"),
            (gdk::ModifierType::SHIFT_MASK, "Shift"),
            (gdk::ModifierType::SUPER_MASK, "Super"),
        ] {
            if self.modifiers.contains(mask) {
                parts.push(name.to_owned());
            }
        }
        if let Some(key) = self.key {
            let name = key
                .to_upper()
                .name()
                .map_or_else(|| "?".to_owned(), |n| n.to_string());
            parts.push(name);
        }
        parts.join("+")
    }
}

fn modifier(name: &str) -> Option<gdk::ModifierType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "shift" => gdk::ModifierType::SHIFT_MASK,
        "ctrl" | "control" => gdk::ModifierType::CONTROL_MASK,
        "alt" | "meta" => gdk::ModifierType::ALT_MASK,
        "super" | "win" | "logo" => gdk::ModifierType::SUPER_MASK,
        _ => return None,
    })
}

fn modifier_of_key(keyval: gdk::Key) -> Option<gdk::ModifierType> {
    Some(match keyval {
        gdk::Key::Shift_L | gdk::Key::Shift_R => gdk::ModifierType::SHIFT_MASK,
        gdk::Key::Control_L | gdk::Key::Control_R => gdk::ModifierType::CONTROL_MASK,
        gdk::Key::Alt_L | gdk::Key::Alt_R | gdk::Key::Meta_L | gdk::Key::Meta_R => {
            gdk::ModifierType::ALT_MASK
        }
        gdk::Key::Super_L | gdk::Key::Super_R => gdk::ModifierType::SUPER_MASK,
        _ => return None,
    })
}

/// A key by its X keysym name in any case (`f11`, `END`, `Alt_L`, `a`),
/// or the short modifier names virt-viewer's keymaps use (`CTRL`, `SHIFT`).
pub fn key_named(name: &str) -> Option<gdk::Key> {
    let lower = name.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "" => return None,
        "shift" | "shift_l" => Some(gdk::Key::Shift_L),
        "shift_r" => Some(gdk::Key::Shift_R),
        "ctrl" | "control" | "ctrl_l" | "control_l" => Some(gdk::Key::Control_L),
        "ctrl_r" | "control_r" => Some(gdk::Key::Control_R),
        "alt" | "alt_l" => Some(gdk::Key::Alt_L),
        "alt_r" => Some(gdk::Key::Alt_R),
        "super" | "super_l" => Some(gdk::Key::Super_L),
        "super_r" => Some(gdk::Key::Super_R),
        "del" => Some(gdk::Key::Delete),
        "esc" => Some(gdk::Key::Escape),
        "printscreen" | "print" => Some(gdk::Key::Print),
        _ => None,
    };
    if alias.is_some() {
        return alias;
    }
    // X keysym names are case-sensitive: try it as given, lower case, and
    // with each word capitalised (`page_up` → `Page_Up`, `f11` → `F11`).
    let title: String = lower
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect::<Vec<_>>()
        .join("_");
    [name.to_owned(), lower, title]
        .iter()
        .find_map(|candidate| gdk::Key::from_name(candidate.as_str()))
}

/// `--keymap` entry: a local key becomes a combination of remote keys, or
/// nothing (`Void`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRemap {
    pub from: gdk::Key,
    /// Keysyms pressed in order and released in reverse; empty: swallowed.
    pub to: Vec<u32>,
}

/// Parses `--keymap` like virt-viewer's: `F1=SHIFT+CTRL+F1,1=SHIFT+F1,ALT_L=Void`.
pub fn parse_keymap(text: &str) -> Result<Vec<KeyRemap>, String> {
    let bad = |entry: &str| {
        gettext("invalid --keymap entry “{}”: write KEY=KEY+KEY… (X key names, e.g. F1=CTRL+ALT+F1) or KEY=Void").replace("{}", entry)
    };
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (from, to) = entry.split_once('=').ok_or_else(|| bad(entry))?;
            let from = key_named(from.trim()).ok_or_else(|| bad(entry))?;
            let to = if to.trim().eq_ignore_ascii_case("void") {
                Vec::new()
            } else {
                to.split('+')
                    .map(|name| key_named(name.trim()).map(|k| k.into_glib()))
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| bad(entry))?
            };
            Ok(KeyRemap { from, to })
        })
        .collect()
}

/// Parses `--hotkeys` like virt-viewer's:
/// `toggle-fullscreen=shift+f11,release-cursor=ctrl+alt`.
pub fn parse_hotkeys(text: &str) -> Result<Vec<(HotkeyAction, Combo)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, combo) = entry.split_once('=').ok_or_else(|| {
                gettext("invalid --hotkeys entry “{}”: write ACTION=KEYS, e.g. toggle-fullscreen=shift+f11").replace("{}", entry)
            })?;
            let action = HotkeyAction::ALL
                .iter()
                .find(|(n, _)| *n == name.trim())
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    let names: Vec<&str> = HotkeyAction::ALL.iter().map(|(n, _)| *n).collect();
                    gettext("unknown --hotkeys action “{}”; the actions are: ")
                        .replace("{}", name.trim())
                        + &names.join(", ")
                })?;
            let combo = Combo::parse(combo).ok_or_else(|| {
                gettext("invalid key combination “{}” in --hotkeys: write modifiers and a key joined by +, e.g. ctrl+alt+end").replace("{}", combo)
            })?;
            Ok((action, combo))
        })
        .collect()
}

/// Parses `--zoom` in percent: 25 to 400.
pub fn parse_zoom(text: &str) -> Result<u32, String> {
    text.trim()
        .trim_end_matches('%')
        .parse::<u32>()
        .ok()
        .filter(|z| (25..=400).contains(z))
        .ok_or_else(|| {
            gettext("invalid --zoom “{}”: give a percentage from 25 to 400").replace("{}", text)
        })
}

/// Parses `--auto-resize` like remote-viewer's: `always` or `never`.
pub fn parse_auto_resize(text: &str) -> Result<bool, String> {
    match text.trim() {
        "always" => Ok(true),
        "never" => Ok(false),
        _ => Err(gettext("invalid --auto-resize “{}”: use always or never").replace("{}", text)),
    }
}

pub fn parse_kiosk_quit(text: &str) -> Result<KioskQuit, String> {
    match text.trim() {
        "never" => Ok(KioskQuit::Never),
        "on-disconnect" => Ok(KioskQuit::OnDisconnect),
        _ => Err(
            gettext("invalid --kiosk-quit “{}”: use never or on-disconnect").replace("{}", text),
        ),
    }
}

/// A viewer option as the command line and `--help` know it.
#[derive(Debug)]
pub struct OptionSpec {
    pub long: &'static str,
    /// A one-letter form, `0` for none.
    pub short: u8,
    /// What the value is (`--help` shows it); `None` for a flag.
    pub value_name: Option<fn() -> String>,
    pub description: fn() -> String,
}

pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        long: "full-screen",
        short: b'f',
        value_name: None,
        description: || gettext("Open the viewer in fullscreen"),
    },
    OptionSpec {
        long: "view-only",
        short: 0,
        value_name: None,
        description: || gettext("Show the remote screen without sending keyboard or pointer input"),
    },
    OptionSpec {
        long: "shared",
        short: 0,
        value_name: None,
        description: || gettext("Let other viewers stay connected (the default)"),
    },
    OptionSpec {
        long: "exclusive",
        short: 0,
        value_name: None,
        description: || gettext("Ask the server to disconnect other viewers"),
    },
    OptionSpec {
        long: "zoom",
        short: b'z',
        value_name: Some(|| gettext("PERCENT")),
        description: || gettext("Zoom level of the remote screen, 25 to 400"),
    },
    OptionSpec {
        long: "auto-resize",
        short: 0,
        value_name: Some(|| gettext("always|never")),
        description: || gettext("Whether the remote screen follows the window size"),
    },
    OptionSpec {
        long: "keymap",
        short: 0,
        value_name: Some(|| gettext("KEY=KEY+KEY,…")),
        description: || gettext("Remap keys, e.g. F1=CTRL+ALT+F1,ALT_L=Void"),
    },
    OptionSpec {
        long: "hotkeys",
        short: 0,
        value_name: Some(|| gettext("ACTION=KEYS,…")),
        description: || {
            gettext("Key bindings: toggle-fullscreen, release-cursor, secure-attention, zoom-in, zoom-out, zoom-reset, quit; e.g. toggle-fullscreen=shift+f11")
        },
    },
    OptionSpec {
        long: "kiosk",
        short: b'k',
        value_name: None,
        description: || {
            gettext("Kiosk mode: fullscreen, no menus, no way out but the configured hotkeys")
        },
    },
    OptionSpec {
        long: "kiosk-quit",
        short: 0,
        value_name: Some(|| gettext("never|on-disconnect")),
        description: || gettext("Whether kiosk mode quits when the connection ends"),
    },
];

impl ViewerOptions {
    /// Takes one option (`long` as in [`OPTIONS`]) with its value.
    fn set(&mut self, long: &str, value: Option<&str>) -> Result<(), String> {
        let value = value.unwrap_or_default();
        match long {
            "full-screen" => self.full_screen = true,
            "view-only" => self.view_only = true,
            "shared" | "exclusive" => {
                let shared = long == "shared";
                if self.shared.is_some_and(|s| s != shared) {
                    return Err(gettext(
                        "--shared and --exclusive contradict each other: give one",
                    ));
                }
                self.shared = Some(shared);
            }
            "zoom" => self.zoom = Some(parse_zoom(value)?),
            "auto-resize" => self.auto_resize = Some(parse_auto_resize(value)?),
            "keymap" => self.keymap = parse_keymap(value)?,
            "hotkeys" => self.hotkeys = parse_hotkeys(value)?,
            "kiosk" => self.kiosk = true,
            "kiosk-quit" => self.kiosk_quit = parse_kiosk_quit(value)?,
            _ => {}
        }
        Ok(())
    }

    /// The options GApplication parsed (the same ones [`Self::take_argument`] checked).
    pub fn from_dict(dict: &glib::VariantDict) -> Result<Self, String> {
        let mut options = Self::default();
        for spec in OPTIONS {
            let Some(value) = dict.lookup_value(spec.long, None) else {
                continue;
            };
            let text = value.get::<String>();
            if spec.value_name.is_none() && value.get::<bool>() == Some(false) {
                continue;
            }
            options.set(spec.long, text.as_deref())?;
        }
        Ok(options)
    }

    /// If `arg` is a viewer option, takes it (and its value, attached with
    /// `=` or the next argument from `rest`) and checks it; `None` when it
    /// is not one.
    pub fn take_argument<'a>(
        &mut self,
        arg: &str,
        rest: &mut impl Iterator<Item = &'a String>,
    ) -> Option<Result<(), String>> {
        let (spec, attached) = if let Some(body) = arg.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            (OPTIONS.iter().find(|o| o.long == name)?, attached)
        } else {
            let short = arg.strip_prefix('-')?.as_bytes();
            let (&letter, attached) = short.split_first()?;
            let spec = OPTIONS.iter().find(|o| o.short != 0 && o.short == letter)?;
            let attached = std::str::from_utf8(attached).ok().filter(|a| !a.is_empty());
            (spec, attached.map(|a| a.trim_start_matches('=')))
        };
        let value = match (spec.value_name, attached) {
            (None, None) => None,
            (None, Some(_)) => {
                return Some(Err(gettext(
                    "option “--{}” takes no value; see porthole --help",
                )
                .replace("{}", spec.long)))
            }
            (Some(_), Some(value)) => Some(value),
            (Some(_), None) => match rest.next() {
                Some(value) => Some(value.as_str()),
                None => {
                    return Some(Err(gettext(
                        "option “--{}” needs a value; see porthole --help",
                    )
                    .replace("{}", spec.long)))
                }
            },
        };
        Some(self.set(spec.long, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotkeys_parse_like_virt_viewer() {
        let hotkeys = parse_hotkeys(
            "toggle-fullscreen=shift+f11,release-cursor=ctrl+alt,secure-attention=ctrl+alt+end",
        )
        .unwrap();
        assert_eq!(hotkeys.len(), 3);
        assert_eq!(hotkeys[0].0, HotkeyAction::ToggleFullscreen);
        assert_eq!(hotkeys[0].1.key, Some(gdk::Key::F11));
        assert_eq!(hotkeys[0].1.modifiers, gdk::ModifierType::SHIFT_MASK);
        assert_eq!(hotkeys[1].1.key, None);
        assert_eq!(hotkeys[1].1.label(), "Ctrl+Alt");
        assert_eq!(hotkeys[2].1.label(), "Ctrl+Alt+End");
        assert!(parse_hotkeys("launch-rockets=ctrl+x")
            .unwrap_err()
            .contains("launch-rockets"));
        assert!(parse_hotkeys("zoom-in=ctrl+nosuchkey").is_err());
        assert!(parse_hotkeys("zoom-in").is_err());
    }

    #[test]
    fn combos_match_the_keys_that_complete_them() {
        let f11 = Combo::parse("shift+F11").unwrap();
        assert!(f11.matches(gdk::Key::F11, gdk::ModifierType::SHIFT_MASK));
        assert!(!f11.matches(gdk::Key::F11, gdk::ModifierType::empty()));
        let ctrl_alt = Combo::parse("ctrl+alt").unwrap();
        assert!(ctrl_alt.matches(gdk::Key::Alt_L, gdk::ModifierType::CONTROL_MASK));
        assert!(ctrl_alt.matches(gdk::Key::Control_R, gdk::ModifierType::ALT_MASK));
        assert!(!ctrl_alt.matches(gdk::Key::Alt_L, gdk::ModifierType::empty()));
    }

    #[test]
    fn keymap_maps_keys_to_combinations_or_nothing() {
        let map = parse_keymap("F1=SHIFT+CTRL+F1,1=SHIFT+F1,ALT_L=Void").unwrap();
        assert_eq!(map[0].from, gdk::Key::F1);
        assert_eq!(map[0].to, vec![0xffe1, 0xffe3, 0xffbe]);
        assert_eq!(map[1].from, gdk::Key::_1);
        assert_eq!(map[2].from, gdk::Key::Alt_L);
        assert!(map[2].to.is_empty());
        assert!(parse_keymap("F1").is_err());
        assert!(parse_keymap("F1=NOPE").unwrap_err().contains("F1=NOPE"));
    }

    fn take(args: &[&str]) -> Result<ViewerOptions, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut options = ViewerOptions::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            options.take_argument(arg, &mut rest).expect(arg)?;
        }
        Ok(options)
    }

    #[test]
    fn arguments_with_attached_and_separate_values() {
        let options = take(&["--zoom", "200", "-f", "--kiosk-quit=on-disconnect", "-z50"]).unwrap();
        assert_eq!(options.zoom, Some(50));
        assert!(options.full_screen);
        assert_eq!(options.kiosk_quit, KioskQuit::OnDisconnect);
        assert_eq!(take(&["--exclusive"]).unwrap().shared, Some(false));
        assert!(take(&["--shared", "--exclusive"])
            .unwrap_err()
            .contains("--exclusive"));
        assert!(take(&["--zoom"]).unwrap_err().contains("--zoom"));
        assert!(take(&["--kiosk=yes"]).is_err());
        let mut options = ViewerOptions::default();
        assert!(options
            .take_argument("--connect", &mut std::iter::empty())
            .is_none());
    }

    #[test]
    fn zoom_and_kiosk_quit_values() {
        assert_eq!(parse_zoom("150"), Ok(150));
        assert_eq!(parse_zoom("25%"), Ok(25));
        assert!(parse_zoom("10").is_err());
        assert!(parse_zoom("401").is_err());
        assert!(parse_zoom("big").unwrap_err().contains("big"));
        assert_eq!(
            parse_kiosk_quit("on-disconnect"),
            Ok(KioskQuit::OnDisconnect)
        );
        assert!(parse_kiosk_quit("sometimes").is_err());
        assert_eq!(parse_auto_resize("never"), Ok(false));
        assert!(parse_auto_resize("maybe").is_err());
    }
}
