//! Decode: one image file's bytes to pixels, robustly — the format detected from the content
//! (not the extension), EXIF orientation applied, grayscale / 16-bit / palette / CMYK made
//! RGB(A)8, images over [`MAX_PIXELS`] refused from their header (decompression bombs) with the
//! decoder's own allocation limit set too. A big image is decoded (JPEG, DCT-scaled by
//! [`super::jpeg_scaled`]) or box-reduced (PNG, WebP…) to the smallest size that still covers
//! what the later stages need ([`Cover`]).

pub use super::jpeg_scaled::Cover;
use image::{DynamicImage, ImageReader, Limits};
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

/// The integer factor `k` ≥ 2 by which a `w × h` image can be box-reduced (to `w / k × h / k`)
/// and still cover `cover`; `None` when none can (or `cover` asks nothing).
pub fn reduction_factor(w: u32, h: u32, cover: Cover) -> Option<u32> {
    let fits = |need: u32, have: u32| have.checked_div(need).unwrap_or(u32::MAX);
    let k = fits(cover.short, w.min(h)).min(fits(cover.long, w.max(h)));
    (2..u32::MAX).contains(&k).then_some(k)
}

/// Decode bytes to an upright image that still covers `cover`: a big JPEG DCT-scaled down to the
/// smallest size that does ([`super::jpeg_scaled`]), a WebP by libwebp at the box-reduced size
/// ([`super::webp_scaled`]), anything else (and any file those do not take) in full by
/// [`decode_bytes`], then box-reduced.
pub fn decode_covering(bytes: &[u8], cover: Cover) -> Result<DynamicImage, DecodeError> {
    if let Some(img) = super::jpeg_scaled::decode(bytes, cover)? {
        return Ok(img);
    }
    if let Some(img) = super::webp_scaled::decode(bytes, cover)? {
        return Ok(img);
    }
    Ok(reduce_to_cover(decode_bytes(bytes)?, cover))
}

/// An image at least twice as large as `cover` on both counts, shrunk by the largest integer
/// box filter that still covers it — what DCT scaling does for a JPEG, for the formats that
/// cannot be decoded scaled (a 4096² PNG or WebP becomes 455², so cropping, resizing and
/// premultiplying for the CNN input and the thumbnail cost a few ms instead of ~600 ms).
/// Colour is averaged weighted by alpha, so transparent pixels' hidden colour does not bleed
/// into edges. Anything smaller is returned as it is.
pub fn reduce_to_cover(img: DynamicImage, cover: Cover) -> DynamicImage {
    let Some(k) = reduction_factor(img.width(), img.height(), cover) else {
        return img;
    };
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
