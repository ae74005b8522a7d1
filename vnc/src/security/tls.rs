//! TLS below the RFB stream, sans-IO: what to trust ([`TlsConfig`],
//! [`TrustRoots`], pinned [`Fingerprint`]s and the file-backed
//! [`PinStore`]), what a session's security amounts to
//! ([`SecuritySummary`]), and the TLS client the session runs between
//! `feed`/`poll_transmit` and its parser (`TlsLayer`).
//!
//! Certificates (VeNCrypt X509*) go through rustls: the chain is checked
//! against the system's roots or the user's CA certificates and the host
//! name; a certificate that fails is refused with its SHA-256 fingerprint
//! so the user can decide to trust it, which the caller then passes in as a
//! pin. A host with pins accepts only those certificates: another one is
//! "changed", which is how a man in the middle looks.
//!
//! Anonymous TLS (VeNCrypt TLS*, type 18) needs the anonymous DH/ECDH
//! suites that rustls does not have, so it runs on OpenSSL through memory
//! buffers. It encrypts, but nothing proves who is at the other end:
//! [`SecuritySummary::EncryptedUnverified`].

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use openssl::ssl::{ErrorCode, Ssl, SslContext, SslMethod, SslStream, SslVerifyMode, SslVersion};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use crate::proto::Error;

/// The SHA-256 digest of a certificate (DER), as users compare them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Self {
        Self(openssl::sha::sha256(der))
    }

    /// Reads 64 hex digits, with or without colons (or spaces) between
    /// pairs, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let digits: Vec<u8> = text.bytes().filter(|b| !matches!(b, b':' | b' ')).collect();
        if digits.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(out))
    }

    /// Lower-case hex without separators, as [`PinStore`] writes it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Fingerprint {
    /// Upper-case pairs joined by colons, as `openssl x509 -fingerprint`
    /// and most certificate dialogs show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&pairs.join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// The certificate authorities a verified TLS connection trusts.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The operating system's (`/etc/ssl/certs` and the like, or
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`), read once per process when a
    /// session first needs them.
    #[default]
    System,
    /// Only these (e.g. a CA file the user chose).
    Certificates(Arc<Vec<CertificateDer<'static>>>),
}

impl TrustRoots {
    /// Reads every certificate of a PEM file (a CA, or a server's own
    /// self-signed certificate).
    pub fn from_pem_file(path: &Path) -> Result<Self, io::Error> {
        let bytes = std::fs::read(path)?;
        Self::from_pem(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// Reads every certificate of PEM text; fails if there is none.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not a PEM certificate file ({e})"))?;
        if certs.is_empty() {
            return Err("no PEM certificate in it".to_owned());
        }
        Ok(Self::Certificates(Arc::new(certs)))
    }

    fn store(&self) -> Arc<RootCertStore> {
        match self {
            Self::System => {
                static SYSTEM: OnceLock<Arc<RootCertStore>> = OnceLock::new();
                Arc::clone(SYSTEM.get_or_init(|| {
                    let mut store = RootCertStore::empty();
                    // Unreadable or malformed system certificates are
                    // skipped: the others still verify.
                    let found = rustls_native_certs::load_native_certs();
                    let _ = store.add_parsable_certificates(found.certs);
                    Arc::new(store)
                }))
            }
            Self::Certificates(certs) => {
                let mut store = RootCertStore::empty();
                let _ = store.add_parsable_certificates(certs.iter().cloned());
                Arc::new(store)
            }
        }
    }
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("System"),
            Self::Certificates(certs) => write!(f, "Certificates({})", certs.len()),
        }
    }
}

/// What a verified TLS connection trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The host name or IP address the server's certificate must be for
    /// (the one the user connected to). Without it no certificate verifies
    /// and only a pinned one is accepted.
    pub server_name: Option<String>,
    pub roots: TrustRoots,
    /// Certificates the user trusts for this host whatever signed them
    /// (e.g. from [`PinStore::load`]). When there are any, every other
    /// certificate is refused as changed.
    pub pinned: Vec<Fingerprint>,
}

/// How well a session is protected, for the UI to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecuritySummary {
    /// No TLS (None, VNC authentication, VeNCrypt Plain), or not yet.
    Unencrypted,
    /// Anonymous TLS: encrypted, but anyone in the middle could be the
    /// other end.
    EncryptedUnverified,
    /// TLS with a certificate that verified against the trusted roots, or
    /// that the user pinned (`pinned`).
    EncryptedVerified {
        fingerprint: Fingerprint,
        pinned: bool,
    },
}

impl fmt::Display for SecuritySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unencrypted => f.write_str("not encrypted"),
            Self::EncryptedUnverified => f.write_str("encrypted, not verified"),
            Self::EncryptedVerified {
                fingerprint,
                pinned: false,
            } => write!(f, "encrypted, verified (certificate {fingerprint})"),
            Self::EncryptedVerified {
                fingerprint,
                pinned: true,
            } => write!(f, "encrypted, trusted by pin (certificate {fingerprint})"),
        }
    }
}

/// Pinned certificates per host in a text file: one `host:port sha256hex`
/// per line (`#` starts a comment). The caller picks the path (e.g. in the
/// user's config directory) and the host key ([`PinStore::key`]).
#[derive(Clone, Debug)]
pub struct PinStore {
    path: PathBuf,
}

impl PinStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$XDG_CONFIG_HOME/porthole/pinned-certificates` (or under
    /// `~/.config`), if a home is known.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("porthole").join("pinned-certificates"))
    }

    /// The key of a host in the store: `host:port`, IPv6 in brackets.
    pub fn key(host: &str, port: u16) -> String {
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{}:{port}", host.to_ascii_lowercase())
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn entries(&self) -> io::Result<Vec<(String, Fingerprint)>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (host, hex) = l.rsplit_once(char::is_whitespace)?;
                Some((host.trim().to_owned(), Fingerprint::parse(hex)?))
            })
            .collect())
    }

    /// The fingerprints pinned for `key` (none if the file does not exist).
    pub fn load(&self, key: &str) -> io::Result<Vec<Fingerprint>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(host, _)| host == key)
            .map(|(_, fp)| fp)
            .collect())
    }

    /// Trusts `fingerprint` for `key` from now on, replacing what was
    /// pinned for it. Writes a new file and renames it into place.
    pub fn pin(&self, key: &str, fingerprint: Fingerprint) -> io::Result<()> {
        let mut entries = self.entries()?;
        entries.retain(|(host, _)| host != key);
        entries.push((key.to_owned(), fingerprint));
        self.write(&entries)
    }

    /// Forgets what was pinned for `key`.
    pub fn forget(&self, key: &str) -> io::Result<()> {
        let mut entries = self.entries()?;
        entries.retain(|(host, _)| host != key);
        self.write(&entries)
    }

    fn write(&self, entries: &[(String, Fingerprint)]) -> io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = String::from("# porthole: pinned server certificates (host:port sha256)\n");
        for (host, fp) in entries {
            text.push_str(&format!("{host} {}\n", fp.to_hex()));
        }
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &self.path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}

/// What the certificate check decided, kept for the error and summary.
#[derive(Debug, Default)]
struct Verdict {
    fingerprint: Option<Fingerprint>,
    outcome: Option<Outcome>,
}

#[derive(Debug)]
enum Outcome {
    Verified,
    Pinned,
    Untrusted(String),
    Changed,
}

/// Checks the server's certificate: pins first, then the roots.
#[derive(Debug)]
struct Verifier {
    /// `None` when there is no root to verify against.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<Fingerprint>,
    /// Certificates the user gave as trusted (a CA file): one that is the
    /// server's own certificate, as people do with self-signed ones, is
    /// trusted as it is.
    exact: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    verdict: Arc<Mutex<Verdict>>,
}

impl Verifier {
    fn record(&self, fingerprint: Fingerprint, outcome: Outcome) {
        let mut verdict = self.verdict.lock().unwrap_or_else(PoisonError::into_inner);
        verdict.fingerprint = Some(fingerprint);
        verdict.outcome = Some(outcome);
    }
}

/// Says in words why a certificate did not verify.
fn explain(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(e) => match e {
            // A bad signature here means an authority of the same name,
            // but not the one trusted, signed it.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "it is not signed by a trusted certificate authority".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "it is not valid for this host name".to_owned()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "it has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "it is not valid yet".to_owned()
            }
            CertificateError::Revoked => "it was revoked".to_owned(),
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                "it is a certificate authority's, used as the server's own (a self-signed \
                 certificate that no trusted authority signed)"
                    .to_owned()
            }
            other => format!("it is invalid ({other:?})"),
        },
        other => other.to_string(),
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::of(end_entity.as_ref());
        if !self.pinned.is_empty() {
            if self.pinned.contains(&fingerprint) {
                self.record(fingerprint, Outcome::Pinned);
                return Ok(ServerCertVerified::assertion());
            }
            self.record(fingerprint, Outcome::Changed);
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        if self.exact.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            self.record(fingerprint, Outcome::Verified);
            return Ok(ServerCertVerified::assertion());
        }
        let Some(webpki) = &self.webpki else {
            self.record(
                fingerprint,
                Outcome::Untrusted("no trusted certificate authority was found".to_owned()),
            );
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(verified) => {
                self.record(fingerprint, Outcome::Verified);
                Ok(verified)
            }
            Err(e) => {
                self.record(fingerprint, Outcome::Untrusted(explain(&e)));
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// An in-memory socket for OpenSSL: received ciphertext waits in
/// `incoming`, ciphertext to send collects in `outgoing`.
#[derive(Debug, Default)]
struct Duplex {
    incoming: Vec<u8>,
    read_at: usize,
    outgoing: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.incoming.get(self.read_at..).unwrap_or_default();
        if available.is_empty() {
            // Tells OpenSSL to wait for more (SSL_ERROR_WANT_READ).
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.read_at += n;
        if self.read_at == self.incoming.len() {
            self.incoming.clear();
            self.read_at = 0;
        }
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The anonymous suites QEMU's `tls-creds-anon` and TigerVNC's TLS*
/// offer (GnuTLS ANON-DH/ANON-ECDH); they exist only up to TLS 1.2 and
/// only at OpenSSL's security level 0.
const ANONYMOUS_CIPHERS: &str = "aNULL:!eNULL:@SECLEVEL=0";

/// The most plaintext put in one TLS record. QEMU reads its TLS channel
/// 4096 bytes at a time and then waits for the socket: the rest of a larger
/// record would sit decrypted in GnuTLS until the client sent more, so a
/// large clipboard would stall the session. Records of at most this size
/// are read whole.
const MAX_RECORD_PLAINTEXT: usize = 4096;

fn tls_error(what: &str, e: impl fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

enum Engine {
    Verified {
        connection: Box<ClientConnection>,
        verdict: Arc<Mutex<Verdict>>,
    },
    Anonymous(Box<SslStream<Duplex>>),
}

/// The TLS client between the socket's bytes and the RFB parser.
pub(crate) struct TlsLayer {
    engine: Engine,
    established: bool,
}

impl fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.engine {
            Engine::Verified { .. } => "verified",
            Engine::Anonymous(_) => "anonymous",
        };
        f.debug_struct("TlsLayer")
            .field("kind", &kind)
            .field("established", &self.established)
            .finish()
    }
}

impl TlsLayer {
    /// Starts a TLS client; its ClientHello is ready for [`Self::send`].
    pub(crate) fn start(anonymous: bool, config: &TlsConfig) -> Result<Self, Error> {
        let engine = if anonymous {
            Engine::Anonymous(Box::new(Self::start_anonymous()?))
        } else {
            let (connection, verdict) = Self::start_verified(config)?;
            Engine::Verified {
                connection: Box::new(connection),
                verdict,
            }
        };
        Ok(Self {
            engine,
            established: false,
        })
    }

    fn start_anonymous() -> Result<SslStream<Duplex>, Error> {
        let openssl = |e: openssl::error::ErrorStack| tls_error("cannot set up anonymous TLS", e);
        let mut context = SslContext::builder(SslMethod::tls_client()).map_err(openssl)?;
        context
            .set_max_proto_version(Some(SslVersion::TLS1_2))
            .map_err(openssl)?;
        context
            .set_cipher_list(ANONYMOUS_CIPHERS)
            .map_err(openssl)?;
        context.set_verify(SslVerifyMode::NONE);
        let ssl = Ssl::new(&context.build()).map_err(openssl)?;
        let mut stream = SslStream::new(ssl, Duplex::default()).map_err(openssl)?;
        match stream.connect() {
            Ok(()) => Err(Error::Tls(
                "the TLS handshake ended before the server answered".to_owned(),
            )),
            Err(e) if e.code() == ErrorCode::WANT_READ => Ok(stream),
            Err(e) => Err(tls_error("cannot start anonymous TLS", e)),
        }
    }

    fn start_verified(
        config: &TlsConfig,
    ) -> Result<(ClientConnection, Arc<Mutex<Verdict>>), Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = config.roots.store();
        let webpki = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .ok()
        };
        let verdict = Arc::new(Mutex::new(Verdict::default()));
        let verifier = Verifier {
            webpki,
            pinned: config.pinned.clone(),
            exact: match &config.roots {
                TrustRoots::Certificates(certs) => certs.to_vec(),
                TrustRoots::System => Vec::new(),
            },
            algorithms: provider.signature_verification_algorithms,
            verdict: Arc::clone(&verdict),
        };
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("cannot set up TLS", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        client.max_fragment_size = Some(MAX_RECORD_PLAINTEXT);
        // Without a usable name nothing verifies; a pin still can.
        let name = config
            .server_name
            .as_deref()
            .and_then(|n| ServerName::try_from(n.trim_matches(['[', ']'])).ok())
            .map(|n| n.to_owned())
            .unwrap_or(ServerName::IpAddress(
                std::net::IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED).into(),
            ));
        let connection = ClientConnection::new(Arc::new(client), name)
            .map_err(|e| tls_error("cannot start TLS", e))?;
        Ok((connection, verdict))
    }

    /// Whether the handshake is still going on (no plaintext yet).
    pub(crate) fn is_handshaking(&self) -> bool {
        !self.established
    }

    /// Takes ciphertext from the server; appends what it decrypts to
    /// `plain`.
    pub(crate) fn receive(
        &mut self,
        mut ciphertext: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match &mut self.engine {
            Engine::Verified {
                connection,
                verdict,
            } => {
                while !ciphertext.is_empty() {
                    connection
                        .read_tls(&mut ciphertext)
                        .map_err(|e| tls_error("TLS failed", e))?;
                    let state = connection.process_new_packets().map_err(|e| {
                        let mut verdict = verdict.lock().unwrap_or_else(PoisonError::into_inner);
                        certificate_error(&mut verdict, &e)
                    })?;
                    let available = state.plaintext_bytes_to_read();
                    if available > 0 {
                        let start = plain.len();
                        plain.resize(start + available, 0);
                        let target = plain.get_mut(start..).unwrap_or_default();
                        connection
                            .reader()
                            .read_exact(target)
                            .map_err(|e| tls_error("TLS failed", e))?;
                    }
                }
                if !self.established && !connection.is_handshaking() {
                    self.established = true;
                    // Everything written is passed on at once by `send`,
                    // so rustls need not cap it: a large clipboard must
                    // not fail for want of buffer.
                    connection.set_buffer_limit(None);
                }
            }
            Engine::Anonymous(stream) => {
                stream.get_mut().incoming.extend_from_slice(ciphertext);
                if !self.established {
                    match stream.connect() {
                        Ok(()) => self.established = true,
                        Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                        Err(e) => return Err(anonymous_handshake_error(&e)),
                    }
                }
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match stream.ssl_read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => plain.extend_from_slice(buf.get(..n).unwrap_or_default()),
                        Err(e)
                            if e.code() == ErrorCode::WANT_READ
                                || e.code() == ErrorCode::ZERO_RETURN =>
                        {
                            break
                        }
                        Err(e) => return Err(tls_error("TLS failed", e)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Encrypts `plain` (emptied) once the handshake is over, and appends
    /// every byte of TLS waiting to be sent to `out`.
    pub(crate) fn send(&mut self, plain: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), Error> {
        match &mut self.engine {
            Engine::Verified { connection, .. } => {
                if self.established && !plain.is_empty() {
                    connection
                        .writer()
                        .write_all(plain)
                        .map_err(|e| tls_error("TLS failed", e))?;
                    plain.clear();
                }
                while connection.wants_write() {
                    connection
                        .write_tls(out)
                        .map_err(|e| tls_error("TLS failed", e))?;
                }
            }
            Engine::Anonymous(stream) => {
                if self.established {
                    let mut rest = plain.as_slice();
                    while !rest.is_empty() {
                        let chunk = rest.get(..MAX_RECORD_PLAINTEXT).unwrap_or(rest);
                        let n = stream
                            .ssl_write(chunk)
                            .map_err(|e| tls_error("TLS failed", e))?;
                        rest = rest.get(n..).unwrap_or_default();
                    }
                    plain.clear();
                }
                out.append(&mut stream.get_mut().outgoing);
            }
        }
        Ok(())
    }

    /// What the connection amounts to so far.
    pub(crate) fn summary(&self) -> SecuritySummary {
        match &self.engine {
            Engine::Anonymous(_) if self.established => SecuritySummary::EncryptedUnverified,
            Engine::Anonymous(_) => SecuritySummary::Unencrypted,
            Engine::Verified { verdict, .. } => {
                let verdict = verdict.lock().unwrap_or_else(PoisonError::into_inner);
                match (verdict.fingerprint, &verdict.outcome, self.established) {
                    (Some(fingerprint), Some(Outcome::Verified), true) => {
                        SecuritySummary::EncryptedVerified {
                            fingerprint,
                            pinned: false,
                        }
                    }
                    (Some(fingerprint), Some(Outcome::Pinned), true) => {
                        SecuritySummary::EncryptedVerified {
                            fingerprint,
                            pinned: true,
                        }
                    }
                    _ => SecuritySummary::Unencrypted,
                }
            }
        }
    }
}

/// The error for a failed rustls handshake: the certificate verdict if
/// that was the reason.
fn certificate_error(verdict: &mut Verdict, error: &rustls::Error) -> Error {
    match (verdict.fingerprint, verdict.outcome.take()) {
        (Some(fingerprint), Some(Outcome::Untrusted(reason))) => Error::CertificateNotTrusted {
            fingerprint,
            reason,
        },
        (Some(fingerprint), Some(Outcome::Changed)) => Error::CertificateChanged { fingerprint },
        _ => tls_error("the TLS handshake failed", error),
    }
}

fn anonymous_handshake_error(error: &openssl::ssl::Error) -> Error {
    Error::Tls(format!(
        "the anonymous TLS handshake failed ({error}); the server may not offer anonymous \
         Diffie-Hellman, or this system's OpenSSL disables it"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons_in_any_case() {
        let fp = Fingerprint::of(b"certificate");
        let shown = fp.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(Fingerprint::parse(&shown), Some(fp));
        assert_eq!(Fingerprint::parse(&shown.to_lowercase()), Some(fp));
        assert_eq!(Fingerprint::parse(&fp.to_hex()), Some(fp));
        assert_eq!(Fingerprint::parse(&fp.to_hex()[2..]), None);
        assert_eq!(Fingerprint::parse(&"zz".repeat(32)), None);
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        // sha256("abc"), FIPS 180-2.
        assert_eq!(
            Fingerprint::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pin_store_keeps_one_pin_per_host_across_reopening() {
        let dir = std::env::temp_dir().join(format!("porthole-pins-{}", std::process::id()));
        let path = dir.join("sub").join("pins");
        let store = PinStore::new(&path);
        let a = Fingerprint::of(b"a");
        let b = Fingerprint::of(b"b");
        assert!(store.load("h:5900").unwrap().is_empty());
        store.pin("h:5900", a).unwrap();
        store.pin("other:1", b).unwrap();
        store.pin("h:5900", b).unwrap();
        let reopened = PinStore::new(&path);
        assert_eq!(reopened.load("h:5900").unwrap(), vec![b]);
        assert_eq!(reopened.load("other:1").unwrap(), vec![b]);
        reopened.forget("h:5900").unwrap();
        assert!(reopened.load("h:5900").unwrap().is_empty());
        assert_eq!(PinStore::key("::1", 5900), "[::1]:5900");
        assert_eq!(PinStore::key("Host", 5901), "host:5901");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An anonymous TLS server in memory: what QEMU's `tls-creds-anon`
    /// does, for type 18, which no server we can run offers any more.
    struct AnonymousServer {
        stream: SslStream<Duplex>,
        ready: bool,
    }

    impl AnonymousServer {
        fn new() -> Self {
            let mut context = SslContext::builder(SslMethod::tls_server()).unwrap();
            context
                .set_max_proto_version(Some(SslVersion::TLS1_2))
                .unwrap();
            context.set_cipher_list(ANONYMOUS_CIPHERS).unwrap();
            let ssl = Ssl::new(&context.build()).unwrap();
            Self {
                stream: SslStream::new(ssl, Duplex::default()).unwrap(),
                ready: false,
            }
        }

        /// Takes the client's TLS bytes; returns the plaintext they held.
        fn receive(&mut self, ciphertext: &[u8]) -> Vec<u8> {
            self.stream.get_mut().incoming.extend_from_slice(ciphertext);
            if !self.ready {
                match self.stream.accept() {
                    Ok(()) => self.ready = true,
                    Err(e) if e.code() == ErrorCode::WANT_READ => return Vec::new(),
                    Err(e) => panic!("server handshake: {e}"),
                }
            }
            let mut plain = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = self.stream.ssl_read(&mut buf) {
                plain.extend_from_slice(&buf[..n]);
            }
            plain
        }

        fn send(&mut self, plain: &[u8]) {
            self.stream.ssl_write(plain).unwrap();
        }

        fn take_output(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.stream.get_mut().outgoing)
        }
    }

    #[test]
    fn type_18_negotiates_again_inside_anonymous_tls() {
        use crate::proto::{Config, Event, Session};
        use crate::security::SecurityType;

        let mut session = Session::new(Config::default());
        session.feed(b"RFB 003.008\n\x01\x12").unwrap();
        let mut out = Vec::new();
        session.poll_transmit(&mut out);
        assert_eq!(&out[..13], b"RFB 003.008\n\x12");
        let mut to_server = out[13..].to_vec();
        let mut server = AnonymousServer::new();
        let mut got = Vec::new();
        // 0: TLS handshake, 1: types sent, 2: result sent, 3: init sent.
        let mut stage = 0;
        let mut connected = false;
        for _ in 0..50 {
            got.extend(server.receive(&std::mem::take(&mut to_server)));
            if stage == 0 && server.ready {
                // The inner list: None only.
                server.send(&[1, 1]);
                stage = 1;
            } else if stage == 1 && !got.is_empty() {
                assert_eq!(got, [1], "the client must choose None");
                server.send(&0u32.to_be_bytes());
                got.clear();
                stage = 2;
            } else if stage == 2 && !got.is_empty() {
                // ClientInit: a 2x1 ServerInit named "t".
                let mut init = vec![0, 2, 0, 1];
                init.extend_from_slice(&crate::pixel::PixelFormat::NATIVE.to_bytes());
                init.extend_from_slice(&[0, 0, 0, 1, b't']);
                server.send(&init);
                got.clear();
                stage = 3;
            }
            session.feed(&server.take_output()).unwrap();
            while let Some(event) = session.poll_event() {
                if let Event::Connected { name, .. } = event {
                    assert_eq!(name, "t");
                    connected = true;
                }
            }
            session.poll_transmit(&mut to_server);
            if connected {
                break;
            }
        }
        assert!(connected, "the handshake did not finish inside TLS");
        assert_eq!(session.security_type(), Some(SecurityType::Tls));
        assert_eq!(
            session.security_summary(),
            SecuritySummary::EncryptedUnverified
        );
        assert_eq!(session.vencrypt_subtype(), None);
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(TrustRoots::from_pem(b"hello").is_err());
    }
}
