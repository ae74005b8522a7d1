//! `porthole-vnc replay FILE.fbs [--bench] [--out LAST.png]`: feeds a
//! recording through the session core as fast as it can, with no socket,
//! and reports frames, megapixels and the time and CPU it took. It owns
//! loading a recording for the other subcommands too ([`Recording`]).
//!
//! The recorded handshake is replaced by a fresh RFB 3.8 / None one (see
//! `porthole_vnc::fbs`), so recordings of password-protected servers replay
//! without the password. The session keeps the server's pixel format: the
//! recorder wrote the format the updates are in into ServerInit.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use porthole_vnc::fbs::{self, Block, RecordedHandshake};
use porthole_vnc::proto::{Config, Event, Session};
use porthole_vnc::{Framebuffer, PixelFormat};

use super::{fail, write_png, Failure};

pub(super) const USAGE: &str = "\
       porthole-vnc replay FILE.fbs [--bench] [--out LAST.png]";

pub(super) const HELP: &str = "\
replay    decode a recording as fast as possible and print frames, megapixels,
          MP/s, wall and CPU seconds; --bench repeats it for at least 2 s and
          reports per pass; --out writes the final screen as PNG";

/// A recording loaded into memory, with its handshake found.
#[derive(Debug)]
pub(super) struct Recording {
    pub blocks: Vec<Block>,
    pub handshake: RecordedHandshake,
    /// Bytes of stream in all blocks.
    pub len: usize,
}

impl Recording {
    pub fn load(path: &Path) -> Result<Self, Failure> {
        let file =
            File::open(path).map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
        let blocks = fbs::read_all(BufReader::new(file), fbs::DEFAULT_MAX_TOTAL)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        // The handshake and ServerInit fit in the first kilobytes.
        let head: Vec<u8> = blocks
            .iter()
            .flat_map(|b| b.data.iter().copied())
            .take(64 * 1024)
            .collect();
        let handshake = RecordedHandshake::parse(&head)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let len = blocks.iter().map(|b| b.data.len()).sum();
        Ok(Self {
            blocks,
            handshake,
            len,
        })
    }

    /// The recorded stream from ServerInit on, block by block (the first
    /// block cut where ServerInit starts).
    pub fn stream_from_server_init(&self) -> impl Iterator<Item = (&[u8], u32)> {
        let mut skip = self.handshake.server_init_offset;
        self.blocks.iter().filter_map(move |block| {
            let cut = skip.min(block.data.len());
            skip -= cut;
            let rest = block.data.get(cut..).unwrap_or_default();
            (!rest.is_empty()).then_some((rest, block.timestamp_ms))
        })
    }

    /// The pixel format the recorded updates are in.
    pub fn format(&self) -> Option<PixelFormat> {
        let head: Vec<u8> = self
            .blocks
            .iter()
            .flat_map(|b| b.data.iter().copied())
            .take(self.handshake.server_init_offset + 24)
            .collect();
        self.handshake.server_format(&head)
    }
}

/// What one pass over a recording did.
#[derive(Debug)]
struct Pass {
    frames: u64,
    pixels: u64,
    wall: Duration,
    width: u16,
    height: u16,
    /// With a snapshot: the screen after the last complete update.
    framebuffer: Option<Framebuffer>,
}

pub(super) fn run(args: &[String]) -> Result<(), Failure> {
    let mut file = None;
    let mut bench = false;
    let mut out = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--out" => {
                out = Some(PathBuf::from(
                    args.next()
                        .ok_or_else(|| Failure::usage("--out needs a file name"))?,
                ))
            }
            flag if flag.starts_with("--out=") => {
                out = Some(PathBuf::from(flag.trim_start_matches("--out=")))
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::usage(format!(
                    "unknown option '{flag}' for replay"
                )))
            }
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return Err(Failure::usage(format!("unexpected argument '{arg}'"))),
        }
    }
    let file = file.ok_or_else(|| Failure::usage("replay needs a recording FILE.fbs"))?;
    let recording = Recording::load(&file)?;

    // CPU time is taken over all passes together: the kernel's count for
    // a running thread moves in scheduler ticks, too coarse for one pass.
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut passes = vec![replay(&recording, false)?];
    if bench {
        while passes.len() < 3 || started.elapsed() < Duration::from_secs(2) {
            passes.push(replay(&recording, false)?);
        }
    }
    let cpu_total = cpu_before.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    let Some(last) = passes.last() else {
        return Err(fail("nothing was replayed"));
    };
    let count = u32::try_from(passes.len()).unwrap_or(u32::MAX);
    let wall: Duration = passes.iter().map(|p| p.wall).sum::<Duration>() / count;
    let best = passes.iter().map(|p| p.wall).min().unwrap_or(wall);
    let cpu = cpu_total.map(|total| total / count);
    let megapixels = last.pixels as f64 / 1e6;
    println!("recording: {}", file.display());
    println!(
        "stream: {} bytes, RFB {} with {} recorded, {}x{}",
        recording.len,
        recording.handshake.version,
        recording.handshake.security,
        last.width,
        last.height
    );
    println!("frames: {}", last.frames);
    println!("megapixels: {megapixels:.3}");
    println!("passes: {count}");
    println!(
        "wall: {:.6} s per pass (best {:.6} s)",
        wall.as_secs_f64(),
        best.as_secs_f64()
    );
    match cpu {
        Some(cpu) => println!("cpu: {:.6} s per pass", cpu.as_secs_f64()),
        None => println!("cpu: unknown"),
    }
    let per_second = |d: Duration| megapixels / d.as_secs_f64().max(1e-9);
    match cpu.filter(|c| !c.is_zero()) {
        Some(cpu) => println!(
            "speed: {:.1} MP/s per CPU second, {:.1} MP/s in the best pass",
            per_second(cpu),
            per_second(best)
        ),
        None => println!("speed: {:.1} MP/s in the best pass", per_second(best)),
    }
    if let Some(out) = out {
        // An untimed pass that keeps the screen as of the last complete
        // update: a recording may end in the middle of one.
        let snapshot = replay(&recording, true)?;
        let framebuffer = snapshot.framebuffer.unwrap_or_default();
        write_png(&framebuffer, &out)?;
    }
    Ok(())
}

/// Feeds the whole recording into a fresh session. With `snapshot`, the
/// framebuffer returned is the one after the last complete update.
fn replay(recording: &Recording, snapshot: bool) -> Result<Pass, Failure> {
    let config = Config {
        // The recorder put the updates' format into ServerInit.
        use_server_format: true,
        ..Config::default()
    };
    let mut session = Session::new(config);
    let mut frames = 0u64;
    let mut pixels = 0u64;
    let mut discard = Vec::new();
    let mut complete: Option<Framebuffer> = None;
    let started = Instant::now();
    let mut feed = |session: &mut Session, bytes: &[u8]| -> Result<(), Failure> {
        session
            .feed(bytes)
            .map_err(|e| fail(format!("the recording does not replay: {e}")))?;
        while let Some(event) = session.poll_event() {
            match event {
                Event::UpdateComplete => {
                    frames += 1;
                    if snapshot {
                        complete = Some(session.framebuffer().clone());
                    }
                }
                Event::Damage(rect) => pixels += u64::from(rect.width) * u64::from(rect.height),
                Event::CredentialsRequired { .. } => {
                    return Err(fail(
                        "the replayed handshake asked for credentials (a bug in porthole-vnc)",
                    ))
                }
                _ => {}
            }
        }
        // What the session would send goes nowhere.
        session.poll_transmit(&mut discard);
        discard.clear();
        Ok(())
    };
    feed(&mut session, fbs::NONE_HANDSHAKE)?;
    for (bytes, _) in recording.stream_from_server_init() {
        feed(&mut session, bytes)?;
    }
    let wall = started.elapsed();
    Ok(Pass {
        frames,
        pixels,
        wall,
        width: session.framebuffer().width(),
        height: session.framebuffer().height(),
        framebuffer: snapshot.then(|| complete.unwrap_or_else(|| session.framebuffer().clone())),
    })
}

/// CPU time of this thread (replay runs on one thread), from the
/// scheduler's nanosecond count; the process's tick count otherwise.
pub(super) fn cpu_time() -> Option<Duration> {
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        if let Some(ns) = text.split_whitespace().next().and_then(|s| s.parse().ok()) {
            return Some(Duration::from_nanos(ns));
        }
    }
    process_cpu_time(std::process::id())
}

/// A process's user + system CPU time from `/proc/PID/stat`, assuming the
/// usual 100 ticks per second.
pub(super) fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}
