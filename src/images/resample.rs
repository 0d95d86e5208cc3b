//! Resample: a separable resize of 8-bit images for the two products of every decode, the CNN
//! input (triangle filter) and the thumbnail (Catmull-Rom), with the same filters, weights and
//! rounding as `image::imageops::resize` but on plain byte rows.
//!
//! `image`'s resize goes through its generic pixel accessors and a 4-channel float image for
//! every pixel, which cost 6–8 ms per photo for each product — a third of the CNN's time. Here
//! each pass is a loop over contiguous rows (the vertical pass a weighted sum of whole rows,
//! which the compiler vectorizes), so both products together take about a millisecond.

use image::imageops::FilterType;
use image::{ImageBuffer, Pixel};

/// One output position's source range and normalised weights.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

fn kernel(filter: FilterType) -> (fn(f32) -> f32, f32) {
    fn triangle(x: f32) -> f32 {
        (1.0 - x.abs()).max(0.0)
    }
    fn catmull_rom(x: f32) -> f32 {
        // the cubic with B = 0, C = 0.5, as `image` has it
        let x = x.abs();
        if x < 1.0 {
            (9.0 * x * x * x - 15.0 * x * x + 6.0) / 6.0
        } else if x < 2.0 {
            (-3.0 * x * x * x + 15.0 * x * x - 24.0 * x + 12.0) / 6.0
        } else {
            0.0
        }
    }
    match filter {
        FilterType::CatmullRom => (catmull_rom, 2.0),
        _ => (triangle, 1.0),
    }
}

/// The taps of every output position along one axis (`image`'s construction: the kernel scaled
/// by the reduction ratio, centred on the output pixel's centre, clipped to the source).
fn taps(src: usize, dst: usize, filter: FilterType) -> Vec<Taps> {
    let (k, support) = kernel(filter);
    let ratio = src as f32 / dst as f32;
    let sratio = ratio.max(1.0);
    let src_support = support * sratio;
    (0..dst)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - src_support).floor() as i64).clamp(0, src as i64 - 1) as usize;
            let right =
                ((centre + src_support).ceil() as i64).clamp(left as i64 + 1, src as i64) as usize;
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| k((i as f32 - centre) / sratio))
                .collect();
            let sum: f32 = weights.iter().sum();
            if sum != 0.0 {
                weights.iter_mut().for_each(|w| *w /= sum);
            }
            Taps {
                start: left,
                weights,
            }
        })
        .collect()
}

/// `src` resized to `w × h` with `filter` (triangle or Catmull-Rom; other filters are taken as
/// triangle). Colour is resampled as stored: premultiply alpha first where it matters.
pub fn resize<P>(
    src: &ImageBuffer<P, Vec<u8>>,
    w: u32,
    h: u32,
    filter: FilterType,
) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8>,
{
    let c = P::CHANNEL_COUNT as usize;
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (w, h) = (w.max(1) as usize, h.max(1) as usize);
    if sw == 0 || sh == 0 {
        return ImageBuffer::new(w as u32, h as u32);
    }
    if (sw, sh) == (w, h) {
        return src.clone();
    }
    let raw = src.as_raw();
    let row_len = sw * c;
    // vertical pass: each output row a weighted sum of source rows, kept in float
    let mut mid = vec![0f32; h * row_len];
    for (out_row, t) in mid.chunks_exact_mut(row_len).zip(taps(sh, h, filter)) {
        for (i, &wt) in t.weights.iter().enumerate() {
            let y = t.start + i;
            let src_row = &raw[y * row_len..(y + 1) * row_len];
            for (o, &s) in out_row.iter_mut().zip(src_row) {
                *o += s as f32 * wt;
            }
        }
    }
    // horizontal pass, rounded to the nearest byte like `image`
    let cols = taps(sw, w, filter);
    let mut out = vec![0u8; w * h * c];
    for (out_row, mid_row) in out.chunks_exact_mut(w * c).zip(mid.chunks_exact(row_len)) {
        for (px, t) in out_row.chunks_exact_mut(c).zip(&cols) {
            let mut acc = [0f32; 4];
            for (i, &wt) in t.weights.iter().enumerate() {
                let s = &mid_row[(t.start + i) * c..(t.start + i + 1) * c];
                for ch in 0..c {
                    acc[ch] += s[ch] * wt;
                }
            }
            for ch in 0..c {
                px[ch] = acc[ch].clamp(0.0, 255.0).round() as u8;
            }
        }
    }
    ImageBuffer::from_raw(w as u32, h as u32, out)
        .unwrap_or_else(|| ImageBuffer::new(w as u32, h as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{RgbImage, RgbaImage};

    fn photo_like(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                ((x * 7 + y * 3) % 256) as u8,
                ((x as f32 / 9.0).sin() * 120.0 + 128.0) as u8,
                ((x / 16 + y / 16) % 2 * 220) as u8,
            ])
        })
    }

    /// The largest difference between two images' bytes.
    fn max_diff<P: Pixel<Subpixel = u8>>(
        a: &ImageBuffer<P, Vec<u8>>,
        b: &ImageBuffer<P, Vec<u8>>,
    ) -> u8 {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn matches_image_crates_resize() {
        for (filter, (sw, sh), (w, h)) in [
            (FilterType::Triangle, (533, 533), (224, 224)),
            (FilterType::Triangle, (100, 60), (224, 224)), // upscaling
            (FilterType::CatmullRom, (750, 500), (256, 171)),
            (FilterType::CatmullRom, (300, 40), (256, 34)),
        ] {
            let src = photo_like(sw, sh);
            let ours = resize(&src, w, h, filter);
            let theirs = image::imageops::resize(&src, w, h, filter);
            assert_eq!(ours.dimensions(), theirs.dimensions());
            let worst = max_diff(&ours, &theirs);
            assert!(worst <= 1, "{filter:?} {sw}×{sh} → {w}×{h}: off by {worst}");
        }
        // four channels, alpha resampled like colour
        let rgba = RgbaImage::from_fn(640, 480, |x, y| {
            image::Rgba([x as u8, y as u8, 7, ((x + y) % 256) as u8])
        });
        let (ours, theirs) = (
            resize(&rgba, 256, 192, FilterType::CatmullRom),
            image::imageops::resize(&rgba, 256, 192, FilterType::CatmullRom),
        );
        let worst = max_diff(&ours, &theirs);
        assert!(worst <= 1, "RGBA off by {worst}");
    }

    #[test]
    fn same_size_and_empty_inputs() {
        let src = photo_like(20, 10);
        assert_eq!(resize(&src, 20, 10, FilterType::Triangle), src);
        let empty = RgbImage::new(0, 0);
        assert_eq!(
            resize(&empty, 4, 4, FilterType::Triangle).dimensions(),
            (4, 4)
        );
    }
}
