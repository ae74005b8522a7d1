//! Arbitrary server bytes into a `Session`; the oracle lives in the crate
//! (`porthole_vnc::proto::fuzzing`) so the normal test suite replays the
//! seeds and every past finding on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| porthole_vnc::proto::fuzzing::session_feed(data));
