//! What the viewer's error page says for each way a connection ends: a
//! title, what happened and what the user can do. Text only; the page
//! itself belongs to the viewer window.

use gettextrs::gettext;
use porthole_vnc::gtk::display::DisconnectKind;

/// The error page's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub icon: &'static str,
    pub title: String,
    pub description: String,
    /// Worth retrying by itself (the server may come back).
    pub transient: bool,
}

/// Explains `kind`; `details` is the connection's own message, `address`
/// what the user connected to.
pub fn describe(kind: &DisconnectKind, details: &str, address: &str) -> Problem {
    let with_details = |text: String| {
        if details.is_empty() {
            text
        } else {
            format!("{text}\n\n{details}")
        }
    };
    let (icon, title, text, transient) = match kind {
        DisconnectKind::Refused => (
            "network-offline-symbolic",
            gettext("Connection Refused"),
            gettext("Nothing accepted the connection at {}. Check that the VNC server runs and that the address and port are right.").replace("{}", address),
            true,
        ),
        DisconnectKind::HostNotFound => (
            "network-offline-symbolic",
            gettext("Host Not Found"),
            gettext("The host name of {} could not be found. Check the spelling, or use the IP address.").replace("{}", address),
            false,
        ),
        DisconnectKind::Unreachable => (
            "network-offline-symbolic",
            gettext("Server Not Reachable"),
            gettext("{} did not answer. Check that the host is on, and that no firewall blocks the port.").replace("{}", address),
            true,
        ),
        DisconnectKind::AuthenticationFailed => (
            "dialog-password-symbolic",
            gettext("Authentication Failed"),
            gettext("The server did not accept the password. Retry to enter it again."),
            false,
        ),
        DisconnectKind::ClosedByServer => (
            "network-offline-symbolic",
            gettext("Server Closed the Connection"),
            gettext("The server at {} ended the session. It may have been stopped or restarted, or another viewer took over; retry when it is back.").replace("{}", address),
            true,
        ),
        DisconnectKind::Protocol => (
            "dialog-warning-symbolic",
            gettext("Protocol Error"),
            gettext("The server at {} sent data that is not valid VNC, so the connection was closed to stay safe. Check that the address is a VNC server’s."),
            false,
        ),
        DisconnectKind::Security => (
            "security-low-symbolic",
            gettext("Security Negotiation Failed"),
            gettext("Porthole and the server could not agree on a safe way to connect."),
            false,
        ),
        DisconnectKind::CertificateNotTrusted {
            fingerprint,
            reason,
        } => (
            "security-low-symbolic",
            gettext("Certificate Not Trusted"),
            gettext("The server’s certificate could not be verified: {reason}. Its SHA-256 fingerprint is {fingerprint}. Retry to decide whether to trust it; ask the server’s administrator to confirm the fingerprint first.")
                .replace("{reason}", reason)
                .replace("{fingerprint}", &fingerprint.to_string()),
            false,
        ),
        DisconnectKind::CertificateChanged { fingerprint } => (
            "security-low-symbolic",
            gettext("Certificate Changed"),
            gettext("The server’s certificate is not the one you trusted before; someone may be intercepting the connection. Its SHA-256 fingerprint is now {}.").replace("{}", &fingerprint.to_string()),
            false,
        ),
        DisconnectKind::Requested => (
            "network-offline-symbolic",
            gettext("Disconnected"),
            gettext("You closed the connection. Reconnect to see the remote desktop again."),
            false,
        ),
        DisconnectKind::Other => (
            "dialog-error-symbolic",
            gettext("Connection Failed"),
            gettext("The connection to {} failed.").replace("{}", address),
            true,
        ),
    };
    let text = text.replace("{}", address);
    Problem {
        icon,
        title,
        // The connection's own message would only repeat what the text
        // already says (the certificate's reason and fingerprint).
        description: if matches!(
            kind,
            DisconnectKind::Requested
                | DisconnectKind::CertificateNotTrusted { .. }
                | DisconnectKind::CertificateChanged { .. }
        ) {
            text
        } else {
            with_details(text)
        },
        transient,
    }
}

/// The seconds to wait before automatic reconnection attempt `attempt`
/// (0-based): 1, 2, 4 … capped at 30.
pub fn backoff(attempt: u32) -> u32 {
    1u32.checked_shl(attempt).unwrap_or(u32::MAX).min(30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_its_own_title() {
        let kinds = [
            DisconnectKind::Refused,
            DisconnectKind::HostNotFound,
            DisconnectKind::AuthenticationFailed,
            DisconnectKind::ClosedByServer,
            DisconnectKind::Protocol,
        ];
        let mut titles: Vec<String> = kinds
            .iter()
            .map(|k| describe(k, "", "h::1").title)
            .collect();
        titles.sort();
        titles.dedup();
        assert_eq!(titles.len(), kinds.len());
        let refused = describe(&DisconnectKind::Refused, "cannot connect", "h::1");
        assert!(refused.description.contains("h::1"));
        assert!(refused.description.ends_with("cannot connect"));
    }

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<u32> = (0..8).map(backoff).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(40), 30);
    }
}
