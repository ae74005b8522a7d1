//! Images for tests: loading screenshots (PNG, and the binary PPM that
//! QEMU's `screendump` writes), comparing them pixel for pixel with a
//! report a person can act on, PSNR for lossy encodings, and a test
//! pattern with content every encoding has work to do on.

use std::io;
use std::path::Path;

pub use image::RgbImage;

/// Decodes a PNG (or any format the `image` crate was built with) into RGB.
pub fn load_png(bytes: &[u8]) -> io::Result<RgbImage> {
    image::load_from_memory(bytes)
        .map(|i| i.to_rgb8())
        .map_err(io::Error::other)
}

/// Loads an image file: binary PPM (P6, maxval 255) by its magic, else PNG.
pub fn load(path: &Path) -> io::Result<RgbImage> {
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if bytes.starts_with(b"P6") {
        parse_ppm(&bytes)
    } else {
        load_png(&bytes)
    }
}

/// Parses a binary PPM (P6) with maxval 255, as QEMU's screendump writes.
pub fn parse_ppm(bytes: &[u8]) -> io::Result<RgbImage> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad PPM: {why}"));
    let mut fields = Vec::new();
    let mut pos = 0;
    // Header: magic, width, height, maxval, separated by whitespace and
    // `#` comments, then exactly one whitespace byte before the pixels.
    while fields.len() < 4 {
        match bytes.get(pos) {
            None => return Err(bad("truncated header")),
            Some(b'#') => {
                while bytes.get(pos).is_some_and(|&b| b != b'\n') {
                    pos += 1;
                }
            }
            Some(b) if b.is_ascii_whitespace() => pos += 1,
            Some(_) => {
                let start = pos;
                while bytes.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                    pos += 1;
                }
                fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
            }
        }
    }
    pos += 1;
    if fields[0] != "P6" || fields[3] != "255" {
        return Err(bad("only P6 with maxval 255 is supported"));
    }
    let width: u32 = fields[1].parse().map_err(|_| bad("width"))?;
    let height: u32 = fields[2].parse().map_err(|_| bad("height"))?;
    let len = width as usize * height as usize * 3;
    let pixels = bytes
        .get(pos..pos + len)
        .ok_or_else(|| bad("truncated pixels"))?;
    RgbImage::from_raw(width, height, pixels.to_vec()).ok_or_else(|| bad("size"))
}

/// How two images differ.
#[derive(Debug)]
pub struct ImageDiff {
    pub expected_size: (u32, u32),
    pub actual_size: (u32, u32),
    /// Number of pixels that differ (when the sizes are equal).
    pub mismatched: u64,
    /// The first few differing pixels: (x, y, expected, actual).
    pub first: Vec<(u32, u32, [u8; 3], [u8; 3])>,
}

impl std::fmt::Display for ImageDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.expected_size != self.actual_size {
            return write!(
                f,
                "size differs: expected {}x{}, got {}x{}",
                self.expected_size.0, self.expected_size.1, self.actual_size.0, self.actual_size.1
            );
        }
        let total = u64::from(self.expected_size.0) * u64::from(self.expected_size.1);
        write!(f, "{} of {total} pixels differ; first:", self.mismatched)?;
        for (x, y, e, a) in &self.first {
            write!(f, " ({x},{y}) expected {e:02x?} got {a:02x?};")?;
        }
        Ok(())
    }
}

/// Compares two images pixel for pixel.
pub fn compare(expected: &RgbImage, actual: &RgbImage) -> Result<(), ImageDiff> {
    let mut diff = ImageDiff {
        expected_size: expected.dimensions(),
        actual_size: actual.dimensions(),
        mismatched: 0,
        first: Vec::new(),
    };
    if diff.expected_size != diff.actual_size {
        return Err(diff);
    }
    for ((x, y, e), a) in expected.enumerate_pixels().zip(actual.pixels()) {
        if e != a {
            diff.mismatched += 1;
            if diff.first.len() < 8 {
                diff.first.push((x, y, e.0, a.0));
            }
        }
    }
    if diff.mismatched == 0 {
        Ok(())
    } else {
        Err(diff)
    }
}

/// Panics with a readable report if the images differ, after saving both
/// (and where they differ) under the temp dir so a person can look.
pub fn assert_same(expected: &RgbImage, actual: &RgbImage, what: &str) {
    if let Err(diff) = compare(expected, actual) {
        let dir = std::env::temp_dir().join("porthole-image-diffs");
        let _ = std::fs::create_dir_all(&dir);
        let stem: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let expected_path = dir.join(format!("{stem}-expected.png"));
        let actual_path = dir.join(format!("{stem}-actual.png"));
        let _ = expected.save(&expected_path);
        let _ = actual.save(&actual_path);
        panic!(
            "{what}: {diff}\n(saved {} and {})",
            expected_path.display(),
            actual_path.display()
        );
    }
}

/// Peak signal-to-noise ratio in dB over the RGB channels (infinite for
/// identical images); `None` when the sizes differ.
pub fn psnr(expected: &RgbImage, actual: &RgbImage) -> Option<f64> {
    if expected.dimensions() != actual.dimensions() {
        return None;
    }
    let squared: f64 = expected
        .as_raw()
        .iter()
        .zip(actual.as_raw())
        .map(|(&e, &a)| (f64::from(e) - f64::from(a)).powi(2))
        .sum();
    let samples = expected.as_raw().len().max(1) as f64;
    let mse = squared / samples;
    Some(if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    })
}

/// A deterministic picture with what real screens have: flat areas (where
/// RRE, Hextile and ZRLE use solid fills), smooth gradients, few-colour
/// "text-like" glyph rows (palettes, runs), one-pixel detail (checkerboard),
/// and noise (where compressors give up and raw paths run).
pub fn test_pattern(width: u32, height: u32) -> RgbImage {
    let mut seed: u32 = 0x2545_f491;
    let mut noise = move || {
        // xorshift32: cheap, and the same picture on every run.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    RgbImage::from_fn(width, height, |x, y| {
        let band = y * 6 / height.max(1);
        let r = noise();
        let px = match band {
            0 => [(x * 255 / width.max(1)) as u8, (y * 4) as u8, 128],
            1 if (x / 37 + y / 11) % 3 == 0 => [200, 40, 40],
            1 => [30, 90, 200],
            2 => {
                // Glyph-like strokes: dark on light, two colours per tile.
                let glyph = (x % 9 == 2 || (y % 13 == 4 && x % 9 < 7)) && (x / 9 + y / 13) % 5 != 0;
                if glyph {
                    [20, 20, 20]
                } else {
                    [240, 240, 230]
                }
            }
            3 if (x + y) % 2 == 0 => [255, 255, 255],
            3 => [0, 0, 0],
            4 => [r as u8, (r >> 8) as u8, (r >> 16) as u8],
            _ => [
                ((x ^ y) & 0xff) as u8,
                ((x * 3) & 0xff) as u8,
                255 - (y & 0xff) as u8,
            ],
        };
        image::Rgb(px)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_round_trip_with_comment() {
        let mut bytes = b"P6\n# made by a test\n2 1\n255\n".to_vec();
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let image = parse_ppm(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(image.dimensions(), (2, 1));
        assert_eq!(image.get_pixel(1, 0).0, [4, 5, 6]);
        assert!(parse_ppm(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn compare_reports_count_and_position() {
        let a = test_pattern(64, 48);
        let mut b = a.clone();
        b.put_pixel(5, 7, image::Rgb([1, 2, 3]));
        let diff = compare(&a, &b)
            .err()
            .unwrap_or_else(|| panic!("no diff found"));
        assert_eq!(diff.mismatched, 1);
        assert_eq!(diff.first.first().map(|d| (d.0, d.1)), Some((5, 7)));
        assert!(compare(&a, &a).is_ok());
        assert!(psnr(&a, &b).is_some_and(|p| p > 40.0 && p.is_finite()));
    }
}
