//! Session tests: byte streams in, events and bytes out.
