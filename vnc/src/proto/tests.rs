//! Session tests: server byte streams in (split every way, down to single
//! bytes), client bytes and events out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod deferred;
mod ext;
mod random;

use super::*;
use crate::security::SecurityPolicy;

// ---- building server streams ----

fn greeting(version: &str) -> Vec<u8> {
    format!("RFB {version}\n").into_bytes()
}

fn u32be(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn server_init(width: u16, height: u16, format: &PixelFormat, name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&format.to_bytes());
    out.extend_from_slice(&u32be(name.len() as u32));
    out.extend_from_slice(name);
    out
}

fn update_header(count: u16) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&count.to_be_bytes());
    out
}

fn rect_header(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> Vec<u8> {
    [x, y, w, h]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .chain(encoding.to_be_bytes())
        .collect()
}

/// A 3.8 handshake with security None and a `w`×`h` native-format screen.
fn handshake_38(w: u16, h: u16) -> Vec<u8> {
    let mut s = greeting("003.008");
    s.extend_from_slice(&[1, 1]);
    s.extend_from_slice(&u32be(0));
    s.extend(server_init(w, h, &PixelFormat::NATIVE, b"test desktop"));
    s
}

// ---- driving sessions ----

fn feed_bytewise(session: &mut Session, bytes: &[u8]) -> Result<(), Error> {
    for b in bytes {
        session.feed(std::slice::from_ref(b))?;
    }
    Ok(())
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn sent(session: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    out
}

/// A session connected to a `w`×`h` screen, with events and bytes drained.
fn connected_with(config: Config, w: u16, h: u16) -> Session {
    let mut session = Session::new(config);
    session.feed(&handshake_38(w, h)).unwrap();
    assert!(session.is_connected());
    events(&mut session);
    sent(&mut session);
    session
}

fn connected(w: u16, h: u16) -> Session {
    connected_with(Config::default(), w, h)
}

/// What the client sends right after ServerInit with the default config.
fn expected_init_messages(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    let encodings: Vec<i32> = Config::ENCODINGS
        .into_iter()
        .chain(Config::PSEUDO_ENCODINGS)
        .collect();
    out.extend_from_slice(&[2, 0]);
    out.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
    for e in encodings {
        out.extend_from_slice(&e.to_be_bytes());
    }
    out.extend(full_request(false, w, h));
    out
}

fn full_request(incremental: bool, w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![3, u8::from(incremental), 0, 0, 0, 0];
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&h.to_be_bytes());
    out
}

// ---- handshake ----

/// Runs a None handshake for `version`, one byte at a time, checking every
/// byte the client sends and every event.
fn none_handshake(version: &str, expect: ProtocolVersion, list: bool, result: bool) {
    let mut stream = greeting(version);
    if list {
        stream.extend_from_slice(&[2, 1, 16]);
    } else {
        stream.extend_from_slice(&u32be(1));
    }
    if result {
        stream.extend_from_slice(&u32be(0));
    }
    stream.extend(server_init(640, 480, &PixelFormat::NATIVE, b"my desktop"));

    let mut session = Session::new(Config::default());
    feed_bytewise(&mut session, &stream).unwrap();
    assert!(session.is_connected(), "{version}");
    assert_eq!(session.protocol_version(), Some(expect));
    assert_eq!(session.security_type(), Some(SecurityType::None));
    assert_eq!(session.buffered_input(), 0);

    let mut expected = expect.greeting().to_vec();
    if list {
        expected.push(1);
    }
    expected.push(1); // ClientInit, shared
    expected.extend(expected_init_messages(640, 480));
    assert_eq!(sent(&mut session), expected, "{version}");

    let (major, minor) = version.split_once('.').unwrap();
    let offered = if list { vec![1, 16] } else { vec![1] };
    assert_eq!(
        events(&mut session),
        vec![
            Event::ServerVersion {
                major: major.parse().unwrap(),
                minor: minor.parse().unwrap(),
                raw: format!("RFB {version}"),
            },
            Event::SecurityTypesOffered(offered),
            Event::Connected {
                name: "my desktop".into(),
                width: 640,
                height: 480,
                format: PixelFormat::NATIVE,
            },
        ]
    );
    assert_eq!(session.name(), "my desktop");
    assert_eq!(
        (
            session.framebuffer().width(),
            session.framebuffer().height()
        ),
        (640, 480)
    );
}

#[test]
fn handshake_3_3_byte_by_byte() {
    none_handshake("003.003", ProtocolVersion::V3_3, false, false);
}

#[test]
fn handshake_3_7_byte_by_byte_has_no_security_result_for_none() {
    none_handshake("003.007", ProtocolVersion::V3_7, true, false);
}

#[test]
fn handshake_3_8_byte_by_byte() {
    none_handshake("003.008", ProtocolVersion::V3_8, true, true);
}

#[test]
fn versions_3_4_to_3_6_speak_3_3() {
    for v in ["003.004", "003.005", "003.006"] {
        none_handshake(v, ProtocolVersion::V3_3, false, false);
    }
}

#[test]
fn apple_and_realvnc_versions_speak_3_8() {
    for v in ["003.889", "004.000", "004.001", "005.000"] {
        none_handshake(v, ProtocolVersion::V3_8, true, true);
    }
}

#[test]
fn other_versions_are_refused_with_the_version_named() {
    for (greeting, shown) in [
        (&b"RFB 003.009\n"[..], "RFB 003.009"),
        (b"RFB 002.000\n", "RFB 002.000"),
        (b"RFB 006.000\n", "RFB 006.000"),
        (b"RFB 00a.\x01\xff8\n", "RFB 00a.\\x01\\xff8"),
        (b"RFB 003.008\r", "RFB 003.008"),
    ] {
        let mut session = Session::new(Config::default());
        let err = session.feed(greeting).unwrap_err();
        assert_eq!(err, Error::UnsupportedVersion(shown.to_owned()));
        assert!(err.to_string().contains(shown));
        assert!(sent(&mut session).is_empty(), "nothing is answered");
    }
}

#[test]
fn a_service_that_is_not_rfb_fails_after_four_bytes() {
    let mut session = Session::new(Config::default());
    let err = session.feed(b"SSH-").unwrap_err();
    assert_eq!(err, Error::NotRfb("SSH-".into()));
    assert!(err.to_string().contains("VNC server"));
    assert_eq!(session.feed(b"2.0").unwrap_err(), Error::Closed);
    assert!(session.is_closed());
}

#[test]
fn empty_security_list_reports_the_servers_reason() {
    let mut stream = greeting("003.008");
    stream.push(0);
    stream.extend_from_slice(&u32be(17));
    stream.extend_from_slice(b"too many security");
    let mut session = Session::new(Config::default());
    let err = feed_bytewise(&mut session, &stream).unwrap_err();
    assert_eq!(
        err,
        Error::ConnectionRefused {
            reason: "too many security".into()
        }
    );
}

#[test]
fn rfb_3_3_type_zero_reports_the_reason() {
    let mut stream = greeting("003.003");
    stream.extend_from_slice(&u32be(0));
    stream.extend_from_slice(&u32be(4));
    stream.extend_from_slice(b"busy");
    let err = Session::new(Config::default()).feed(&stream).unwrap_err();
    assert_eq!(
        err,
        Error::ConnectionRefused {
            reason: "busy".into()
        }
    );
}

#[test]
fn a_huge_reason_is_cut_to_the_limit_without_waiting_for_it() {
    let mut config = Config::default();
    config.limits.max_reason_len = 8;
    let mut stream = greeting("003.008");
    stream.push(0);
    stream.extend_from_slice(&u32be(u32::MAX));
    stream.extend_from_slice(b"0123456789");
    let err = Session::new(config).feed(&stream).unwrap_err();
    assert_eq!(
        err,
        Error::ConnectionRefused {
            reason: "01234567…".into()
        }
    );
}

#[test]
fn rfb_3_3_imposing_an_unknown_type_is_an_error() {
    let mut stream = greeting("003.003");
    stream.extend_from_slice(&u32be(19));
    let err = Session::new(Config::default()).feed(&stream).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("19")),
        "{err}"
    );
}

#[test]
fn require_encryption_refuses_and_names_what_the_server_offers() {
    let config = Config {
        security: SecurityPolicy {
            require_encryption: true,
            ..SecurityPolicy::default()
        },
        ..Config::default()
    };
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[3, 1, 2, 30]);
    let mut session = Session::new(config);
    let err = session.feed(&stream).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("None, VNC authentication, Apple Diffie-Hellman"),
        "{text}"
    );
    assert!(matches!(err, Error::NoAcceptableSecurity { .. }));
    // Only the version went out: no type was chosen.
    assert_eq!(sent(&mut session), b"RFB 003.008\n");
}

#[test]
fn rfb_3_3_none_imposed_against_policy_is_refused() {
    let config = Config {
        security: SecurityPolicy {
            allow_none: false,
            ..SecurityPolicy::default()
        },
        ..Config::default()
    };
    let mut stream = greeting("003.003");
    stream.extend_from_slice(&u32be(1));
    let err = Session::new(config).feed(&stream).unwrap_err();
    assert!(matches!(err, Error::NoAcceptableSecurity { ref offered, .. } if offered == &[1]));
}

const CHALLENGE: [u8; 16] = *b"0123456789abcdef";

#[test]
fn vnc_auth_asks_for_the_password_and_answers_the_challenge() {
    let mut session = Session::new(Config::default());
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session).last(),
        Some(&Event::CredentialsRequired {
            username: false,
            password: true
        })
    );
    assert_eq!(sent(&mut session), b"RFB 003.008\n\x02");

    session
        .provide_credentials(Credentials::password("password"))
        .unwrap();
    let response = crate::security::vnc_auth_response(b"password", &CHALLENGE);
    assert_eq!(sent(&mut session), response);

    let mut rest = u32be(0).to_vec();
    rest.extend(server_init(8, 8, &PixelFormat::NATIVE, b"x"));
    feed_bytewise(&mut session, &rest).unwrap();
    assert!(session.is_connected());
    assert_eq!(sent(&mut session)[0], 1, "ClientInit follows");
}

#[test]
fn credentials_given_ahead_of_time_answer_without_an_event() {
    let mut session = Session::new(Config::default());
    session
        .provide_credentials(Credentials::password("pw"))
        .unwrap();
    let mut stream = greeting("003.007");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    session.feed(&stream).unwrap();
    assert!(events(&mut session)
        .iter()
        .all(|e| !matches!(e, Event::CredentialsRequired { .. })));
    let mut expected = b"RFB 003.007\n\x02".to_vec();
    expected.extend(crate::security::vnc_auth_response(b"pw", &CHALLENGE));
    assert_eq!(sent(&mut session), expected);
}

#[test]
fn credentials_given_after_security_are_not_kept() {
    let mut session = connected(4, 3);
    session
        .provide_credentials(Credentials::password("late"))
        .unwrap();
    assert!(session.credentials.is_none());
}

#[test]
fn rfb_3_3_vnc_auth_has_a_security_result() {
    let mut session = Session::new(Config::default());
    session
        .provide_credentials(Credentials::password("pw"))
        .unwrap();
    let mut stream = greeting("003.003");
    stream.extend_from_slice(&u32be(2));
    stream.extend_from_slice(&CHALLENGE);
    stream.extend_from_slice(&u32be(0));
    stream.extend(server_init(8, 8, &PixelFormat::NATIVE, b""));
    feed_bytewise(&mut session, &stream).unwrap();
    assert!(session.is_connected());
}

#[test]
fn wrong_password_in_3_8_carries_the_servers_reason() {
    let mut session = Session::new(Config::default());
    session
        .provide_credentials(Credentials::password("wrong"))
        .unwrap();
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    stream.extend_from_slice(&u32be(1));
    stream.extend_from_slice(&u32be(21));
    stream.extend_from_slice(b"Authentication failed");
    let err = feed_bytewise(&mut session, &stream).unwrap_err();
    assert_eq!(
        err,
        Error::AuthenticationFailed {
            reason: Some("Authentication failed".into())
        }
    );
    assert!(err.to_string().contains("check the password"));
}

#[test]
fn wrong_password_in_3_7_has_no_reason() {
    let mut session = Session::new(Config::default());
    session
        .provide_credentials(Credentials::password("wrong"))
        .unwrap();
    let mut stream = greeting("003.007");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    stream.extend_from_slice(&u32be(1));
    let err = session.feed(&stream).unwrap_err();
    assert_eq!(err, Error::AuthenticationFailed { reason: None });
}

#[test]
fn none_failing_in_3_8_is_a_security_failure_not_a_password_problem() {
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(1));
    stream.extend_from_slice(&u32be(4));
    stream.extend_from_slice(b"nope");
    let err = Session::new(Config::default()).feed(&stream).unwrap_err();
    assert_eq!(
        err,
        Error::SecurityFailed {
            reason: "nope".into()
        }
    );
}

#[test]
fn credentials_without_a_password_are_a_typed_error() {
    let mut session = Session::new(Config::default());
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    session.feed(&stream).unwrap();
    let err = session
        .provide_credentials(Credentials::default())
        .unwrap_err();
    assert_eq!(err, Error::MissingCredentials { what: "password" });
    assert!(session.is_closed());
}

#[test]
fn server_data_before_the_challenge_is_answered_is_an_error() {
    let mut session = Session::new(Config::default());
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 2]);
    stream.extend_from_slice(&CHALLENGE);
    stream.push(0);
    assert!(matches!(
        session.feed(&stream).unwrap_err(),
        Error::Protocol(_)
    ));
}

#[test]
fn server_init_checks_size_format_and_name_before_allocating() {
    let mut config = Config::default();
    config.limits.max_width = 1000;
    config.limits.max_name_len = 4;
    let cases: [(Vec<u8>, &str); 3] = [
        (
            server_init(1001, 10, &PixelFormat::NATIVE, b""),
            "framebuffer width",
        ),
        (
            server_init(10, 10, &PixelFormat::NATIVE, b"12345"),
            "desktop name",
        ),
        (
            server_init(
                10,
                10,
                &PixelFormat {
                    bits_per_pixel: 24,
                    ..PixelFormat::NATIVE
                },
                b"",
            ),
            "pixel format",
        ),
    ];
    for (init, what) in cases {
        let mut stream = greeting("003.008");
        stream.extend_from_slice(&[1, 1]);
        stream.extend_from_slice(&u32be(0));
        // Only the 24-byte header: the error must not wait for the name.
        stream.extend_from_slice(&init[..24]);
        let err = Session::new(config.clone()).feed(&stream).unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
    }
}

#[test]
fn default_limit_is_16384_square() {
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(0));
    stream.extend(server_init(16384, 16385, &PixelFormat::NATIVE, b""));
    let err = Session::new(Config::default()).feed(&stream).unwrap_err();
    assert_eq!(
        err,
        Error::LimitExceeded {
            what: "framebuffer height",
            got: 16385,
            limit: 16384
        }
    );
}

#[test]
fn server_names_in_latin1_are_kept() {
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(0));
    stream.extend(server_init(2, 2, &PixelFormat::NATIVE, b"caf\xe9"));
    let mut session = Session::new(Config::default());
    session.feed(&stream).unwrap();
    assert_eq!(session.name(), "café");
}

#[test]
fn use_server_format_sends_no_set_pixel_format() {
    let server_format = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(0));
    stream.extend(server_init(2, 2, &server_format, b""));
    let mut session = Session::new(Config {
        use_server_format: true,
        ..Config::default()
    });
    session.feed(&stream).unwrap();
    let out = sent(&mut session);
    assert_eq!(&out[14..16], &[2, 0], "SetEncodings right after ClientInit");
    assert_eq!(session.pixel_format(), &server_format);
}

#[test]
fn shared_flag_goes_into_client_init() {
    let mut session = Session::new(Config {
        shared: false,
        ..Config::default()
    });
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(0));
    session.feed(&stream).unwrap();
    assert_eq!(sent(&mut session), b"RFB 003.008\n\x01\x00");
}

// ---- server messages ----

/// A raw rectangle of native pixels, all of colour `bgr`.
fn raw_rect(x: u16, y: u16, w: u16, h: u16, bgr: [u8; 3]) -> Vec<u8> {
    let mut out = rect_header(x, y, w, h, encoding::RAW);
    for _ in 0..usize::from(w) * usize::from(h) {
        out.extend_from_slice(&bgr);
        out.push(0);
    }
    out
}

fn pixel(session: &Session, x: usize, y: usize) -> [u8; 4] {
    let fb = session.framebuffer();
    let at = (y * usize::from(fb.width()) + x) * 4;
    fb.data()[at..at + 4].try_into().unwrap()
}

#[test]
fn framebuffer_update_draws_damages_and_completes() {
    let mut session = connected(4, 3);
    let mut stream = update_header(2);
    stream.extend(raw_rect(0, 0, 2, 2, [1, 2, 3]));
    stream.extend(raw_rect(2, 1, 2, 2, [9, 8, 7]));
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::Damage(Rect {
                x: 0,
                y: 0,
                width: 2,
                height: 2
            }),
            Event::Damage(Rect {
                x: 2,
                y: 1,
                width: 2,
                height: 2
            }),
            Event::UpdateComplete,
        ]
    );
    assert_eq!(pixel(&session, 1, 1), [1, 2, 3, 255]);
    assert_eq!(pixel(&session, 3, 2), [9, 8, 7, 255]);
    assert_eq!(pixel(&session, 3, 0), [0, 0, 0, 255]);
}

#[test]
fn pacing_requests_once_per_update_as_soon_as_it_starts() {
    let mut session = connected(4, 3);
    session.feed(&update_header(3)[..3]).unwrap();
    assert!(
        sent(&mut session).is_empty(),
        "not before the header is complete"
    );
    session.feed(&update_header(3)[3..]).unwrap();
    assert_eq!(
        sent(&mut session),
        full_request(true, 4, 3),
        "as soon as the header arrives, before any rectangle"
    );
    let mut rects = raw_rect(0, 0, 1, 1, [1, 1, 1]);
    rects.extend(raw_rect(1, 0, 1, 1, [1, 1, 1]));
    rects.extend(raw_rect(2, 0, 1, 1, [1, 1, 1]));
    session.feed(&rects).unwrap();
    assert!(sent(&mut session).is_empty(), "not once per rectangle");

    // Five updates in one read: five requests.
    let mut stream = Vec::new();
    for _ in 0..5 {
        stream.extend(update_header(1));
        stream.extend(raw_rect(0, 0, 1, 1, [2, 2, 2]));
    }
    session.feed(&stream).unwrap();
    assert_eq!(sent(&mut session), full_request(true, 4, 3).repeat(5));
    let completes = events(&mut session)
        .iter()
        .filter(|e| **e == Event::UpdateComplete)
        .count();
    assert_eq!(completes, 6);
}

#[test]
fn empty_update_completes_and_still_asks_for_the_next() {
    let mut session = connected(4, 3);
    session.feed(&update_header(0)).unwrap();
    assert_eq!(events(&mut session), vec![Event::UpdateComplete]);
    assert_eq!(sent(&mut session), full_request(true, 4, 3));
}

#[test]
fn last_rect_ends_an_open_ended_update() {
    let mut session = connected(4, 3);
    let mut stream = update_header(0xffff);
    stream.extend(raw_rect(0, 0, 1, 1, [5, 5, 5]));
    stream.extend(rect_header(0, 0, 0, 0, encoding::LAST_RECT));
    stream.push(2); // a Bell right after: parsing is back at message level
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session)[1..],
        [Event::UpdateComplete, Event::Bell]
    );
}

#[test]
fn desktop_size_resizes_and_asks_for_the_new_area() {
    let mut session = connected(4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 10, 6, encoding::DESKTOP_SIZE));
    session.feed(&stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::Resized {
                width: 10,
                height: 6
            },
            Event::UpdateComplete
        ]
    );
    assert_eq!(session.framebuffer().width(), 10);
    assert_eq!(session.framebuffer().data().len(), 10 * 6 * 4);
    let mut expected = full_request(true, 4, 3);
    expected.extend(full_request(true, 10, 6));
    assert_eq!(sent(&mut session), expected);
}

#[test]
fn desktop_size_over_the_limit_is_refused() {
    let mut config = Config::default();
    config.limits.max_height = 100;
    let mut session = connected_with(config, 4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 10, 101, encoding::DESKTOP_SIZE));
    let err = session.feed(&stream).unwrap_err();
    assert!(matches!(
        err,
        Error::LimitExceeded {
            what: "framebuffer height",
            got: 101,
            limit: 100
        }
    ));
    assert_eq!(session.feed(&[0]).unwrap_err(), Error::Closed);
}

#[test]
fn rich_cursor_becomes_an_rgba_image_with_its_hotspot() {
    let mut session = connected(4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(1, 0, 2, 1, encoding::CURSOR));
    stream.extend_from_slice(&[0x30, 0x20, 0x10, 0, 0x33, 0x22, 0x11, 0]); // B,G,R,X
    stream.push(0b1000_0000); // only the left pixel is visible
    feed_bytewise(&mut session, &stream).unwrap();
    let Event::Cursor(image) = &events(&mut session)[0] else {
        panic!("no cursor event")
    };
    assert_eq!(
        (image.width, image.height, image.hot_x, image.hot_y),
        (2, 1, 1, 0)
    );
    assert_eq!(image.rgba, [0x10, 0x20, 0x30, 255, 0, 0, 0, 0]);
}

#[test]
fn x_cursor_becomes_an_rgba_image() {
    let mut session = connected(4, 3);
    let mut stream = update_header(2);
    stream.extend(rect_header(0, 0, 2, 1, encoding::X_CURSOR));
    stream.extend_from_slice(&[255, 0, 0, 0, 0, 255]); // red, blue
    stream.push(0b0100_0000); // bitmap: right pixel primary
    stream.push(0b1100_0000); // mask: both visible
    stream.extend(rect_header(0, 0, 0, 0, encoding::X_CURSOR)); // hidden
    feed_bytewise(&mut session, &stream).unwrap();
    let evs = events(&mut session);
    let Event::Cursor(image) = &evs[0] else {
        panic!("no cursor event")
    };
    assert_eq!(image.rgba, [0, 0, 255, 255, 255, 0, 0, 255]);
    assert_eq!(
        evs[1],
        Event::Cursor(crate::decode::cursor::CursorImage::default())
    );
}

#[test]
fn a_huge_cursor_is_refused_before_its_data() {
    let mut session = connected(4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 60000, 60000, encoding::CURSOR));
    assert!(matches!(
        session.feed(&stream).unwrap_err(),
        Error::LimitExceeded {
            what: "cursor size in pixels",
            ..
        }
    ));
}

#[test]
fn desktop_name_and_pointer_position() {
    let mut session = connected(4, 3);
    let mut stream = update_header(2);
    stream.extend(rect_header(0, 0, 0, 0, encoding::DESKTOP_NAME));
    stream.extend_from_slice(&u32be(6));
    stream.extend_from_slice("vm—1".as_bytes());
    stream.extend(rect_header(3, 2, 0, 0, encoding::POINTER_POS));
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::DesktopName("vm—1".into()),
            Event::PointerPos { x: 3, y: 2 },
            // No pixels changed: nothing to complete.
        ]
    );
    assert_eq!(session.name(), "vm—1");
}

#[test]
fn colour_map_entries_feed_colour_mapped_pixels() {
    let mapped = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: false,
        red_max: 0,
        green_max: 0,
        blue_max: 0,
        red_shift: 0,
        green_shift: 0,
        blue_shift: 0,
    };
    let mut stream = greeting("003.008");
    stream.extend_from_slice(&[1, 1]);
    stream.extend_from_slice(&u32be(0));
    stream.extend(server_init(2, 1, &mapped, b""));
    let mut session = Session::new(Config {
        use_server_format: true,
        ..Config::default()
    });
    session.feed(&stream).unwrap();
    // SetColourMapEntries: first 254, three entries (the last is past 255).
    let mut stream = vec![1, 0, 0, 254, 0, 3];
    for rgb in [[0xffff, 0, 0], [0, 0x8000, 0xffff], [1, 1, 1]] {
        for c in rgb {
            stream.extend_from_slice(&u16::to_be_bytes(c));
        }
    }
    stream.extend(update_header(1));
    stream.extend(rect_header(0, 0, 2, 1, encoding::RAW));
    stream.extend_from_slice(&[254, 255]);
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(session.colour_map().entry(254), [0, 0, 255, 255]);
    assert_eq!(pixel(&session, 0, 0), [0, 0, 255, 255]);
    assert_eq!(pixel(&session, 1, 0), [255, 128, 0, 255]);
}

#[test]
fn bell_and_latin1_cut_text() {
    let mut session = connected(4, 3);
    let mut stream = vec![2, 3, 0, 0, 0];
    stream.extend_from_slice(&u32be(5));
    stream.extend_from_slice(b"h\xe9\xe9\xff!");
    stream.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
    feed_bytewise(&mut session, &stream).unwrap();
    assert_eq!(
        events(&mut session),
        vec![
            Event::Bell,
            Event::ServerCutText("hééÿ!".into()),
            Event::ServerCutText(String::new())
        ]
    );
}

#[test]
fn cut_text_over_the_limit_fails_at_its_header() {
    let mut session = connected(4, 3);
    let mut stream = vec![3, 0, 0, 0];
    // The length is signed (negative lengths are extended clipboard
    // messages): the largest positive one.
    stream.extend_from_slice(&u32be(0x7fff_ffff));
    let err = session.feed(&stream).unwrap_err();
    assert_eq!(
        err,
        Error::LimitExceeded {
            what: "clipboard text length in bytes",
            got: 0x7fff_ffff,
            limit: 10 * 1024 * 1024
        }
    );
    assert!(err.to_string().contains("raise the limit"));
}

#[test]
fn unknown_message_type_is_named() {
    let mut session = connected(4, 3);
    let err = session.feed(&[77]).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("77")),
        "{err}"
    );
}

#[test]
fn rectangles_outside_the_screen_and_unknown_encodings_are_decode_errors() {
    let mut session = connected(4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(3, 0, 2, 1, encoding::RAW));
    assert!(matches!(
        session.feed(&stream).unwrap_err(),
        Error::Decode(crate::decode::DecodeError::OutOfBounds { .. })
    ));
    let mut session = connected(4, 3);
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 1, 1, 12345));
    assert_eq!(
        session.feed(&stream).unwrap_err(),
        Error::Decode(crate::decode::DecodeError::UnsupportedEncoding(12345))
    );
}

#[test]
fn a_large_raw_rect_fed_in_small_reads_buffers_little() {
    let (w, h) = (1000u16, 500u16);
    let mut session = connected(w, h);
    let mut stream = update_header(1);
    stream.extend(raw_rect(0, 0, w, h, [7, 7, 7]));
    let chunk = 4093; // not a multiple of a pixel or a row
    let mut most = 0;
    for piece in stream.chunks(chunk) {
        session.feed(piece).unwrap();
        most = most.max(session.buffered_input());
    }
    assert!(most <= chunk, "buffered {most} bytes");
    assert_eq!(events(&mut session).last(), Some(&Event::UpdateComplete));
    assert_eq!(pixel(&session, 999, 499), [7, 7, 7, 255]);
}

// ---- client messages ----

#[test]
fn input_is_sent_only_once_connected() {
    let mut session = Session::new(Config::default());
    session.key_event(true, 0x61);
    session.pointer_event(1, 2, 1);
    session.client_cut_text("x");
    session.request_update(false, None);
    assert!(sent(&mut session).is_empty());

    let mut session = connected(4, 3);
    session.key_event(true, 0x61);
    session.pointer_event(1, 2, 1);
    session.client_cut_text("é€");
    session.request_update(
        true,
        Some(Rect {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        }),
    );
    let mut expected = vec![4, 1, 0, 0, 0, 0, 0, 0x61, 5, 1, 0, 1, 0, 2];
    expected.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 2, 0xe9, b'?']);
    expected.extend_from_slice(&[3, 1, 0, 1, 0, 1, 0, 2, 0, 2]);
    assert_eq!(sent(&mut session), expected);
}

#[test]
fn set_encodings_appends_the_pseudo_encodings_once() {
    let mut session = connected(4, 3);
    session.set_encodings(vec![encoding::RAW, encoding::DESKTOP_SIZE]);
    let out = sent(&mut session);
    let count = 1 + Config::PSEUDO_ENCODINGS.len();
    assert_eq!(&out[..4], &[2, 0, 0, count as u8]);
    assert_eq!(&out[4..8], &encoding::RAW.to_be_bytes());
    assert_eq!(out.len(), 4 + count * 4);
}

#[test]
fn set_pixel_format_switches_decoding_and_rejects_invalid_formats() {
    let mut session = connected(4, 3);
    let rgb565 = PixelFormat {
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
    };
    session.set_pixel_format(rgb565).unwrap();
    assert_eq!(sent(&mut session)[4..], rgb565.to_bytes());
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, 1, 1, encoding::RAW));
    stream.extend_from_slice(&0xf800u16.to_le_bytes()); // pure red
    session.feed(&stream).unwrap();
    assert_eq!(pixel(&session, 0, 0), [0, 0, 255, 255]);
    assert!(session
        .set_pixel_format(PixelFormat {
            bits_per_pixel: 12,
            ..rgb565
        })
        .is_err());
}

// ---- fuzz findings ----

#[test]
fn fuzz_seeds_and_past_findings_replay_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in ["seeds/session_feed", "regressions/session_feed"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            fuzzing::session_feed(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed >= 5, "the seed corpus is missing");
}
