//! Extension tests: ExtendedDesktopSize and SetDesktopSize, WMVi, the alpha
//! cursor, the extended clipboard, fences and continuous updates, xvp, the
//! QEMU messages and extended mouse buttons — server bytes fed one at a
//! time, client bytes and events checked.

use std::io::{Read, Write};

use super::*;
use crate::proto::extensions::pseudo_encoding as pseudo;

fn screen_bytes(id: u32, x: u16, y: u16, w: u16, h: u16, flags: u32) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    for v in [x, y, w, h] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out
}

/// An update holding one ExtendedDesktopSize rectangle.
fn layout_update(reason: u16, status: u16, w: u16, h: u16, screens: &[Vec<u8>]) -> Vec<u8> {
    let mut out = update_header(1);
    out.extend(rect_header(
        reason,
        status,
        w,
        h,
        pseudo::EXTENDED_DESKTOP_SIZE,
    ));
    out.extend_from_slice(&[screens.len() as u8, 0, 0, 0]);
    for s in screens {
        out.extend_from_slice(s);
    }
    out
}

/// An update holding one empty pseudo-rectangle.
fn pseudo_update(x: u16, encoding: i32) -> Vec<u8> {
    let mut out = update_header(1);
    out.extend(rect_header(x, 0, 0, 0, encoding));
    out
}

fn has_full_request(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == [3, 0])
}

const SCREEN: Screen = Screen {
    id: 0x1234_5678,
    x: 0,
    y: 0,
    width: 10,
    height: 6,
    flags: 0x8000_0001,
};

/// A session that has seen the server's initial layout (10×6, one screen).
fn resizable() -> Session {
    let mut session = connected(4, 3);
    let screen = screen_bytes(SCREEN.id, 0, 0, 10, 6, SCREEN.flags);
    session
        .feed(&layout_update(0, 0, 10, 6, &[screen]))
        .unwrap();
    events(&mut session);
    sent(&mut session);
    session
}

#[test]
fn the_initial_layout_resizes_without_a_full_request_and_enables_resizing() {
    let mut session = connected(4, 3);
    assert!(!session.can_resize());
    assert_eq!(
        session.request_desktop_size(800, 600),
        Err(Error::Unsupported("changing the desktop size"))
    );
    let screen = screen_bytes(SCREEN.id, 0, 0, 10, 6, SCREEN.flags);
    feed_bytewise(&mut session, &layout_update(0, 0, 10, 6, &[screen])).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::Resized {
                width: 10,
                height: 6
            },
            Event::DesktopLayout {
                reason: ResizeReason::Server,
                status: ResizeStatus::Ok,
                width: 10,
                height: 6,
                screens: vec![SCREEN],
            },
        ]
    );
    assert!(session.can_resize());
    assert_eq!(session.screens(), [SCREEN]);
    // Incremental requests only: a full one would bring another layout
    // rectangle, and so on forever.
    let mut expected = full_request(true, 4, 3);
    expected.extend(full_request(true, 10, 6));
    assert_eq!(sent(&mut session), expected);
}

#[test]
fn a_resize_request_keeps_the_screen_id_and_flags() {
    let mut session = resizable();
    session.request_desktop_size(800, 600).unwrap();
    let mut expected = vec![251, 0, 0x03, 0x20, 0x02, 0x58, 1, 0];
    expected.extend(screen_bytes(SCREEN.id, 0, 0, 800, 600, SCREEN.flags));
    assert_eq!(sent(&mut session), expected);
    assert!(matches!(
        session.request_desktop_size(0, 600),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        session.request_desktop_size(16385, 600),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn a_refused_resize_reports_the_status_and_keeps_the_screen() {
    let mut session = resizable();
    session.request_desktop_size(800, 600).unwrap();
    sent(&mut session);
    // Fields other than the status are undefined in a failure.
    let garbage = screen_bytes(9, 9, 9, 9, 9, 9);
    feed_bytewise(&mut session, &layout_update(1, 1, 9999, 9999, &[garbage])).unwrap();
    assert_eq!(
        events(&mut session),
        vec![Event::DesktopLayout {
            reason: ResizeReason::ThisClient,
            status: ResizeStatus::Prohibited,
            width: 10,
            height: 6,
            screens: vec![SCREEN],
        },]
    );
    assert_eq!(session.framebuffer().width(), 10);
    assert!(!has_full_request(&sent(&mut session)));
}

#[test]
fn a_forwarded_resize_completes_later_as_a_server_change() {
    let mut session = resizable();
    session.request_desktop_size(20, 8).unwrap();
    feed_bytewise(&mut session, &layout_update(1, 4, 0, 0, &[])).unwrap();
    let first = events(&mut session);
    assert!(matches!(
        first[0],
        Event::DesktopLayout {
            reason: ResizeReason::ThisClient,
            status: ResizeStatus::Forwarded,
            width: 10,
            ..
        }
    ));
    let screen = screen_bytes(0, 0, 0, 20, 8, 0);
    feed_bytewise(&mut session, &layout_update(0, 0, 20, 8, &[screen])).unwrap();
    let later = events(&mut session);
    assert_eq!(
        later[0],
        Event::Resized {
            width: 20,
            height: 8
        }
    );
    assert_eq!(session.framebuffer().height(), 8);
    assert!(!has_full_request(&sent(&mut session)));
}

#[test]
fn other_clients_and_unknown_reasons_and_statuses_are_reported() {
    let mut session = resizable();
    session.feed(&layout_update(2, 0, 12, 6, &[])).unwrap();
    assert!(matches!(
        events(&mut session)[1],
        Event::DesktopLayout {
            reason: ResizeReason::OtherClient,
            width: 12,
            ..
        }
    ));
    session.feed(&layout_update(7, 9, 12, 6, &[])).unwrap();
    assert!(matches!(
        events(&mut session)[0],
        Event::DesktopLayout {
            reason: ResizeReason::Server,
            status: ResizeStatus::Unknown(9),
            ..
        }
    ));
}

#[test]
fn a_layout_over_the_limits_is_refused() {
    let mut session = connected(4, 3);
    let err = session
        .feed(&layout_update(0, 0, 20000, 6, &[]))
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}

fn rgb565() -> PixelFormat {
    PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    }
}

#[test]
fn wmvi_switches_size_and_pixel_format_mid_stream() {
    let mut session = connected(4, 3);
    let mut stream = update_header(2);
    stream.extend(rect_header(0, 0, 2, 1, pseudo::VMWARE_DISPLAY_MODE_CHANGE));
    stream.extend_from_slice(&rgb565().to_bytes());
    stream.extend(rect_header(0, 0, 1, 1, encoding::RAW));
    stream.extend_from_slice(&0xf800u16.to_le_bytes()); // pure red in RGB565
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(session.pixel_format(), &rgb565());
    assert_eq!(session.framebuffer().width(), 2);
    assert_eq!(pixel(&session, 0, 0), [0, 0, 255, 255]);
}

/// An alpha cursor rectangle with hotspot (`x`, `y`).
fn alpha_cursor(x: u16, y: u16, w: u16, h: u16, encoding: i32, data: &[u8]) -> Vec<u8> {
    let mut out = update_header(1);
    out.extend(rect_header(x, y, w, h, pseudo::CURSOR_WITH_ALPHA));
    out.extend_from_slice(&encoding.to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn cursor_of(events: &[Event]) -> &CursorImage {
    events
        .iter()
        .find_map(|e| match e {
            Event::Cursor(c) => Some(c),
            _ => None,
        })
        .expect("no cursor event")
}

use crate::decode::cursor::CursorImage;

#[test]
fn an_alpha_cursor_in_raw_becomes_straight_rgba() {
    let mut session = connected(4, 3);
    // Premultiplied: half-transparent red, fully transparent, opaque white.
    let data = [128, 0, 0, 128, 0, 0, 0, 0, 255, 255, 255, 255];
    feed_bytewise(
        &mut session,
        &alpha_cursor(2, 0, 3, 1, encoding::RAW, &data),
    )
    .unwrap();
    let events = events(&mut session);
    let cursor = cursor_of(&events);
    assert_eq!(
        (cursor.width, cursor.height, cursor.hot_x, cursor.hot_y),
        (3, 1, 2, 0)
    );
    assert_eq!(
        cursor.rgba,
        [255, 0, 0, 128, 0, 0, 0, 0, 255, 255, 255, 255]
    );
    // The screen's own pixels are untouched, and no picture completed.
    assert!(!events.contains(&Event::UpdateComplete));
    assert_eq!(pixel(&session, 0, 0), [0, 0, 0, 255]);
}

#[test]
fn an_alpha_cursor_in_rre_keeps_its_alpha() {
    let mut session = connected(4, 3);
    let mut data = 1u32.to_be_bytes().to_vec();
    data.extend_from_slice(&[0, 0, 0, 0]); // transparent background
    data.extend_from_slice(&[64, 32, 16, 128]); // one subrectangle
    for v in [1u16, 0, 1, 1] {
        data.extend_from_slice(&v.to_be_bytes());
    }
    feed_bytewise(
        &mut session,
        &alpha_cursor(0, 0, 2, 1, encoding::RRE, &data),
    )
    .unwrap();
    let events = events(&mut session);
    assert_eq!(cursor_of(&events).rgba, [0, 0, 0, 0, 128, 64, 32, 128]);
}

#[test]
fn an_oversized_alpha_cursor_is_refused_before_its_data() {
    let mut session = connected(4, 3);
    let err = session
        .feed(&alpha_cursor(0, 0, 2000, 1, encoding::RAW, &[]))
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}

// ---- extended clipboard ----

fn extended_cut_text(flags: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![3, 0, 0, 0];
    out.extend_from_slice(&(-(4 + body.len() as i32)).to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn unzlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const CAPS: u32 = 1 << 24;
const REQUEST: u32 = 1 << 25;
const PEEK: u32 = 1 << 26;
const NOTIFY: u32 = 1 << 27;
const PROVIDE: u32 = 1 << 28;
const TEXT: u32 = 1;

/// A session whose server announced the extended clipboard (TigerVNC's
/// caps: text, rtf, html with their sizes).
fn with_extended_clipboard() -> Session {
    let mut session = connected(4, 3);
    let mut sizes = Vec::new();
    for size in [20u32 << 20, 0, 0] {
        sizes.extend_from_slice(&size.to_be_bytes());
    }
    let caps = CAPS | REQUEST | PEEK | NOTIFY | PROVIDE | 0b111;
    feed_bytewise(&mut session, &extended_cut_text(caps, &sizes)).unwrap();
    assert_eq!(
        events(&mut session),
        vec![Event::Supported(Extension::ExtendedClipboard)]
    );
    // Our caps: text, every action, and 0 bytes unsolicited.
    let ours = CAPS | REQUEST | PEEK | NOTIFY | PROVIDE | TEXT;
    let mut expected = vec![6, 0, 0, 0];
    expected.extend_from_slice(&(-8i32).to_be_bytes());
    expected.extend_from_slice(&ours.to_be_bytes());
    expected.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(sent(&mut session), expected);
    session
}

#[test]
fn server_text_is_requested_on_notify_and_arrives_as_utf8() {
    let mut session = with_extended_clipboard();
    feed_bytewise(&mut session, &extended_cut_text(NOTIFY | TEXT, &[])).unwrap();
    let mut request = vec![6, 0, 0, 0];
    request.extend_from_slice(&(-4i32).to_be_bytes());
    request.extend_from_slice(&(REQUEST | TEXT).to_be_bytes());
    assert_eq!(sent(&mut session), request);

    let text = "ä ø Я € 漢字 😎\r\nzwei\0";
    let mut payload = (text.len() as u32).to_be_bytes().to_vec();
    payload.extend_from_slice(text.as_bytes());
    let message = extended_cut_text(PROVIDE | TEXT, &zlib(&payload));
    feed_bytewise(&mut session, &message).unwrap();
    assert_eq!(
        events(&mut session),
        vec![Event::ClipboardText("ä ø Я € 漢字 😎\nzwei".into())]
    );
}

#[test]
fn provided_formats_other_than_text_are_skipped() {
    let mut session = with_extended_clipboard();
    let mut payload = Vec::new();
    payload.extend_from_slice(&3u32.to_be_bytes());
    payload.extend_from_slice(b"hi\0");
    payload.extend_from_slice(&5u32.to_be_bytes());
    payload.extend_from_slice(b"{\\rtf");
    let message = extended_cut_text(PROVIDE | TEXT | 2, &zlib(&payload));
    session.feed(&message).unwrap();
    assert_eq!(
        events(&mut session),
        vec![Event::ClipboardText("hi".into())]
    );
}

#[test]
fn our_text_is_announced_then_provided_on_request_as_crlf_utf8() {
    let mut session = with_extended_clipboard();
    session.send_clipboard_text("漢字\nä");
    let mut notify = vec![6, 0, 0, 0];
    notify.extend_from_slice(&(-4i32).to_be_bytes());
    notify.extend_from_slice(&(NOTIFY | TEXT).to_be_bytes());
    assert_eq!(sent(&mut session), notify);

    feed_bytewise(&mut session, &extended_cut_text(REQUEST | TEXT, &[])).unwrap();
    let out = sent(&mut session);
    assert_eq!(&out[..4], &[6, 0, 0, 0]);
    let len = i32::from_be_bytes(out[4..8].try_into().unwrap());
    assert_eq!(len.unsigned_abs() as usize, out.len() - 8);
    assert_eq!(
        u32::from_be_bytes(out[8..12].try_into().unwrap()),
        PROVIDE | TEXT
    );
    let text = "漢字\r\nä\0".as_bytes();
    let mut expected = (text.len() as u32).to_be_bytes().to_vec();
    expected.extend_from_slice(text);
    assert_eq!(unzlib(&out[12..]), expected);

    // A peek is answered with what we have.
    session.feed(&extended_cut_text(PEEK, &[])).unwrap();
    assert_eq!(sent(&mut session), notify);
}

#[test]
fn without_the_extension_text_goes_as_latin1() {
    let mut session = connected(4, 3);
    session.send_clipboard_text("aä€");
    assert_eq!(
        sent(&mut session),
        [6, 0, 0, 0, 0, 0, 0, 3, b'a', 0xe4, b'?']
    );
}

#[test]
fn a_clipboard_bomb_stops_at_the_limit() {
    let mut config = Config::default();
    config.limits.max_cut_text = 4096;
    let mut session = connected_with(config, 4, 3);
    let mut payload = (1u32 << 20).to_be_bytes().to_vec();
    payload.extend(std::iter::repeat_n(b'a', 1 << 20));
    let message = extended_cut_text(PROVIDE | TEXT, &zlib(&payload));
    assert!(message.len() < 4096);
    let err = session.feed(&message).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}

#[test]
fn corrupt_or_short_clipboard_messages_are_errors() {
    let mut session = connected(4, 3);
    let err = session
        .feed(&extended_cut_text(PROVIDE | TEXT, b"not zlib"))
        .unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    let mut session = connected(4, 3);
    // -2: a message too short for its flags.
    let err = session
        .feed(&[3, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0])
        .unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
}

// ---- fences and continuous updates ----

fn server_fence(flags: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![248, 0, 0, 0];
    out.extend_from_slice(&flags.to_be_bytes());
    out.push(payload.len() as u8);
    out.extend_from_slice(payload);
    out
}

#[test]
fn fences_are_echoed_at_once_without_the_request_bit_or_unknown_flags() {
    let mut session = connected(4, 3);
    let flags = (1 << 31) | 1 | (1 << 7);
    feed_bytewise(&mut session, &server_fence(flags, b"ping")).unwrap();
    assert_eq!(sent(&mut session), server_fence(1, b"ping"));
    // An answer to nothing we asked is ignored.
    session.feed(&server_fence(1, b"pong")).unwrap();
    assert!(sent(&mut session).is_empty());
    let err = session.feed(&server_fence(1 << 31, &[0; 65])).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
}

#[test]
fn continuous_updates_replace_update_requests() {
    let mut session = connected(4, 3);
    assert!(!session.continuous_updates());
    feed_bytewise(&mut session, &[150]).unwrap();
    assert!(session.continuous_updates());
    assert_eq!(sent(&mut session), [150, 1, 0, 0, 0, 0, 0, 4, 0, 3]);
    session.feed(&update_header(0)).unwrap();
    assert!(
        sent(&mut session).is_empty(),
        "no request under continuous updates"
    );
    // A resize moves the continuous area to the new screen.
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 8, 5, encoding::DESKTOP_SIZE));
    session.feed(&stream).unwrap();
    assert_eq!(sent(&mut session), [150, 1, 0, 0, 0, 0, 0, 8, 0, 5]);
}

#[test]
fn a_pixel_format_change_waits_for_the_fence_to_come_back() {
    let mut session = connected(4, 3);
    session.feed(&server_fence(1 << 31, b"")).unwrap();
    sent(&mut session);
    session.set_pixel_format(rgb565()).unwrap();
    let out = sent(&mut session);
    assert_eq!(out[0], 248);
    let flags = u32::from_be_bytes(out[4..8].try_into().unwrap());
    assert_eq!(flags, (1 << 31) | 1 | 4, "request, block before, sync next");
    let payload_len = usize::from(out[8]);
    let payload = out[9..9 + payload_len].to_vec();
    assert_eq!(
        &out[9 + payload_len..][..4],
        &[0, 0, 0, 0],
        "SetPixelFormat"
    );
    // Still the old format until the server answers the fence.
    let mut stream = update_header(1);
    stream.extend(raw_rect(0, 0, 1, 1, [1, 2, 3]));
    stream.extend(server_fence(1 | 4, &payload));
    stream.extend(update_header(1));
    stream.extend(rect_header(1, 0, 1, 1, encoding::RAW));
    stream.extend_from_slice(&0x001fu16.to_le_bytes()); // blue in RGB565
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(pixel(&session, 0, 0), [1, 2, 3, 255]);
    assert_eq!(pixel(&session, 1, 0), [255, 0, 0, 255]);
    assert_eq!(session.pixel_format(), &rgb565());
}

// ---- xvp, QEMU, mouse ----

#[test]
fn xvp_works_once_the_server_offers_it_and_reports_failure() {
    let mut session = connected(4, 3);
    assert_eq!(
        session.xvp(XvpAction::Reboot),
        Err(Error::Unsupported("power actions (xvp)"))
    );
    feed_bytewise(&mut session, &[250, 0, 1, 1]).unwrap();
    assert_eq!(events(&mut session), vec![Event::Supported(Extension::Xvp)]);
    assert!(session.has_xvp());
    session.xvp(XvpAction::Shutdown).unwrap();
    session.xvp(XvpAction::Reboot).unwrap();
    session.xvp(XvpAction::Reset).unwrap();
    assert_eq!(
        sent(&mut session),
        [250, 0, 1, 2, 250, 0, 1, 3, 250, 0, 1, 4]
    );
    feed_bytewise(&mut session, &[250, 0, 1, 0]).unwrap();
    assert_eq!(events(&mut session), vec![Event::XvpFailed]);
}

#[test]
fn scancodes_go_out_only_after_qemu_confirmed_extended_keys() {
    let mut session = connected(4, 3);
    session.key_event_scancode(true, 0xff1b, 0x01);
    assert_eq!(sent(&mut session), [4, 1, 0, 0, 0, 0, 0xff, 0x1b]);
    feed_bytewise(
        &mut session,
        &pseudo_update(0, pseudo::QEMU_EXTENDED_KEY_EVENT),
    )
    .unwrap();
    sent(&mut session);
    assert_eq!(
        events(&mut session),
        vec![Event::Supported(Extension::ExtendedKeys),]
    );
    assert!(session.has_extended_keys());
    session.key_event_scancode(false, 0xff53, 0xcd);
    assert_eq!(
        sent(&mut session),
        [255, 0, 0, 0, 0, 0, 0xff, 0x53, 0, 0, 0, 0xcd]
    );
    // An unknown keycode falls back to the keysym.
    session.key_event_scancode(true, 0x61, 0);
    assert_eq!(sent(&mut session), [4, 1, 0, 0, 0, 0, 0, 0x61]);
}

#[test]
fn led_state_and_pointer_mode() {
    let mut session = connected(4, 3);
    let mut stream = update_header(3);
    stream.extend(rect_header(0, 0, 0, 0, pseudo::QEMU_LED_STATE));
    stream.push(0b101);
    stream.extend(rect_header(0, 0, 0, 0, pseudo::QEMU_POINTER_MOTION_CHANGE));
    stream.extend(rect_header(1, 0, 0, 0, pseudo::QEMU_POINTER_MOTION_CHANGE));
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::Leds {
                caps: true,
                num: false,
                scroll: true
            },
            Event::PointerMode { relative: true },
            Event::PointerMode { relative: false },
        ]
    );
    assert!(!session.relative_pointer());
}

#[test]
fn audio_waits_for_the_acknowledgement_then_streams() {
    let mut session = connected(4, 3);
    assert_eq!(session.audio_enable(true), Err(Error::Unsupported("audio")));
    assert!(sent(&mut session).is_empty());
    session.feed(&pseudo_update(0, pseudo::QEMU_AUDIO)).unwrap();
    sent(&mut session);
    assert_eq!(events(&mut session)[0], Event::Supported(Extension::Audio));
    let format = AudioFormat {
        sample: SampleFormat::S16,
        channels: 2,
        frequency: 48000,
    };
    session.audio_set_format(format).unwrap();
    session.audio_enable(true).unwrap();
    assert_eq!(
        sent(&mut session),
        [255, 1, 0, 2, 3, 2, 0, 0, 0xbb, 0x80, 255, 1, 0, 0]
    );
    let mut stream = vec![255, 1, 0, 1];
    stream.extend_from_slice(&[255, 1, 0, 2, 0, 0, 0, 4, 1, 2, 3, 4]);
    stream.extend_from_slice(&[255, 1, 0, 0]);
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::AudioStarted(format),
            Event::AudioData(vec![1, 2, 3, 4]),
            Event::AudioStopped
        ]
    );
    let err = session
        .feed(&[255, 1, 0, 2, 0xff, 0xff, 0xff, 0xff])
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}

#[test]
fn extended_mouse_buttons_use_the_marker_bit_only_once_confirmed() {
    let mut session = connected(4, 3);
    // Back (bit 7) and forward (bit 8) before the server confirmed: back
    // rides in the plain message, forward cannot.
    session.pointer_event_buttons(1, 2, 0x181);
    assert_eq!(sent(&mut session), [5, 0x81, 0, 1, 0, 2]);
    feed_bytewise(
        &mut session,
        &pseudo_update(0, pseudo::EXTENDED_MOUSE_BUTTONS),
    )
    .unwrap();
    sent(&mut session);
    assert_eq!(
        events(&mut session)[0],
        Event::Supported(Extension::ExtendedMouseButtons)
    );
    session.pointer_event_buttons(1, 2, 0x181);
    assert_eq!(sent(&mut session), [5, 0x81, 0, 1, 0, 2, 0b11]);
    // The plain call with bit 7 (back) now needs the extended form too.
    session.pointer_event(1, 2, 0x80);
    assert_eq!(sent(&mut session), [5, 0x80, 0, 1, 0, 2, 0b01]);
    session.pointer_event(1, 2, 0x01);
    assert_eq!(sent(&mut session), [5, 0x01, 0, 1, 0, 2]);
}

#[test]
fn every_extension_is_announced() {
    for e in [
        pseudo::EXTENDED_DESKTOP_SIZE,
        pseudo::CURSOR_WITH_ALPHA,
        pseudo::VMWARE_DISPLAY_MODE_CHANGE,
        pseudo::FENCE,
        pseudo::CONTINUOUS_UPDATES,
        pseudo::EXTENDED_CLIPBOARD,
        pseudo::XVP,
        pseudo::EXTENDED_MOUSE_BUTTONS,
        pseudo::QEMU_EXTENDED_KEY_EVENT,
        pseudo::QEMU_LED_STATE,
        pseudo::QEMU_AUDIO,
        pseudo::QEMU_POINTER_MOTION_CHANGE,
    ] {
        assert!(Config::PSEUDO_ENCODINGS.contains(&e), "{e} missing");
    }
    assert_eq!(pseudo::EXTENDED_CLIPBOARD as u32, 0xc0a1_e5ce);
}

#[test]
fn a_pseudo_only_update_completes_nothing_but_one_with_pixels_does() {
    let mut session = connected(4, 3);
    session.feed(&layout_update(0, 0, 4, 3, &[])).unwrap();
    assert!(!events(&mut session).contains(&Event::UpdateComplete));
    let mut stream = update_header(2);
    stream.extend(rect_header(0, 0, 4, 3, pseudo::EXTENDED_DESKTOP_SIZE));
    stream.extend_from_slice(&[0, 0, 0, 0]);
    stream.extend(raw_rect(0, 0, 1, 1, [1, 2, 3]));
    session.feed(&stream).unwrap();
    assert_eq!(events(&mut session).last(), Some(&Event::UpdateComplete));
}

#[test]
fn the_fuzz_seed_for_extensions_is_a_valid_session() {
    // The seed starts the fuzzer inside every extension message; a seed
    // that failed early would leave them unexplored.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/seeds/session_feed/extensions"
    );
    let seed = std::fs::read(path).unwrap();
    let mut session = Session::new(Config::default());
    feed_bytewise(&mut session, &seed[2..]).unwrap();
    let events = events(&mut session);
    for wanted in [
        Event::Leds {
            caps: true,
            num: false,
            scroll: true,
        },
        Event::Supported(Extension::Audio),
        Event::XvpFailed,
        Event::ClipboardText("ä ø Я € 漢字 😎\n".into()),
        Event::AudioData(vec![1, 2, 3, 4]),
    ] {
        assert!(events.contains(&wanted), "no {wanted:?} in {events:?}");
    }
    assert!(session.continuous_updates());
    assert_eq!(session.pixel_format().bits_per_pixel, 16);
}
