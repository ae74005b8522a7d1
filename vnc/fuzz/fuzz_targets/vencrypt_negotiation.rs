//! A server offering VeNCrypt and TLS (18), then arbitrary bytes for the
//! VeNCrypt negotiation and the TLS records after it; the oracle lives in
//! the crate (`porthole_vnc::security::fuzzing`) so stable tests replay
//! the seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| porthole_vnc::security::fuzzing::vencrypt_negotiation(data));
