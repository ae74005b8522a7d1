//! VNC authentication (security type 2): the server sends a 16-byte random
//! challenge, the client answers with it DES-encrypted under a key made
//! from the password. Owns only that exchange; `SecurityResult` is the
//! session's.

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;

use super::{Credentials, SecurityStep};
use crate::proto::Error;

/// Length of the server's challenge, and of the client's response.
pub(crate) const CHALLENGE_LEN: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct VncAuth {
    /// The challenge, kept while the user is asked for the password.
    challenge: Option<[u8; CHALLENGE_LEN]>,
}

impl VncAuth {
    pub(super) fn step(
        &mut self,
        input: &[u8],
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        let Some(challenge) = input.first_chunk::<CHALLENGE_LEN>() else {
            return Ok(SecurityStep::Continue {
                consumed: 0,
                need: CHALLENGE_LEN,
            });
        };
        self.challenge = Some(*challenge);
        let has_password = credentials.as_ref().is_some_and(|c| c.password.is_some());
        if !has_password {
            return Ok(SecurityStep::NeedCredentials {
                consumed: CHALLENGE_LEN,
                username: false,
                password: true,
            });
        }
        self.answer(credentials, out).map(|step| match step {
            SecurityStep::Done {
                security_result, ..
            } => SecurityStep::Done {
                consumed: CHALLENGE_LEN,
                security_result,
            },
            other => other,
        })
    }

    /// Answers the stored challenge with the password from `credentials`,
    /// which it takes (the password is not kept after use).
    pub(super) fn answer(
        &mut self,
        credentials: &mut Option<Credentials>,
        out: &mut Vec<u8>,
    ) -> Result<SecurityStep, Error> {
        let password = credentials
            .take()
            .and_then(|c| c.password)
            .ok_or(Error::MissingCredentials { what: "password" })?;
        let challenge = self.challenge.take().ok_or_else(|| {
            Error::Protocol("credentials were given before the server's challenge".to_owned())
        })?;
        out.extend_from_slice(&response(password.as_bytes(), &challenge));
        Ok(SecurityStep::Done {
            consumed: 0,
            security_result: true,
        })
    }
}

/// The DES key VNC derives from a password: its first 8 bytes (zero
/// padded), each with its bits in reverse order — a quirk of the original
/// implementation, which every server reproduces.
fn key(password: &[u8]) -> [u8; 8] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    key
}

/// The 16-byte response: each half of the challenge DES-ECB encrypted.
pub(crate) fn response(password: &[u8], challenge: &[u8; CHALLENGE_LEN]) -> [u8; CHALLENGE_LEN] {
    let cipher = Des::new(&key(password).into());
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(block.into());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn key_reverses_bits_and_truncates_or_pads_to_eight_bytes() {
        // 'p' = 0x70 = 0b0111_0000 -> 0b0000_1110 = 0x0e
        assert_eq!(key(b"p"), [0x0e, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(key(b"\x01\x80"), [0x80, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(key(b"abcdefghIGNORED"), key(b"abcdefgh"));
    }

    #[test]
    fn des_matches_the_classic_known_answer() {
        // FIPS 81 / "Now is t" vector: key 0123456789abcdef,
        // plaintext 4e6f772069732074 -> 3fa40e8a984d4815.
        let cipher = Des::new_from_slice(&hex("0123456789abcdef")).unwrap();
        let mut block = *<&[u8; 8]>::try_from(hex("4e6f772069732074").as_slice()).unwrap();
        cipher.encrypt_block((&mut block).into());
        assert_eq!(block.to_vec(), hex("3fa40e8a984d4815"));
    }

    #[test]
    fn response_matches_an_independent_implementation() {
        // Computed with `openssl enc -des-ecb -nopad` using the bit-reversed
        // key of "password" (0e86ceceeef64e26) over this challenge.
        let challenge: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        assert_eq!(
            response(b"password", &challenge).to_vec(),
            hex(EXPECTED_PASSWORD_RESPONSE)
        );
    }

    const EXPECTED_PASSWORD_RESPONSE: &str = "b866924125c8eebb9debc1db61c538e2";

    #[test]
    fn asks_for_a_password_then_answers_and_forgets_it() {
        let mut auth = VncAuth::default();
        let mut creds = None;
        let mut out = Vec::new();
        let challenge = [7u8; 16];
        assert_eq!(
            auth.step(&challenge[..10], &mut creds, &mut out).unwrap(),
            SecurityStep::Continue {
                consumed: 0,
                need: 16
            }
        );
        assert_eq!(
            auth.step(&challenge, &mut creds, &mut out).unwrap(),
            SecurityStep::NeedCredentials {
                consumed: 16,
                username: false,
                password: true
            }
        );
        assert!(out.is_empty());
        creds = Some(Credentials::password("secret"));
        let step = auth.answer(&mut creds, &mut out).unwrap();
        assert!(matches!(
            step,
            SecurityStep::Done {
                security_result: true,
                ..
            }
        ));
        assert_eq!(out, response(b"secret", &challenge));
        assert!(creds.is_none(), "the password must not be kept");
    }

    #[test]
    fn missing_password_is_a_typed_error() {
        let mut auth = VncAuth::default();
        let mut creds = None;
        let mut out = Vec::new();
        auth.step(&[0; 16], &mut creds, &mut out).unwrap();
        let mut creds = Some(Credentials::default());
        assert_eq!(
            auth.answer(&mut creds, &mut out).unwrap_err(),
            Error::MissingCredentials { what: "password" }
        );
    }
}
