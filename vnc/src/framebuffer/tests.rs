#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn at(fb: &Framebuffer, x: u16, y: u16) -> [u8; 4] {
    fb.row(x, y, 1).unwrap().try_into().unwrap()
}

#[test]
fn a_new_screen_is_opaque_black_with_packed_rows() {
    let fb = Framebuffer::new(3, 2);
    assert_eq!((fb.width(), fb.height(), fb.stride()), (3, 2, 12));
    assert_eq!(fb.data(), [0, 0, 0, 255].repeat(6).as_slice());
}

#[test]
fn contains_checks_edges_without_overflow() {
    let fb = Framebuffer::new(10, 5);
    assert!(fb.contains(Rect::new(0, 0, 10, 5)));
    assert!(fb.contains(Rect::new(10, 5, 0, 0)));
    assert!(!fb.contains(Rect::new(1, 0, 10, 5)));
    assert!(!fb.contains(Rect::new(0, 4, 1, 2)));
    assert!(!fb.contains(Rect::new(u16::MAX, u16::MAX, u16::MAX, u16::MAX)));
}

#[test]
fn fill_paints_only_its_rectangle() {
    let mut fb = Framebuffer::new(4, 4);
    assert!(fb.fill(Rect::new(1, 1, 2, 3), [1, 2, 3, 255]));
    for y in 0..4 {
        for x in 0..4 {
            let inside = (1..3).contains(&x) && (1..4).contains(&y);
            assert_eq!(
                at(&fb, x, y),
                if inside {
                    [1, 2, 3, 255]
                } else {
                    [0, 0, 0, 255]
                }
            );
        }
    }
    let before = fb.clone();
    assert!(!fb.fill(Rect::new(3, 3, 2, 1), [9; 4]));
    assert_eq!(fb, before, "a refused fill paints nothing");
}

#[test]
fn copy_rect_refuses_areas_off_screen() {
    let mut fb = Framebuffer::new(4, 4);
    assert!(!fb.copy_rect(3, 0, Rect::new(0, 0, 2, 2)));
    assert!(!fb.copy_rect(0, 0, Rect::new(3, 3, 2, 2)));
    assert!(fb.copy_rect(2, 2, Rect::new(0, 0, 2, 2)));
}

#[test]
fn resize_keeps_what_overlaps() {
    let mut fb = Framebuffer::new(3, 3);
    fb.fill(Rect::new(0, 0, 3, 3), [5, 5, 5, 255]);
    fb.resize(4, 2);
    assert_eq!((fb.width(), fb.height(), fb.data().len()), (4, 2, 32));
    assert_eq!(at(&fb, 2, 1), [5, 5, 5, 255]);
    assert_eq!(at(&fb, 3, 0), [0, 0, 0, 255]);
    fb.resize(2, 3);
    assert_eq!(at(&fb, 1, 1), [5, 5, 5, 255]);
    assert_eq!(at(&fb, 1, 2), [0, 0, 0, 255]);
    fb.resize(0, 0);
    assert!(fb.data().is_empty());
}

#[test]
fn to_rgba_swaps_red_and_blue() {
    let mut fb = Framebuffer::new(1, 1);
    fb.fill(Rect::new(0, 0, 1, 1), [1, 2, 3, 255]);
    assert_eq!(fb.to_rgba(), vec![3, 2, 1, 255]);
}

#[test]
fn pixels_of_copies_a_region_clipped_to_the_screen() {
    let mut fb = Framebuffer::new(3, 3);
    fb.fill(Rect::new(1, 1, 2, 2), [7, 7, 7, 255]);
    assert_eq!(
        fb.pixels_of(Rect::new(1, 1, 2, 2)),
        [7, 7, 7, 255].repeat(4)
    );
    assert_eq!(fb.pixels_of(Rect::new(2, 2, 5, 5)), vec![7, 7, 7, 255]);
    assert!(fb.pixels_of(Rect::new(9, 9, 1, 1)).is_empty());
}
