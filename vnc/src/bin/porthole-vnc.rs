//! `porthole-vnc`: the command-line tool of the RFB crate. It captures a
//! server's screen to PNG and describes a server, through the same driver
//! and session the app uses, so it is also how the crate is tested from
//! outside. It owns argument parsing, password prompting and file output;
//! every error ends as one line on stderr and a non-zero exit.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use porthole_vnc::address::Address;
use porthole_vnc::decode::encoding;
use porthole_vnc::driver::{self, DriverEvent, Events, Handle};
use porthole_vnc::proto::{Config, Event, Quality};
use porthole_vnc::security::SecurityType;
use porthole_vnc::{Framebuffer, PixelFormat};

#[path = "porthole-vnc/record.rs"]
mod record;
#[path = "porthole-vnc/replay.rs"]
mod replay;
#[path = "porthole-vnc/security_options.rs"]
mod security_options;
#[path = "porthole-vnc/serve.rs"]
mod serve;

use security_options::SecurityOptions;

const USAGE: &str = "\
usage: porthole-vnc capture ADDRESS OUT.png [--updates N] [--timeout SECS] [--encodings LIST] [--quality Q] [--password-file FILE]
       porthole-vnc info ADDRESS [--timeout SECS] [--password-file FILE]

ADDRESS is host, host:DISPLAY (port 5900+DISPLAY), host::PORT, [v6addr]::PORT,
vnc://host[:PORT] (a TCP port, default 5900) or unix:/path/to/socket.

capture   connect, ask for a full update, wait until N updates (default 1) are
          applied, and write the screen as PNG (no cursor drawn in)
info      print the server's version, the security types it offers and, after
          the handshake, the desktop name, size and pixel format

--timeout SECS        give up after this long (default 30)
--encodings LIST      only these encodings, comma-separated:
                      raw,copyrect,rre,corre,hextile,zlib,zrle,trle,
                      tight,tightpng,jpeg
--quality Q           lossless (no JPEG) or a JPEG quality 0-9; default:
                      lossless for local servers, 8 for remote ones
--password-file FILE  the password as plain text ('-' reads standard input);
                      without it, a password is asked for on the terminal";

const USAGE_SECURITY: &str = security_options::HELP;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The real encodings `--encodings` knows, by name.
const ENCODING_NAMES: [(&str, i32); 11] = [
    ("raw", encoding::RAW),
    ("copyrect", encoding::COPY_RECT),
    ("rre", encoding::RRE),
    ("corre", encoding::CORRE),
    ("hextile", encoding::HEXTILE),
    ("zlib", encoding::ZLIB),
    ("zrle", encoding::ZRLE),
    ("trle", encoding::TRLE),
    ("tight", encoding::TIGHT),
    ("tightpng", encoding::TIGHT_PNG),
    ("jpeg", encoding::JPEG),
];

/// An error for the user: a message, and whether it was about usage.
#[derive(Debug)]
struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self {
            message: error.to_string(),
            usage: false,
        }
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        usage: false,
    }
}

#[derive(Debug)]
enum Command {
    Capture {
        address: Address,
        output: PathBuf,
        updates: u32,
        encodings: Option<Vec<i32>>,
        quality: Option<Quality>,
    },
    Info {
        address: Address,
    },
    Help,
    Version,
}

#[derive(Debug)]
struct Options {
    command: Command,
    timeout: Duration,
    password_file: Option<PathBuf>,
    security: SecurityOptions,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // One line, whatever the message contains.
            let line = failure
                .message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("porthole-vnc: {line}");
            if failure.usage {
                eprintln!("try 'porthole-vnc --help'");
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Recordings: these subcommands parse their own options.
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("record") => return record::run(rest),
        Some("replay") => return replay::run(rest),
        Some("serve") => return serve::run(rest),
        _ => {}
    }
    let options = parse_args(args.into_iter())?;
    options.security.install();
    // Read the password file first: a bad path should not cost a connection.
    let password = match &options.password_file {
        Some(path) => Some(read_password_file(path)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match options.command {
        Command::Help => {
            println!("{USAGE}\n{USAGE_SECURITY}");
            println!(
                "\n{}\n{}\n{}\n\n{}\n{}\n{}",
                record::USAGE,
                replay::USAGE,
                serve::USAGE,
                record::HELP,
                replay::HELP,
                serve::HELP
            );
            Ok(())
        }
        Command::Version => {
            println!("porthole-vnc {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Capture {
            address,
            output,
            updates,
            encodings,
            quality,
        } => {
            let mut config = Config {
                quality: quality.unwrap_or_else(|| Quality::auto_for(&address)),
                ..Config::default()
            };
            if let Some(list) = encodings {
                config.encodings = list;
            }
            options.security.apply(&mut config, &address)?;
            runtime.block_on(capture(
                &address,
                &output,
                updates,
                config,
                password,
                options.timeout,
            ))
        }
        Command::Info { address } => {
            let mut config = Config::default();
            options.security.apply(&mut config, &address)?;
            runtime.block_on(info(&address, config, password, options.timeout))
        }
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, Failure> {
    let mut positional = Vec::new();
    let mut updates = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut encodings = None;
    let mut quality = None;
    let mut password_file = None;
    let mut security = SecurityOptions::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match name.as_str() {
            "-h" | "--help" => {
                return Ok(Options {
                    command: Command::Help,
                    timeout,
                    password_file,
                    security,
                })
            }
            "-V" | "--version" => {
                return Ok(Options {
                    command: Command::Version,
                    timeout,
                    password_file,
                    security,
                })
            }
            "--updates" => {
                let text = value("--updates")?;
                updates = Some(text.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    Failure::usage(format!(
                        "--updates takes a whole number of at least 1, not '{text}'"
                    ))
                })?);
            }
            "--timeout" => {
                let text = value("--timeout")?;
                timeout = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "--timeout takes a number of seconds above 0, not '{text}'"
                        ))
                    })?;
            }
            "--encodings" => encodings = Some(parse_encodings(&value("--encodings")?)?),
            "--quality" => {
                let text = value("--quality")?;
                quality = Some(Quality::parse(&text).ok_or_else(|| {
                    Failure::usage(format!(
                        "--quality takes lossless or a level from 0 to 9, not '{text}'"
                    ))
                })?);
            }
            "--password-file" => password_file = Some(PathBuf::from(value("--password-file")?)),
            flag if SecurityOptions::takes(flag) => security.set(flag, &mut value)?,
            "--" => positional.extend(args.by_ref()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::usage(format!("unknown option '{flag}'")))
            }
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let command = match positional.next().as_deref() {
        None => return Err(Failure::usage("no command given: use capture or info")),
        Some("capture") => {
            let (Some(address), Some(output)) = (positional.next(), positional.next()) else {
                return Err(Failure::usage(
                    "capture needs an ADDRESS and an output file",
                ));
            };
            Command::Capture {
                address: Address::parse(&address).map_err(|e| Failure::usage(e.to_string()))?,
                output: PathBuf::from(output),
                updates: updates.unwrap_or(1),
                encodings,
                quality,
            }
        }
        Some("info") => {
            let Some(address) = positional.next() else {
                return Err(Failure::usage("info needs an ADDRESS"));
            };
            if updates.is_some() || encodings.is_some() || quality.is_some() {
                return Err(Failure::usage(
                    "--updates, --encodings and --quality are options of capture",
                ));
            }
            Command::Info {
                address: Address::parse(&address).map_err(|e| Failure::usage(e.to_string()))?,
            }
        }
        Some(other) => {
            return Err(Failure::usage(format!(
                "unknown command '{other}': use capture or info"
            )))
        }
    };
    if let Some(extra) = positional.next() {
        return Err(Failure::usage(format!("unexpected argument '{extra}'")));
    }
    Ok(Options {
        command,
        timeout,
        password_file,
        security,
    })
}

fn parse_encodings(list: &str) -> Result<Vec<i32>, Failure> {
    let mut encodings = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let lower = name.to_ascii_lowercase();
        let number = ENCODING_NAMES
            .iter()
            .find(|(known, _)| *known == lower)
            .map(|(_, number)| *number)
            .ok_or_else(|| {
                let known: Vec<&str> = ENCODING_NAMES.iter().map(|(n, _)| *n).collect();
                Failure::usage(format!(
                    "unknown encoding '{name}' (known: {})",
                    known.join(",")
                ))
            })?;
        if !encodings.contains(&number) {
            encodings.push(number);
        }
    }
    if encodings.is_empty() {
        return Err(Failure::usage("--encodings needs at least one encoding"));
    }
    Ok(encodings)
}

/// Reads a password file ('-' is standard input); one trailing newline is
/// not part of the password.
fn read_password_file(path: &Path) -> Result<String, Failure> {
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| fail(format!("cannot read the password from standard input: {e}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read password file {}: {e}", path.display())))?;
    }
    if let Some(stripped) = text.strip_suffix('\n') {
        text.truncate(stripped.strip_suffix('\r').unwrap_or(stripped).len());
    }
    Ok(text)
}

/// Asks for the password on the terminal (without echo) or reads a line
/// from standard input when it is not a terminal.
fn prompt_password() -> Result<String, Failure> {
    let stdin = io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = io::stderr().flush();
        let echo_off = std::process::Command::new("stty")
            .arg("-echo")
            .status()
            .is_ok_and(|s| s.success());
        let read = stdin.lock().read_line(&mut line);
        if echo_off {
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
        }
        read?;
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    if line.is_empty() {
        return Err(fail(
            "the server asks for a password and none was given: use --password-file or type it when asked",
        ));
    }
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}

/// A connection in progress, with the deadline every wait respects.
struct Client {
    handle: Handle,
    events: Events,
    deadline: Instant,
    timeout: Duration,
    /// What the server has got to, for the timeout message.
    progress: Progress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    Connected,
    Greeted,
    Initialised,
}

impl Client {
    async fn connect(
        address: &Address,
        config: Config,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let deadline = Instant::now() + timeout;
        let stream = driver::connect(address, timeout).await?;
        let (handle, events, _task) = driver::spawn(
            stream,
            config,
            security_options::initial_credentials(password),
        );
        Ok(Self {
            handle,
            events,
            deadline,
            timeout,
            progress: Progress::Connected,
        })
    }

    /// The next session event, answering credential requests on the way.
    /// `waiting_for` completes the timeout message.
    async fn next(&mut self, waiting_for: &str) -> Result<Event, Failure> {
        loop {
            let waiting_for = match self.progress {
                Progress::Connected => "the server's greeting",
                Progress::Greeted => "the handshake to finish",
                Progress::Initialised => waiting_for,
            };
            let left = self.deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, self.events.recv())
                .await
                .map_err(|_| {
                    fail(format!(
                        "timed out after {} s waiting for {waiting_for}; the server may be stuck, or raise --timeout",
                        self.timeout.as_secs_f32()
                    ))
                })?;
            match event {
                Some(DriverEvent::Session(Event::CredentialsRequired { username, password })) => {
                    let asked = Instant::now();
                    let credentials = tokio::task::spawn_blocking(move || {
                        security_options::prompt(username, password)
                    })
                    .await??;
                    // Time spent typing does not count against the timeout.
                    self.deadline += asked.elapsed();
                    self.handle.provide_credentials(credentials);
                }
                Some(DriverEvent::Session(event)) => {
                    match event {
                        Event::ServerVersion { .. } => self.progress = Progress::Greeted,
                        Event::Connected { .. } => self.progress = Progress::Initialised,
                        _ => {}
                    }
                    return Ok(event);
                }
                Some(DriverEvent::Closed(Err(error))) => return Err(error.into()),
                Some(DriverEvent::Closed(Ok(()))) | None => {
                    return Err(fail("the connection closed unexpectedly"))
                }
            }
        }
    }

    async fn close(mut self) {
        self.handle.shutdown();
        // Let the driver flush and close; don't hang on a stuck server.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(event) = self.events.recv().await {
                if matches!(event, DriverEvent::Closed(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn capture(
    address: &Address,
    output: &Path,
    updates: u32,
    config: Config,
    password: Option<String>,
    timeout: Duration,
) -> Result<(), Failure> {
    let mut client = Client::connect(address, config, password, timeout).await?;
    let mut complete = 0;
    while complete < updates {
        let waiting_for = if complete == 0 {
            "the first update".to_owned()
        } else {
            format!("update {} of {updates}", complete + 1)
        };
        if client.next(&waiting_for).await? == Event::UpdateComplete {
            complete += 1;
        }
    }
    let framebuffer = client.handle.lock_framebuffer().clone();
    client.close().await;
    write_png(&framebuffer, output)
}

async fn info(
    address: &Address,
    config: Config,
    password: Option<String>,
    timeout: Duration,
) -> Result<(), Failure> {
    let mut client = Client::connect(address, config, password, timeout).await?;
    let mut stdout = io::stdout();
    loop {
        match client.next("the handshake").await? {
            Event::ServerVersion { raw, .. } => writeln!(stdout, "version: {}", raw.trim())?,
            Event::SecurityTypesOffered(types) => {
                let names: Vec<String> = types
                    .iter()
                    .map(|&t| format!("{} ({t})", SecurityType::from(t)))
                    .collect();
                writeln!(stdout, "security types: {}", names.join(", "))?;
            }
            Event::Connected {
                name,
                width,
                height,
                format,
            } => {
                writeln!(stdout, "name: {name}")?;
                writeln!(stdout, "size: {width}x{height}")?;
                writeln!(stdout, "pixel format: {}", describe_format(&format))?;
                writeln!(stdout, "security: {}", client.handle.security_summary())?;
                break;
            }
            _ => {}
        }
        stdout.flush()?;
    }
    client.close().await;
    Ok(())
}

fn describe_format(format: &PixelFormat) -> String {
    let order = if format.big_endian {
        "big-endian"
    } else {
        "little-endian"
    };
    let colours = if format.true_colour {
        format!(
            "true colour, red {}<<{}, green {}<<{}, blue {}<<{}",
            format.red_max,
            format.red_shift,
            format.green_max,
            format.green_shift,
            format.blue_max,
            format.blue_shift
        )
    } else {
        "colour map".to_owned()
    };
    format!(
        "{} bpp, depth {}, {order}, {colours}",
        format.bits_per_pixel, format.depth
    )
}

/// Writes the framebuffer as an RGB PNG through a temporary file in the
/// same directory, renamed into place, so a failure leaves no output file.
fn write_png(framebuffer: &Framebuffer, output: &Path) -> Result<(), Failure> {
    use image::ImageEncoder;
    let rgb: Vec<u8> = framebuffer
        .data()
        .chunks_exact(4)
        .flat_map(|bgra| [bgra.get(2), bgra.get(1), bgra.first()])
        .map(|b| b.copied().unwrap_or_default())
        .collect();
    let file_name = output
        .file_name()
        .ok_or_else(|| fail(format!("{} is not a file name", output.display())))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = output.with_file_name(temp_name);
    let result = (|| -> Result<(), Failure> {
        let file = std::fs::File::create(&temp)
            .map_err(|e| fail(format!("cannot create {}: {e}", output.display())))?;
        let mut writer = io::BufWriter::new(file);
        image::codecs::png::PngEncoder::new(&mut writer)
            .write_image(
                &rgb,
                u32::from(framebuffer.width()),
                u32::from(framebuffer.height()),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| fail(format!("cannot write {}: {e}", output.display())))?;
        let file = writer
            .into_inner()
            .map_err(|e| fail(format!("cannot write {}: {}", output.display(), e.error())))?;
        file.sync_all()?;
        std::fs::rename(&temp, output)
            .map_err(|e| fail(format!("cannot write {}: {e}", output.display())))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Failure> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn capture_arguments() {
        let options = parse(&[
            "capture",
            "host:1",
            "out.png",
            "--updates",
            "3",
            "--timeout=2.5",
            "--encodings",
            "ZRLE,raw,zrle",
            "--password-file",
            "-",
        ])
        .unwrap();
        let Command::Capture {
            address,
            output,
            updates,
            encodings,
            ..
        } = options.command
        else {
            panic!("not a capture: {options:?}");
        };
        assert_eq!(address, Address::parse("host::5901").unwrap());
        assert_eq!(output, PathBuf::from("out.png"));
        assert_eq!(updates, 3);
        assert_eq!(encodings, Some(vec![encoding::ZRLE, encoding::RAW]));
        assert_eq!(options.timeout, Duration::from_millis(2500));
        assert_eq!(options.password_file, Some(PathBuf::from("-")));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["capture", "host"][..],
            &["capture", "host", "o.png", "--updates", "0"],
            &["capture", "host", "o.png", "--timeout", "-1"],
            &["capture", "host", "o.png", "--encodings", "h264"],
            &["capture", "host", "o.png", "--quality", "10"],
            &["capture", "host", "o.png", "--encodings", ","],
            &["capture", "host", "o.png", "--bogus"],
            &["capture", "host", "o.png", "extra"],
            &["info", "host", "--updates", "2"],
            &["info", "::1"],
            &["frobnicate"],
            &[],
        ] {
            let failure = parse(args).unwrap_err();
            assert!(failure.usage, "{args:?}: {}", failure.message);
        }
    }
}
