//! Fast depthwise 2-D convolution for the CNN: an AVX2/FMA kernel (portable fallback) wrapped
//! in a tract op, and the graph rewrite that puts it in place of tract's own depthwise `Conv`
//! nodes, with a following clip (ReLU6: `Max` then `Min` by constants) fused in. The same
//! kernel also takes a dense (group 1) convolution over at most [`MAX_DENSE_IN`] input
//! channels — a CNN's stem on the RGB input, which tract runs as an im2col matrix product with
//! k = 27, a separate `Pad` and an unfused clip.
//!
//! On x86 tract 0.23 runs a depthwise convolution as a scalar loop (no `depthwise_*_f32`
//! routine exists for x86 in tract-linalg), which was half of EfficientNet-Lite0's time. The
//! rewrite only touches nodes that match exactly — f32, NCHW or CHW, one filter per channel
//! (or group 1 over ≤ 4 input channels), constant kernel and bias, concrete shapes, kernel
//! ≤ 7×7, stride 1 or 2, no dilation — and leaves everything else to tract, so any model still
//! runs.
//!
//! Kernel layout: per (image, channel) plane the input is copied into a zero-padded scratch
//! split by column phase (`sw` phases; phase `p` holds padded columns `p, p + sw, …`), so every
//! tap of every output row is a contiguous run and 8 output columns are one AVX2 vector. Wide
//! rows take 4 vectors per step; narrow planes (7×7, 14×14) 4 rows per step, so the FMA chains
//! are independent.

use anyhow::{bail, ensure, Result};
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, TypedOp, Validation};
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{as_op, op_as_typed_op};

use super::rewrite::{const_f32, fuse_clamps, replace_matches, Replacement};

/// Largest kernel side the fast op takes.
pub const MAX_KERNEL: usize = 7;
/// f32 lanes of one AVX2 vector; also the column granularity of the scratch rows.
const LANES: usize = 8;

/// Largest input channel count of a dense (group 1) convolution the fast op takes: the stem
/// of a CNN, whose RGB input is too thin for tract's matrix products.
pub const MAX_DENSE_IN: usize = 4;

/// Shape of one convolution (NCHW), all concrete: a depthwise one (one filter per channel) or
/// a dense one over very few input channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Output channels (for a depthwise convolution also the input channels).
    pub channels: usize,
    /// 0: depthwise. `n > 0`: dense (group 1) over `n` input channels, every output channel
    /// reading all of them.
    pub dense_in: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kh: usize,
    pub kw: usize,
    /// Vertical and horizontal stride (1 or 2).
    pub sh: usize,
    pub sw: usize,
    /// Zero rows above / columns left of the input (padding below / right is implied by the
    /// output size: anything outside the input reads as zero).
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Geometry {
    /// Whether the fast kernel handles this geometry.
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.channels > 0 && self.in_h > 0 && self.in_w > 0 && self.out_h > 0 && self.out_w > 0,
            "empty depthwise geometry {self:?}"
        );
        ensure!(
            (1..=MAX_KERNEL).contains(&self.kh) && (1..=MAX_KERNEL).contains(&self.kw),
            "kernel {}x{} is not supported",
            self.kh,
            self.kw
        );
        ensure!(
            (1..=2).contains(&self.sh) && (1..=2).contains(&self.sw),
            "stride {}x{} is not supported",
            self.sh,
            self.sw
        );
        ensure!(
            self.dense_in <= MAX_DENSE_IN,
            "dense convolution over {} input channels is not supported",
            self.dense_in
        );
        ensure!(
            self.pad_top < self.kh && self.pad_left < self.kw,
            "padding {}/{} is not supported",
            self.pad_top,
            self.pad_left
        );
        Ok(())
    }
    /// Input planes of one image.
    pub fn in_channels(&self) -> usize {
        if self.dense_in > 0 {
            self.dense_in
        } else {
            self.channels
        }
    }
    /// Weights of one output channel: `[dense_in or 1, kh, kw]`.
    pub fn taps(&self) -> usize {
        self.kh * self.kw * self.dense_in.max(1)
    }
    /// Columns of one scratch row: the output width rounded up to whole vectors, plus the
    /// furthest tap to the right (in phase columns).
    fn row_stride(&self) -> usize {
        self.out_w.div_ceil(LANES) * LANES + (self.kw - 1) / self.sw
    }
    /// Scratch rows: every padded input row some output row reads.
    fn rows(&self) -> usize {
        (self.out_h - 1) * self.sh + self.kh
    }
    fn phase_len(&self) -> usize {
        self.rows() * self.row_stride()
    }
    fn scratch_len(&self) -> usize {
        self.sw * self.phase_len()
    }
    pub fn in_plane(&self) -> usize {
        self.in_h * self.in_w
    }
    pub fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }
    /// For each column phase: the scratch columns `j0..j1` that hold input values and the input
    /// column of `j0`. Column `j` of phase `p` is padded column `j * sw + p`.
    fn col_spans(&self) -> [(usize, usize, usize); 2] {
        let mut spans = [(0, 0, 0); 2];
        for (p, span) in spans.iter_mut().enumerate().take(self.sw) {
            let mut first = None;
            let mut end = 0;
            for j in 0..self.row_stride() {
                let x = (j * self.sw + p) as isize - self.pad_left as isize;
                if x >= 0 && (x as usize) < self.in_w {
                    first.get_or_insert(j);
                    end = j + 1;
                }
            }
            if let Some(j0) = first {
                *span = (j0, end, j0 * self.sw + p - self.pad_left);
            }
        }
        spans
    }
}

/// Copy one input plane into the scratch. Only positions that hold input values are written,
/// and they are the same for every plane, so a scratch zeroed once keeps its zero border.
fn fill_plane(
    g: &Geometry,
    spans: &[(usize, usize, usize); 2],
    src: &[f32],
    buf: &mut [f32],
    which: Kernel,
) {
    let (rs, pl) = (g.row_stride(), g.phase_len());
    for (p, &(j0, j1, x0)) in spans.iter().enumerate().take(g.sw) {
        if j1 <= j0 {
            continue;
        }
        for r in 0..g.rows() {
            let iy = r as isize - g.pad_top as isize;
            if iy < 0 || iy as usize >= g.in_h {
                continue;
            }
            let srow = &src[iy as usize * g.in_w..][..g.in_w];
            let drow = &mut buf[p * pl + r * rs..][..rs];
            if g.sw == 1 {
                drow[j0..j1].copy_from_slice(&srow[x0..x0 + (j1 - j0)]);
            } else {
                gather_stride2(srow, x0, &mut drow[j0..j1], which);
            }
        }
    }
}

/// `dst[i] = src[x0 + 2 i]` for every `i` of `dst`.
///
/// # Panics
/// If `src` is too short for that (the caller's spans never are).
fn gather_stride2(src: &[f32], x0: usize, dst: &mut [f32], which: Kernel) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if which == Kernel::Avx2 {
        // SAFETY: `Kernel::Avx2` is only used after the features were detected (see
        // `depthwise`); the function checks its own bounds.
        done = unsafe { avx2::gather_stride2(src, x0, dst) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = which;
    for (i, d) in dst.iter_mut().enumerate().skip(done) {
        *d = src[x0 + 2 * i];
    }
}

/// Scratch offset of each tap `(ci, ky, kx)` (index `(ci * kh + ky) * kw + kx`, the weights'
/// order) from the scratch position of its output point's first tap: input plane `ci`'s
/// scratch block, phase `kx % sw`, row `ky`, phase column `kx / sw`.
fn tap_offsets(g: &Geometry) -> Vec<usize> {
    let (rs, pl, sl) = (g.row_stride(), g.phase_len(), g.scratch_len());
    (0..g.dense_in.max(1))
        .flat_map(|ci| {
            (0..g.kh).flat_map(move |ky| {
                (0..g.kw).map(move |kx| ci * sl + (kx % g.sw) * pl + ky * rs + kx / g.sw)
            })
        })
        .collect()
}

/// Portable kernel for one plane (same scratch layout, same tap order).
fn plane_portable(
    g: &Geometry,
    offs: &[usize],
    buf: &[f32],
    k: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
    out: &mut [f32],
) {
    let rs = g.row_stride();
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let base = oy * g.sh * rs + ox;
            let mut acc = bias;
            for (kk, off) in k.iter().zip(offs) {
                acc += kk * buf[base + off];
            }
            if let Some((lo, hi)) = clip {
                acc = acc.max(lo).min(hi);
            }
            out[oy * g.out_w + ox] = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2/FMA plane kernels, one per common tap count so the tap loop unrolls.
    use super::{Geometry, LANES};
    use std::arch::x86_64::*;

    /// Lane mask with the first `n` (< 8) lanes on, for the masked tail store.
    #[target_feature(enable = "avx2")]
    unsafe fn tail_mask(n: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx)
    }

    macro_rules! plane_kernel {
        ($name:ident, $taps:expr) => {
            /// One output plane.
            ///
            /// # Safety
            /// AVX2 and FMA are available; `g.check()` passed; `offs` is
            /// [`super::tap_offsets`]`(g)` (so `offs.len() == g.taps()`);
            /// `buf.len() >= max(dense_in, 1) * g.scratch_len()`; `k.len() >= g.taps()`;
            /// `out.len() >= g.out_plane()`; and, when `$taps` is not 0, `g.taps() == $taps`.
            /// Then every load is inside `buf`: a load at output row `oy`, column block
            /// `ox..ox + 8` (`ox + 8 <= round_up(out_w, 8)`) and tap `(ci, ky, kx)` reads
            /// scratch block `ci`, phase `kx % sw`, row `oy * sh + ky < rows()`, columns up to
            /// `round_up(out_w, 8) - 1 + (kw - 1) / sw < row_stride()`. Full-vector stores
            /// happen only when `ox + 8 <= out_w`; the last partial vector of a row is a masked
            /// store of its `out_w - ox` lanes.
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $name(
                g: &Geometry,
                offs: &[usize],
                buf: &[f32],
                k: &[f32],
                bias: f32,
                clip: Option<(f32, f32)>,
                out: &mut [f32],
            ) {
                let taps: usize = if $taps == 0 { g.taps() } else { $taps };
                debug_assert!(buf.len() >= g.dense_in.max(1) * g.scratch_len());
                debug_assert!(offs.len() >= taps);
                debug_assert!(out.len() >= g.out_plane() && k.len() >= taps);
                let rs = g.row_stride();
                let kp = k.as_ptr();
                let offs = offs.as_ptr();
                let b = _mm256_set1_ps(bias);
                let (lo, hi) = clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
                let (lo, hi, do_clip) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi), clip.is_some());
                let finish = |v: __m256| {
                    if do_clip {
                        _mm256_min_ps(_mm256_max_ps(v, lo), hi)
                    } else {
                        v
                    }
                };
                let bp = buf.as_ptr();
                let op = out.as_mut_ptr();
                let (oh, ow) = (g.out_h, g.out_w);
                // Wide rows: 4 vectors along x per step.
                let wide = ow / (4 * LANES) * (4 * LANES);
                for oy in 0..oh {
                    let rowp = bp.add(oy * g.sh * rs);
                    let orow = op.add(oy * ow);
                    let mut ox = 0;
                    while ox < wide {
                        let p = rowp.add(ox);
                        let (mut a0, mut a1, mut a2, mut a3) = (b, b, b, b);
                        for t in 0..taps {
                            let q = p.add(*offs.add(t));
                            let kk = _mm256_broadcast_ss(&*kp.add(t));
                            a0 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q), a0);
                            a1 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(LANES)), a1);
                            a2 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(2 * LANES)), a2);
                            a3 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(3 * LANES)), a3);
                        }
                        let o = orow.add(ox);
                        _mm256_storeu_ps(o, finish(a0));
                        _mm256_storeu_ps(o.add(LANES), finish(a1));
                        _mm256_storeu_ps(o.add(2 * LANES), finish(a2));
                        _mm256_storeu_ps(o.add(3 * LANES), finish(a3));
                        ox += 4 * LANES;
                    }
                }
                // The rest of the columns, one vector at a time, 4 rows per step (independent
                // accumulators: narrow planes would otherwise wait on one FMA chain).
                let store = |o: *mut f32, ox: usize, v: __m256| {
                    if ox + LANES <= ow {
                        _mm256_storeu_ps(o, v);
                    } else {
                        _mm256_maskstore_ps(o, tail_mask(ow - ox), v);
                    }
                };
                let mut ox = wide;
                while ox < ow {
                    let mut oy = 0;
                    while oy + 4 <= oh {
                        let p = bp.add(oy * g.sh * rs + ox);
                        let step = g.sh * rs;
                        let (mut a0, mut a1, mut a2, mut a3) = (b, b, b, b);
                        for t in 0..taps {
                            let q = p.add(*offs.add(t));
                            let kk = _mm256_broadcast_ss(&*kp.add(t));
                            a0 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q), a0);
                            a1 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(step)), a1);
                            a2 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(2 * step)), a2);
                            a3 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(q.add(3 * step)), a3);
                        }
                        let o = op.add(oy * ow + ox);
                        store(o, ox, finish(a0));
                        store(o.add(ow), ox, finish(a1));
                        store(o.add(2 * ow), ox, finish(a2));
                        store(o.add(3 * ow), ox, finish(a3));
                        oy += 4;
                    }
                    // Rows left over (up to 3): four FMA chains over the taps per row, or
                    // a 7×7 plane would spend 3 of its 7 rows waiting on one chain.
                    while oy < oh {
                        let p = bp.add(oy * g.sh * rs + ox);
                        let zero = _mm256_setzero_ps();
                        let (mut a0, mut a1, mut a2, mut a3) = (b, zero, zero, zero);
                        let mut t = 0;
                        while t + 4 <= taps {
                            let tap = |t: usize| {
                                let kk = _mm256_broadcast_ss(&*kp.add(t));
                                (kk, _mm256_loadu_ps(p.add(*offs.add(t))))
                            };
                            let ((k0, x0), (k1, x1)) = (tap(t), tap(t + 1));
                            let ((k2, x2), (k3, x3)) = (tap(t + 2), tap(t + 3));
                            a0 = _mm256_fmadd_ps(k0, x0, a0);
                            a1 = _mm256_fmadd_ps(k1, x1, a1);
                            a2 = _mm256_fmadd_ps(k2, x2, a2);
                            a3 = _mm256_fmadd_ps(k3, x3, a3);
                            t += 4;
                        }
                        while t < taps {
                            let kk = _mm256_broadcast_ss(&*kp.add(t));
                            a0 = _mm256_fmadd_ps(kk, _mm256_loadu_ps(p.add(*offs.add(t))), a0);
                            t += 1;
                        }
                        let a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
                        store(op.add(oy * ow + ox), ox, finish(a));
                        oy += 1;
                    }
                    ox += LANES;
                }
            }
        };
    }

    /// Vector part of [`super::gather_stride2`]: fills `dst[..n]` 8 at a time while the
    /// 16-element source window is inside `src`, and returns `n` (the caller does the rest).
    ///
    /// # Safety
    /// AVX2 is available. Every load reads `src[x0 + 2i .. x0 + 2i + 16]` with
    /// `x0 + 2i + 16 <= src.len()` and every store writes `dst[i .. i + 8]` with
    /// `i + 8 <= dst.len()`, both checked by the loop condition.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gather_stride2(src: &[f32], x0: usize, dst: &mut [f32]) -> usize {
        let mut i = 0;
        while i + LANES <= dst.len() && x0 + 2 * i + 2 * LANES <= src.len() {
            let p = src.as_ptr().add(x0 + 2 * i);
            let a = _mm256_loadu_ps(p);
            let b = _mm256_loadu_ps(p.add(LANES));
            // per 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6] → 64-bit pieces in order 0 2 1 3
            let e = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let e = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(e)));
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), e);
            i += LANES;
        }
        i
    }

    plane_kernel!(plane_9, 9);
    plane_kernel!(plane_25, 25);
    plane_kernel!(plane_any, 0);
}

/// Which kernel runs: chosen once per op evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }
}

/// One output plane on the chosen kernel. `buf` holds the filled scratch of every input plane
/// the output reads.
#[allow(clippy::too_many_arguments)]
fn plane(
    g: &Geometry,
    offs: &[usize],
    buf: &[f32],
    k: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
    dst: &mut [f32],
    which: Kernel,
) {
    match which {
        Kernel::Portable => plane_portable(g, offs, buf, k, bias, clip, dst),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            // SAFETY: `convolve` checked the CPU features and `g.check()`, made `offs` with
            // `tap_offsets(g)` and `buf` of `max(dense_in, 1) * scratch_len`, and hands `k` of
            // `g.taps()` weights and `dst` of one output plane (chunks_exact).
            unsafe {
                match g.taps() {
                    9 => avx2::plane_9(g, offs, buf, k, bias, clip, dst),
                    25 => avx2::plane_25(g, offs, buf, k, bias, clip, dst),
                    _ => avx2::plane_any(g, offs, buf, k, bias, clip, dst),
                }
            }
        }
    }
}

/// Convolution of `batch` NCHW images: `input` is `[batch, in_channels, in_h, in_w]`, `kernel`
/// `[C, taps]` (`[C, kh, kw]` depthwise, `[C, dense_in, kh, kw]` dense), `bias` `[C]`, `output`
/// `[batch, C, out_h, out_w]`; each output is `bias + Σ k·x` over the taps, then clamped to
/// `clip` when given.
#[allow(clippy::too_many_arguments)]
pub fn convolve(
    g: &Geometry,
    batch: usize,
    input: &[f32],
    kernel: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    output: &mut [f32],
    which: Kernel,
) -> Result<()> {
    g.check()?;
    let (c, taps) = (g.channels, g.taps());
    ensure!(
        input.len() == batch * g.in_channels() * g.in_plane(),
        "convolution input size"
    );
    ensure!(
        output.len() == batch * c * g.out_plane(),
        "convolution output size"
    );
    ensure!(
        kernel.len() == c * taps && bias.len() == c,
        "convolution weights size"
    );
    #[cfg(target_arch = "x86_64")]
    if which == Kernel::Avx2 {
        ensure!(
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            "AVX2/FMA kernel asked for on a CPU without it"
        );
    }
    let spans = g.col_spans();
    let offs = tap_offsets(g);
    let sl = g.scratch_len();
    let mut buf = vec![0f32; g.dense_in.max(1) * sl];
    if g.dense_in == 0 {
        for (ix, (src, dst)) in input
            .chunks_exact(g.in_plane())
            .zip(output.chunks_exact_mut(g.out_plane()))
            .enumerate()
        {
            let ch = ix % c;
            fill_plane(g, &spans, src, &mut buf, which);
            let k = &kernel[ch * taps..][..taps];
            plane(g, &offs, &buf, k, bias[ch], clip, dst, which);
        }
    } else {
        let image_in = g.dense_in * g.in_plane();
        for (src, out) in input
            .chunks_exact(image_in)
            .zip(output.chunks_exact_mut(c * g.out_plane()))
        {
            for (plane_in, scratch) in src.chunks_exact(g.in_plane()).zip(buf.chunks_exact_mut(sl))
            {
                fill_plane(g, &spans, plane_in, scratch, which);
            }
            for (ch, dst) in out.chunks_exact_mut(g.out_plane()).enumerate() {
                let k = &kernel[ch * taps..][..taps];
                plane(g, &offs, &buf, k, bias[ch], clip, dst, which);
            }
        }
    }
    Ok(())
}

/// [`convolve`] under its first name, for a depthwise geometry.
#[allow(clippy::too_many_arguments)]
pub fn depthwise(
    g: &Geometry,
    batch: usize,
    input: &[f32],
    kernel: &[f32],
    bias: &[f32],
    clip: Option<(f32, f32)>,
    output: &mut [f32],
    which: Kernel,
) -> Result<()> {
    ensure!(g.dense_in == 0, "not a depthwise geometry");
    convolve(g, batch, input, kernel, bias, clip, output, which)
}

/// The tract op: a depthwise convolution with baked-in weights and an optional clamp.
#[derive(Clone)]
pub struct FastDepthwise {
    pub geo: Geometry,
    pub batch: usize,
    /// NCHW (`true`) or CHW with the batch axis gone (tract drops a batch of 1).
    pub with_n: bool,
    /// `[C, kh, kw]`.
    kernel: Arc<Vec<f32>>,
    /// `[C]`.
    bias: Arc<Vec<f32>>,
    pub clip: Option<(f32, f32)>,
}

impl FastDepthwise {
    pub fn new(
        geo: Geometry,
        batch: usize,
        with_n: bool,
        kernel: Vec<f32>,
        bias: Vec<f32>,
        clip: Option<(f32, f32)>,
    ) -> Result<Self> {
        geo.check()?;
        ensure!(batch > 0 && (with_n || batch == 1), "bad batch {batch}");
        ensure!(kernel.len() == geo.channels * geo.taps(), "kernel size");
        ensure!(bias.len() == geo.channels, "bias size");
        Ok(FastDepthwise {
            geo,
            batch,
            with_n,
            kernel: Arc::new(kernel),
            bias: Arc::new(bias),
            clip,
        })
    }
}

impl FastDepthwise {
    /// `[C, taps]`.
    pub fn kernel(&self) -> &[f32] {
        &self.kernel
    }
    /// `[C]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
    /// Tensor shape of `c` planes of `h`×`w`.
    fn shape(&self, c: usize, h: usize, w: usize) -> TVec<usize> {
        if self.with_n {
            tvec![self.batch, c, h, w]
        } else {
            tvec![c, h, w]
        }
    }
    fn input_shape(&self) -> TVec<usize> {
        self.shape(self.geo.in_channels(), self.geo.in_h, self.geo.in_w)
    }
    fn output_shape(&self) -> TVec<usize> {
        self.shape(self.geo.channels, self.geo.out_h, self.geo.out_w)
    }
}

impl std::fmt::Debug for FastDepthwise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastDepthwise")
            .field("geo", &self.geo)
            .field("batch", &self.batch)
            .field("with_n", &self.with_n)
            .field("clip", &self.clip)
            .finish()
    }
}

impl PartialEq for FastDepthwise {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let clip_bits = |c: Option<(f32, f32)>| c.map(|(a, b)| (a.to_bits(), b.to_bits()));
        self.geo == other.geo
            && self.batch == other.batch
            && self.with_n == other.with_n
            && clip_bits(self.clip) == clip_bits(other.clip)
            && bits(&self.kernel) == bits(&other.kernel)
            && bits(&self.bias) == bits(&other.bias)
    }
}
impl Eq for FastDepthwise {}

impl Op for FastDepthwise {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        if self.geo.dense_in > 0 {
            "FastSmallConv".into()
        } else {
            "FastDepthwise".into()
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

impl EvalOp for FastDepthwise {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [input] = &*inputs else {
            bail!("FastDepthwise takes one input, got {}", inputs.len())
        };
        let g = &self.geo;
        let want = self.input_shape();
        ensure!(
            input.shape() == &*want,
            "input {:?}, want {want:?}",
            input.shape()
        );
        let src = input.try_as_plain_ram()?;
        let src = src.as_slice::<f32>()?;
        let mut t = Tensor::zero::<f32>(&self.output_shape())?;
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            convolve(
                g,
                self.batch,
                src,
                &self.kernel,
                &self.bias,
                self.clip,
                out,
                Kernel::detect(),
            )?;
        }
        Ok(tvec!(t.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for FastDepthwise {
    as_op!();
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        let want = self.input_shape();
        ensure!(
            inputs[0].shape.as_concrete() == Some(&*want),
            "FastDepthwise input {:?}, want {want:?}",
            inputs[0].shape
        );
        Ok(tvec!(f32::fact(self.output_shape())))
    }
}

/// The fast op for node `id`, when it is a depthwise conv the kernel handles.
fn match_depthwise(model: &TypedModel, id: usize) -> Result<Option<Replacement<FastDepthwise>>> {
    let node = model.node(id);
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let ps = &conv.pool_spec;
    let (cin, c) = (conv.input_channels(), conv.output_channels());
    // depthwise: one filter per channel; dense: group 1 over very few input channels
    let dense_in = if conv.group == cin && cin == c && c >= 2 {
        0
    } else if conv.group == 1 && (1..=MAX_DENSE_IN).contains(&cin) {
        cin
    } else {
        return Ok(None);
    };
    let with_n = match ps.data_format {
        DataFormat::NCHW => true,
        DataFormat::CHW => false,
        _ => return Ok(None),
    };
    if conv.q_params.is_some()
        || conv.kernel_fmt != KernelFormat::OIHW
        || ps.rank() != 2
        || ps
            .dilations
            .as_ref()
            .is_some_and(|d| d.iter().any(|&d| d != 1))
        || node.inputs.len() != 3
    {
        return Ok(None);
    }
    let x = model.outlet_fact(node.inputs[0])?;
    if x.datum_type != f32::datum_type() {
        return Ok(None);
    }
    let Some(shape) = x.shape.as_concrete() else {
        return Ok(None);
    };
    let (n, xc, in_h, in_w) = match (with_n, shape) {
        (true, &[n, c, h, w]) => (n, c, h, w),
        (false, &[c, h, w]) => (1, c, h, w),
        _ => return Ok(None),
    };
    if xc != cin {
        return Ok(None);
    }
    let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
    let Some(kernel) = const_f32(model, node.inputs[1])? else {
        return Ok(None);
    };
    if model.outlet_fact(node.inputs[1])?.shape.as_concrete()
        != Some(&[c, dense_in.max(1), kh, kw][..])
    {
        return Ok(None);
    }
    let Some(bias) = const_f32(model, node.inputs[2])? else {
        return Ok(None);
    };
    let bias = match bias.len() {
        l if l == c => bias,
        1 => vec![bias[0]; c],
        _ => return Ok(None),
    };
    let strides = ps.strides.clone().unwrap_or_else(|| tvec![1, 1]);
    if strides.len() != 2 || ps.kernel_shape.len() != 2 {
        return Ok(None);
    }
    let padded = ps
        .padding
        .compute(&[in_h, in_w], &ps.kernel_shape, &[1, 1], &strides);
    let geo = Geometry {
        channels: c,
        dense_in,
        in_h,
        in_w,
        out_h: padded[0].convoluted,
        out_w: padded[1].convoluted,
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        pad_top: padded[0].pad_before,
        pad_left: padded[1].pad_before,
    };
    if geo.check().is_err() {
        return Ok(None);
    }
    // Does tract agree on the output shape?
    let out_shape: TVec<usize> = if with_n {
        tvec![n, c, geo.out_h, geo.out_w]
    } else {
        tvec![c, geo.out_h, geo.out_w]
    };
    if model.outlet_fact(OutletId::new(id, 0))?.shape.as_concrete() != Some(&*out_shape) {
        return Ok(None);
    }
    let (last, clip) = fuse_clamps(model, id)?;
    let op = FastDepthwise::new(geo, n, with_n, kernel, bias, clip)?;
    Ok(Some(Replacement {
        op,
        inputs: tvec![node.inputs[0]],
        last,
    }))
}

/// Geometries of the convolutions `accelerate` would replace (for tests and reports).
pub fn depthwise_geometries(model: &TypedModel) -> Result<Vec<Geometry>> {
    let mut out = vec![];
    for id in model.eval_order()? {
        if let Some(m) = match_depthwise(model, id)? {
            out.push(m.op.geo);
        }
    }
    Ok(out)
}

/// Replace every depthwise conv the fast kernel handles, and every dense one over at most
/// [`MAX_DENSE_IN`] input channels (a stem), with the clamps right after it, by a
/// [`FastDepthwise`] node; returns how many were replaced. Run on a decluttered model, before
/// `into_optimized`.
pub fn accelerate(model: &mut TypedModel) -> Result<usize> {
    replace_matches(model, "fast_depthwise", match_depthwise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(c: usize, hw: usize, k: usize, s: usize) -> Geometry {
        let pad = k / 2;
        let out = (hw + 2 * pad - k) / s + 1;
        Geometry {
            channels: c,
            dense_in: 0,
            in_h: hw,
            in_w: hw,
            out_h: out,
            out_w: out,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            pad_top: pad,
            pad_left: pad,
        }
    }

    /// Direct definition, no scratch.
    fn reference(
        g: &Geometry,
        x: &[f32],
        k: &[f32],
        b: &[f32],
        clip: Option<(f32, f32)>,
    ) -> Vec<f32> {
        let mut out = vec![0f32; g.channels * g.out_plane()];
        for c in 0..g.channels {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let mut acc = b[c] as f64;
                    // input planes this output reads, and their index in its weights
                    let planes: Vec<(usize, usize)> = if g.dense_in == 0 {
                        vec![(c, 0)]
                    } else {
                        (0..g.dense_in).map(|ci| (ci, ci)).collect()
                    };
                    for (ci, wi) in planes {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let iy = (oy * g.sh + ky) as isize - g.pad_top as isize;
                                let ix = (ox * g.sw + kx) as isize - g.pad_left as isize;
                                if iy >= 0
                                    && ix >= 0
                                    && (iy as usize) < g.in_h
                                    && (ix as usize) < g.in_w
                                {
                                    let w = k[c * g.taps() + (wi * g.kh + ky) * g.kw + kx];
                                    let v =
                                        x[ci * g.in_plane() + iy as usize * g.in_w + ix as usize];
                                    acc += (w * v) as f64;
                                }
                            }
                        }
                    }
                    let mut v = acc as f32;
                    if let Some((lo, hi)) = clip {
                        v = v.max(lo).min(hi);
                    }
                    out[c * g.out_plane() + oy * g.out_w + ox] = v;
                }
            }
        }
        out
    }

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
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
    fn kernels_match_the_definition_on_odd_shapes() {
        let mut cases = vec![
            geo(3, 9, 3, 1),
            geo(5, 7, 5, 1),
            geo(2, 14, 5, 2),
            geo(4, 15, 3, 2),
            geo(1, 40, 3, 1),
            geo(3, 33, 7, 2),
            geo(2, 1, 3, 1),
        ];
        // asymmetric ("same") padding and a non-square kernel
        cases.push(Geometry {
            pad_top: 0,
            pad_left: 1,
            out_h: 5,
            out_w: 6,
            ..geo(2, 11, 3, 2)
        });
        cases.push(Geometry {
            kh: 3,
            kw: 5,
            pad_top: 1,
            pad_left: 2,
            ..geo(2, 12, 3, 1)
        });
        // dense over few input channels (a CNN stem: 3 → 32, 3×3, stride 2, TF padding)
        cases.push(Geometry {
            dense_in: 3,
            pad_top: 0,
            pad_left: 0,
            out_h: 12,
            out_w: 12,
            ..geo(32, 25, 3, 2)
        });
        cases.push(Geometry {
            dense_in: 1,
            ..geo(4, 9, 5, 1)
        });
        cases.push(Geometry {
            dense_in: 4,
            ..geo(6, 17, 3, 1)
        });
        for (i, g) in cases.iter().enumerate() {
            let x = pseudo(g.in_channels() * g.in_plane(), i as u32);
            let k = pseudo(g.channels * g.taps(), 100 + i as u32);
            let b = pseudo(g.channels, 200 + i as u32);
            for clip in [None, Some((0.0, 0.5))] {
                let want = reference(g, &x, &k, &b, clip);
                let mut kernels = vec![Kernel::Portable];
                if Kernel::detect() != Kernel::Portable {
                    kernels.push(Kernel::detect());
                }
                for which in kernels {
                    let mut got = vec![f32::NAN; want.len()];
                    convolve(g, 1, &x, &k, &b, clip, &mut got, which).unwrap();
                    for (a, w) in got.iter().zip(&want) {
                        assert!((a - w).abs() <= 1e-5, "{g:?} {which:?}: {a} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_batch_is_its_images_one_by_one() {
        let g = geo(3, 10, 3, 2);
        let x = pseudo(2 * g.channels * g.in_plane(), 7);
        let k = pseudo(g.channels * 9, 8);
        let b = pseudo(g.channels, 9);
        let mut both = vec![0f32; 2 * g.channels * g.out_plane()];
        depthwise(&g, 2, &x, &k, &b, None, &mut both, Kernel::detect()).unwrap();
        let (x0, x1) = x.split_at(g.channels * g.in_plane());
        let (o0, o1) = both.split_at(g.channels * g.out_plane());
        for (xi, oi) in [(x0, o0), (x1, o1)] {
            let mut one = vec![0f32; g.channels * g.out_plane()];
            depthwise(&g, 1, xi, &k, &b, None, &mut one, Kernel::detect()).unwrap();
            assert_eq!(one, oi);
        }
    }

    #[test]
    fn stride2_gather_takes_every_other_value() {
        let src: Vec<f32> = (0..70).map(|i| i as f32).collect();
        for x0 in [0, 1, 3] {
            for n in [0, 1, 7, 8, 9, 16, 17, 33] {
                let mut got = vec![-1f32; n];
                gather_stride2(&src, x0, &mut got, Kernel::detect());
                let want: Vec<f32> = (0..n).map(|i| (x0 + 2 * i) as f32).collect();
                assert_eq!(got, want, "x0 {x0} n {n}");
            }
        }
    }

    #[test]
    fn unsupported_geometry_is_refused() {
        let g = Geometry {
            sh: 3,
            ..geo(2, 9, 3, 1)
        };
        assert!(g.check().is_err());
        let g = Geometry {
            kh: 9,
            kw: 9,
            ..geo(2, 9, 3, 1)
        };
        assert!(g.check().is_err());
        let g = Geometry {
            dense_in: MAX_DENSE_IN + 1,
            ..geo(2, 9, 3, 1)
        };
        assert!(g.check().is_err());
        let x = vec![0f32; 10];
        let mut out = vec![0f32; 10];
        assert!(depthwise(
            &geo(2, 9, 3, 1),
            1,
            &x,
            &[0.0; 18],
            &[0.0; 2],
            None,
            &mut out,
            Kernel::Portable
        )
        .is_err());
    }
}
