//! The oracle shared by the `session_feed` fuzz target (`vnc/fuzz`) and the
//! test that replays its seeds and past findings on stable: arbitrary server
//! bytes into a [`Session`], split into reads whose sizes come from the
//! input, with the session's bounds checked after every read. Not part of
//! the supported API.

use super::{Config, Limits, Session};
use crate::security::Credentials;

const MAX_SIDE: u16 = 512;

/// Runs one fuzz input. Byte 0 picks the configuration, byte 1 seeds the
/// read sizes; the rest is the server's stream. Panics only if the session
/// breaks a promise (a panic inside it, a buffer past its bound, a
/// framebuffer past the limits, an error that leaves it open).
pub fn session_feed(data: &[u8]) {
    let Some((&[config_bits, split_seed], stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let limits = Limits {
        max_width: MAX_SIDE,
        max_height: MAX_SIDE,
        max_cut_text: 64 * 1024,
        max_name_len: 1024,
        max_compressed_len: 256 * 1024,
        max_reason_len: 1024,
        max_cursor_size: 64,
    };
    // The largest single step the limits allow: a cursor, a name, a reason
    // or a row of raw pixels (compressed blocks are inflated as they arrive).
    let cursor = crate::decode::cursor::rich_len(limits.max_cursor_size, limits.max_cursor_size, 4);
    let max_need = cursor
        .max(limits.max_name_len)
        .max(limits.max_reason_len)
        .max(usize::from(MAX_SIDE) * 4)
        + 64;
    let config = Config {
        limits,
        use_server_format: config_bits & 1 != 0,
        shared: config_bits & 2 != 0,
        ..Config::default()
    };
    let mut session = Session::new(config);
    if config_bits & 4 != 0 {
        let _ = session.provide_credentials(Credentials::password("fuzz"));
    }
    // Read sizes from a tiny LCG, so any split is reachable, 1-byte reads
    // included.
    let mut state = u32::from(split_seed) | 1;
    let mut rest = stream;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = match state >> 29 {
            0 | 1 => 1,
            2 | 3 => (state >> 8) as usize % 16 + 1,
            _ => (state >> 8) as usize % 4096 + 1,
        };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        let result = session.feed(piece);
        assert!(session.buffered_input() <= max_need + piece.len());
        let fb = session.framebuffer();
        assert!(fb.width() <= MAX_SIDE && fb.height() <= MAX_SIDE);
        while session.poll_event().is_some() {}
        out.clear();
        session.poll_transmit(&mut out);
        if config_bits & 8 != 0 {
            let _ = session.provide_credentials(Credentials::password("late"));
            session.pointer_event(1, 1, 1);
        }
        if result.is_err() {
            assert!(session.is_closed());
            return;
        }
    }
}
