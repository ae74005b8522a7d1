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
//!
//! With the `gtk` feature, [`gtk::VncDisplay`] is a GTK 4 widget that
//! shows a session.
//!
//! Unsafe code is denied everywhere; the one exception is the widget's GL
//! renderer (`gtk/render.rs`), where every GL call is an `unsafe fn` and
//! each block says why it is sound. The protocol core has none.
#![deny(unsafe_code)]

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
#[cfg(feature = "gtk")]
pub mod gtk;

pub use framebuffer::{Framebuffer, Rect};
pub use pixel::PixelFormat;
pub use proto::{Config, Error, Event, Session};
