//! The image quality and compression level a client asks servers for (the
//! JPEG quality -23…-32 and compression level -247…-256 pseudo-encodings),
//! and the automatic choice between lossless and JPEG by where the server
//! is. Owns no encoding list beyond the pseudo-encodings it adds.

use std::net::IpAddr;

use super::Config;
use crate::address::Address;

/// Whether servers may send lossy JPEG, and at which quality.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Quality {
    /// No JPEG: no quality pseudo-encoding is sent, so Tight servers stay
    /// lossless. The default, and what a local server gets.
    #[default]
    Lossless,
    /// JPEG allowed at this quality level, 0 (smallest) to 9 (best); values
    /// above 9 count as 9.
    Jpeg(u8),
}

/// JPEG quality level 0 (-32) to 9 (-23).
const QUALITY_0: i32 = -32;
/// Compression level 0 (-256) to 9 (-247).
const COMPRESS_0: i32 = -256;

impl Quality {
    /// The quality TigerVNC's viewer picks for a remote server.
    pub const REMOTE: Self = Self::Jpeg(8);

    /// Lossless for a server on this machine (a Unix socket or a loopback
    /// address, where bandwidth is free and JPEG would only blur), quality 8
    /// otherwise, like TigerVNC's automatic selection. A host name counts as
    /// local only when it is `localhost`: resolving it here would block.
    pub fn auto_for(address: &Address) -> Self {
        match address {
            Address::Unix(_) => Self::Lossless,
            Address::Tcp { host, .. } => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let loopback = match host.parse::<IpAddr>() {
                    Ok(ip) => ip.is_loopback(),
                    Err(_) => {
                        host.eq_ignore_ascii_case("localhost")
                            || host.to_ascii_lowercase().ends_with(".localhost")
                    }
                };
                if loopback {
                    Self::Lossless
                } else {
                    Self::REMOTE
                }
            }
        }
    }

    /// The JPEG quality pseudo-encoding to announce, if any.
    pub fn pseudo_encoding(&self) -> Option<i32> {
        match *self {
            Self::Lossless => None,
            Self::Jpeg(level) => Some(QUALITY_0 + i32::from(level.min(9))),
        }
    }

    /// Parses `lossless` or a level 0–9 (the `--quality` option).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("lossless") {
            return Some(Self::Lossless);
        }
        text.parse::<u8>()
            .ok()
            .filter(|&level| level <= 9)
            .map(Self::Jpeg)
    }
}

/// The compression level pseudo-encoding for `level` (0–9, higher values
/// count as 9).
pub fn compress_level_encoding(level: u8) -> i32 {
    COMPRESS_0 + i32::from(level.min(9))
}

impl Config {
    /// The quality and compression level pseudo-encodings SetEncodings
    /// carries for this configuration.
    pub(crate) fn quality_encodings(&self) -> impl Iterator<Item = i32> {
        self.quality
            .pseudo_encoding()
            .into_iter()
            .chain(self.compress_level.map(compress_level_encoding))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn local_servers_get_lossless_and_remote_ones_jpeg_8() {
        for local in [
            "unix:/run/vnc.sock",
            "127.0.0.1:1",
            "127.1.2.3::5999",
            "[::1]::5900",
            "localhost:0",
            "vnc://LOCALHOST",
        ] {
            let address = Address::parse(local).unwrap();
            assert_eq!(Quality::auto_for(&address), Quality::Lossless, "{local}");
        }
        for remote in ["192.168.1.2:1", "example.com", "[2001:db8::1]::5900"] {
            let address = Address::parse(remote).unwrap();
            assert_eq!(Quality::auto_for(&address), Quality::Jpeg(8), "{remote}");
        }
    }

    #[test]
    fn levels_map_to_their_pseudo_encodings() {
        assert_eq!(Quality::Lossless.pseudo_encoding(), None);
        assert_eq!(Quality::Jpeg(0).pseudo_encoding(), Some(-32));
        assert_eq!(Quality::Jpeg(9).pseudo_encoding(), Some(-23));
        assert_eq!(Quality::Jpeg(200).pseudo_encoding(), Some(-23));
        assert_eq!(compress_level_encoding(0), -256);
        assert_eq!(compress_level_encoding(9), -247);
        assert_eq!(Quality::parse("Lossless"), Some(Quality::Lossless));
        assert_eq!(Quality::parse("6"), Some(Quality::Jpeg(6)));
        assert_eq!(Quality::parse("10"), None);
    }

    #[test]
    fn set_encodings_carries_quality_only_when_jpeg_is_allowed() {
        let lossless = Config::default();
        assert_eq!(lossless.quality_encodings().count(), 0);
        let jpeg = Config {
            quality: Quality::Jpeg(6),
            compress_level: Some(1),
            ..Config::default()
        };
        assert_eq!(jpeg.quality_encodings().collect::<Vec<_>>(), [-26, -255]);
    }
}
