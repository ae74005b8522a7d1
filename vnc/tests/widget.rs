//! The VncDisplay widget under Xvfb against Xvnc.
