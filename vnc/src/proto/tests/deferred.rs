//! `feed_until_image` / `decode_image`: the session stops at a whole image,
//! decodes it without a framebuffer, then writes it and goes on with the
//! bytes it held, in order.

use super::*;
use crate::decode::encoding;

/// A `w`×`h` JPEG of one colour (R, G, B).
fn jpeg(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let picture = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&picture)
        .unwrap();
    out
}

/// A Tight JPEG rectangle of `data` at `rect` (header included).
fn tight_jpeg(rect: Rect, data: &[u8]) -> Vec<u8> {
    let mut out = rect_header(rect.x, rect.y, rect.width, rect.height, encoding::TIGHT);
    out.push(0x90);
    let len = data.len();
    assert!(len < 1 << 14);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&[len as u8 | 0x80, (len >> 7) as u8]);
    }
    out.extend_from_slice(data);
    out
}

/// One Raw pixel at (`x`, `y`) in native format.
fn raw_pixel(x: u16, y: u16, bgr: [u8; 3]) -> Vec<u8> {
    let mut out = rect_header(x, y, 1, 1, encoding::RAW);
    out.extend_from_slice(&[bgr[0], bgr[1], bgr[2], 0]);
    out
}

const SCREEN: Rect = Rect::new(0, 0, 32, 16);
const ORANGE: [u8; 3] = [250, 120, 20];

/// An update of a full-screen orange JPEG with a Raw pixel on top, then a
/// Bell.
fn update() -> Vec<u8> {
    let mut stream = update_header(2);
    stream.extend(tight_jpeg(SCREEN, &jpeg(32, 16, ORANGE)));
    stream.extend(raw_pixel(3, 2, [1, 2, 3]));
    stream.push(2);
    stream
}

fn assert_update_shown(session: &Session) {
    let fb = session.framebuffer();
    assert_eq!(fb.row(3, 2, 1).unwrap(), &[1, 2, 3, 255], "the Raw pixel");
    for (x, y) in [(0, 0), (31, 15), (4, 2)] {
        let px = fb.row(x, y, 1).unwrap();
        let [r, g, b] = ORANGE;
        let near = |got: u8, want: u8| got.abs_diff(want) <= 4;
        assert!(
            near(px[0], b) && near(px[1], g) && near(px[2], r),
            "({x}, {y}) is {px:?}"
        );
    }
}

fn update_events() -> Vec<Event> {
    vec![
        Event::Damage(SCREEN),
        Event::Damage(Rect::new(3, 2, 1, 1)),
        Event::UpdateComplete,
        Event::Bell,
    ]
}

#[test]
fn the_session_stops_at_an_image_and_holds_what_follows() {
    let mut session = connected(32, 16);
    let stream = update();
    assert_eq!(session.feed_until_image(&stream).unwrap(), Fed::Image);
    // Nothing after the image ran: no pixels, no events, the rest held.
    assert_eq!(*session.framebuffer(), Framebuffer::new(32, 16));
    assert_eq!(events(&mut session), []);
    assert_eq!(
        session.buffered_input(),
        raw_pixel(3, 2, [1, 2, 3]).len() + 1
    );
    // Bytes that arrive meanwhile wait behind them.
    assert_eq!(session.feed_until_image(&[2]).unwrap(), Fed::Image);
    // The decode needs no framebuffer: a driver has taken it back.
    let mut lent = Framebuffer::default();
    session.swap_framebuffer(&mut lent);
    session.decode_image().unwrap();
    session.decode_image().unwrap(); // nothing more to decode
    session.swap_framebuffer(&mut lent);
    assert_eq!(*session.framebuffer(), Framebuffer::new(32, 16));
    assert_eq!(session.feed_until_image(&[]).unwrap(), Fed::All);
    assert_update_shown(&session);
    let mut expected = update_events();
    expected.push(Event::Bell);
    assert_eq!(events(&mut session), expected);
    assert_eq!(session.buffered_input(), 0);
}

#[test]
fn feeding_in_any_pieces_with_deferred_images_shows_the_same() {
    let mut stream = update();
    stream.extend(update());
    for piece in [1, 2, 7, 100, 4096] {
        let mut session = connected(32, 16);
        let mut images = 0;
        for chunk in stream.chunks(piece) {
            let mut fed = session.feed_until_image(chunk).unwrap();
            while fed == Fed::Image {
                images += 1;
                session.decode_image().unwrap();
                fed = session.feed_until_image(&[]).unwrap();
            }
            assert!(session.buffered_input() <= 64 + piece);
        }
        assert_eq!(images, 2, "{piece}-byte pieces");
        assert_update_shown(&session);
        let mut expected = update_events();
        expected.extend(update_events());
        assert_eq!(events(&mut session), expected, "{piece}-byte pieces");
    }
}

#[test]
fn a_broken_image_closes_the_session_when_decoded() {
    let mut session = connected(32, 16);
    let mut broken = jpeg(32, 16, ORANGE);
    let sos = broken.windows(2).position(|m| m == [0xff, 0xda]).unwrap();
    broken.truncate(sos);
    broken.extend_from_slice(&[0xff, 0xd9]);
    let mut stream = update_header(1);
    stream.extend(tight_jpeg(SCREEN, &broken));
    assert_eq!(session.feed_until_image(&stream).unwrap(), Fed::Image);
    assert!(session.decode_image().is_err());
    assert!(session.is_closed());
    assert_eq!(session.buffered_input(), 0);
    assert_eq!(session.feed_until_image(&[0]), Err(Error::Closed));
    // `feed` decodes at once and fails the same way.
    let mut session = connected(32, 16);
    assert!(session.feed(&stream).is_err());
    assert!(session.is_closed());
}

#[test]
fn a_large_image_is_written_a_band_per_stop() {
    // 1100×700 pixels are 3 MB: three bands of about 1 MB.
    let (w, h) = (1100u16, 700u16);
    let picture = image::RgbImage::from_fn(u32::from(w), u32::from(h), |x, y| {
        image::Rgb([x as u8, y as u8, (x ^ y) as u8])
    });
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut stream = update_header(1);
    stream.extend(rect_header(0, 0, w, h, encoding::TIGHT_PNG));
    stream.push(0xa0);
    let len = png.len();
    assert!(len < 1 << 22);
    stream.extend_from_slice(&[len as u8 | 0x80, (len >> 7) as u8 | 0x80, (len >> 14) as u8]);
    stream.extend_from_slice(&png);
    let mut session = connected(w, h);
    let mut stops = 0;
    let mut fed = session.feed_until_image(&stream).unwrap();
    while fed == Fed::Image {
        stops += 1;
        session.decode_image().unwrap();
        fed = session.feed_until_image(&[]).unwrap();
        if fed == Fed::Image {
            // A band is there, and no damage is reported before the last.
            assert_eq!(events(&mut session), []);
        }
    }
    assert_eq!(stops, 3);
    assert_eq!(
        events(&mut session),
        [Event::Damage(Rect::new(0, 0, w, h)), Event::UpdateComplete]
    );
    let fb = session.framebuffer();
    for (x, y) in [(0u16, 0u16), (1099, 699), (500, 350)] {
        let [r, g, b] = picture.get_pixel(u32::from(x), u32::from(y)).0;
        assert_eq!(fb.row(x, y, 1).unwrap(), &[b, g, r, 255], "({x}, {y})");
    }
}
