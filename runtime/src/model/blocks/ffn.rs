//! The gated feed-forward block: `xb2 = w_down · (act(w_gate·xb) * (w_up·xb))`.

use crate::parallel::{Parallel, par_rows};
use crate::profile::{Op, Profiler, timed};

use super::Block;
use super::matmul::{act_type, matmul, matmuls, quantize, quantize_once};

/// The gate's activation (llama.cpp `LLM_FFN_SILU` / `LLM_FFN_GELU` with `LLM_FFN_PAR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glu {
    /// SwiGLU: `silu(gate) * up` (Llama, Qwen, Phi-3).
    Silu,
    /// GeGLU: `gelu_tanh(gate) * up` (Gemma).
    Gelu,
}

impl<P: Parallel, Pr: Profiler> Block<'_, '_, '_, P, Pr> {
    /// Gated feed-forward of `xb` into `xb2`: `hb = act(w_gate·xb) * (w_up·xb)`,
    /// `xb2 = w_down·hb` (gate and up in one parallel step).
    pub fn ffn(&mut self, act: Glu) {
        let (tf, lw, n) = (self.tf, self.lw, self.n);
        let k = tf.kernels();
        let (dim, hidden) = (tf.config.dim, tf.config.hidden_dim);
        let (par, prof) = (self.par, self.prof);
        let s = &mut *self.s;
        let xb = &s.xb[..n * dim];
        let group = [&lw.w_gate, &lw.w_up];
        for m in group {
            quantize_once(&mut s.acts, k, m, xb, &group, (par, prof));
        }
        let acts = &s.acts;
        matmuls(
            k,
            par,
            prof,
            "w_gate+w_up",
            group,
            [
                acts.view(act_type(&lw.w_gate), xb),
                acts.view(act_type(&lw.w_up), xb),
            ],
            [&mut s.hb[..n * hidden], &mut s.hb2[..n * hidden]],
            n,
        );
        timed(prof, Op::FfnActivation, || {
            let (gate, up) = (&mut s.hb[..n * hidden], &s.hb2[..n * hidden]);
            match act {
                Glu::Silu => par_rows(par, n, gate, up, &|g, u| k.silu_mul(g, u)),
                Glu::Gelu => par_rows(par, n, gate, up, &|g, u| k.gelu_mul(g, u)),
            }
        });
        let hb = &s.hb[..n * hidden];
        quantize(&mut s.acts, k, &lw.w_down, hb, (par, prof));
        matmul(
            k,
            par,
            prof,
            ("w_down", &lw.w_down),
            s.acts.view(act_type(&lw.w_down), hb),
            &mut s.xb2[..n * dim],
            n,
        );
    }
}
