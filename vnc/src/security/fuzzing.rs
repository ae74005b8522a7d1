//! The oracle of the `vencrypt_negotiation` fuzz target (`vnc/fuzz`),
//! shared with the stable tests that replay its seeds: a server that
//! offers VeNCrypt and TLS (18), then arbitrary bytes for the VeNCrypt
//! version, subtype list, TLS go-ahead and whatever follows (which, once
//! TLS started, the TLS engines get). Not part of the supported API.

use crate::proto::{Config, Session};
use crate::security::{Credentials, SecurityPolicy};

/// Runs one input. Byte 0 picks the policy (and whether credentials are
/// given ahead), byte 1 seeds the read sizes, byte 2 picks which types the
/// server offers; the rest is the server's stream after the type list.
/// Panics only if the session breaks a promise: a panic inside it, a
/// buffer past its bound, an error that leaves it open.
pub fn vencrypt_negotiation(data: &[u8]) {
    let Some((&[bits, split_seed, offer], stream)) = data.split_first_chunk::<3>() else {
        return;
    };
    let policy = SecurityPolicy {
        allow_none: bits & 1 != 0,
        allow_vnc_auth: bits & 2 != 0,
        allow_plain: bits & 4 != 0,
        allow_anonymous_tls: bits & 8 != 0,
        allow_plain_without_tls: bits & 128 != 0,
        require_encryption: bits & 16 != 0,
    };
    let mut session = Session::new(Config {
        security: policy,
        ..Config::default()
    });
    if bits & 32 != 0 {
        let _ = session.provide_credentials(Credentials {
            username: Some("fuzz".into()),
            password: Some("fuzz".into()),
        });
    }
    let types: &[u8] = match offer % 3 {
        0 => &[19],
        1 => &[18],
        _ => &[18, 19, 2, 1],
    };
    let mut server = b"RFB 003.008\n".to_vec();
    server.push(u8::try_from(types.len()).unwrap_or(1));
    server.extend_from_slice(types);
    server.extend_from_slice(stream);

    let mut state = u32::from(split_seed) | 1;
    let mut rest = server.as_slice();
    let mut out = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = match state >> 29 {
            0..=3 => 1,
            _ => (state >> 8) as usize % 64 + 1,
        };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        let result = session.feed(piece);
        // The negotiation holds at most a subtype list (255 × 4 bytes)
        // plus one read.
        assert!(session.buffered_input() <= 255 * 4 + 64 + piece.len());
        while session.poll_event().is_some() {}
        out.clear();
        session.poll_transmit(&mut out);
        if bits & 64 != 0 {
            let _ = session.provide_credentials(Credentials::password("late"));
        }
        if result.is_err() {
            assert!(session.is_closed());
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The seeds the fuzz target starts from (also in
    /// `vnc/fuzz/seeds/vencrypt_negotiation`), and some truncations.
    pub(crate) fn seeds() -> Vec<Vec<u8>> {
        let mut seeds = Vec::new();
        for (offer, body) in [
            // VeNCrypt 0.2, accepted, X509None/TLSVnc/Plain offered, go-ahead.
            (0u8, vec![0, 2, 0, 3, 0, 0, 1, 4, 0, 0, 1, 2, 0, 0, 1, 0, 1]),
            // Plain only, then SecurityResult ok and a ServerInit header.
            (0, vec![0, 2, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]),
            // Type 18, then a TLS alert record.
            (1, vec![0x15, 3, 3, 0, 2, 2, 40]),
            // VeNCrypt, TLS go-ahead, then a TLS handshake record header.
            (
                2,
                vec![0, 2, 0, 1, 0, 0, 1, 1, 1, 0x16, 3, 3, 0, 4, 2, 0, 0, 0],
            ),
            // Old version, refused version, empty list.
            (0, vec![0, 1]),
            (0, vec![0, 2, 1]),
            (0, vec![0, 2, 0, 0]),
        ] {
            for bits in [0xff, 0x0f, 0x1f, 0x27, 0x48] {
                let mut input = vec![bits, 7, offer];
                input.extend_from_slice(&body);
                seeds.push(input);
            }
        }
        seeds
    }

    /// Everything the client sent for `server` fed in one read.
    fn sent_for(server: &[u8]) -> (Session, Vec<u8>) {
        let mut session = Session::new(Config::default());
        session.feed(server).unwrap();
        let mut out = Vec::new();
        session.poll_transmit(&mut out);
        (session, out)
    }

    #[test]
    fn tls_starts_at_the_go_ahead_byte_with_the_clear_bytes_first() {
        for (subtype, expected) in [
            (260u16, crate::security::Subtype::X509None),
            (257, crate::security::Subtype::TlsNone),
        ] {
            let mut server = b"RFB 003.008\n".to_vec();
            server.extend_from_slice(&[1, 19, 0, 2, 0, 1, 0, 0]);
            server.extend_from_slice(&subtype.to_be_bytes());
            server.push(1);
            let (session, out) = sent_for(&server);
            let mut clear = b"RFB 003.008\n".to_vec();
            clear.extend_from_slice(&[19, 0, 2, 0, 0]);
            clear.extend_from_slice(&subtype.to_be_bytes());
            assert_eq!(&out[..clear.len()], &clear[..], "subtype {subtype}");
            // A TLS handshake record (the ClientHello) follows at once.
            assert_eq!(&out[clear.len()..clear.len() + 2], &[0x16, 0x03]);
            assert_eq!(session.vencrypt_subtype(), Some(expected));
            assert_eq!(
                session.security_summary(),
                crate::security::SecuritySummary::Unencrypted,
                "not protected until the handshake is over"
            );
        }
        // Type 18: TLS right after the type byte.
        let mut server = b"RFB 003.008\n".to_vec();
        server.extend_from_slice(&[1, 18]);
        let (_, out) = sent_for(&server);
        assert_eq!(&out[..13], b"RFB 003.008\n\x12");
        assert_eq!(&out[13..15], &[0x16, 0x03]);
    }

    #[test]
    fn seeds_and_their_truncations_run_cleanly() {
        for seed in seeds() {
            for end in 0..=seed.len() {
                vencrypt_negotiation(&seed[..end]);
            }
        }
    }

    #[test]
    fn random_negotiations_never_panic() {
        // A small deterministic generator: valid-looking negotiations with
        // bytes flipped, dropped and appended.
        let mut state = 0x2545_f491_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = seeds();
        for _ in 0..3000 {
            let mut input = seeds[next() as usize % seeds.len()].clone();
            input[0] = next() as u8;
            input[1] = next() as u8;
            for _ in 0..next() % 4 {
                let len = input.len();
                match next() % 3 {
                    0 if len > 3 => {
                        let i = 3 + next() as usize % (len - 3);
                        input[i] = next() as u8;
                    }
                    1 if len > 3 => {
                        input.remove(3 + next() as usize % (len - 3));
                    }
                    _ => input.extend((0..next() % 40).map(|_| next() as u8)),
                }
            }
            vencrypt_negotiation(&input);
        }
    }
}
