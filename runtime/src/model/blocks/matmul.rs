//! Matrix products of the forward pass: quantize a matrix input once to the weights'
//! activation type, then multiply on the pool's tasks, split by output rows.

use core::array;

use edgellm_kernels::matrix::{Activations, WeightMatrix};
use edgellm_kernels::parts::{ColumnsMut, split_columns};
use edgellm_kernels::{GgmlType, KernelTable};

use crate::model::state::ActivationBuffer;
use crate::parallel::{MAX_TASKS, Parallel};
use crate::profile::{MatmulOp, Op, Profiler, timed};

/// Output columns per task are a multiple of this, so the split of a matrix product is the
/// same whatever kernel tile sizes are (tiles never straddle two tasks differently).
const ROW_GRANULE: usize = 32;

/// The activation type matrix `m` multiplies with.
pub(crate) fn act_type(m: &WeightMatrix<'_>) -> GgmlType {
    m.ty()
        .vec_dot_type()
        .expect("WeightMatrix::new accepts only types with kernels")
}

/// The profiler's description of matrix `m` called `name`.
pub(crate) fn matmul_op(name: &'static str, m: &WeightMatrix<'_>) -> MatmulOp {
    MatmulOp {
        name,
        rows: m.rows(),
        cols: m.cols(),
        ty: m.ty(),
    }
}

/// Quantize `x` (rows of `m.cols()`) to the activation type of `m`, rows split across tasks.
pub(crate) fn quantize<P: Parallel, Pr: Profiler>(
    acts: &mut ActivationBuffer,
    k: &KernelTable,
    m: &WeightMatrix<'_>,
    x: &[f32],
    (par, prof): (&P, &Pr),
) {
    let ty = act_type(m);
    if ty != GgmlType::F32 {
        timed(prof, Op::QuantizeActivations(ty), || {
            acts.quantize(k, ty, x, x.len() / m.cols(), par)
        });
    }
}

/// Quantize `x` for `m` unless an earlier matrix in `group` (before `m`) has the same
/// activation type and so already did.
pub(crate) fn quantize_once<P: Parallel, Pr: Profiler>(
    acts: &mut ActivationBuffer,
    k: &KernelTable,
    m: &WeightMatrix<'_>,
    x: &[f32],
    group: &[&WeightMatrix<'_>],
    ctx: (&P, &Pr),
) {
    let ty = act_type(m);
    let earlier = group
        .iter()
        .take_while(|g| !core::ptr::eq(**g, m))
        .any(|g| act_type(g) == ty);
    if !earlier {
        quantize(acts, k, m, x, ctx);
    }
}

/// out = w · x for `n` tokens: out (n, w.rows()), split across tasks by output rows.
pub(crate) fn matmul<P: Parallel, Pr: Profiler>(
    kernels: &KernelTable,
    par: &P,
    prof: &Pr,
    (name, w): (&'static str, &WeightMatrix<'_>),
    x: Activations<'_>,
    out: &mut [f32],
    n: usize,
) {
    prof.begin(Op::Matmul(matmul_op(name, w)));
    let tasks = par.n_threads().clamp(1, MAX_TASKS);
    let mut parts: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
    let made = split_columns(out, n, w.rows(), ROW_GRANULE, &mut parts[..tasks]);
    par.run(&mut parts[..made], &|part| {
        if let Some(part) = part {
            kernels.matmul(w, x, part);
        }
    });
    prof.end(Op::Matmul(matmul_op(name, w)));
}

/// `outs[j] = ws[j] · xs[j]` for `n` tokens, for every `j`, in ONE parallel step: task `i`
/// computes part `i` of every matrix's output rows, the same part a separate [`matmul`] would
/// give it, so the results are bit for bit those of separate steps while the workers are
/// handed work once. The profiler sees one matrix product named `name` whose rows are the
/// sum of the matrices' (and whose type is the first one's).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmuls<P: Parallel, Pr: Profiler, const M: usize>(
    kernels: &KernelTable,
    par: &P,
    prof: &Pr,
    name: &'static str,
    ws: [&WeightMatrix<'_>; M],
    xs: [Activations<'_>; M],
    outs: [&mut [f32]; M],
    n: usize,
) {
    let op = Op::Matmul(MatmulOp {
        name,
        rows: ws.iter().map(|w| w.rows()).sum(),
        cols: ws[0].cols(),
        ty: ws[0].ty(),
    });
    prof.begin(op);
    let tasks = par.n_threads().clamp(1, MAX_TASKS);
    let mut parts: [[Option<ColumnsMut<'_>>; M]; MAX_TASKS] =
        array::from_fn(|_| array::from_fn(|_| None));
    let mut made = 0;
    for (j, (w, out)) in ws.iter().zip(outs).enumerate() {
        let mut col: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let m = split_columns(out, n, w.rows(), ROW_GRANULE, &mut col[..tasks]);
        for (task, part) in parts.iter_mut().zip(&mut col[..m]) {
            task[j] = part.take();
        }
        made = made.max(m);
    }
    par.run(&mut parts[..made], &|task| {
        for ((w, x), part) in ws.iter().zip(&xs).zip(task.iter_mut()) {
            if let Some(part) = part {
                kernels.matmul(w, *x, part);
            }
        }
    });
    prof.end(op);
}
