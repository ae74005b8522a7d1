//! The no-panic guard that runs with every `cargo test`: many generated
//! server streams (valid ones, mutated ones, and random bytes after a valid
//! handshake), fed in random splits. A valid stream must parse cleanly;
//! any stream must end in `Ok` or a typed error, never a panic or a hang,
//! and the session's buffer and framebuffer must stay within their bounds.

use flate2::{Compress, Compression, FlushCompress};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// Limits small enough that hostile sizes are hit quickly.
fn limits() -> Limits {
    Limits {
        max_width: 256,
        max_height: 256,
        max_cut_text: 4096,
        max_name_len: 256,
        max_compressed_len: 64 * 1024,
        max_reason_len: 256,
        max_cursor_size: 64,
    }
}

/// The most any step may ask to hold: the largest cursor, name or reason
/// the limits allow, or a row of raw pixels (decoders inflate compressed
/// data as it arrives, so a compressed block is never held whole).
fn max_need() -> usize {
    let l = limits();
    let cursor = crate::decode::cursor::rich_len(l.max_cursor_size, l.max_cursor_size, 4);
    let row = usize::from(l.max_width) * 4;
    cursor.max(l.max_name_len).max(l.max_reason_len).max(row) + 64
}

const FORMATS: [PixelFormat; 4] = [
    PixelFormat::NATIVE,
    PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    },
    PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: true,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    },
    PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: false,
        red_max: 0,
        green_max: 0,
        blue_max: 0,
        red_shift: 0,
        green_shift: 0,
        blue_shift: 0,
    },
];

/// Builds a valid server stream for one connection.
struct Server {
    rng: StdRng,
    /// FramebufferUpdate messages written so far.
    updates: usize,
    out: Vec<u8>,
    width: u16,
    height: u16,
    bpp: usize,
    zlib: Compress,
    zrle: Compress,
}

impl Server {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            updates: 0,
            out: Vec::new(),
            width: 0,
            height: 0,
            bpp: 4,
            zlib: Compress::new(Compression::fast(), true),
            zrle: Compress::new(Compression::fast(), true),
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.rng.random()).collect()
    }

    fn put(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Handshake; returns the config and credentials the client needs.
    fn handshake(&mut self) -> Config {
        let versions = ["003.003", "003.007", "003.008", "003.889", "004.001"];
        let version = versions[self.rng.random_range(0..versions.len())];
        let vnc_auth = self.rng.random_bool(0.3);
        self.put(&greeting(version));
        let legacy = version == "003.003";
        let ty = if vnc_auth { 2 } else { 1 };
        if legacy {
            self.put(&u32be(ty));
        } else {
            self.put(&[2, ty as u8, 16]);
        }
        if vnc_auth {
            let challenge = self.bytes(16);
            self.put(&challenge);
        }
        if vnc_auth || matches!(version, "003.008" | "003.889" | "004.001") {
            self.put(&u32be(0));
        }
        self.width = self.rng.random_range(1..=48);
        self.height = self.rng.random_range(1..=48);
        let use_server_format = self.rng.random_bool(0.5);
        let format = FORMATS[self.rng.random_range(0..FORMATS.len())];
        self.bpp = if use_server_format {
            format.bytes_per_pixel()
        } else {
            4
        };
        let init = server_init(self.width, self.height, &format, b"random desk");
        self.put(&init);
        Config {
            limits: limits(),
            use_server_format,
            ..Config::default()
        }
    }

    fn pixel(&mut self) -> Vec<u8> {
        self.bytes(self.bpp)
    }

    /// A random rectangle inside the screen.
    fn rect(&mut self) -> (u16, u16, u16, u16) {
        let w = self.rng.random_range(0..=self.width);
        let h = self.rng.random_range(0..=self.height);
        let x = self.rng.random_range(0..=self.width - w);
        let y = self.rng.random_range(0..=self.height - h);
        (x, y, w, h)
    }

    /// `data` as the next block of a connection-long zlib stream.
    fn compressed(stream: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() * 2 + 64);
        let before = stream.total_in();
        stream
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .unwrap();
        assert_eq!(stream.total_in() - before, data.len() as u64);
        out
    }

    fn real_rect(&mut self) {
        let (x, y, w, h) = self.rect();
        let area = usize::from(w) * usize::from(h);
        match self.rng.random_range(0..6) {
            0 => {
                self.put(&rect_header(x, y, w, h, encoding::RAW));
                let data = self.bytes(area * self.bpp);
                self.put(&data);
            }
            1 => {
                self.put(&rect_header(x, y, w, h, encoding::COPY_RECT));
                let sx = self.rng.random_range(0..=self.width - w);
                let sy = self.rng.random_range(0..=self.height - h);
                self.put(&sx.to_be_bytes());
                self.put(&sy.to_be_bytes());
            }
            2 => {
                self.put(&rect_header(x, y, w, h, encoding::RRE));
                let n = self.rng.random_range(0..4u32);
                self.put(&u32be(n));
                let bg = self.pixel();
                self.put(&bg);
                for _ in 0..n {
                    let px = self.pixel();
                    self.put(&px);
                    let sw = self.rng.random_range(0..=w);
                    let sh = self.rng.random_range(0..=h);
                    let sx = self.rng.random_range(0..=w - sw);
                    let sy = self.rng.random_range(0..=h - sh);
                    for v in [sx, sy, sw, sh] {
                        self.put(&v.to_be_bytes());
                    }
                }
            }
            3 => {
                self.put(&rect_header(x, y, w, h, encoding::HEXTILE));
                for ty in (0..h).step_by(16) {
                    for tx in (0..w).step_by(16) {
                        let tw = (w - tx).min(16);
                        let th = (h - ty).min(16);
                        if self.rng.random_bool(0.5) {
                            self.put(&[1]);
                            let data = self.bytes(usize::from(tw) * usize::from(th) * self.bpp);
                            self.put(&data);
                        } else {
                            // Background, foreground, coloured subrects.
                            self.put(&[2 | 4 | 8 | 16]);
                            let bg = self.pixel();
                            let fg = self.pixel();
                            self.put(&bg);
                            self.put(&fg);
                            let n = self.rng.random_range(0..3u8);
                            self.put(&[n]);
                            for _ in 0..n {
                                let px = self.pixel();
                                self.put(&px);
                                let sw = self.rng.random_range(1..=tw);
                                let sh = self.rng.random_range(1..=th);
                                let sx = self.rng.random_range(0..=tw - sw);
                                let sy = self.rng.random_range(0..=th - sh);
                                let xy = ((sx << 4) | sy) as u8;
                                let wh = (((sw - 1) << 4) | (sh - 1)) as u8;
                                self.put(&[xy, wh]);
                            }
                        }
                    }
                }
            }
            4 => {
                self.put(&rect_header(x, y, w, h, encoding::ZLIB));
                let data = self.bytes(area * self.bpp);
                let z = Self::compressed(&mut self.zlib, &data);
                self.put(&u32be(z.len() as u32));
                self.put(&z);
            }
            _ => {
                // ZRLE with raw tiles; CPIXELs are 3 bytes for the native
                // format, the full pixel otherwise.
                self.put(&rect_header(x, y, w, h, encoding::ZRLE));
                let cpixel = if self.bpp == 4 { 3 } else { self.bpp };
                let mut data = Vec::new();
                for ty in (0..h).step_by(64) {
                    for tx in (0..w).step_by(64) {
                        let tw = usize::from((w - tx).min(64));
                        let th = usize::from((h - ty).min(64));
                        if self.rng.random_bool(0.5) {
                            data.push(0);
                            data.extend(self.bytes(tw * th * cpixel));
                        } else {
                            data.push(1);
                            data.extend(self.bytes(cpixel));
                        }
                    }
                }
                let z = Self::compressed(&mut self.zrle, &data);
                self.put(&u32be(z.len() as u32));
                self.put(&z);
            }
        }
    }

    /// A pseudo-rectangle; returns whether it changes pixels (DesktopSize).
    fn pseudo_rect(&mut self) -> bool {
        match self.rng.random_range(0..5) {
            0 => {
                self.width = self.rng.random_range(1..=64);
                self.height = self.rng.random_range(1..=64);
                let (w, h) = (self.width, self.height);
                self.put(&rect_header(0, 0, w, h, encoding::DESKTOP_SIZE));
                return true;
            }
            1 => {
                let (w, h) = (self.rng.random_range(0..8), self.rng.random_range(0..8));
                self.put(&rect_header(0, 0, w, h, encoding::CURSOR));
                let len = crate::decode::cursor::rich_len(w, h, self.bpp);
                let data = self.bytes(len);
                self.put(&data);
            }
            2 => {
                let (w, h) = (self.rng.random_range(0..8), self.rng.random_range(0..8));
                self.put(&rect_header(0, 0, w, h, encoding::X_CURSOR));
                let data = self.bytes(crate::decode::cursor::x_len(w, h));
                self.put(&data);
            }
            3 => {
                self.put(&rect_header(0, 0, 0, 0, encoding::DESKTOP_NAME));
                let len = self.rng.random_range(0..20);
                let name = self.bytes(len);
                self.put(&u32be(name.len() as u32));
                self.put(&name);
            }
            _ => {
                let (x, y) = (self.rng.random(), self.rng.random());
                self.put(&rect_header(x, y, 0, 0, encoding::POINTER_POS));
            }
        }
        false
    }

    fn message(&mut self) {
        match self.rng.random_range(0..10) {
            0..=5 => {
                let n = self.rng.random_range(0..5u16);
                let last_rect = self.rng.random_bool(0.2);
                self.put(&update_header(if last_rect { 0xffff } else { n }));
                // An update of pseudo-rectangles that change no pixels
                // completes nothing.
                let mut pixels = n == 0;
                for _ in 0..n {
                    if self.rng.random_bool(0.75) {
                        self.real_rect();
                        pixels = true;
                    } else {
                        pixels |= self.pseudo_rect();
                    }
                }
                self.updates += usize::from(pixels);
                if last_rect {
                    self.put(&rect_header(0, 0, 0, 0, encoding::LAST_RECT));
                }
            }
            6 => {
                let first: u16 = self.rng.random_range(0..300);
                let n: u16 = self.rng.random_range(0..20);
                self.put(&[1, 0]);
                self.put(&first.to_be_bytes());
                self.put(&n.to_be_bytes());
                let data = self.bytes(usize::from(n) * 6);
                self.put(&data);
            }
            7 => self.put(&[2]),
            _ => {
                let len = self.rng.random_range(0..100);
                let text = self.bytes(len);
                self.put(&[3, 0, 0, 0]);
                self.put(&u32be(text.len() as u32));
                self.put(&text);
            }
        }
    }
}

/// Feeds `stream` in random splits; checks the bounds after every read.
/// Returns how many updates completed.
fn run(config: Config, stream: &[u8], rng: &mut StdRng) -> Result<usize, Error> {
    let mut session = Session::new(config);
    session
        .provide_credentials(Credentials::password("pw"))
        .unwrap();
    let mut rest = stream;
    let mut completed = 0;
    while !rest.is_empty() {
        let n = if rng.random_bool(0.3) {
            1
        } else {
            rng.random_range(1..=rest.len().min(3000))
        };
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        let fed = session.feed(piece);
        assert!(
            session.buffered_input() <= max_need() + piece.len(),
            "buffered {} bytes",
            session.buffered_input()
        );
        let fb = session.framebuffer();
        assert!(fb.width() <= 256 && fb.height() <= 256);
        assert_eq!(
            fb.data().len(),
            usize::from(fb.width()) * usize::from(fb.height()) * 4
        );
        while let Some(event) = session.poll_event() {
            completed += usize::from(event == Event::UpdateComplete);
        }
        session.poll_transmit(&mut Vec::new());
        if let Err(e) = fed {
            assert!(session.is_closed());
            assert_eq!(session.feed(b"x"), Err(Error::Closed));
            return Err(e);
        }
    }
    Ok(completed)
}

/// A valid stream, its config, and how many updates it holds.
fn valid_stream(seed: u64) -> (Config, Vec<u8>, usize) {
    let mut server = Server::new(seed);
    let config = server.handshake();
    for _ in 0..server.rng.random_range(1..12) {
        server.message();
    }
    (config, server.out, server.updates)
}

fn mutate(stream: &mut Vec<u8>, rng: &mut StdRng) {
    for _ in 0..rng.random_range(1..6) {
        if stream.is_empty() {
            return;
        }
        let at = rng.random_range(0..stream.len());
        match rng.random_range(0..6) {
            0 => stream[at] ^= 1 << rng.random_range(0..8),
            1 => stream[at] = rng.random(),
            2 => stream.insert(at, rng.random()),
            3 => {
                let end = (at + rng.random_range(1..16)).min(stream.len());
                stream.drain(at..end);
            }
            4 => {
                // Interesting values where lengths and sizes live.
                let v: [u8; 4] = *[[0xff; 4], [0; 4], [0x7f, 0xff, 0xff, 0xff], [0, 0, 1, 0]]
                    .get(rng.random_range(0..4))
                    .unwrap();
                for (i, b) in v.iter().enumerate() {
                    if let Some(slot) = stream.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            _ => stream.truncate(at),
        }
    }
}

#[test]
fn valid_generated_streams_parse_cleanly_in_any_split() {
    let mut rng = StdRng::seed_from_u64(1);
    for seed in 0..300 {
        let (config, stream, updates) = valid_stream(seed);
        match run(config, &stream, &mut rng) {
            Ok(completed) => assert_eq!(completed, updates, "seed {seed}"),
            Err(e) => panic!("seed {seed}: valid stream failed: {e}"),
        }
    }
}

#[test]
fn mutated_and_random_streams_never_panic_or_grow_without_bound() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut errors = 0;
    let cases = 3000;
    for seed in 0..cases {
        let (config, mut stream, _) = valid_stream(1000 + seed);
        if seed % 4 == 0 {
            // A valid handshake, then garbage.
            let cut = stream.len().min(80);
            stream.truncate(rng.random_range(0..=cut));
            let noise: Vec<u8> = (0..rng.random_range(0..2000))
                .map(|_| rng.random())
                .collect();
            stream.extend(noise);
        } else {
            mutate(&mut stream, &mut rng);
        }
        if run(config, &stream, &mut rng).is_err() {
            errors += 1;
        }
    }
    // The mutations must actually reach the error paths.
    assert!(
        errors > cases / 4,
        "only {errors} of {cases} streams failed"
    );
}
