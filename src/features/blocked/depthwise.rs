//! Depthwise convolution on channel-blocked activations (`[C/8, H, W, 8]` in and out), the
//! layout onnxruntime uses for the same reason: with 8 channels in a vector, a strided or
//! narrow plane costs the same per output as a wide one. The CHW kernel
//! ([`crate::features::depthwise`]) has to split a stride-2 row by column phase and leaves
//! most of a vector empty on a 7-wide row; here every tap of every output pixel is one
//! weight vector times one input vector.
//!
//! Per block of 8 channels the input is copied into a zero-bordered scratch (the padding), and
//! each output row is computed 8 pixels at a time in 8 accumulators (the FMA chains are
//! independent), the rest of the row in one shorter group.

use anyhow::{ensure, Result};
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, TypedOp, Validation};
use tract_onnx::tract_core::{as_op, op_as_typed_op};

use super::{blocked_shape, BLOCK};
use crate::features::depthwise::{FastDepthwise, Geometry, Kernel};

/// Output pixels per group along a row.
const GROUP: usize = 8;
/// Planes at least this wide are read in place: their border pixels are few, and copying a
/// big plane into a scratch cost more than the convolution (the 112×112 stride-2 layer).
/// Narrower planes go through the zero-bordered scratch, where every pixel is in a group.
const DIRECT_MIN_WIDTH: usize = 28;

/// Rows and columns of the zero-bordered scratch of one block: every padded input row and
/// column some output reads.
fn scratch_dims(g: &Geometry) -> (usize, usize) {
    ((g.out_h - 1) * g.sh + g.kh, (g.out_w - 1) * g.sw + g.kw)
}

/// Weights `[C, kh·kw]` as `[C/8, kh·kw, 8]`: one vector per tap.
pub fn pack_weights(k: &[f32], channels: usize, taps: usize) -> Result<Vec<f32>> {
    ensure!(
        k.len() == channels * taps && channels % BLOCK == 0,
        "weights: {} values for {channels} channels × {taps} taps",
        k.len()
    );
    let mut packed = vec![0.0; k.len()];
    for c in 0..channels {
        for t in 0..taps {
            packed[(c / BLOCK * taps + t) * BLOCK + c % BLOCK] = k[c * taps + t];
        }
    }
    Ok(packed)
}

/// Copy block `b` of `input` into the scratch (only the positions that hold input values: the
/// border stays as it was, zero).
fn fill(g: &Geometry, input: &[f32], b: usize, scratch: &mut [f32]) {
    let (ph, pw) = scratch_dims(g);
    let plane = &input[b * g.in_h * g.in_w * BLOCK..][..g.in_h * g.in_w * BLOCK];
    let cols = g.in_w.min(pw - g.pad_left);
    for iy in 0..g.in_h {
        let r = iy + g.pad_top;
        if r >= ph {
            break;
        }
        scratch[(r * pw + g.pad_left) * BLOCK..][..cols * BLOCK]
            .copy_from_slice(&plane[iy * g.in_w * BLOCK..][..cols * BLOCK]);
    }
}

/// Depthwise convolution of one blocked image: `input` `[C/8, in_h, in_w, 8]`, `packed` from
/// [`pack_weights`], `bias` `[C]`, `output` `[C/8, out_h, out_w, 8]`, clamped to `clip`.
pub fn depthwise(
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
        g.dense_in == 0 && g.channels % BLOCK == 0,
        "not a blocked depthwise geometry: {g:?}"
    );
    let taps = g.kh * g.kw;
    ensure!(input.len() == g.channels * g.in_h * g.in_w, "input size");
    ensure!(
        output.len() == g.channels * g.out_h * g.out_w,
        "output size"
    );
    ensure!(
        packed.len() == g.channels * taps && bias.len() == g.channels,
        "weights size"
    );
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx2 {
        ensure!(
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            "AVX2/FMA kernel asked for on a CPU without it"
        );
    }
    let out_plane = g.out_h * g.out_w * BLOCK;
    let in_plane = g.in_h * g.in_w * BLOCK;
    if g.in_w >= DIRECT_MIN_WIDTH {
        for (b, out) in output.chunks_exact_mut(out_plane).enumerate() {
            let x = &input[b * in_plane..][..in_plane];
            let w = &packed[b * taps * BLOCK..][..taps * BLOCK];
            let bias = &bias[b * BLOCK..][..BLOCK];
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2/FMA checked above; `x` is one input plane, `w` holds `kh·kw`
                // vectors, `out` one output plane; `direct` reads only taps inside the plane.
                Kernel::Avx2 => unsafe { avx2::direct(g, x, w, bias, clip, out) },
                _ => direct_portable(g, x, w, bias, clip, out),
            }
        }
        return Ok(());
    }
    let (ph, pw) = scratch_dims(g);
    let mut scratch = vec![0.0f32; ph * pw * BLOCK];
    for (b, out) in output.chunks_exact_mut(out_plane).enumerate() {
        fill(g, input, b, &mut scratch);
        let w = &packed[b * taps * BLOCK..][..taps * BLOCK];
        let bias = &bias[b * BLOCK..][..BLOCK];
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2/FMA checked above; the scratch is `ph × pw` blocks with
            // `ph = (out_h − 1)·sh + kh` and `pw = (out_w − 1)·sw + kw`, so every tap of every
            // output pixel reads inside it; `w` holds `kh·kw` vectors, `out` one output plane.
            Kernel::Avx2 => unsafe { avx2::plane(g, &scratch, w, bias, clip, out) },
            _ => plane_portable(g, &scratch, w, bias, clip, out),
        }
    }
    Ok(())
}

/// The taps of output pixel `(oy, ox)` inside the input: rows `ky0..ky1`, columns `kx0..kx1`.
pub(super) fn valid_taps(g: &Geometry, oy: usize, ox: usize) -> (usize, usize, usize, usize) {
    let (y, x) = (oy * g.sh, ox * g.sw);
    (
        g.pad_top.saturating_sub(y),
        g.kh.min((g.in_h + g.pad_top).saturating_sub(y)),
        g.pad_left.saturating_sub(x),
        g.kw.min((g.in_w + g.pad_left).saturating_sub(x)),
    )
}

/// The output columns `lo..hi` whose taps are all inside the input's columns.
pub(super) fn interior_columns(g: &Geometry) -> (usize, usize) {
    let lo = g.pad_left.div_ceil(g.sw).min(g.out_w);
    let hi = if g.in_w + g.pad_left >= g.kw {
        ((g.in_w + g.pad_left - g.kw) / g.sw + 1).min(g.out_w)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// One block's output plane read straight from the input (no scratch), portably; the taps
/// outside the input are skipped, which is what zero padding adds.
fn direct_portable(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    out: &mut [f32],
) {
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let (ky0, ky1, kx0, kx1) = valid_taps(g, oy, ox);
            for l in 0..BLOCK {
                let mut acc = bias[l];
                for ky in ky0..ky1 {
                    let iy = oy * g.sh + ky - g.pad_top;
                    for kx in kx0..kx1 {
                        let ix = ox * g.sw + kx - g.pad_left;
                        acc += w[(ky * g.kw + kx) * BLOCK + l] * x[(iy * g.in_w + ix) * BLOCK + l];
                    }
                }
                if let Some((lo, hi)) = clip {
                    acc = acc.max(lo).min(hi);
                }
                out[(oy * g.out_w + ox) * BLOCK + l] = acc;
            }
        }
    }
}

/// One block's output plane, portably (same taps in the same order).
fn plane_portable(
    g: &Geometry,
    scratch: &[f32],
    w: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    out: &mut [f32],
) {
    let (_, pw) = scratch_dims(g);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for l in 0..BLOCK {
                let mut acc = bias[l];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let at = ((oy * g.sh + ky) * pw + ox * g.sw + kx) * BLOCK + l;
                        acc += w[(ky * g.kw + kx) * BLOCK + l] * scratch[at];
                    }
                }
                if let Some((lo, hi)) = clip {
                    acc = acc.max(lo).min(hi);
                }
                out[(oy * g.out_w + ox) * BLOCK + l] = acc;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// `n` output pixels of one row (stride `SW`) in groups of [`GROUP`], then one group of
    /// the rest: `src` is the input at the first pixel's first tap, `row` the input's row
    /// length in floats, `rows` tap rows from `w` on; `out` the first pixel's output.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn span<const SW: usize>(
        kw: usize,
        src: *const f32,
        row: usize,
        rows: usize,
        w: *const f32,
        bias: __m256,
        clip: Option<(__m256, __m256)>,
        out: *mut f32,
        n: usize,
    ) {
        let mut k = 0;
        while k + GROUP <= n {
            let (s, o) = (src.add(k * SW * BLOCK), out.add(k * BLOCK));
            group::<GROUP, SW>(kw, s, row, rows, w, bias, clip, o);
            k += GROUP;
        }
        let (s, o) = (src.add(k * SW * BLOCK), out.add(k * BLOCK));
        match n - k {
            0 => {}
            1 => group::<1, SW>(kw, s, row, rows, w, bias, clip, o),
            2 => group::<2, SW>(kw, s, row, rows, w, bias, clip, o),
            3 => group::<3, SW>(kw, s, row, rows, w, bias, clip, o),
            4 => group::<4, SW>(kw, s, row, rows, w, bias, clip, o),
            5 => group::<5, SW>(kw, s, row, rows, w, bias, clip, o),
            6 => group::<6, SW>(kw, s, row, rows, w, bias, clip, o),
            7 => group::<7, SW>(kw, s, row, rows, w, bias, clip, o),
            _ => unreachable!("fewer than {GROUP} pixels left"),
        }
    }

    /// One pixel read in place: taps `ky0..ky1` × `kx0..kx1` of output `(oy, ox)`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn edge_pixel(
        g: &Geometry,
        x: *const f32,
        w: *const f32,
        bias: __m256,
        clip: Option<(__m256, __m256)>,
        oy: usize,
        ox: usize,
        out: *mut f32,
    ) {
        let (ky0, ky1, kx0, kx1) = valid_taps(g, oy, ox);
        let (mut a0, mut a1) = (bias, _mm256_setzero_ps());
        for ky in ky0..ky1 {
            let iy = oy * g.sh + ky - g.pad_top;
            let row = x.add(iy * g.in_w * BLOCK);
            let mut kx = kx0;
            while kx + 2 <= kx1 {
                let ix = ox * g.sw + kx - g.pad_left;
                let w0 = _mm256_loadu_ps(w.add((ky * g.kw + kx) * BLOCK));
                let w1 = _mm256_loadu_ps(w.add((ky * g.kw + kx + 1) * BLOCK));
                a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(row.add(ix * BLOCK)), a0);
                a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(row.add((ix + 1) * BLOCK)), a1);
                kx += 2;
            }
            if kx < kx1 {
                let ix = ox * g.sw + kx - g.pad_left;
                let w0 = _mm256_loadu_ps(w.add((ky * g.kw + kx) * BLOCK));
                a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(row.add(ix * BLOCK)), a0);
            }
        }
        let a = _mm256_add_ps(a0, a1);
        let y = match clip {
            Some((lo, hi)) => _mm256_min_ps(_mm256_max_ps(a, lo), hi),
            None => a,
        };
        _mm256_storeu_ps(out, y);
    }

    /// `NP` output pixels of one row whose column taps are all inside the input (the scratch,
    /// or the input read in place): `src` is the input at the first pixel's first tap row and
    /// column 0 of its taps, `rows` the tap rows to take, `w` the weights of the first of them.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn group<const NP: usize, const SW: usize>(
        kw: usize,
        src: *const f32,
        row: usize,
        rows: usize,
        w: *const f32,
        bias: __m256,
        clip: Option<(__m256, __m256)>,
        out: *mut f32,
    ) {
        let mut acc = [bias; NP];
        let mut wp = w;
        for ky in 0..rows {
            let rp = src.add(ky * row);
            for kx in 0..kw {
                let wv = _mm256_loadu_ps(wp);
                wp = wp.add(BLOCK);
                for (q, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(wv, _mm256_loadu_ps(rp.add((q * SW + kx) * BLOCK)), *a);
                }
            }
        }
        for (q, &a) in acc.iter().enumerate() {
            let y = match clip {
                Some((lo, hi)) => _mm256_min_ps(_mm256_max_ps(a, lo), hi),
                None => a,
            };
            _mm256_storeu_ps(out.add(q * BLOCK), y);
        }
    }

    /// The interior columns `lo..hi` of output row `oy`, in groups of [`GROUP`].
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn direct_row<const SW: usize>(
        g: &Geometry,
        x: *const f32,
        w: *const f32,
        bias: __m256,
        clip: Option<(__m256, __m256)>,
        oy: usize,
        (lo, hi): (usize, usize),
        out: *mut f32,
    ) {
        if lo >= hi {
            return;
        }
        let (ky0, ky1, _, _) = valid_taps(g, oy, lo);
        let row = g.in_w * BLOCK;
        let iy0 = oy * g.sh + ky0 - g.pad_top;
        let wr = w.add(ky0 * g.kw * BLOCK);
        let rows = ky1 - ky0;
        let src = x.add(iy0 * row + (lo * SW - g.pad_left) * BLOCK);
        let o = out.add((oy * g.out_w + lo) * BLOCK);
        span::<SW>(g.kw, src, row, rows, wr, bias, clip, o, hi - lo);
    }

    /// One block's output plane read in place (no scratch).
    ///
    /// # Safety
    /// AVX2 and FMA are available; `x` is one input plane (`in_h · in_w` blocks), `w` holds
    /// `kh·kw` weight vectors, `bias` 8 values and `out` `out_h · out_w` blocks. Every load
    /// is a tap inside the input: interior columns have all their column taps inside it (see
    /// [`interior_columns`]), edge pixels and every row take only [`valid_taps`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn direct(
        g: &Geometry,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        clip: Option<(f32, f32)>,
        out: &mut [f32],
    ) {
        let b = _mm256_loadu_ps(bias.as_ptr());
        let clip = clip.map(|(lo, hi)| (_mm256_set1_ps(lo), _mm256_set1_ps(hi)));
        let (lo, hi) = interior_columns(g);
        let (xp, wp, op) = (x.as_ptr(), w.as_ptr(), out.as_mut_ptr());
        for oy in 0..g.out_h {
            let o = |ox: usize| op.add((oy * g.out_w + ox) * BLOCK);
            for ox in (0..lo).chain(hi..g.out_w) {
                edge_pixel(g, xp, wp, b, clip, oy, ox, o(ox));
            }
            if g.sw == 2 {
                direct_row::<2>(g, xp, wp, b, clip, oy, (lo, hi), op);
            } else {
                direct_row::<1>(g, xp, wp, b, clip, oy, (lo, hi), op);
            }
        }
    }

    /// One block's output plane.
    ///
    /// # Safety
    /// AVX2 and FMA are available; `scratch` is the block's filled scratch of
    /// [`scratch_dims`]`(g)` blocks, `w` holds `kh·kw` weight vectors, `bias` 8 values and
    /// `out` `out_h · out_w` blocks (see [`super::depthwise`]).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn plane(
        g: &Geometry,
        scratch: &[f32],
        w: &[f32],
        bias: &[f32],
        clip: Option<(f32, f32)>,
        out: &mut [f32],
    ) {
        let (_, pw) = scratch_dims(g);
        let row_len = pw * BLOCK;
        let b = _mm256_loadu_ps(bias.as_ptr());
        let clip = clip.map(|(lo, hi)| (_mm256_set1_ps(lo), _mm256_set1_ps(hi)));
        for oy in 0..g.out_h {
            let src = scratch.as_ptr().add(oy * g.sh * row_len);
            let o = out.as_mut_ptr().add(oy * g.out_w * BLOCK);
            let (kw, wp, n) = (g.kw, w.as_ptr(), g.out_w);
            if g.sw == 2 {
                span::<2>(kw, src, row_len, g.kh, wp, b, clip, o, n);
            } else {
                span::<1>(kw, src, row_len, g.kh, wp, b, clip, o, n);
            }
        }
    }
}

/// A depthwise convolution on blocked tensors as a tract op, `[1?, C/8, H, W, 8]` in and out;
/// or, like [`FastDepthwise`], the dense stem ([`super::stem`]): plain `[1?, cin, H, W]` in,
/// blocked out.
#[derive(Clone)]
pub struct BlockedDepthwise {
    pub geo: Geometry,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// Depthwise `[C/8, taps, 8]`; stem `[taps, C]`.
    packed: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    pub clip: Option<(f32, f32)>,
}

impl BlockedDepthwise {
    /// The blocked twin of a [`FastDepthwise`] (depthwise or stem) over whole blocks of
    /// channels, one image.
    pub fn from_fast(op: &FastDepthwise) -> Result<Option<Self>> {
        let g = op.geo;
        if g.channels % BLOCK != 0 || op.batch != 1 {
            return Ok(None);
        }
        let (input_shape, packed) = if g.dense_in > 0 {
            let mut plain: TVec<usize> = tvec![g.dense_in, g.in_h, g.in_w];
            if op.with_n {
                plain.insert(0, 1);
            }
            (
                plain,
                super::stem::pack_weights(op.kernel(), g.channels, g.taps())?,
            )
        } else {
            (
                blocked_shape(op.with_n, g.channels, g.in_h, g.in_w),
                pack_weights(op.kernel(), g.channels, g.kh * g.kw)?,
            )
        };
        Ok(Some(BlockedDepthwise {
            geo: g,
            input_shape,
            output_shape: blocked_shape(op.with_n, g.channels, g.out_h, g.out_w),
            packed: Arc::new(packed),
            bias: Arc::new(op.bias().to_vec()),
            clip: op.clip,
        }))
    }

    /// Whether it reads blocked input (a depthwise convolution) or the plain image (the stem).
    pub fn reads_blocked(&self) -> bool {
        self.geo.dense_in == 0
    }
}

impl std::fmt::Debug for BlockedDepthwise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockedDepthwise")
            .field("geo", &self.geo)
            .field("clip", &self.clip)
            .finish()
    }
}

impl PartialEq for BlockedDepthwise {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let clip_bits = |c: Option<(f32, f32)>| c.map(|(a, b)| (a.to_bits(), b.to_bits()));
        self.geo == other.geo
            && self.input_shape == other.input_shape
            && clip_bits(self.clip) == clip_bits(other.clip)
            && bits(&self.packed) == bits(&other.packed)
            && bits(&self.bias) == bits(&other.bias)
    }
}
impl Eq for BlockedDepthwise {}

impl Op for BlockedDepthwise {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        if self.reads_blocked() {
            "BlockedDepthwise".into()
        } else {
            "BlockedStem".into()
        }
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} clip {:?}", self.geo, self.clip)])
    }
    fn validation(&self) -> Validation {
        Validation::Rounding
    }
    op_as_typed_op!();
}

impl EvalOp for BlockedDepthwise {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [input] = &*inputs else {
            anyhow::bail!("BlockedDepthwise takes one input, got {}", inputs.len())
        };
        ensure!(
            input.shape() == &*self.input_shape,
            "input {:?}, want {:?}",
            input.shape(),
            self.input_shape
        );
        let src = input.try_as_plain_ram()?;
        let src = src.as_slice::<f32>()?;
        // SAFETY: `depthwise` and `stem` write every output value before the tensor is read.
        let mut t = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            let (g, k, b, c) = (&self.geo, &self.packed, &self.bias, self.clip);
            if self.reads_blocked() {
                depthwise(g, src, k, b, c, out, Kernel::detect())?;
            } else {
                super::stem::stem(g, src, k, b, c, out, Kernel::detect())?;
            }
        }
        Ok(tvec!(t.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for BlockedDepthwise {
    as_op!();
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        ensure!(
            inputs[0].shape.as_concrete() == Some(&*self.input_shape),
            "BlockedDepthwise input {:?}, want {:?}",
            inputs[0].shape,
            self.input_shape
        );
        Ok(tvec!(f32::fact(self.output_shape.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{to_blocked, to_plain};
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

    #[allow(clippy::too_many_arguments)]
    fn geo(c: usize, h: usize, w: usize, k: usize, s: usize, pad: usize) -> Geometry {
        let out = |n: usize| (n + 2 * pad - k) / s + 1;
        Geometry {
            channels: c,
            dense_in: 0,
            in_h: h,
            in_w: w,
            out_h: out(h),
            out_w: out(w),
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            pad_top: pad,
            pad_left: pad,
        }
    }

    #[test]
    fn blocked_depthwise_equals_the_chw_kernel() {
        let mut kernels = vec![Kernel::Portable];
        if Kernel::detect() != Kernel::Portable {
            kernels.push(Kernel::detect());
        }
        let mut geos = vec![
            geo(16, 7, 7, 5, 1, 2),
            geo(8, 7, 7, 3, 1, 1),
            geo(24, 14, 14, 5, 2, 1),
            geo(8, 28, 28, 3, 2, 0),
            geo(16, 13, 11, 3, 2, 1),
            geo(8, 9, 20, 5, 1, 0),
            geo(8, 6, 17, 7, 2, 3),
            // read in place (at least DIRECT_MIN_WIDTH wide)
            geo(8, 30, 28, 3, 1, 1),
            geo(16, 29, 33, 5, 2, 2),
            geo(8, 28, 40, 7, 1, 3),
            geo(8, 31, 29, 5, 1, 0),
        ];
        // same-padding with stride 2 on an even size: one row and column more below and right
        let mut g = geo(8, 28, 28, 3, 2, 0);
        (g.out_h, g.out_w) = (14, 14);
        geos.push(g);
        let mut g = geo(16, 14, 14, 5, 2, 1);
        (g.out_h, g.out_w) = (7, 7);
        geos.push(g);
        let mut g = geo(8, 56, 56, 5, 2, 1);
        (g.out_h, g.out_w) = (28, 28);
        geos.push(g);
        for (n, g) in geos.iter().enumerate() {
            let taps = g.kh * g.kw;
            let (c, pin, pout) = (g.channels, g.in_h * g.in_w, g.out_h * g.out_w);
            let x = pseudo(c * pin, n as u32 + 1);
            let k = pseudo(c * taps, n as u32 + 7);
            let bias = pseudo(c, n as u32 + 9);
            for clip in [None, Some((0.0, 0.5))] {
                let mut want = vec![0.0; c * pout];
                plain::depthwise(g, 1, &x, &k, &bias, clip, &mut want, Kernel::Portable)
                    .expect("chw");
                let mut xb = vec![0.0; x.len()];
                to_blocked(&x, c, pin, &mut xb);
                let packed = pack_weights(&k, c, taps).expect("pack");
                for &kernel in &kernels {
                    let mut out = vec![f32::NAN; c * pout];
                    depthwise(g, &xb, &packed, &bias, clip, &mut out, kernel).expect("blocked");
                    let mut got = vec![0.0; out.len()];
                    to_plain(&out, c, pout, &mut got);
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

    #[test]
    fn partial_blocks_stay_with_the_chw_kernel_and_stems_read_the_plain_image() {
        let mut stem = geo(32, 16, 16, 3, 2, 1);
        stem.dense_in = 3;
        let op =
            FastDepthwise::new(stem, 1, true, vec![0.0; 32 * 27], vec![0.0; 32], None).expect("op");
        let stem_twin = BlockedDepthwise::from_fast(&op)
            .expect("check")
            .expect("a twin");
        assert!(!stem_twin.reads_blocked());
        assert_eq!(stem_twin.name(), "BlockedStem");
        let g = geo(12, 7, 7, 3, 1, 1);
        let op =
            FastDepthwise::new(g, 1, true, vec![0.0; 12 * 9], vec![0.0; 12], None).expect("op");
        assert!(BlockedDepthwise::from_fast(&op).expect("check").is_none());
        let g = geo(16, 7, 7, 3, 1, 1);
        let op =
            FastDepthwise::new(g, 1, true, vec![0.0; 16 * 9], vec![0.0; 16], None).expect("op");
        assert!(BlockedDepthwise::from_fast(&op).expect("check").is_some());
    }
}
