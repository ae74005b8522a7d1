//! The server's side of an RFB handshake, for the crafted servers of the
//! tests (hostile streams, extensions no real server here offers).

use std::io::{self, Read, Write};

/// 32 bits per pixel, depth 24, little-endian true colour, red at bit 16:
/// the client's own framebuffer layout, so it converts nothing.
pub const NATIVE_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// Takes a client through RFB 3.8 with None security and a ServerInit of a
/// `width` × `height` screen in [`NATIVE_FORMAT`] called `name`.
pub fn serve_handshake(
    socket: &mut (impl Read + Write),
    width: u16,
    height: u16,
    name: &[u8],
) -> io::Result<()> {
    socket.write_all(b"RFB 003.008\n")?;
    let mut version = [0u8; 12];
    socket.read_exact(&mut version)?;
    socket.write_all(&[1, 1])?; // one type: None
    let mut choice = [0u8; 1];
    socket.read_exact(&mut choice)?;
    if choice[0] != 1 {
        return Err(io::Error::other(format!(
            "the client chose security type {} where only None (1) was offered",
            choice[0]
        )));
    }
    socket.write_all(&[0, 0, 0, 0])?; // SecurityResult OK
    let mut client_init = [0u8; 1];
    socket.read_exact(&mut client_init)?;
    let mut init = Vec::new();
    init.extend_from_slice(&width.to_be_bytes());
    init.extend_from_slice(&height.to_be_bytes());
    init.extend_from_slice(&NATIVE_FORMAT);
    let length = u32::try_from(name.len()).map_err(io::Error::other)?;
    init.extend_from_slice(&length.to_be_bytes());
    init.extend_from_slice(name);
    socket.write_all(&init)
}
