//! Tests of decoding and preparing: broken files, transparency, crops, sizes, bombs.
use super::*;
use image::{DynamicImage, ImageFormat, RgbImage, Rgba, RgbaImage};
use std::io::Cursor;

fn png_bytes(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn empty_and_garbage_are_errors() {
    assert!(matches!(decode_bytes(&[]), Err(DecodeError::Empty)));
    assert!(matches!(
        decode_bytes(b"hello, I am text"),
        Err(DecodeError::UnknownFormat)
    ));
    let mut png = png_bytes(&DynamicImage::new_rgb8(32, 32));
    png.truncate(png.len() / 2);
    assert!(decode_bytes(&png).is_err());
}

#[test]
fn transparent_pixels_take_the_background_not_their_hidden_colour() {
    // Fully transparent red pixels (garbage colour) and one opaque blue pixel.
    let mut img = RgbaImage::from_pixel(4, 4, Rgba([255, 0, 0, 0]));
    img.put_pixel(0, 0, Rgba([0, 0, 255, 255]));
    img.put_pixel(1, 0, Rgba([0, 0, 0, 128]));
    let dynimg = DynamicImage::ImageRgba8(img);
    let out = composite_on(&dynimg, [255, 255, 255]);
    assert_eq!(out.get_pixel(3, 3).0, [255, 255, 255]);
    assert_eq!(out.get_pixel(0, 0).0, [0, 0, 255]);
    assert_eq!(out.get_pixel(1, 0).0, [127, 127, 127]);
    let grey = composite_on(&dynimg, [128, 128, 128]);
    assert_eq!(grey.get_pixel(3, 3).0, [128, 128, 128]);
}

#[test]
fn cnn_input_is_a_centre_crop_of_the_right_size() {
    // Left third red, middle third green, right third blue: the centre crop is green.
    let img = RgbImage::from_fn(300, 100, |x, _| match x / 100 {
        0 => image::Rgb([255, 0, 0]),
        1 => image::Rgb([0, 255, 0]),
        _ => image::Rgb([0, 0, 255]),
    });
    let prep = Preprocess::default();
    let out = cnn_input(&DynamicImage::ImageRgb8(img.clone()), &prep);
    assert_eq!(out.dimensions(), (224, 224));
    assert_eq!(out.get_pixel(112, 112).0, [0, 255, 0]);
    assert_eq!(out.get_pixel(5, 5).0, [0, 255, 0]);
    let squash = cnn_input(
        &DynamicImage::ImageRgb8(img),
        &Preprocess {
            crop: Crop::Squash,
            ..prep
        },
    );
    assert_eq!(squash.get_pixel(5, 112).0, [255, 0, 0]);
}

#[test]
fn tiny_images_are_upscaled_and_thumbs_keep_aspect() {
    let one = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, image::Rgb([10, 20, 30])));
    let p = prepare_bytes(&png_bytes(&one), &Preprocess::default()).unwrap();
    assert_eq!(p.cnn_input.dimensions(), (224, 224));
    assert_eq!(p.cnn_input.get_pixel(100, 100).0, [10, 20, 30]);
    assert_eq!(p.thumb.dimensions(), (1, 1));
    let wide = DynamicImage::ImageRgb8(RgbImage::new(1000, 250));
    let t = thumbnail(&wide, 256);
    assert_eq!(t.dimensions(), (256, 64));
}

#[test]
fn big_images_are_box_reduced_to_what_they_must_cover() {
    let cover = Cover {
        short: 448,
        long: 256,
    };
    // 4096² (a big PNG/WebP): the largest integer factor that still covers is 9
    let big = DynamicImage::ImageRgb8(RgbImage::from_fn(4096, 4096, |x, _| {
        image::Rgb([if x < 2048 { 0 } else { 255 }, 100, 7])
    }));
    let r = reduce_to_cover(big, cover);
    assert_eq!((r.width(), r.height()), (455, 455));
    let rgb = r.to_rgb8();
    assert_eq!(rgb.get_pixel(10, 10).0, [0, 100, 7]);
    assert_eq!(rgb.get_pixel(450, 10).0, [255, 100, 7]);
    assert_eq!(rgb.get_pixel(227, 10).0[0], 113); // the block across the edge: 4 of 9 columns white
                                                  // not twice too large: untouched
    let small = DynamicImage::ImageRgb8(RgbImage::new(800, 600));
    let small = reduce_to_cover(small, cover);
    assert_eq!((small.width(), small.height()), (800, 600));
    // transparent pixels' hidden colour does not bleed: weighted by alpha
    let rgba = RgbaImage::from_fn(1000, 1000, |x, _| {
        if x % 2 == 0 {
            Rgba([255, 0, 0, 0])
        } else {
            Rgba([0, 0, 255, 255])
        }
    });
    let r = reduce_to_cover(DynamicImage::ImageRgba8(rgba), cover).to_rgba8();
    assert_eq!(r.dimensions(), (500, 500));
    assert_eq!(r.get_pixel(3, 3).0, [0, 0, 255, 128]);
    let clear = RgbaImage::from_pixel(1000, 1000, Rgba([9, 9, 9, 0]));
    let r = reduce_to_cover(DynamicImage::ImageRgba8(clear), cover).to_rgba8();
    assert_eq!(r.get_pixel(0, 0).0, [0, 0, 0, 0]);
}

#[test]
fn thumbnails_are_premultiplied() {
    let img = RgbaImage::from_pixel(8, 8, Rgba([200, 100, 50, 0]));
    let t = thumbnail(&DynamicImage::ImageRgba8(img), 4);
    assert!(
        t.pixels().all(|p| p.0 == [0, 0, 0, 0]),
        "hidden colour leaked"
    );
}

#[test]
fn sixteen_bit_is_scaled_not_clamped() {
    let img = image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(4, 4, image::Luma([32768u16]));
    let out = composite_on(&DynamicImage::ImageLuma16(img), [0, 0, 0]);
    assert_eq!(out.get_pixel(0, 0).0, [128, 128, 128]);
}

#[test]
fn truncated_jpeg_is_detected() {
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([x as u8 * 4, y as u8 * 4, 0])
    }));
    let mut jpg = Vec::new();
    img.write_to(&mut Cursor::new(&mut jpg), ImageFormat::Jpeg)
        .unwrap();
    assert!(decode_bytes(&jpg).is_ok());
    // an APP1 segment holding a thumbnail with its own FF D9 does not hide a cut
    let mut app1 = vec![0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xD8, 0xFF, 0xD9, 0x00, 0x00];
    app1[3] = 8; // length 8 = 2 length bytes + 6 payload bytes
    app1.truncate(2 + 8);
    let mut with_thumb = jpg[..2].to_vec();
    with_thumb.extend_from_slice(&app1);
    with_thumb.extend_from_slice(&jpg[2..]);
    assert!(!is_truncated_jpeg(&with_thumb));
    assert!(decode_bytes(&with_thumb).is_ok());
    let mut cut = with_thumb.clone();
    cut.truncate(cut.len() * 2 / 3);
    assert!(is_truncated_jpeg(&cut));
    jpg.truncate(jpg.len() * 2 / 3);
    assert!(decode_bytes(&jpg).is_err());
    // header cut short
    assert!(is_truncated_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn oversized_images_are_refused_from_their_header() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG header that claims 20000x20000 pixels, followed by garbage: refused from the
    // header, before any pixel data is read.
    let mut bytes = png_bytes(&DynamicImage::ImageRgb8(RgbImage::new(4, 4)));
    bytes[16..20].copy_from_slice(&20000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]); // IHDR chunk type + data
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 1 << 16));
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, &bytes).unwrap();
    match read_image_file(&bomb) {
        Err(DecodeError::TooLarge { width, height }) => {
            assert_eq!((width, height), (20000, 20000))
        }
        other => panic!("{other:?}"),
    }
    // A normal image passes and reads whole.
    let ok = dir.path().join("ok.png");
    let good = png_bytes(&DynamicImage::ImageRgb8(RgbImage::new(40, 30)));
    std::fs::write(&ok, &good).unwrap();
    assert_eq!(read_image_file(&ok).unwrap(), good);
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(read_image_file(&empty), Err(DecodeError::Empty)));
}

#[test]
fn cache_tag_changes_with_settings() {
    let a = Preprocess::default();
    let b = Preprocess {
        background: [128, 128, 128],
        ..a
    };
    assert_ne!(a.cache_tag(), b.cache_tag());
    // the thumbnail size does not change the CNN input
    assert_eq!(
        a.cache_tag(),
        Preprocess {
            thumb_size: 64,
            ..a
        }
        .cache_tag()
    );
}
