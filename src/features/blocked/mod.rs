//! The channel-blocked layout for the middle of the network: activations as `[C/8, H, W, 8]`
//! (NCHW8c) between our depthwise and pointwise ops, as onnxruntime runs them.
//!
//! After the depthwise and pointwise rewrites the network was at parity with onnxruntime in
//! its 1×1 convolutions but a third slower in its depthwise ones — above all the stride-2
//! and the 7×7 and 14×14 planes, where vectors along a row of pixels are split by column phase
//! or mostly empty. Blocked, 8 channels fill every vector whatever the plane.
//!
//! [`accelerate`] runs after [`super::depthwise::accelerate`] and
//! [`super::pointwise::accelerate`]: it puts the blocked twin of every fast op whose channels
//! come in whole blocks in its place, between a [`Relayout`] to the blocked layout and one back,
//! then removes every back-and-forth pair. What stays is one relayout where the blocked run
//! starts (after the stem) and one where it ends (before the pooling). Tensor shapes are
//! honest: a blocked tensor is `[1?, C/8, H, W, 8]`, so no tract op can read one by mistake.

use anyhow::{ensure, Result};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, TypedOp, Validation};
use tract_onnx::tract_core::{as_op, op_as_typed_op};

pub mod depthwise;
pub mod pointwise;
pub mod stem;

use super::depthwise::{FastDepthwise, Kernel};
use super::pointwise::FastPointwise;
use depthwise::BlockedDepthwise;
use pointwise::BlockedPointwise;

/// Channels per block: one AVX2 vector of f32.
pub const BLOCK: usize = 8;

/// Shape of `c` channels of `h`×`w` blocked, with or without the batch axis of 1.
pub fn blocked_shape(with_n: bool, c: usize, h: usize, w: usize) -> TVec<usize> {
    if with_n {
        tvec![1, c / BLOCK, h, w, BLOCK]
    } else {
        tvec![c / BLOCK, h, w, BLOCK]
    }
}

/// `(channels, h, w, with_n)` of a plain `[C, H, W]` or `[1, C, H, W]` shape.
pub fn plain_dims(shape: &[usize]) -> Option<(usize, usize, usize, bool)> {
    match *shape {
        [c, h, w] => Some((c, h, w, false)),
        [1, c, h, w] => Some((c, h, w, true)),
        _ => None,
    }
}

/// `[C, P]` → `[C/8, P, 8]`.
///
/// # Panics
/// When `c` is not whole blocks or the lengths are not `c · pixels`.
pub fn to_blocked(src: &[f32], c: usize, pixels: usize, dst: &mut [f32]) {
    assert!(c % BLOCK == 0 && src.len() == c * pixels && dst.len() == src.len());
    for (cb, dst) in dst.chunks_exact_mut(pixels * BLOCK).enumerate() {
        let rows = &src[cb * BLOCK * pixels..][..BLOCK * pixels];
        let mut p = 0;
        #[cfg(target_arch = "x86_64")]
        if Kernel::detect() == Kernel::Avx2 {
            // SAFETY: AVX2 is available; `transpose8` stays within `p + 8 <= pixels` of each
            // of the 8 rows and of `dst`'s `8 · pixels` values.
            while p + BLOCK <= pixels {
                unsafe {
                    avx2::transpose8(
                        rows.as_ptr().add(p),
                        pixels,
                        dst.as_mut_ptr().add(p * BLOCK),
                        BLOCK,
                    )
                };
                p += BLOCK;
            }
        }
        for p in p..pixels {
            for l in 0..BLOCK {
                dst[p * BLOCK + l] = rows[l * pixels + p];
            }
        }
    }
}

/// `[C/8, P, 8]` → `[C, P]`.
///
/// # Panics
/// When `c` is not whole blocks or the lengths are not `c · pixels`.
pub fn to_plain(src: &[f32], c: usize, pixels: usize, dst: &mut [f32]) {
    assert!(c % BLOCK == 0 && src.len() == c * pixels && dst.len() == src.len());
    for (cb, src) in src.chunks_exact(pixels * BLOCK).enumerate() {
        let rows = &mut dst[cb * BLOCK * pixels..][..BLOCK * pixels];
        let mut p = 0;
        #[cfg(target_arch = "x86_64")]
        if Kernel::detect() == Kernel::Avx2 {
            // SAFETY: as in `to_blocked`, with the roles of the two sides swapped.
            while p + BLOCK <= pixels {
                unsafe {
                    avx2::transpose8(
                        src.as_ptr().add(p * BLOCK),
                        BLOCK,
                        rows.as_mut_ptr().add(p),
                        pixels,
                    )
                };
                p += BLOCK;
            }
        }
        for p in p..pixels {
            for l in 0..BLOCK {
                rows[l * pixels + p] = src[p * BLOCK + l];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Transpose an 8×8 tile: row `r` of the source (8 values at `src + r · src_stride`)
    /// becomes column `r` of the destination (rows at `dst + r · dst_stride`).
    ///
    /// # Safety
    /// AVX2; the 8 rows of 8 values on both sides are in bounds.
    #[target_feature(enable = "avx2")]
    pub unsafe fn transpose8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (i, v) in out.iter().enumerate() {
            _mm256_storeu_ps(dst.add(i * dst_stride), *v);
        }
    }
}

/// Change of layout between plain `[1?, C, H, W]` and blocked `[1?, C/8, H, W, 8]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relayout {
    /// Plain to blocked (`true`) or back.
    pub to_blocked: bool,
    pub with_n: bool,
    pub channels: usize,
    pub h: usize,
    pub w: usize,
}

impl Relayout {
    fn plain_shape(&self) -> TVec<usize> {
        let mut s: TVec<usize> = tvec![self.channels, self.h, self.w];
        if self.with_n {
            s.insert(0, 1);
        }
        s
    }
    fn shapes(&self) -> (TVec<usize>, TVec<usize>) {
        let blocked = blocked_shape(self.with_n, self.channels, self.h, self.w);
        if self.to_blocked {
            (self.plain_shape(), blocked)
        } else {
            (blocked, self.plain_shape())
        }
    }
}

impl Op for Relayout {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        if self.to_blocked {
            "ToBlocked".into()
        } else {
            "ToPlain".into()
        }
    }
    fn validation(&self) -> Validation {
        Validation::Accurate
    }
    op_as_typed_op!();
}

impl EvalOp for Relayout {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [input] = &*inputs else {
            anyhow::bail!("{} takes one input, got {}", self.name(), inputs.len())
        };
        let (from, to) = self.shapes();
        ensure!(
            input.shape() == &*from,
            "input {:?}, want {from:?}",
            input.shape()
        );
        let src = input.try_as_plain_ram()?;
        let src = src.as_slice::<f32>()?;
        // SAFETY: the relayout below writes every value.
        let mut t = unsafe { Tensor::uninitialized::<f32>(&to)? };
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let dst = view.as_slice_mut::<f32>()?;
            let pixels = self.h * self.w;
            if self.to_blocked {
                to_blocked(src, self.channels, pixels, dst);
            } else {
                to_plain(src, self.channels, pixels, dst);
            }
        }
        Ok(tvec!(t.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for Relayout {
    as_op!();
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (from, to) = self.shapes();
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        ensure!(
            inputs[0].shape.as_concrete() == Some(&*from),
            "{} input {:?}, want {from:?}",
            self.name(),
            inputs[0].shape
        );
        Ok(tvec!(f32::fact(to)))
    }
}

/// The blocked twin of node `id` when it is one of our fast ops over whole blocks, and whether
/// it reads blocked inputs (the stem reads the plain image).
fn blocked_twin(model: &TypedModel, id: usize) -> Result<Option<(Box<dyn TypedOp>, bool)>> {
    fn boxed(op: impl TypedOp) -> Box<dyn TypedOp> {
        Box::new(op)
    }
    let node = model.node(id);
    if let Some(op) = node.op_as::<FastPointwise>() {
        return Ok(BlockedPointwise::from_fast(op)?.map(|o| (boxed(o), true)));
    }
    if let Some(op) = node.op_as::<FastDepthwise>() {
        return Ok(BlockedDepthwise::from_fast(op)?.map(|o| {
            let blocked = o.reads_blocked();
            (boxed(o), blocked)
        }));
    }
    Ok(None)
}

/// The relayout that makes the plain tensor at `outlet` blocked, or the reverse.
fn relayout_of(model: &TypedModel, outlet: OutletId, to_blocked: bool) -> Result<Relayout> {
    let fact = model.outlet_fact(outlet)?;
    let shape = fact
        .shape
        .as_concrete()
        .ok_or_else(|| anyhow::anyhow!("symbolic shape {:?}", fact.shape))?;
    let (channels, h, w, with_n) = if to_blocked {
        plain_dims(shape).ok_or_else(|| anyhow::anyhow!("shape {shape:?} is not CHW"))?
    } else {
        match *shape {
            [cb, h, w, BLOCK] => (cb * BLOCK, h, w, false),
            [1, cb, h, w, BLOCK] => (cb * BLOCK, h, w, true),
            _ => anyhow::bail!("shape {shape:?} is not blocked"),
        }
    };
    Ok(Relayout {
        to_blocked,
        with_n,
        channels,
        h,
        w,
    })
}

/// Run every fast op over whole blocks of channels on blocked tensors (see the module doc);
/// returns how many ops run blocked. Run after the depthwise and pointwise rewrites.
pub fn accelerate(model: &mut TypedModel) -> Result<usize> {
    let mut blocked = 0;
    for id in model.eval_order()? {
        let Some((op, blocked_inputs)) = blocked_twin(model, id)? else {
            continue;
        };
        let node = model.node(id);
        let mut patch = TypedModelPatch::new("blocked");
        let mut wires = tvec![];
        for (k, &input) in node.inputs.iter().enumerate() {
            let tap = patch.tap_model(model, input)?;
            if !blocked_inputs {
                wires.push(tap);
                continue;
            }
            let to = relayout_of(model, input, true)?;
            wires.push(patch.wire_node(format!("{}.to_blocked.{k}", node.name), to, &[tap])?[0]);
        }
        let y = patch.wire_node(format!("{}.blocked", node.name), op, &wires)?[0];
        let back = relayout_of(model, OutletId::new(id, 0), true)?;
        let back = Relayout {
            to_blocked: false,
            ..back
        };
        let y = patch.wire_node(format!("{}.to_plain", node.name), back, &[y])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), y)?;
        patch.apply(model)?;
        blocked += 1;
    }
    // Back and forth: a ToBlocked reading a ToPlain reads the blocked tensor itself.
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(to) = node.op_as::<Relayout>() else {
            continue;
        };
        if !to.to_blocked {
            continue;
        }
        let src = node.inputs[0];
        let Some(back) = model.node(src.node).op_as::<Relayout>() else {
            continue;
        };
        if back.to_blocked || back.channels != to.channels || back.with_n != to.with_n {
            continue;
        }
        let blocked_src = model.node(src.node).inputs[0];
        let mut patch = TypedModelPatch::new("blocked: back and forth");
        let tap = patch.tap_model(model, blocked_src)?;
        patch.shunt_outside(model, OutletId::new(id, 0), tap)?;
        patch.apply(model)?;
    }
    if blocked > 0 {
        model.compact()?;
    }
    Ok(blocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayouts_round_trip_on_every_tail() {
        for &(c, pixels) in &[(8, 1), (16, 7), (8, 8), (24, 49), (32, 196), (8, 13)] {
            let x: Vec<f32> = (0..c * pixels).map(|i| i as f32).collect();
            let mut b = vec![0.0; x.len()];
            to_blocked(&x, c, pixels, &mut b);
            // channel `ch` of pixel `p` is at block ch/8, pixel p, lane ch%8
            for ch in 0..c {
                for p in 0..pixels {
                    assert_eq!(b[(ch / 8 * pixels + p) * 8 + ch % 8], x[ch * pixels + p]);
                }
            }
            let mut back = vec![0.0; x.len()];
            to_plain(&b, c, pixels, &mut back);
            assert_eq!(back, x);
        }
    }
}
