//! Thumbs: decode one image file robustly and make what later stages need from it — the CNN
//! input (alpha composited on a fixed background, square centre crop, resized) and a display
//! thumbnail (aspect kept, alpha kept as premultiplied RGBA).
//!
//! Robustness: the format is detected from the content (not the extension); EXIF orientation is
//! applied; grayscale, 16-bit, palette and CMYK images become RGB(A)8; images over
//! [`MAX_PIXELS`] are refused before decoding (decompression bombs), and the decoder's own
//! allocation limit is set too.

pub use crate::jpeg_scaled::Cover;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits, RgbImage, RgbaImage};
use std::io::Cursor;
use std::path::Path;

/// Largest image (width × height, after decoding) we accept: 100 megapixels.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Memory the decoder may allocate for one image.
pub const MAX_DECODER_ALLOC: u64 = 1 << 30;

/// Why an image could not be used. The caller adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("not a recognised image format")]
    UnknownFormat,
    #[error("image is {width}x{height} ({mpx} Mpx), over the {limit} Mpx limit", mpx = (*.width as u64 * *.height as u64) / 1_000_000, limit = MAX_PIXELS / 1_000_000)]
    TooLarge { width: u32, height: u32 },
    #[error("image has a zero dimension")]
    ZeroSize,
    #[error("truncated or corrupt data: {0}")]
    Corrupt(String),
}

/// How the CNN input is cut from the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Crop {
    /// The largest centred square, then resized (keeps proportions; the default).
    #[default]
    Center,
    /// The whole image squashed to a square.
    Squash,
}

/// Preprocessing settings; they are part of the feature cache key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// Colour that transparent pixels are composited onto for the CNN.
    pub background: [u8; 3],
    /// Side of the square CNN input.
    pub input_size: u32,
    pub crop: Crop,
    /// Longest side of the display thumbnail.
    pub thumb_size: u32,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            background: [255, 255, 255],
            input_size: 224,
            crop: Crop::Center,
            thumb_size: 256,
        }
    }
}

impl Preprocess {
    /// A short string that identifies the settings that change the CNN input.
    pub fn cache_tag(&self) -> String {
        let [r, g, b] = self.background;
        format!(
            "v1-{:?}-{}-{r:02x}{g:02x}{b:02x}",
            self.crop, self.input_size
        )
        .to_lowercase()
    }
}

/// Decode image bytes (any supported format, detected from the content) to an upright image.
pub fn decode_bytes(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    use image::ImageDecoder;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    if reader.format().is_none() {
        return Err(DecodeError::UnknownFormat);
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    if is_truncated_jpeg(bytes) {
        // zune-jpeg fills a cut-off scan with grey instead of failing; a half-grey picture
        // would land in the layout as an outlier, so treat it as broken.
        return Err(DecodeError::Corrupt(
            "JPEG ends before its end-of-image marker".into(),
        ));
    }
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize);
    }
    if width as u64 * height as u64 > MAX_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    // A broken EXIF block is not worth losing the image for.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Largest image file we read (a 100 Mpx JPEG is well below; bigger files are not photos).
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// Read an image file for decoding, after checking from its header alone that it is an image
/// of at most [`MAX_PIXELS`] (so a decompression bomb or a huge scan costs a few KiB of reading,
/// not the whole file and a gigabyte of pixels). Files whose header the probe cannot read are
/// read anyway and left to the decoder, which says why it cannot use them.
pub fn read_image_file(path: &Path) -> Result<Vec<u8>, DecodeError> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Err(DecodeError::Empty);
    }
    if len > MAX_FILE_BYTES {
        return Err(DecodeError::Corrupt(format!(
            "the file is {} MiB, over the {} MiB limit for an image",
            len >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    let mut file = file;
    let probe = ImageReader::new(std::io::BufReader::with_capacity(64 << 10, &file))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    if let Some((width, height)) = probe {
        if width as u64 * height as u64 > MAX_PIXELS {
            return Err(DecodeError::TooLarge { width, height });
        }
    }
    // the same open file, from its start: what is read is what was checked
    use std::io::{Read, Seek};
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Read and decode a file.
pub fn decode_file(path: &Path) -> Result<DynamicImage, DecodeError> {
    let bytes = read_image_file(path)?;
    decode_bytes(&bytes)
}

fn image_error(e: image::ImageError) -> DecodeError {
    match e {
        image::ImageError::IoError(io) => DecodeError::Corrupt(io.to_string()),
        image::ImageError::Limits(l) => {
            DecodeError::Corrupt(format!("over the decoder's limits: {l}"))
        }
        image::ImageError::Unsupported(u) => DecodeError::Corrupt(format!("unsupported: {u}")),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// A JPEG whose data stops before its end-of-image marker (FF D9). The marker segments before
/// the first scan are skipped by their lengths (an EXIF thumbnail in APP1 carries an FF D9 of
/// its own), then the marker must follow somewhere in the scan data; bytes after it are fine.
/// A header we cannot walk is left to the decoder to judge.
pub(crate) fn is_truncated_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut pos = 2;
    let scan_start = loop {
        // markers may be padded with extra 0xFF bytes
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return pos >= bytes.len(); // ran out of data inside the header: truncated
        };
        pos += 2;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue, // no length
            0xD9 => return false,                  // EOI before any scan: let the decoder say
            _ => {}
        }
        let Some(len) = bytes
            .get(pos..pos + 2)
            .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
        else {
            return true;
        };
        if len < 2 {
            return false;
        }
        pos += len;
        if marker == 0xDA {
            break pos;
        }
    };
    match bytes.get(scan_start..) {
        Some(scan) => !scan.windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true,
    }
}

/// Composite an image onto an opaque background colour (straight alpha in, opaque RGB out).
pub fn composite_on(img: &DynamicImage, background: [u8; 3]) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        for c in 0..3 {
            let v = src[c] as u32 * a + background[c] as u32 * (255 - a);
            dst[c] = ((v + 127) / 255) as u8;
        }
    }
    out
}

/// The CNN input: composite, crop to a square, resize to `input_size`².
pub fn cnn_input(img: &DynamicImage, prep: &Preprocess) -> RgbImage {
    let size = prep.input_size.max(1);
    let (w, h) = (img.width(), img.height());
    let square = match prep.crop {
        Crop::Center => {
            let s = w.min(h);
            img.crop_imm((w - s) / 2, (h - s) / 2, s, s)
        }
        Crop::Squash => img.clone(),
    };
    // Very large images: a fast box-filter reduction first, then the accurate filter.
    let reduced = if square.width() > 4 * size || square.height() > 4 * size {
        square.thumbnail_exact(4 * size, 4 * size)
    } else {
        square
    };
    let rgb = composite_on(&reduced, prep.background);
    crate::resample::resize(&rgb, size, size, FilterType::Triangle)
}

/// The display thumbnail: longest side at most `thumb_size`, aspect kept, premultiplied alpha
/// (so that resizing does not bleed the colour hidden in transparent pixels into the edges).
pub fn thumbnail(img: &DynamicImage, thumb_size: u32) -> RgbaImage {
    // far larger than the thumbnail: a box filter down to twice its size first (alpha-weighted,
    // so the same as averaging premultiplied colour), the Catmull-Rom filter for the rest
    let twice = Cover {
        short: 0,
        long: 2 * thumb_size,
    };
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    let mut rgba = if long >= 4 * thumb_size {
        reduce_to_cover(img.clone(), twice).to_rgba8()
    } else {
        img.to_rgba8()
    };
    premultiply(&mut rgba);
    if long <= thumb_size {
        return rgba;
    }
    // the size from the image's own proportions, not the box-reduced ones
    let scale = thumb_size as f64 / long as f64;
    let nw = ((w as f64 * scale).round() as u32).clamp(1, thumb_size);
    let nh = ((h as f64 * scale).round() as u32).clamp(1, thumb_size);
    crate::resample::resize(&rgba, nw, nh, FilterType::CatmullRom)
}

/// Multiply colour by alpha in place.
pub fn premultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p[3] as u32;
        if a != 255 {
            for c in 0..3 {
                p[c] = ((p[c] as u32 * a + 127) / 255) as u8;
            }
        }
    }
}

/// Everything the pipeline needs from one image.
pub struct Prepared {
    pub cnn_input: RgbImage,
    pub thumb: RgbaImage,
    /// Size of the upright decoded image: for a big JPEG the DCT-scaled size, for a big PNG/WebP
    /// the box-reduced one ([`decode_covering`]).
    pub width: u32,
    pub height: u32,
}

/// Decode bytes to an upright image that still covers `cover`: a big JPEG DCT-scaled down to the
/// smallest size that does ([`crate::jpeg_scaled`]), anything else (and any JPEG the scaled
/// decoder does not take) in full by [`decode_bytes`].
pub fn decode_covering(bytes: &[u8], cover: Cover) -> Result<DynamicImage, DecodeError> {
    match crate::jpeg_scaled::decode(bytes, cover)? {
        Some(img) => Ok(img),
        None => Ok(reduce_to_cover(decode_bytes(bytes)?, cover)),
    }
}

/// An image at least twice as large as `cover` on both counts, shrunk by the largest integer
/// box filter that still covers it — what DCT scaling does for a JPEG, for the formats that
/// cannot be decoded scaled (a 4096² PNG or WebP becomes 455², so cropping, resizing and
/// premultiplying for the CNN input and the thumbnail cost a few ms instead of ~600 ms).
/// Colour is averaged weighted by alpha, so transparent pixels' hidden colour does not bleed
/// into edges. Anything smaller is returned as it is.
pub fn reduce_to_cover(img: DynamicImage, cover: Cover) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let fits = |need: u32, have: u32| have.checked_div(need).unwrap_or(u32::MAX);
    let k = fits(cover.short, w.min(h)).min(fits(cover.long, w.max(h)));
    if k < 2 || k == u32::MAX {
        return img;
    }
    match img {
        DynamicImage::ImageRgb8(buf) => DynamicImage::ImageRgb8(box_reduce(&buf, k, false)),
        DynamicImage::ImageRgba8(buf) => DynamicImage::ImageRgba8(box_reduce(&buf, k, true)),
        DynamicImage::ImageLuma8(buf) => DynamicImage::ImageLuma8(box_reduce(&buf, k, false)),
        DynamicImage::ImageLumaA8(buf) => DynamicImage::ImageLumaA8(box_reduce(&buf, k, true)),
        other if other.color().has_alpha() => {
            DynamicImage::ImageRgba8(box_reduce(&other.to_rgba8(), k, true))
        }
        other => DynamicImage::ImageRgb8(box_reduce(&other.to_rgb8(), k, false)),
    }
}

/// Average `k`×`k` blocks of an 8-bit image (the last channel is alpha when `alpha`: colour
/// weighted by it). A partial block at the right or bottom edge is dropped (under `k` pixels).
fn box_reduce<P>(
    src: &image::ImageBuffer<P, Vec<u8>>,
    k: u32,
    alpha: bool,
) -> image::ImageBuffer<P, Vec<u8>>
where
    P: image::Pixel<Subpixel = u8>,
{
    let c = P::CHANNEL_COUNT as usize;
    let (w, h) = src.dimensions();
    let (ow, oh) = ((w / k) as usize, (h / k) as usize);
    let k = k as usize;
    let raw = src.as_raw();
    let stride = w as usize * c;
    let mut out = vec![0u8; ow * oh * c];
    // one output row at a time: sums over the k source rows, then divided
    let mut sums = vec![0u64; ow * c];
    for (oy, out_row) in out.chunks_exact_mut(ow * c).enumerate() {
        sums.iter_mut().for_each(|s| *s = 0);
        for row in raw[oy * k * stride..].chunks_exact(stride).take(k) {
            for (ox, px_sums) in sums.chunks_exact_mut(c).enumerate() {
                for px in row[ox * k * c..(ox + 1) * k * c].chunks_exact(c) {
                    if alpha {
                        let a = px[c - 1] as u64;
                        for ch in 0..c - 1 {
                            px_sums[ch] += px[ch] as u64 * a;
                        }
                        px_sums[c - 1] += a;
                    } else {
                        for ch in 0..c {
                            px_sums[ch] += px[ch] as u64;
                        }
                    }
                }
            }
        }
        let n = (k * k) as u64;
        for (o, s) in out_row.chunks_exact_mut(c).zip(sums.chunks_exact(c)) {
            if alpha {
                let a = s[c - 1];
                for ch in 0..c - 1 {
                    o[ch] = (s[ch] + a / 2).checked_div(a).unwrap_or(0) as u8;
                }
                o[c - 1] = ((a + n / 2) / n) as u8;
            } else {
                for ch in 0..c {
                    o[ch] = ((s[ch] + n / 2) / n) as u8;
                }
            }
        }
    }
    image::ImageBuffer::from_raw(ow as u32, oh as u32, out)
        .unwrap_or_else(|| image::ImageBuffer::new(ow as u32, oh as u32))
}

impl Preprocess {
    /// What one decode must keep for both products: the CNN's square (cut from the short side,
    /// or the whole image squashed) and the thumbnail's long side.
    ///
    /// The short side keeps twice the CNN's input size, so that the last resize is a real
    /// downsampling whose filter, not the DCT scaling, shapes what the CNN sees: with just the
    /// input size (what PIL's `draft` keeps), 1600×1067 photos decoded at 1/4 gave features at
    /// cosine 0.993 of a full decode and flipped the ImageNet top-1 class of 2 in 14 test photos;
    /// with twice, none (`tests/decode_fast_path.rs`). A 24 Mpx photo still decodes at 1/8.
    pub fn cover(&self) -> Cover {
        Cover {
            short: 2 * self.input_size,
            long: self.thumb_size,
        }
    }
}

/// Decode bytes once and make both the CNN input and the thumbnail from that one decode (a big
/// JPEG at the smallest DCT scale that covers both).
pub fn prepare_bytes(bytes: &[u8], prep: &Preprocess) -> Result<Prepared, DecodeError> {
    let img = decode_covering(bytes, prep.cover())?;
    Ok(Prepared {
        cnn_input: cnn_input(&img, prep),
        thumb: thumbnail(&img, prep.thumb_size),
        width: img.width(),
        height: img.height(),
    })
}

/// The display thumbnail of a file, from the cache when it is there (keyed by the file's
/// content), else decoded and stored in the cache.
pub fn load_thumbnail(
    path: &Path,
    cache: &crate::cache::Cache,
    thumb_size: u32,
) -> Result<RgbaImage, DecodeError> {
    let bytes = read_image_file(path)?;
    let key = crate::cache::content_key(&bytes);
    if let Some(thumb) = cache.load_thumb(thumb_size, &key) {
        return Ok(thumb);
    }
    let cover = Cover {
        short: 0,
        long: thumb_size,
    };
    let thumb = thumbnail(&decode_covering(&bytes, cover)?, thumb_size);
    if let Err(e) = cache.store_thumb(thumb_size, &key, &thumb) {
        log::debug!("cannot write the thumbnail cache: {e}");
    }
    Ok(thumb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba};

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
        let img =
            image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(4, 4, image::Luma([32768u16]));
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
}
