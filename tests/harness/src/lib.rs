//! Test harness: starts real components (a headless X display, a headless
//! Wayland compositor, a private D-Bus, libvirt-dbus, VNC servers) for
//! integration tests and stops them by PID when dropped, even when a test
//! fails.

pub mod a11y;
pub mod bus;
pub mod display;
pub mod images;
pub mod keyring;
pub mod libvirt;
pub mod process;
pub mod qemu;
pub mod rfb;
pub mod ssh;
pub mod sway;
pub mod tls;
pub mod x11vnc;
pub mod xvnc;
