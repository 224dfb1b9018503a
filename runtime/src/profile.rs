//! Where the time of a forward pass goes, without a clock in the runtime.
//!
//! The runtime has no clock (`no_std`, and the firmware's timer is its own business), so it
//! only says *when* an operation begins and ends: [`Profiler::begin`] / [`Profiler::end`]
//! around each step of the forward pass and the generation loop. The host implements
//! [`Profiler`] with its clock and aggregates the table (`edgellm run --profile`). Without
//! profiling the runtime is instantiated with [`NoProfiler`], whose empty inline methods
//! compile to nothing.
//!
//! Operations are flat: a `begin` is always followed by the `end` of the same [`Op`] before
//! the next `begin`. Parallel steps are timed on the calling thread, so a matrix product's
//! time includes handing its tasks to the workers and waiting for the slowest one.

use edgellm_kernels::GgmlType;

/// A matrix product of one parallel step: `rows` output features × `cols` inputs of weight
/// type `ty`, over the tokens of the batch. `name` is the tensor (`"wq"`, `"output"`), or
/// the tensors of a fused step (`"wq+wk+wv"`, whose `rows` is the sum of theirs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulOp {
    pub name: &'static str,
    pub rows: usize,
    pub cols: usize,
    pub ty: GgmlType,
}

/// One timed operation of the forward pass or the generation loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Token embedding lookup (dequantizing rows of `token_embd`).
    Embedding,
    /// RMS norms (attention, feed-forward and final).
    Norm,
    /// RoPE: the angles of the batch's positions and the rotation of every q and k head.
    Rope,
    /// Quantizing a matrix input to the weights' activation type (Q8_0, Q8_1, Q8_K).
    QuantizeActivations(GgmlType),
    /// A matrix product of the transformer layers.
    Matmul(MatmulOp),
    /// Copying this batch's keys and values into the cache.
    KvStore,
    /// Scores, softmax and the weighted sum of values, all heads (one parallel step).
    Attention,
    /// Residual additions.
    Residual,
    /// The gated activation of the feed-forward (SwiGLU: `silu(gate) * up`).
    FfnActivation,
    /// The classifier: `output · rmsnorm(x)` for the tokens whose logits are wanted.
    OutputHead(MatmulOp),
    /// Choosing the next token from the logits (penalties, filters, draw).
    Sampling,
}

/// Told when each operation begins and ends (see the module docs).
pub trait Profiler {
    /// `op` starts now.
    fn begin(&self, op: Op);
    /// `op` (the last one begun) has finished.
    fn end(&self, op: Op);
}

/// The profiler of an unprofiled run: does nothing, costs nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProfiler;

impl Profiler for NoProfiler {
    #[inline(always)]
    fn begin(&self, _: Op) {}
    #[inline(always)]
    fn end(&self, _: Op) {}
}

/// Run `f` as operation `op`.
#[inline(always)]
pub fn timed<Pr: Profiler + ?Sized, R>(prof: &Pr, op: Op, f: impl FnOnce() -> R) -> R {
    prof.begin(op);
    let r = f();
    prof.end(op);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;

    struct Log(RefCell<alloc::vec::Vec<(bool, Op)>>);

    impl Profiler for Log {
        fn begin(&self, op: Op) {
            self.0.borrow_mut().push((true, op));
        }
        fn end(&self, op: Op) {
            self.0.borrow_mut().push((false, op));
        }
    }

    #[test]
    fn timed_brackets_the_call() {
        let log = Log(RefCell::new(alloc::vec::Vec::new()));
        let v = timed(&log, Op::Norm, || {
            log.0.borrow_mut().push((true, Op::Rope));
            7
        });
        assert_eq!(v, 7);
        assert_eq!(
            *log.0.borrow(),
            [(true, Op::Norm), (true, Op::Rope), (false, Op::Norm)]
        );
    }
}
