//! `porthole-vnc`: an RFB (VNC) client.
//!
//! The protocol core ([`proto`], [`decode`], [`pixel`], [`framebuffer`]) is
//! sans-IO: it owns no sockets, no clocks and no runtime. Bytes go in with
//! [`proto::Session::feed`], bytes to send come out of
//! [`proto::Session::poll_transmit`], and what happened comes out as
//! [`proto::Event`]s. The [`driver`] runs a session over a tokio socket.
//!
//! Nothing that comes from the network is trusted: every size is checked
//! against [`proto::Limits`] before anything is allocated, and a hostile
//! server gets a typed error, never a panic.
#![forbid(unsafe_code)]

pub mod address;
pub mod decode;
pub mod fbs;
pub mod framebuffer;
pub mod keymap;
pub mod pixel;
pub mod proto;
pub mod security;

#[cfg(feature = "tokio")]
pub mod driver;

pub use framebuffer::{Framebuffer, Rect};
pub use pixel::PixelFormat;
pub use proto::{Config, Error, Event, Session};
