//! Graph rewrites that put our ops in place of tract's: the matching helpers they share
//! (constants, clamps after a node, sole consumers) and the patch loop that swaps each match.

use anyhow::Result;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;

/// What a matcher found at one node: the op to put in, the outlets it reads, and the node
/// whose output it replaces (the matched node, or the last one fused after it).
pub struct Replacement<O> {
    pub op: O,
    pub inputs: TVec<OutletId>,
    pub last: usize,
}

/// Run `find` on every node in evaluation order and replace each match by its op (named after
/// the matched node plus `.suffix`); returns how many were replaced. Patches leave the ids of
/// nodes not yet visited in place (the model is compacted at the end), and a node already
/// shunted out has no consumers left, so matchers that need one refuse it.
pub fn replace_matches<O: TypedOp + 'static>(
    model: &mut TypedModel,
    suffix: &str,
    find: impl Fn(&TypedModel, usize) -> Result<Option<Replacement<O>>>,
) -> Result<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let Some(m) = find(model, id)? else {
            continue;
        };
        let mut patch = TypedModelPatch::new(suffix);
        let wires = m
            .inputs
            .iter()
            .map(|&o| patch.tap_model(model, o))
            .collect::<TractResult<TVec<_>>>()?;
        let name = format!("{}.{suffix}", model.node(id).name);
        let y = patch.wire_node(name, m.op, &wires)?[0];
        patch.shunt_outside(model, OutletId::new(m.last, 0), y)?;
        patch.apply(model)?;
        replaced += 1;
    }
    if replaced > 0 {
        model.compact()?;
    }
    Ok(replaced)
}

/// All values of a constant f32 tensor, if `outlet` is one.
pub fn const_f32(model: &TypedModel, outlet: OutletId) -> Result<Option<Vec<f32>>> {
    let fact = model.outlet_fact(outlet)?;
    let Some(k) = &fact.konst else {
        return Ok(None);
    };
    if k.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    let view = k.try_as_plain_ram()?;
    Ok(Some(view.as_slice::<f32>()?.to_vec()))
}

/// `Some((is_max, value))` when node `id` is a `Max`/`Min` of `from` by one uniform constant
/// that keeps `from`'s shape.
pub fn clamp_step(model: &TypedModel, id: usize, from: OutletId) -> Result<Option<(bool, f32)>> {
    let node = model.node(id);
    let Some(bin) = node.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    let is_max = match bin.0.name() {
        "Max" => true,
        "Min" => false,
        _ => return Ok(None),
    };
    if node.inputs.len() != 2 || node.outputs.len() != 1 {
        return Ok(None);
    }
    let other = if node.inputs[0] == from {
        node.inputs[1]
    } else if node.inputs[1] == from {
        node.inputs[0]
    } else {
        return Ok(None);
    };
    if model.outlet_fact(OutletId::new(id, 0))?.shape != model.outlet_fact(from)?.shape {
        return Ok(None);
    }
    let Some(v) = const_f32(model, other)? else {
        return Ok(None);
    };
    match v.first() {
        Some(&x) if v.iter().all(|y| y.to_bits() == x.to_bits()) && !x.is_nan() => {
            Ok(Some((is_max, x)))
        }
        _ => Ok(None),
    }
}

/// The single consumer of `outlet`, when it has exactly one and is not a model output.
pub fn sole_successor(model: &TypedModel, outlet: OutletId) -> Result<Option<usize>> {
    if model.output_outlets()?.contains(&outlet) {
        return Ok(None);
    }
    let succ = &model.node(outlet.node).outputs[outlet.slot].successors;
    Ok(match &succ[..] {
        [one] => Some(one.node),
        _ => None,
    })
}

/// Up to two clamp steps (ONNX `Clip` → `Max` then `Min` by constants) right after node `id`,
/// each the sole consumer of the one before: the last node taken and the clamp they make
/// (`None` when there is none).
pub fn fuse_clamps(model: &TypedModel, id: usize) -> Result<(usize, Option<(f32, f32)>)> {
    let (mut lo, mut hi) = (f32::NEG_INFINITY, f32::INFINITY);
    let mut last = id;
    for _ in 0..2 {
        let Some(next) = sole_successor(model, OutletId::new(last, 0))? else {
            break;
        };
        let Some((is_max, v)) = clamp_step(model, next, OutletId::new(last, 0))? else {
            break;
        };
        let (nlo, nhi) = if is_max {
            (lo.max(v), hi)
        } else {
            (lo, hi.min(v))
        };
        // max-then-min is a clamp; min-then-max equals one only when lo <= hi.
        if nlo > nhi {
            break;
        }
        (lo, hi) = (nlo, nhi);
        last = next;
    }
    Ok((last, (last != id).then_some((lo, hi))))
}
