//! VeNCrypt and TLS against the real servers: QEMU with `tls-creds-x509`
//! (X509None, X509Vnc) and `tls-creds-anon` (TLSNone, TLSVnc), Xvnc with
//! X509Plain, TLSPlain and TLSVnc (Plain checked by PAM against a system
//! user the harness creates). Each connection must reach the server's own
//! picture of its screen pixel for pixel through TLS, report how it is
//! protected, and a wrong CA or a changed certificate must be refused with
//! the certificate's fingerprint.
//!
//! The core is driven directly over a blocking socket (the sans-IO loop in
//! [`run`]) so the tests can ask the session what it negotiated; the
//! command-line tests check the options users type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use porthole_harness::images::{self, RgbImage};
use porthole_harness::process::{tools_available, TempDir};
use porthole_harness::qemu::{Qemu, QemuOptions, QemuTls};
use porthole_harness::tls::{Certificates, PamUser};
use porthole_harness::xvnc::{Xvnc, XvncOptions, XvncSecurity};
use porthole_vnc::security::{
    Credentials, Fingerprint, SecurityPolicy, SecuritySummary, Subtype, TrustRoots,
};
use porthole_vnc::{Config, Error, Event, Session};

/// Runs a session over TCP until its first update is complete.
fn run(port: u16, config: Config, credentials: Option<Credentials>) -> Result<Session, Error> {
    run_with_stream(port, config, credentials).map(|(session, _)| session)
}

/// [`run`], keeping the connection for more.
fn run_with_stream(
    port: u16,
    config: Config,
    credentials: Option<Credentials>,
) -> Result<(Session, TcpStream), Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut session = Session::new(config);
    if let Some(credentials) = credentials {
        session.provide_credentials(credentials)?;
    }
    until_update(&mut session, &mut stream)?;
    Ok((session, stream))
}

/// Pumps `session` over `stream` until an update is complete.
fn until_update(session: &mut Session, stream: &mut TcpStream) -> Result<(), Error> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        out.clear();
        session.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).unwrap();
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::UpdateComplete => return Ok(()),
                Event::CredentialsRequired { .. } => panic!("credentials asked for: {event:?}"),
                _ => {}
            }
        }
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the server closed the connection");
        session.feed(&buffer[..n])?;
    }
}

fn screen(session: &Session) -> RgbImage {
    let fb = session.framebuffer();
    let (w, h) = (u32::from(fb.width()), u32::from(fb.height()));
    let stride = fb.stride();
    let data = fb.data();
    RgbImage::from_fn(w, h, |x, y| {
        let i = y as usize * stride + x as usize * 4;
        image::Rgb([data[i + 2], data[i + 1], data[i]])
    })
}

/// A config that trusts `certs`' CA for 127.0.0.1.
fn trusting(certs: &Certificates) -> Config {
    let mut config = Config::default();
    config.tls.server_name = Some("127.0.0.1".into());
    config.tls.roots = TrustRoots::from_pem_file(&certs.ca_cert()).unwrap();
    config
}

fn fingerprint(certs: &Certificates) -> Fingerprint {
    Fingerprint::parse(&certs.server_fingerprint().unwrap()).unwrap()
}

fn qemu_with(tls: QemuTls, password: Option<&str>) -> Qemu {
    Qemu::start(&QemuOptions {
        tls: Some(tls),
        password: password.map(str::to_owned),
        ..QemuOptions::default()
    })
    .unwrap()
}

#[test]
fn qemu_x509_none_and_x509_vnc_verify_against_the_ca() {
    if !tools_available(&["qemu-system-x86_64", "openssl"]) {
        return;
    }
    let certs = Certificates::generate().unwrap();
    let expected = SecuritySummary::EncryptedVerified {
        fingerprint: fingerprint(&certs),
        pinned: false,
    };

    let mut qemu = qemu_with(QemuTls::X509(certs.dir().to_owned()), None);
    let session = run(qemu.port, trusting(&certs), None).unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::X509None));
    assert_eq!(session.security_summary(), expected);
    images::assert_same(
        &qemu.screendump().unwrap(),
        &screen(&session),
        "qemu X509None",
    );

    let mut qemu = qemu_with(QemuTls::X509(certs.dir().to_owned()), Some("qemu-pw"));
    let session = run(
        qemu.port,
        trusting(&certs),
        Some(Credentials::password("qemu-pw")),
    )
    .unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::X509Vnc));
    assert_eq!(session.security_summary(), expected);
    images::assert_same(
        &qemu.screendump().unwrap(),
        &screen(&session),
        "qemu X509Vnc",
    );

    let err = run(
        qemu.port,
        trusting(&certs),
        Some(Credentials::password("wrong")),
    )
    .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err}");
}

#[test]
fn qemu_wrong_ca_is_refused_with_the_fingerprint_and_a_pin_overrides_it() {
    if !tools_available(&["qemu-system-x86_64", "openssl"]) {
        return;
    }
    let certs = Certificates::generate().unwrap();
    let other = Certificates::generate().unwrap();
    let mut qemu = qemu_with(QemuTls::X509(certs.dir().to_owned()), None);

    let err = run(qemu.port, trusting(&other), None).unwrap_err();
    let Error::CertificateNotTrusted {
        fingerprint: shown,
        ref reason,
    } = err
    else {
        panic!("expected an untrusted certificate, got {err}");
    };
    assert_eq!(shown, fingerprint(&certs));
    assert!(reason.contains("not signed by a trusted"), "{reason}");
    assert!(
        err.to_string()
            .contains(&certs.server_fingerprint().unwrap()),
        "{err}"
    );

    // No name to check against: still refused, still with the fingerprint.
    let mut nameless = trusting(&certs);
    nameless.tls.server_name = None;
    assert!(matches!(
        run(qemu.port, nameless, None).unwrap_err(),
        Error::CertificateNotTrusted { .. }
    ));

    // The user trusts what they were shown: accepted, marked as pinned.
    let mut pinned = trusting(&other);
    pinned.tls.pinned = vec![shown];
    let session = run(qemu.port, pinned, None).unwrap();
    assert_eq!(
        session.security_summary(),
        SecuritySummary::EncryptedVerified {
            fingerprint: shown,
            pinned: true
        }
    );
    images::assert_same(
        &qemu.screendump().unwrap(),
        &screen(&session),
        "qemu pinned",
    );

    // A pin for another certificate: the server's certificate "changed",
    // even though the CA would vouch for this one.
    let mut changed = trusting(&certs);
    changed.tls.pinned = vec![fingerprint(&other)];
    let err = run(qemu.port, changed, None).unwrap_err();
    assert_eq!(err, Error::CertificateChanged { fingerprint: shown });
    assert!(err.to_string().contains("certificate changed"), "{err}");
}

#[test]
fn qemu_anonymous_tls_is_encrypted_but_not_verified() {
    if !tools_available(&["qemu-system-x86_64"]) {
        return;
    }
    let mut qemu = qemu_with(QemuTls::Anonymous, None);
    let session = run(qemu.port, Config::default(), None).unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::TlsNone));
    assert_eq!(
        session.security_summary(),
        SecuritySummary::EncryptedUnverified
    );
    images::assert_same(
        &qemu.screendump().unwrap(),
        &screen(&session),
        "qemu TLSNone",
    );

    let mut qemu = qemu_with(QemuTls::Anonymous, Some("anon-pw"));
    let session = run(
        qemu.port,
        Config::default(),
        Some(Credentials::password("anon-pw")),
    )
    .unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::TlsVnc));
    images::assert_same(
        &qemu.screendump().unwrap(),
        &screen(&session),
        "qemu TLSVnc",
    );

    // Anonymous TLS refused by the policy: no fallback to anything else.
    let mut strict = Config::default();
    strict.security.allow_anonymous_tls = false;
    let err = run(qemu.port, strict, None).unwrap_err();
    assert!(matches!(err, Error::SecurityFailed { .. }), "{err}");
}

fn xvnc_with(types: &str, certs: &Certificates, user: Option<&PamUser>) -> Xvnc {
    let server = Xvnc::start(&XvncOptions {
        security: XvncSecurity::Custom {
            types: types.to_owned(),
            password: Some("tiger-pw".to_owned()),
            plain_users: user.map(|u| u.name.clone()).into_iter().collect(),
            x509: Some((certs.server_cert(), certs.server_key())),
        },
        ..XvncOptions::default()
    })
    .unwrap();
    server.show_image(&images::test_pattern(640, 480)).unwrap();
    server
}

#[test]
fn xvnc_x509plain_tlsplain_and_tlsvnc_match_the_screen() {
    if !tools_available(&["Xvnc", "display", "import", "openssl"]) {
        return;
    }
    if !PamUser::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root to create a PAM user"
        );
        eprintln!("SKIPPED: creating a PAM user needs root and useradd");
        return;
    }
    let certs = Certificates::generate().unwrap();
    let user = PamUser::create("porthole-tls1", "pam-secret-1").unwrap();
    let plain = || {
        Some(Credentials {
            username: Some(user.name.clone()),
            password: Some(user.password.clone()),
        })
    };

    // All offered: X509 first, the policy says.
    let server = xvnc_with("X509Plain,TLSPlain,TLSVnc,VncAuth", &certs, Some(&user));
    let truth = server.screenshot().unwrap();
    let mut config = trusting(&certs);
    config.security.require_encryption = true;
    let session = run(server.port, config, plain()).unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::X509Plain));
    assert!(matches!(
        session.security_summary(),
        SecuritySummary::EncryptedVerified { pinned: false, .. }
    ));
    images::assert_same(&truth, &screen(&session), "xvnc X509Plain");

    let err = run(
        server.port,
        trusting(&certs),
        Some(Credentials {
            username: Some(user.name.clone()),
            password: Some("not-it".into()),
        }),
    )
    .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err}");

    let server = xvnc_with("TLSPlain", &certs, Some(&user));
    let session = run(server.port, Config::default(), plain()).unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::TlsPlain));
    assert_eq!(
        session.security_summary(),
        SecuritySummary::EncryptedUnverified
    );
    images::assert_same(&truth, &screen(&session), "xvnc TLSPlain");

    let server = xvnc_with("TLSVnc", &certs, None);
    let session = run(
        server.port,
        Config::default(),
        Some(Credentials::password("tiger-pw")),
    )
    .unwrap();
    assert_eq!(session.vencrypt_subtype(), Some(Subtype::TlsVnc));
    images::assert_same(&truth, &screen(&session), "xvnc TLSVnc");
}

#[test]
fn require_encryption_never_falls_back_to_plain_or_vnc_auth() {
    if !tools_available(&["Xvnc", "display", "openssl"]) {
        return;
    }
    let certs = Certificates::generate().unwrap();
    let strict = || Config {
        security: SecurityPolicy {
            require_encryption: true,
            ..SecurityPolicy::default()
        },
        ..Config::default()
    };
    let server = xvnc_with("Plain,VncAuth", &certs, None);
    let err = run(
        server.port,
        strict(),
        Some(Credentials::password("tiger-pw")),
    )
    .unwrap_err();
    assert!(matches!(err, Error::SecurityFailed { .. }), "{err}");
    assert!(err.to_string().contains("encryption is required"), "{err}");
    let server = xvnc_with("VncAuth", &certs, None);
    let err = run(server.port, strict(), None).unwrap_err();
    assert!(matches!(err, Error::NoAcceptableSecurity { .. }), "{err}");
}

/// The command line: `--ca`, `--username`, `--password-file`,
/// `--trust-fingerprint` in the spellings users paste.
#[test]
fn cli_options_for_certificates_and_plain() {
    if !tools_available(&["Xvnc", "display", "import", "openssl"]) {
        return;
    }
    if !PamUser::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root to create a PAM user"
        );
        eprintln!("SKIPPED: creating a PAM user needs root and useradd");
        return;
    }
    let certs = Certificates::generate().unwrap();
    let other = Certificates::generate().unwrap();
    let user = PamUser::create("porthole-tls2", "pam-secret-2").unwrap();
    let server = xvnc_with("X509Plain", &certs, Some(&user));
    let truth = server.screenshot().unwrap();
    let dir = TempDir::new("porthole-tls-cli").unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, format!("{}\n", user.password)).unwrap();
    let out = dir.path().join("out.png");
    let tool = env!("CARGO_BIN_EXE_porthole-vnc");
    let capture = |extra: &[&str]| {
        let _ = std::fs::remove_file(&out);
        Command::new(tool)
            .arg("capture")
            .arg(server.address())
            .arg(&out)
            .args([
                "--timeout",
                "30",
                "--username",
                &user.name,
                "--password-file",
            ])
            .arg(&password)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };

    let ok = capture(&["--ca", certs.ca_cert().to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    images::assert_same(&truth, &images::load(&out).unwrap(), "cli X509Plain");

    let refused = capture(&["--ca", other.ca_cert().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let shown = certs.server_fingerprint().unwrap();
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(!out.exists());

    // Pasted lower-case without colons: the same certificate.
    let pasted = shown.replace(':', "").to_lowercase();
    let pinned = capture(&[
        "--ca",
        other.ca_cert().to_str().unwrap(),
        "--trust-fingerprint",
        &pasted,
    ]);
    assert!(
        pinned.status.success(),
        "{}",
        String::from_utf8_lossy(&pinned.stderr)
    );
    images::assert_same(&truth, &images::load(&out).unwrap(), "cli pinned");

    let changed = capture(&["--trust-fingerprint", &other.server_fingerprint().unwrap()]);
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(!changed.status.success());
    assert!(stderr.contains("certificate changed"), "{stderr}");
}

/// `porthole-vnc info` says how the connection is protected.
#[test]
fn cli_info_tells_encrypted_verified_from_unverified() {
    if !tools_available(&["qemu-system-x86_64", "openssl"]) {
        return;
    }
    let tool = env!("CARGO_BIN_EXE_porthole-vnc");
    let info = |qemu: &Qemu, extra: &[&str]| {
        let output = Command::new(tool)
            .args(["info", &qemu.address(), "--timeout", "30"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let anonymous = qemu_with(QemuTls::Anonymous, None);
    let out = info(&anonymous, &[]);
    assert!(out.contains("VeNCrypt (19)"), "{out}");
    assert!(out.contains("security: encrypted, not verified"), "{out}");

    let certs = Certificates::generate().unwrap();
    let verified = qemu_with(QemuTls::X509(certs.dir().to_owned()), None);
    let ca = certs.ca_cert();
    let out = info(&verified, &["--ca", ca.to_str().unwrap()]);
    let expected = format!(
        "security: encrypted, verified (certificate {})",
        certs.server_fingerprint().unwrap()
    );
    assert!(out.contains(&expected), "{out}");
}

/// Client messages far larger than a TLS record (a big clipboard) go
/// through both TLS engines, and the session goes on.
#[test]
fn a_large_clipboard_goes_through_tls() {
    if !tools_available(&["qemu-system-x86_64", "openssl"]) {
        return;
    }
    let certs = Certificates::generate().unwrap();
    let text = "porthole ".repeat(40_000);
    for (tls, config) in [
        (QemuTls::X509(certs.dir().to_owned()), trusting(&certs)),
        (QemuTls::Anonymous, Config::default()),
    ] {
        let qemu = qemu_with(tls, None);
        let (mut session, mut stream) = run_with_stream(qemu.port, config, None).unwrap();
        session.client_cut_text(&text);
        session.request_update(false, None);
        until_update(&mut session, &mut stream).unwrap();
        assert!(session.is_connected());
    }
}

/// A self-signed certificate given as the CA file is trusted as it is
/// (webpki alone refuses a CA certificate as the server's own); given
/// another CA, it is refused with words a person understands.
#[test]
fn a_self_signed_certificate_given_as_ca_is_trusted() {
    if !tools_available(&["Xvnc", "display", "import", "openssl"]) {
        return;
    }
    let own = Certificates::self_signed().unwrap();
    let other = Certificates::generate().unwrap();
    let server = xvnc_with("X509None", &own, None);
    let truth = server.screenshot().unwrap();
    let session = run(server.port, trusting(&own), None).unwrap();
    assert_eq!(
        session.security_summary(),
        SecuritySummary::EncryptedVerified {
            fingerprint: fingerprint(&own),
            pinned: false
        }
    );
    images::assert_same(&truth, &screen(&session), "xvnc self-signed");
    let err = run(server.port, trusting(&other), None).unwrap_err();
    assert!(err.to_string().contains("self-signed"), "{err}");
}
