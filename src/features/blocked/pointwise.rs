//! Pointwise (1×1) convolution on channel-blocked activations: `out = epilogue(bias + w·x)`
//! with `x` `[cin/8, P, 8]` and `out` (and a residual) `[cout/8, P, 8]`.
//!
//! With 8 channels in a vector the kernel computes 16 output channels × 6 pixels in 12
//! accumulators: per input channel it loads two weight vectors and broadcasts the 6 pixels'
//! values, and every tile is full whatever the plane size (7×7 planes were a third empty in the
//! pixel-vectored CHW kernel). The pixels are walked in chunks whose inputs stay in L2 while
//! every weight panel passes over them.

use anyhow::{ensure, Result};
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, TypedOp, Validation};
use tract_onnx::tract_core::{as_op, op_as_typed_op};

use super::{blocked_shape, plain_dims, BLOCK};
use crate::features::depthwise::Kernel;
use crate::features::pointwise::{Epilogue, FastPointwise};

/// Output channels per weight panel (two vectors); a last panel of 8 when `cout` is odd in 8s.
pub const PANEL: usize = 16;
/// Input bytes per pixel chunk: the chunk's inputs stay in L2 while the panels pass.
const CHUNK_BYTES: usize = 256 * 1024;

/// Shape of one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Input channels (a multiple of 8).
    pub cin: usize,
    /// Output channels (a multiple of 8).
    pub cout: usize,
    /// H·W.
    pub pixels: usize,
}

impl Shape {
    fn check(&self) -> Result<()> {
        ensure!(
            self.cin % BLOCK == 0 && self.cout % BLOCK == 0 && self.cin > 0 && self.cout > 0,
            "channels {}→{} are not whole blocks of {BLOCK}",
            self.cin,
            self.cout
        );
        ensure!(self.pixels > 0, "no pixels");
        Ok(())
    }
}

/// Weights `[cout, cin]` (row-major) packed in panels of [`PANEL`] output channels (the last
/// may be 8): panel `k` starts at `k · PANEL · cin` and holds `[cin][width]`.
pub fn pack_weights(w: &[f32], cout: usize, cin: usize) -> Result<Vec<f32>> {
    ensure!(
        w.len() == cout * cin,
        "weights: {} values for {cout}×{cin}",
        w.len()
    );
    ensure!(cout % BLOCK == 0, "cout {cout} is not whole blocks");
    let mut packed = vec![0.0f32; cout * cin];
    for o0 in (0..cout).step_by(PANEL) {
        let width = PANEL.min(cout - o0);
        let panel = &mut packed[o0 * cin..][..width * cin];
        for i in 0..cin {
            for r in 0..width {
                panel[i * width + r] = w[(o0 + r) * cin + i];
            }
        }
    }
    Ok(packed)
}

/// One product to run, lengths checked.
struct Product<'a> {
    s: Shape,
    x: &'a [f32],
    packed: &'a [f32],
    bias: &'a [f32],
    epilogue: Epilogue,
    residual: Option<&'a [f32]>,
}

/// `out = epilogue(bias + w·x)`, all blocked; `packed` from [`pack_weights`].
#[allow(clippy::too_many_arguments)]
pub fn pointwise(
    s: &Shape,
    x: &[f32],
    packed: &[f32],
    bias: &[f32],
    epilogue: Epilogue,
    residual: Option<&[f32]>,
    out: &mut [f32],
    kernel: Kernel,
) -> Result<()> {
    s.check()?;
    ensure!(x.len() == s.cin * s.pixels, "input size");
    ensure!(out.len() == s.cout * s.pixels, "output size");
    ensure!(packed.len() == s.cout * s.cin, "packed weights size");
    ensure!(bias.len() == s.cout, "bias size");
    let residual = match epilogue {
        Epilogue::Residual => {
            let r =
                residual.ok_or_else(|| anyhow::anyhow!("residual epilogue without residual"))?;
            ensure!(r.len() == out.len(), "residual size");
            Some(r)
        }
        _ => None,
    };
    let p = Product {
        s: *s,
        x,
        packed,
        bias,
        epilogue,
        residual,
    };
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            ensure!(
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
                "AVX2/FMA kernel asked for on a CPU without it"
            );
            // SAFETY: the CPU has AVX2 and FMA (checked above) and every length was checked.
            unsafe { avx2::pointwise(&p, out) }
        }
        _ => portable(&p, out),
    }
    Ok(())
}

/// Apply the epilogue to one value (`r` the residual value, 0 when none).
#[inline(always)]
fn finish(v: f32, epilogue: Epilogue, r: f32) -> f32 {
    match epilogue {
        Epilogue::None => v,
        Epilogue::Clip(lo, hi) => v.max(lo).min(hi),
        Epilogue::Residual => v + r,
    }
}

/// The portable kernel: the same sums in the same order (input channels ascending).
fn portable(p: &Product, out: &mut [f32]) {
    let Shape { cin, cout, pixels } = p.s;
    let blocked = |c: usize, px: usize| (c / BLOCK * pixels + px) * BLOCK + c % BLOCK;
    for o in 0..cout {
        let o0 = o / PANEL * PANEL;
        let width = PANEL.min(cout - o0);
        let panel = &p.packed[o0 * cin..][..width * cin];
        for px in 0..pixels {
            let mut acc = 0.0f32;
            for i in 0..cin {
                acc += panel[i * width + (o - o0)] * p.x[blocked(i, px)];
            }
            let at = blocked(o, px);
            let r = p.residual.map_or(0.0, |r| r[at]);
            out[at] = finish(acc + p.bias[o], p.epilogue, r);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// `OV` vectors of output channels × `NP` pixels summed over every input channel. `x` is
    /// the input at block 0, the tile's first pixel; `w` the panel (`[cin][OV · 8]`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const OV: usize, const NP: usize>(
        x: *const f32,
        block_stride: usize,
        cin: usize,
        w: *const f32,
    ) -> [[__m256; NP]; OV] {
        let mut acc = [[_mm256_setzero_ps(); NP]; OV];
        for ib in 0..cin / BLOCK {
            let xb = x.add(ib * block_stride);
            let wb = w.add(ib * BLOCK * OV * BLOCK);
            for l in 0..BLOCK {
                let mut wv = [_mm256_setzero_ps(); OV];
                for (v, wv) in wv.iter_mut().enumerate() {
                    *wv = _mm256_loadu_ps(wb.add((l * OV + v) * BLOCK));
                }
                for q in 0..NP {
                    let xv = _mm256_broadcast_ss(&*xb.add(q * BLOCK + l));
                    for v in 0..OV {
                        acc[v][q] = _mm256_fmadd_ps(wv[v], xv, acc[v][q]);
                    }
                }
            }
        }
        acc
    }

    /// Add the bias, apply the epilogue and store a tile. `at` is the offset of the tile's
    /// first value in `out` (and in the residual).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store<const OV: usize, const NP: usize>(
        p: &Product,
        acc: &[[__m256; NP]; OV],
        o0: usize,
        at: usize,
        out: *mut f32,
    ) {
        let block_stride = p.s.pixels * BLOCK;
        for (v, row) in acc.iter().enumerate() {
            let b = _mm256_loadu_ps(p.bias.as_ptr().add(o0 + v * BLOCK));
            for (q, &a) in row.iter().enumerate() {
                let off = at + v * block_stride + q * BLOCK;
                let mut y = _mm256_add_ps(a, b);
                match p.epilogue {
                    Epilogue::None => {}
                    Epilogue::Clip(lo, hi) => {
                        y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
                    }
                    Epilogue::Residual => {
                        if let Some(r) = p.residual {
                            y = _mm256_add_ps(y, _mm256_loadu_ps(r.as_ptr().add(off)));
                        }
                    }
                }
                _mm256_storeu_ps(out.add(off), y);
            }
        }
    }

    /// One tile: output channels `o0 .. o0 + 8·OV`, pixels `px .. px + NP`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn cols<const OV: usize, const NP: usize>(
        p: &Product,
        o0: usize,
        px: usize,
        out: *mut f32,
    ) {
        let block_stride = p.s.pixels * BLOCK;
        let acc = tile::<OV, NP>(
            p.x.as_ptr().add(px * BLOCK),
            block_stride,
            p.s.cin,
            p.packed.as_ptr().add(o0 * p.s.cin),
        );
        store::<OV, NP>(p, &acc, o0, o0 / BLOCK * block_stride + px * BLOCK, out);
    }

    /// Every tile of one panel over pixels `from..to`: full tiles of `$np`, then the rest.
    macro_rules! panel_run {
        ($name:ident, $ov:expr, $np:expr, [$($rest:expr),*]) => {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn $name(p: &Product, o0: usize, from: usize, to: usize, out: *mut f32) {
                let mut px = from;
                while px + $np <= to {
                    cols::<$ov, $np>(p, o0, px, out);
                    px += $np;
                }
                match to - px {
                    0 => {}
                    $($rest => cols::<$ov, $rest>(p, o0, px, out),)*
                    _ => unreachable!("fewer than {} pixels left", $np),
                }
            }
        };
    }
    panel_run!(panel16, 2, 6, [1, 2, 3, 4, 5]);
    panel_run!(panel8, 1, 12, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    /// The whole product, chunk by chunk of pixels, panel by panel.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; the lengths are as checked by [`super::pointwise`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pointwise(p: &Product, out: &mut [f32]) {
        let Shape { cin, cout, pixels } = p.s;
        // as few chunks as keep each under CHUNK_BYTES, of equal size in whole tiles
        let chunks = (cin * pixels * 4).div_ceil(CHUNK_BYTES);
        let chunk = pixels.div_ceil(chunks).next_multiple_of(12);
        let out = out.as_mut_ptr();
        let mut from = 0;
        while from < pixels {
            let to = pixels.min(from + chunk);
            let mut o0 = 0;
            while o0 < cout {
                if cout - o0 >= PANEL {
                    panel16(p, o0, from, to, out);
                } else {
                    panel8(p, o0, from, to, out);
                }
                o0 += PANEL;
            }
            from = to;
        }
    }
}

/// A pointwise convolution on blocked tensors as a tract op: input `[1?, cin/8, H, W, 8]`, for
/// a residual epilogue a second input shaped like the output `[1?, cout/8, H, W, 8]`.
#[derive(Clone)]
pub struct BlockedPointwise {
    pub shape: Shape,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    packed: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    pub epilogue: Epilogue,
}

impl BlockedPointwise {
    /// The blocked twin of a [`FastPointwise`], when its channels are whole blocks.
    pub fn from_fast(op: &FastPointwise) -> Result<Option<Self>> {
        let (Some((cin, h, w, in_n)), Some((cout, oh, ow, out_n))) =
            (plain_dims(op.input_shape()), plain_dims(op.output_shape()))
        else {
            return Ok(None);
        };
        if cin % BLOCK != 0 || cout % BLOCK != 0 || (h, w) != (oh, ow) {
            return Ok(None);
        }
        let shape = Shape {
            cin,
            cout,
            pixels: h * w,
        };
        Ok(Some(BlockedPointwise {
            shape,
            input_shape: blocked_shape(in_n, cin, h, w),
            output_shape: blocked_shape(out_n, cout, h, w),
            packed: Arc::new(pack_weights(&op.weights(), cout, cin)?),
            bias: Arc::new(op.bias().to_vec()),
            epilogue: op.epilogue,
        }))
    }
}

impl std::fmt::Debug for BlockedPointwise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockedPointwise")
            .field("shape", &self.shape)
            .field("epilogue", &self.epilogue)
            .finish()
    }
}

impl PartialEq for BlockedPointwise {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.shape == other.shape
            && self.input_shape == other.input_shape
            && self.output_shape == other.output_shape
            && format!("{:?}", self.epilogue) == format!("{:?}", other.epilogue)
            && bits(&self.packed) == bits(&other.packed)
            && bits(&self.bias) == bits(&other.bias)
    }
}
impl Eq for BlockedPointwise {}

impl Op for BlockedPointwise {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "BlockedPointwise".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} {:?}", self.shape, self.epilogue)])
    }
    fn validation(&self) -> Validation {
        Validation::Rounding
    }
    op_as_typed_op!();
}

impl EvalOp for BlockedPointwise {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let wants = if self.epilogue == Epilogue::Residual {
            2
        } else {
            1
        };
        ensure!(
            inputs.len() == wants,
            "BlockedPointwise takes {wants} inputs, got {}",
            inputs.len()
        );
        ensure!(
            inputs[0].shape() == &*self.input_shape,
            "input {:?}, want {:?}",
            inputs[0].shape(),
            self.input_shape
        );
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let res_view = match inputs.get(1) {
            Some(r) => {
                ensure!(r.shape() == &*self.output_shape, "residual {:?}", r.shape());
                Some(r.try_as_plain_ram()?)
            }
            None => None,
        };
        let residual = match &res_view {
            Some(v) => Some(v.as_slice::<f32>()?),
            None => None,
        };
        // SAFETY: every value is written by `pointwise` below before the tensor is read.
        let mut t = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            pointwise(
                &self.shape,
                x,
                &self.packed,
                &self.bias,
                self.epilogue,
                residual,
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

impl TypedOp for BlockedPointwise {
    as_op!();
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        ensure!(
            inputs[0].shape.as_concrete() == Some(&*self.input_shape),
            "BlockedPointwise input {:?}, want {:?}",
            inputs[0].shape,
            self.input_shape
        );
        if self.epilogue == Epilogue::Residual {
            ensure!(inputs.len() == 2);
            ensure!(inputs[1].shape.as_concrete() == Some(&*self.output_shape));
        }
        Ok(tvec!(f32::fact(self.output_shape.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{to_blocked, to_plain};
    use super::*;
    use crate::features::pointwise as plain;

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
    fn blocked_products_equal_the_plain_ones_on_every_tail_and_epilogue() {
        let mut kernels = vec![Kernel::Portable];
        if Kernel::detect() != Kernel::Portable {
            kernels.push(Kernel::detect());
        }
        // panels of 16 and a last one of 8; pixel counts with every tail of both tile widths
        // and more than one chunk (1152 × 60 pixels are two chunks of 36 and 24)
        for &(cin, cout, pixels) in &[
            (8, 8, 1),
            (16, 24, 49),
            (32, 40, 13),
            (24, 16, 196),
            (8, 96, 71),
            (1152, 16, 60),
            (40, 8, 11),
        ] {
            let w = pseudo(cout * cin, 1);
            let x = pseudo(cin * pixels, 2);
            let b = pseudo(cout, 3);
            let r = pseudo(cout * pixels, 4);
            let ps = plain::Shape { cin, cout, pixels };
            let plain_packed = plain::pack_weights(&w, cout, cin).expect("pack");
            let packed = pack_weights(&w, cout, cin).expect("pack");
            let s = Shape { cin, cout, pixels };
            let mut xb = vec![0.0; x.len()];
            to_blocked(&x, cin, pixels, &mut xb);
            let mut rb = vec![0.0; r.len()];
            to_blocked(&r, cout, pixels, &mut rb);
            for e in [Epilogue::None, Epilogue::Clip(0.0, 0.5), Epilogue::Residual] {
                let mut want = vec![0.0; cout * pixels];
                let res = (e == Epilogue::Residual).then_some(&r[..]);
                plain::pointwise(
                    &ps,
                    &x,
                    &plain_packed,
                    &b,
                    e,
                    res,
                    &mut want,
                    Kernel::Portable,
                )
                .expect("plain");
                for &k in &kernels {
                    let mut out = vec![f32::NAN; cout * pixels];
                    let res = (e == Epilogue::Residual).then_some(&rb[..]);
                    pointwise(&s, &xb, &packed, &b, e, res, &mut out, k).expect("blocked");
                    let mut got = vec![0.0; out.len()];
                    to_plain(&out, cout, pixels, &mut got);
                    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                            "{s:?} {e:?} {k:?} at {j}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn channels_not_in_whole_blocks_are_refused() {
        let s = Shape {
            cin: 12,
            cout: 8,
            pixels: 4,
        };
        let mut out = vec![0.0; 32];
        let r = pointwise(
            &s,
            &[0.0; 48],
            &[0.0; 96],
            &[0.0; 8],
            Epilogue::None,
            None,
            &mut out,
            Kernel::Portable,
        );
        assert!(r.is_err());
        assert!(pack_weights(&[0.0; 12 * 12], 12, 12).is_err());
    }
}
