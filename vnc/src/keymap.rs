//! Turning the keyboard's hardware keycodes into what QEMU's extended key
//! event carries, so the guest applies its own layout to the keys the user
//! pressed. Owns the Linux evdev → XT (scancode set 1) table; knows nothing
//! of sessions or keysyms.
//!
//! The RFB form of an XT scancode (rfbproto, "QEMU Extended Key Event
//! Message"): a one-byte scancode below 0x80 as it is; a two-byte scancode
//! `0xE0 nn` as `0x80 | nn`. Print Screen goes as 0x54 and Pause as 0xC6,
//! whatever modifiers are down, as rfbproto asks.

/// One table entry per evdev keycode from 0; 0 means "no XT scancode".
/// Values are the RFB form described in the module documentation.
#[rustfmt::skip]
const EVDEV_TO_XT: [u8; 195] = [
    // 0: reserved, then Esc, 1…0, -, =, Backspace, Tab (1–15 equal their scancodes)
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    // 16: Q…P, [, ], Enter, Left Ctrl, A, S
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    // 32: D…L, ;, ', `, Left Shift, \, Z, X, C, V
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    // 48: B, N, M, ",", ., /, Right Shift, KP *, Left Alt, Space, Caps Lock, F1…F5
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    // 64: F6…F10, Num Lock, Scroll Lock, KP 7, 8, 9, -, 4, 5, 6, +, 1
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
    // 80: KP 2, 3, 0, ., (84 unused), Zenkaku/Hankaku, 102nd (ISO \), F11, F12, Ro,
    //     Katakana, Hiragana, Henkan, Katakana/Hiragana, Muhenkan, KP JP comma
    0x50, 0x51, 0x52, 0x53, 0x00, 0x76, 0x56, 0x57, 0x58, 0x73, 0x78, 0x77, 0x79, 0x70, 0x7b, 0x5c,
    // 96: KP Enter, Right Ctrl, KP /, SysRq (Print Screen), Right Alt, Line feed,
    //     Home, Up, Page Up, Left, Right, End, Down, Page Down, Insert, Delete
    0x9c, 0x9d, 0xb5, 0x54, 0xb8, 0x5b, 0xc7, 0xc8, 0xc9, 0xcb, 0xcd, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3,
    // 112: Macro, Mute, Volume Down, Volume Up, Power, KP =, KP ±, Pause, Scale,
    //      KP ",", Hangeul, Hanja, Yen, Left Meta, Right Meta, Compose (Menu)
    0xef, 0xa0, 0xae, 0xb0, 0xde, 0x59, 0xce, 0xc6, 0x8b, 0x7e, 0x00, 0x8d, 0x7d, 0xdb, 0xdc, 0xdd,
    // 128: Stop, Again, Props, Undo, Front, Copy, Open, Paste, Find, Cut, Help,
    //      Menu, Calc, Setup, Sleep, Wake Up
    0xe8, 0x85, 0x86, 0x87, 0x8c, 0xf8, 0x64, 0x65, 0xc1, 0xbc, 0xf5, 0x9e, 0xa1, 0x66, 0xdf, 0xe3,
    // 144: File, Send file, Delete file, Xfer, Prog1, Prog2, WWW, MS-DOS,
    //      Screen lock, Direction, Cycle windows, Mail, Bookmarks, Computer, Back, Forward
    0x67, 0x68, 0x69, 0x93, 0x9f, 0x97, 0x82, 0x6a, 0x92, 0x6b, 0xa6, 0xec, 0xe6, 0xeb, 0xea, 0xe9,
    // 160: Close CD, Eject CD, Eject/Close CD, Next song, Play/Pause, Previous song,
    //      Stop CD, Record, Rewind, Phone, ISO, Config, Home page, Refresh, Exit, Move
    0xa3, 0x6c, 0xfd, 0x99, 0xa2, 0x90, 0xa4, 0xb1, 0x98, 0x63, 0x70, 0x81, 0xb2, 0xe7, 0x71, 0x72,
    // 176: Edit, Scroll up, Scroll down, KP (, KP ), New, Redo, F13, F14, F15,
    //      F16, F17, F18, F19, F20, F21
    0x88, 0x75, 0x8f, 0xf6, 0xfb, 0x89, 0x8a, 0x5d, 0x5e, 0x5f, 0x55, 0x83, 0xf7, 0x84, 0x5a, 0x74,
    // 192: F22, F23, F24
    0xf9, 0x6d, 0x6f,
];

/// The XT scancode, in RFB form, of the key with Linux evdev keycode
/// `keycode` (GDK's hardware keycode minus 8 on X11 and Wayland); `None`
/// for keys without one.
pub fn evdev_to_xt(keycode: u16) -> Option<u32> {
    EVDEV_TO_XT
        .get(usize::from(keycode))
        .copied()
        .filter(|&code| code != 0)
        .map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_block_keys_are_their_own_scancodes() {
        // Esc, A, Enter, Space, F1, F10: a guest sees the same keys pressed.
        assert_eq!(evdev_to_xt(1), Some(0x01));
        assert_eq!(evdev_to_xt(30), Some(0x1e));
        assert_eq!(evdev_to_xt(28), Some(0x1c));
        assert_eq!(evdev_to_xt(57), Some(0x39));
        assert_eq!(evdev_to_xt(59), Some(0x3b));
        assert_eq!(evdev_to_xt(68), Some(0x44));
        assert_eq!(evdev_to_xt(87), Some(0x57));
        assert_eq!(evdev_to_xt(88), Some(0x58));
        // The ISO key left of Z (German <>|).
        assert_eq!(evdev_to_xt(86), Some(0x56));
    }

    #[test]
    fn extended_keys_carry_the_e0_prefix_as_the_high_bit() {
        // rfbproto's own example: Right arrow is E0 4D, sent as 0xCD.
        assert_eq!(evdev_to_xt(106), Some(0xcd));
        assert_eq!(evdev_to_xt(96), Some(0x9c)); // KP Enter, E0 1C
        assert_eq!(evdev_to_xt(97), Some(0x9d)); // Right Ctrl, E0 1D
        assert_eq!(evdev_to_xt(100), Some(0xb8)); // AltGr, E0 38
        assert_eq!(evdev_to_xt(111), Some(0xd3)); // Delete, E0 53
        assert_eq!(evdev_to_xt(125), Some(0xdb)); // Left Super, E0 5B
    }

    #[test]
    fn print_screen_and_pause_use_the_forms_rfbproto_fixes() {
        assert_eq!(evdev_to_xt(99), Some(0x54));
        assert_eq!(evdev_to_xt(119), Some(0xc6));
    }

    #[test]
    fn unknown_keys_have_no_scancode() {
        assert_eq!(evdev_to_xt(0), None);
        assert_eq!(evdev_to_xt(84), None);
        assert_eq!(evdev_to_xt(240), None);
        assert_eq!(evdev_to_xt(u16::MAX), None);
    }
}
