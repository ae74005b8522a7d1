//! Where a VNC server is: parsing the address forms users type (`host:1`,
//! `host::5901`, `[::1]:1`, `vnc://host:5901`, `unix:/path`) into an
//! [`Address`]. Owns only syntax; resolving names and connecting is the
//! [`driver`](crate::driver)'s job.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The TCP port of VNC display 0; display `N` listens on `5900 + N`.
pub const BASE_PORT: u16 = 5900;

/// A VNC server's address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A host name or IP literal (IPv6 without brackets) and a TCP port.
    Tcp { host: String, port: u16 },
    /// A Unix domain socket.
    Unix(PathBuf),
}

/// Why an address could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("the address is empty: give a host, like localhost:1")]
    Empty,
    #[error("'{0}' is not a display number or port (use host:DISPLAY or host::PORT)")]
    BadNumber(String),
    #[error("display {0} is too large: its port would be above 65535 (use host::PORT for a port)")]
    DisplayTooLarge(u32),
    #[error("port 0 is not a port a server can listen on")]
    PortZero,
    #[error("an IPv6 address must be written in brackets, like [{0}]::5900")]
    UnbracketedIpv6(String),
    #[error("'{0}' has an unclosed '[' (write IPv6 addresses like [::1]::5900)")]
    UnclosedBracket(String),
    #[error("unexpected '{0}' after the host (expected :DISPLAY or ::PORT)")]
    TrailingText(String),
    #[error("'{0}' is not a valid host name")]
    BadHost(String),
    #[error("the unix: address has no socket path (write unix:/path/to/socket)")]
    EmptyUnixPath,
    #[error("the vnc:// address names no host (write vnc://host:PORT)")]
    UriWithoutHost,
    #[error("vnc:// addresses with '{0}' are not supported (write vnc://host:PORT)")]
    UnsupportedUri(String),
}

impl Address {
    /// Parses one of the address forms:
    ///
    /// | form | meaning |
    /// | --- | --- |
    /// | `host` | TCP port 5900 |
    /// | `host:N` | display N, TCP port 5900 + N |
    /// | `host::PORT` | TCP port PORT |
    /// | `[v6]`, `[v6]:N`, `[v6]::PORT` | the same for an IPv6 literal |
    /// | `vnc://host[:PORT]`, `vnc://[v6][:PORT]` | TCP port PORT (default 5900), RFC 7869 style |
    /// | `unix:/path` | a Unix domain socket |
    ///
    /// An empty host (`:1`) means `localhost`, as in TigerVNC's viewer. IPv6
    /// literals need brackets: `::1` alone is refused rather than guessed.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(path) = input.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(AddressError::EmptyUnixPath);
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = strip_prefix_ignore_case(input, "vnc://") {
            return parse_uri(rest);
        }
        let (host, rest) = split_host(input)?;
        let port = if rest.is_empty() {
            BASE_PORT
        } else if let Some(port) = rest.strip_prefix("::") {
            parse_port(port)?
        } else if let Some(display) = rest.strip_prefix(':') {
            display_port(display)?
        } else {
            return Err(AddressError::TrailingText(rest.to_owned()));
        };
        Ok(Self::Tcp { host, port })
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Writes the address in the unambiguous `host::PORT` form, which
/// [`Address::parse`] reads back to the same value.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]::{port}"),
            Self::Tcp { host, port } => write!(f, "{host}::{port}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

fn strip_prefix_ignore_case<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        input.get(prefix.len()..)
    } else {
        None
    }
}

fn parse_uri(rest: &str) -> Result<Address, AddressError> {
    // A trailing slash is what browsers and desktop launchers often add.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(bad) = rest.find(['/', '?', '#', '@']) {
        return Err(AddressError::UnsupportedUri(
            rest.get(bad..bad + 1).unwrap_or_default().to_owned(),
        ));
    }
    // Unlike `:1` (localhost, display 1), a URI must name its host.
    if rest.is_empty() || rest.starts_with(':') {
        return Err(AddressError::UriWithoutHost);
    }
    let (host, tail) = split_host(rest)?;
    let port = match tail.strip_prefix(':') {
        None if tail.is_empty() => BASE_PORT,
        Some(port) => parse_port(port)?,
        None => return Err(AddressError::TrailingText(tail.to_owned())),
    };
    Ok(Address::Tcp { host, port })
}

/// Splits `host` (or `[v6]`) from what follows it; an empty host means localhost.
fn split_host(input: &str) -> Result<(String, &str), AddressError> {
    let (host, rest) = if let Some(bracketed) = input.strip_prefix('[') {
        let (host, rest) = bracketed
            .split_once(']')
            .ok_or_else(|| AddressError::UnclosedBracket(input.to_owned()))?;
        // Only IPv6 literals (with an optional %zone) belong in brackets.
        let literal_chars = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":.%-_".contains(c));
        if !host.contains(':') || !literal_chars {
            return Err(AddressError::BadHost(host.to_owned()));
        }
        (host, rest)
    } else {
        let end = input.find(':').unwrap_or(input.len());
        let (host, rest) = input.split_at(end);
        // `::1` or `fe80::1:1` would be ambiguous with `host::PORT`.
        if rest.matches(':').count() > 2 || (host.is_empty() && rest.starts_with("::")) {
            return Err(AddressError::UnbracketedIpv6(input.to_owned()));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c) || !c.is_ascii())
        {
            return Err(AddressError::BadHost(host.to_owned()));
        }
        (host, rest)
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_owned(), rest))
}

fn parse_number(text: &str) -> Result<u32, AddressError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::BadNumber(text.to_owned()));
    }
    text.parse::<u32>()
        .map_err(|_| AddressError::BadNumber(text.to_owned()))
}

fn parse_port(text: &str) -> Result<u16, AddressError> {
    let number = parse_number(text)?;
    match u16::try_from(number) {
        Ok(0) => Err(AddressError::PortZero),
        Ok(port) => Ok(port),
        Err(_) => Err(AddressError::BadNumber(text.to_owned())),
    }
}

fn display_port(text: &str) -> Result<u16, AddressError> {
    let display = parse_number(text)?;
    u32::from(BASE_PORT)
        .checked_add(display)
        .and_then(|port| u16::try_from(port).ok())
        .ok_or(AddressError::DisplayTooLarge(display))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Result<Address, AddressError> {
        Ok(Address::Tcp {
            host: host.to_owned(),
            port,
        })
    }

    #[test]
    fn host_forms() {
        assert_eq!(Address::parse("example.org"), tcp("example.org", 5900));
        assert_eq!(Address::parse("example.org:1"), tcp("example.org", 5901));
        assert_eq!(Address::parse("example.org:0"), tcp("example.org", 5900));
        assert_eq!(
            Address::parse("example.org::5999"),
            tcp("example.org", 5999)
        );
        assert_eq!(Address::parse("10.0.0.2:7"), tcp("10.0.0.2", 5907));
        assert_eq!(Address::parse("  host:2 \n"), tcp("host", 5902));
        assert_eq!(Address::parse(":3"), tcp("localhost", 5903));
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(Address::parse("[::1]"), tcp("::1", 5900));
        assert_eq!(Address::parse("[::1]:2"), tcp("::1", 5902));
        assert_eq!(
            Address::parse("[fe80::1%eth0]::6000"),
            tcp("fe80::1%eth0", 6000)
        );
        assert_eq!(
            Address::parse("::1"),
            Err(AddressError::UnbracketedIpv6("::1".into()))
        );
        assert_eq!(
            Address::parse("fe80::1::5900"),
            Err(AddressError::UnbracketedIpv6("fe80::1::5900".into()))
        );
        assert_eq!(
            Address::parse("[::1:5"),
            Err(AddressError::UnclosedBracket("[::1:5".into()))
        );
        assert!(matches!(
            Address::parse("[]:1"),
            Err(AddressError::BadHost(_))
        ));
    }

    #[test]
    fn uri_forms() {
        assert_eq!(Address::parse("vnc://host"), tcp("host", 5900));
        assert_eq!(Address::parse("vnc://host:5901"), tcp("host", 5901));
        assert_eq!(Address::parse("VNC://host:5901/"), tcp("host", 5901));
        assert_eq!(Address::parse("vnc://[::1]:5902"), tcp("::1", 5902));
        assert_eq!(
            Address::parse("vnc://[2001:db8::7]"),
            tcp("2001:db8::7", 5900)
        );
        // In a URI the number is a TCP port, never a display.
        assert_eq!(Address::parse("vnc://host:1"), tcp("host", 1));
        assert_eq!(Address::parse("vnc://"), Err(AddressError::UriWithoutHost));
        assert_eq!(Address::parse("vnc:///"), Err(AddressError::UriWithoutHost));
        assert_eq!(
            Address::parse("vnc://:5901"),
            Err(AddressError::UriWithoutHost)
        );
        assert_eq!(
            Address::parse("vnc://user@host"),
            Err(AddressError::UnsupportedUri("@".into()))
        );
        assert_eq!(
            Address::parse("vnc://host:5900/path"),
            Err(AddressError::UnsupportedUri("/".into()))
        );
    }

    #[test]
    fn unix_form() {
        assert_eq!(
            Address::parse("unix:/run/vnc.sock"),
            Ok(Address::Unix(PathBuf::from("/run/vnc.sock")))
        );
        assert_eq!(Address::parse("unix:"), Err(AddressError::EmptyUnixPath));
    }

    #[test]
    fn bad_numbers() {
        assert_eq!(Address::parse(""), Err(AddressError::Empty));
        assert_eq!(
            Address::parse("h:x"),
            Err(AddressError::BadNumber("x".into()))
        );
        assert_eq!(
            Address::parse("h:"),
            Err(AddressError::BadNumber(String::new()))
        );
        assert_eq!(
            Address::parse("h:-1"),
            Err(AddressError::BadNumber("-1".into()))
        );
        assert_eq!(
            Address::parse("h::+5"),
            Err(AddressError::BadNumber("+5".into()))
        );
        assert_eq!(
            Address::parse("h::65536"),
            Err(AddressError::BadNumber("65536".into()))
        );
        assert_eq!(Address::parse("h::0"), Err(AddressError::PortZero));
        assert_eq!(Address::parse("h:59635"), tcp("h", 65535));
        assert_eq!(
            Address::parse("h:59636"),
            Err(AddressError::DisplayTooLarge(59636))
        );
        assert_eq!(
            Address::parse("h:99999999999"),
            Err(AddressError::BadNumber("99999999999".into()))
        );
        assert!(matches!(
            Address::parse("bad host:1"),
            Err(AddressError::BadHost(_))
        ));
        assert!(matches!(
            Address::parse("[::1]x"),
            Err(AddressError::TrailingText(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "host:1",
            "[::1]::6000",
            "vnc://h:7",
            "unix:/tmp/s",
            "10.1.2.3",
        ] {
            let address = Address::parse(text).unwrap_or_else(|e| unreachable!("{text}: {e}"));
            assert_eq!(Address::parse(&address.to_string()), Ok(address));
        }
    }
}
