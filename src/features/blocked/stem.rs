//! The stem on the blocked layout: a dense convolution over a few plain input planes (the RGB
//! image, `[cin, H, W]`) that writes blocked output (`[C/8, OH, OW, 8]`), so the blocked run
//! starts at the stem and no relayout pass over its 32 × 112 × 112 output is needed.
//!
//! Per output pixel every tap `(ci, ky, kx)` is one input value times a vector of 8 output
//! channels' weights: the kernel computes 4 such vectors (32 channels) × 3 pixels in 12
//! accumulators. Taps outside the input (the padding) are skipped. The tract op is
//! [`super::depthwise::BlockedDepthwise`], which runs either (as `FastDepthwise` does).

use anyhow::{ensure, Result};

use super::depthwise::{interior_columns, valid_taps};
use super::BLOCK;
use crate::features::depthwise::{Geometry, Kernel};

/// Weights `[C, cin·kh·kw]` as `[taps][C]`: the weights of one tap are contiguous vectors.
pub fn pack_weights(k: &[f32], channels: usize, taps: usize) -> Result<Vec<f32>> {
    ensure!(
        k.len() == channels * taps && channels % BLOCK == 0,
        "weights: {} values for {channels} channels × {taps} taps",
        k.len()
    );
    let mut packed = vec![0.0; k.len()];
    for c in 0..channels {
        for t in 0..taps {
            packed[t * channels + c] = k[c * taps + t];
        }
    }
    Ok(packed)
}

/// The stem convolution: `input` `[cin, in_h, in_w]` plain, `packed` from [`pack_weights`],
/// `bias` `[C]`, `output` `[C/8, out_h, out_w, 8]`, clamped to `clip`.
pub fn stem(
    g: &Geometry,
    input: &[f32],
    packed: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    output: &mut [f32],
    kernel: Kernel,
) -> Result<()> {
    g.check()?;
    ensure!(
        g.dense_in > 0 && g.channels % BLOCK == 0,
        "not a blocked stem geometry: {g:?}"
    );
    ensure!(input.len() == g.dense_in * g.in_h * g.in_w, "input size");
    ensure!(
        output.len() == g.channels * g.out_h * g.out_w,
        "output size"
    );
    ensure!(
        packed.len() == g.channels * g.taps() && bias.len() == g.channels,
        "weights size"
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            ensure!(
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
                "AVX2/FMA kernel asked for on a CPU without it"
            );
            // SAFETY: AVX2/FMA checked; every length checked above.
            unsafe { avx2::stem(g, input, packed, bias, clip, output) }
        }
        _ => portable(g, input, packed, bias, clip, output),
    }
    Ok(())
}

/// The portable kernel: the same taps in the same order (input plane, row, column).
fn portable(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    out: &mut [f32],
) {
    let c = g.channels;
    let plane = g.in_h * g.in_w;
    let out_plane = g.out_h * g.out_w;
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let (ky0, ky1, kx0, kx1) = valid_taps(g, oy, ox);
            for ch in 0..c {
                let mut acc = bias[ch];
                for ci in 0..g.dense_in {
                    for ky in ky0..ky1 {
                        let iy = oy * g.sh + ky - g.pad_top;
                        for kx in kx0..kx1 {
                            let ix = ox * g.sw + kx - g.pad_left;
                            let t = (ci * g.kh + ky) * g.kw + kx;
                            acc += w[t * c + ch] * x[ci * plane + iy * g.in_w + ix];
                        }
                    }
                }
                if let Some((lo, hi)) = clip {
                    acc = acc.max(lo).min(hi);
                }
                out[(ch / BLOCK * out_plane + oy * g.out_w + ox) * BLOCK + ch % BLOCK] = acc;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// Channel vectors per tile.
    const OV: usize = 4;

    /// `NP` pixels of output row `oy` from column `ox` (stride `SW`), output channel vectors
    /// `v0 .. v0 + NV`, over the taps `ky0..ky1` × `kx0..kx1` of every input plane.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const NV: usize, const NP: usize, const SW: usize>(
        g: &Geometry,
        x: *const f32,
        w: *const f32,
        bias: *const f32,
        clip: Option<(__m256, __m256)>,
        (oy, ox): (usize, usize),
        (ky0, ky1, kx0, kx1): (usize, usize, usize, usize),
        v0: usize,
        out: *mut f32,
    ) {
        let c = g.channels;
        let plane = g.in_h * g.in_w;
        let mut acc = [[_mm256_setzero_ps(); NP]; NV];
        for (v, row) in acc.iter_mut().enumerate() {
            let b = _mm256_loadu_ps(bias.add((v0 + v) * BLOCK));
            row.iter_mut().for_each(|a| *a = b);
        }
        for ci in 0..g.dense_in {
            for ky in ky0..ky1 {
                let iy = oy * g.sh + ky - g.pad_top;
                let rp = x.add(ci * plane + iy * g.in_w);
                for kx in kx0..kx1 {
                    // `kx0` keeps `ox·SW + kx − pad_left` inside the row
                    let t = (ci * g.kh + ky) * g.kw + kx;
                    let wt = w.add(t * c + v0 * BLOCK);
                    let wv: [__m256; NV] =
                        std::array::from_fn(|v| _mm256_loadu_ps(wt.add(v * BLOCK)));
                    for q in 0..NP {
                        let xv = _mm256_broadcast_ss(&*rp.add((ox + q) * SW + kx - g.pad_left));
                        for v in 0..NV {
                            acc[v][q] = _mm256_fmadd_ps(wv[v], xv, acc[v][q]);
                        }
                    }
                }
            }
        }
        let out_plane = g.out_h * g.out_w;
        for (v, row) in acc.iter().enumerate() {
            for (q, &a) in row.iter().enumerate() {
                let y = match clip {
                    Some((lo, hi)) => _mm256_min_ps(_mm256_max_ps(a, lo), hi),
                    None => a,
                };
                let at = ((v0 + v) * out_plane + oy * g.out_w + ox + q) * BLOCK;
                _mm256_storeu_ps(out.add(at), y);
            }
        }
    }

    /// Every channel vector of `NP` pixels from `(oy, ox)`, with the given taps.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn pixels<const NP: usize, const SW: usize>(
        g: &Geometry,
        x: *const f32,
        w: *const f32,
        bias: *const f32,
        clip: Option<(__m256, __m256)>,
        at: (usize, usize),
        taps: (usize, usize, usize, usize),
        out: *mut f32,
    ) {
        let vectors = g.channels / BLOCK;
        let mut v0 = 0;
        while v0 + OV <= vectors {
            tile::<OV, NP, SW>(g, x, w, bias, clip, at, taps, v0, out);
            v0 += OV;
        }
        while v0 < vectors {
            tile::<1, NP, SW>(g, x, w, bias, clip, at, taps, v0, out);
            v0 += 1;
        }
    }

    /// One output row: the border pixels one by one, the interior 3 at a time.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn row<const SW: usize>(
        g: &Geometry,
        x: *const f32,
        w: *const f32,
        bias: *const f32,
        clip: Option<(__m256, __m256)>,
        oy: usize,
        (lo, hi): (usize, usize),
        out: *mut f32,
    ) {
        for ox in (0..lo).chain(hi..g.out_w) {
            let taps = valid_taps(g, oy, ox);
            pixels::<1, SW>(g, x, w, bias, clip, (oy, ox), taps, out);
        }
        if lo >= hi {
            return;
        }
        let taps = valid_taps(g, oy, lo);
        let mut ox = lo;
        while ox + 3 <= hi {
            pixels::<3, SW>(g, x, w, bias, clip, (oy, ox), taps, out);
            ox += 3;
        }
        match hi - ox {
            0 => {}
            1 => pixels::<1, SW>(g, x, w, bias, clip, (oy, ox), taps, out),
            2 => pixels::<2, SW>(g, x, w, bias, clip, (oy, ox), taps, out),
            _ => unreachable!("fewer than 3 pixels left"),
        }
    }

    /// The whole stem.
    ///
    /// # Safety
    /// AVX2 and FMA are available; the lengths are as checked by [`super::stem`]. Every
    /// input read is a valid tap: interior columns have all their column taps inside the
    /// input ([`interior_columns`]), border pixels and every row only [`valid_taps`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn stem(
        g: &Geometry,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        clip: Option<(f32, f32)>,
        out: &mut [f32],
    ) {
        let clip = clip.map(|(lo, hi)| (_mm256_set1_ps(lo), _mm256_set1_ps(hi)));
        let cols = interior_columns(g);
        let (xp, wp, bp, op) = (x.as_ptr(), w.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
        for oy in 0..g.out_h {
            if g.sw == 2 {
                row::<2>(g, xp, wp, bp, clip, oy, cols, op);
            } else {
                row::<1>(g, xp, wp, bp, clip, oy, cols, op);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::to_plain;
    use super::*;
    use crate::features::depthwise as plain;

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn blocked_stem_equals_the_chw_kernel() {
        let mut kernels = vec![Kernel::Portable];
        if Kernel::detect() != Kernel::Portable {
            kernels.push(Kernel::detect());
        }
        // (channels, dense_in, h, w, k, stride, pad, out_h, out_w): the bundled model's stem
        // at a smaller size (implied padding below and right), padding on every side, 5 and
        // 1 channel vectors (a tile of 4 and a rest), odd sizes
        for &(c, cin, h, w, k, s, pad, oh, ow) in &[
            (32, 3, 24, 24, 3, 2, 0, 12, 12),
            (40, 3, 17, 15, 3, 2, 1, 9, 8),
            (8, 1, 9, 11, 5, 1, 2, 9, 11),
            (16, 4, 10, 13, 3, 1, 0, 8, 11),
        ] {
            let g = Geometry {
                channels: c,
                dense_in: cin,
                in_h: h,
                in_w: w,
                out_h: oh,
                out_w: ow,
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                pad_top: pad,
                pad_left: pad,
            };
            let x = pseudo(cin * h * w, 1);
            let kern = pseudo(c * g.taps(), 2);
            let bias = pseudo(c, 3);
            let packed = pack_weights(&kern, c, g.taps()).expect("pack");
            for clip in [None, Some((0.0, 0.5))] {
                let mut want = vec![0.0; c * oh * ow];
                plain::convolve(&g, 1, &x, &kern, &bias, clip, &mut want, Kernel::Portable)
                    .expect("chw");
                for &kernel in &kernels {
                    let mut out = vec![f32::NAN; c * oh * ow];
                    stem(&g, &x, &packed, &bias, clip, &mut out, kernel).expect("blocked");
                    let mut got = vec![0.0; out.len()];
                    to_plain(&out, c, oh * ow, &mut got);
                    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                            "{g:?} {clip:?} {kernel:?} at {j}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
