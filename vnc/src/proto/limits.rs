//! The bounds a session enforces on everything a server declares, checked
//! before anything is allocated.

/// Upper bounds on what a server may make the client hold. Each one exceeded
/// is an [`Error::LimitExceeded`](super::Error::LimitExceeded) and closes the
/// session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Widest framebuffer accepted (ServerInit, DesktopSize), in pixels.
    pub max_width: u16,
    /// Tallest framebuffer accepted, in pixels.
    pub max_height: u16,
    /// Longest ServerCutText accepted, in bytes.
    pub max_cut_text: usize,
    /// Longest desktop name accepted (ServerInit, DesktopName), in bytes.
    pub max_name_len: usize,
    /// Longest compressed block a decoder accepts (Zlib, ZRLE, TRLE), in bytes.
    pub max_compressed_len: usize,
    /// Longest failure reason kept, in bytes; a longer one is cut, since the
    /// server closes the connection after it anyway.
    pub max_reason_len: usize,
    /// Widest and tallest cursor image accepted (Cursor, XCursor), in pixels.
    pub max_cursor_size: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_width: 16384,
            max_height: 16384,
            max_cut_text: 10 * 1024 * 1024,
            max_name_len: 64 * 1024,
            max_compressed_len: 64 * 1024 * 1024,
            max_reason_len: 64 * 1024,
            max_cursor_size: 1024,
        }
    }
}
