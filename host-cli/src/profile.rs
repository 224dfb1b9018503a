//! `--profile`: the host's clock behind the runtime's [`Profiler`] hook, and the table of
//! where the time went.
//!
//! The runtime says when each operation begins and ends; [`OpProfiler`] reads
//! [`Instant::now`] at both, and adds the difference to the operation's row of the current
//! phase (prompt or generation). Matrix products are grouped by shape and weight type
//! (`matmul 1536x576 Q4_1`), listing the tensors of that shape. The rest of each phase's wall
//! time (the generation loop, detokenizing, writing the text) is reported as "other".

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use edgellm_runtime::profile::{MatmulOp, Op, Profiler};

/// The part of a run an operation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Evaluating the prompt (batched prefill).
    Prompt,
    /// Generating tokens one at a time (sampling included).
    Generation,
}

/// Total time and number of calls of one table row.
#[derive(Clone, Copy, Debug, Default)]
struct Row {
    total: Duration,
    calls: u64,
}

/// What a table row is: operations that differ only by tensor name share a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Op(Op),
    /// A matrix product, or the output head (`head`), by shape and type.
    Matmul {
        head: bool,
        rows: usize,
        cols: usize,
        ty: edgellm_kernels::GgmlType,
    },
}

fn key(op: Op) -> (Key, Option<&'static str>) {
    let m = |head: bool, m: MatmulOp| {
        let k = Key::Matmul {
            head,
            rows: m.rows,
            cols: m.cols,
            ty: m.ty,
        };
        (k, Some(m.name))
    };
    match op {
        Op::Matmul(op) => m(false, op),
        Op::OutputHead(op) => m(true, op),
        op => (Key::Op(op), None),
    }
}

/// A [`Profiler`] that times every operation with the monotonic clock. It is called from
/// the thread that drives the forward pass only, so its lock is never contended (it is
/// there so the generation can run on a pool thread).
#[derive(Debug)]
pub struct OpProfiler(Mutex<State>);

#[derive(Debug)]
struct State {
    phase: Phase,
    started: Option<Instant>,
    rows: HashMap<(Phase, Key), Row>,
    names: HashMap<Key, Vec<&'static str>>,
}

impl Default for OpProfiler {
    fn default() -> Self {
        OpProfiler::new()
    }
}

impl OpProfiler {
    pub fn new() -> OpProfiler {
        OpProfiler(Mutex::new(State {
            phase: Phase::Prompt,
            started: None,
            rows: HashMap::new(),
            names: HashMap::new(),
        }))
    }

    /// Operations from now on belong to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.state().phase = phase;
    }

    /// The table: for each phase with a wall time, one row per operation kind sorted by
    /// total time, with the phase's unaccounted time as "other". `walls` are the phases'
    /// wall-clock times and `tokens` the tokens each evaluated.
    pub fn report(&self, walls: &[(Phase, Duration, usize)]) -> String {
        let st = self.state();
        let (rows, names) = (&st.rows, &st.names);
        let mut s = String::new();
        for &(phase, wall, tokens) in walls {
            let mut mine: Vec<(Key, Row)> = rows
                .iter()
                .filter(|((p, _), _)| *p == phase)
                .map(|((_, k), r)| (*k, *r))
                .collect();
            if mine.is_empty() {
                continue;
            }
            mine.sort_by(|a, b| {
                b.1.total
                    .cmp(&a.1.total)
                    .then(label(&a.0, names).cmp(&label(&b.0, names)))
            });
            let timed: Duration = mine.iter().map(|(_, r)| r.total).sum();
            let wall_ms = wall.as_secs_f64() * 1e3;
            let title = match phase {
                Phase::Prompt => "prompt",
                Phase::Generation => "generation",
            };
            let _ = writeln!(
                s,
                "profile: {title}: {tokens} tokens, {wall_ms:.1} ms ({:.1} t/s)",
                tokens as f64 / wall.as_secs_f64().max(1e-9)
            );
            let _ = writeln!(
                s,
                "  {:<44} {:>10} {:>6} {:>8} {:>10} {:>10}",
                "operation", "total ms", "%", "calls", "us/call", "ms/token"
            );
            let mut line = |name: &str, total: Duration, calls: Option<u64>| {
                let ms = total.as_secs_f64() * 1e3;
                let pct = 100.0 * ms / wall_ms.max(1e-9);
                let per_tok = ms / tokens.max(1) as f64;
                let (calls, per_call) = match calls {
                    Some(c) => (c.to_string(), format!("{:.2}", ms * 1e3 / c.max(1) as f64)),
                    None => (String::new(), String::new()),
                };
                let _ = writeln!(
                    s,
                    "  {name:<44} {ms:>10.2} {pct:>6.1} {calls:>8} {per_call:>10} {per_tok:>10.3}"
                );
            };
            for (k, r) in &mine {
                line(&label(k, names), r.total, Some(r.calls));
            }
            line(
                "other (loop, detokenize, output)",
                wall.saturating_sub(timed),
                None,
            );
        }
        s
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn add(&mut self, op: Op, d: Duration) {
        let (k, name) = key(op);
        let r = self.rows.entry((self.phase, k)).or_default();
        r.total += d;
        r.calls += 1;
        if let Some(name) = name {
            let list = self.names.entry(k).or_default();
            if !list.contains(&name) {
                list.push(name);
            }
        }
    }
}

impl Profiler for OpProfiler {
    fn begin(&self, _op: Op) {
        let mut st = self.state();
        debug_assert!(st.started.is_none(), "profiled operations nest");
        st.started = Some(Instant::now());
    }

    fn end(&self, op: Op) {
        let now = Instant::now();
        let mut st = self.state();
        if let Some(t) = st.started.take() {
            st.add(op, now - t);
        }
    }
}

/// A row's name: `matmul 1536x576 Q4_1 (w_gate, w_up)`, `attention`, ...
fn label(k: &Key, names: &HashMap<Key, Vec<&'static str>>) -> String {
    match *k {
        Key::Matmul {
            head,
            rows,
            cols,
            ty,
        } => {
            let what = if head { "output head" } else { "matmul" };
            let list = names.get(k).map(|v| v.join(", ")).unwrap_or_default();
            format!("{what} {rows}x{cols} {ty} ({list})")
        }
        Key::Op(op) => match op {
            Op::Embedding => "embedding".into(),
            Op::Norm => "rmsnorm".into(),
            Op::Rope => "rope".into(),
            Op::QuantizeActivations(ty) => format!("quantize activations {ty}"),
            Op::KvStore => "kv cache store".into(),
            Op::Attention => "attention".into(),
            Op::Residual => "residual add".into(),
            Op::FfnActivation => "swiglu".into(),
            Op::Sampling => "sampling".into(),
            Op::Matmul(_) | Op::OutputHead(_) => unreachable!("matmuls are keyed by shape"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_kernels::GgmlType;

    fn mm(name: &'static str, rows: usize) -> Op {
        Op::Matmul(MatmulOp {
            name,
            rows,
            cols: 576,
            ty: GgmlType::Q4_1,
        })
    }

    /// Same-shape matrices share a row listing both names; phases stay apart; "other" is the
    /// wall time not covered by any operation.
    #[test]
    fn groups_by_shape_and_phase() {
        let p = OpProfiler::new();
        for op in [mm("wq", 576), mm("wo", 576), mm("w_gate", 1536), Op::Norm] {
            p.begin(op);
            std::thread::sleep(Duration::from_millis(2));
            p.end(op);
        }
        p.set_phase(Phase::Generation);
        p.begin(Op::Sampling);
        p.end(Op::Sampling);
        let r = p.report(&[
            (Phase::Prompt, Duration::from_secs(1), 4),
            (Phase::Generation, Duration::from_millis(1), 1),
        ]);
        assert!(r.contains("matmul 576x576 Q4_1 (wq, wo)"), "{r}");
        assert!(r.contains("matmul 1536x576 Q4_1 (w_gate)"), "{r}");
        let prompt = r.split("profile: generation").next().unwrap();
        assert!(!prompt.contains("sampling"), "{r}");
        assert!(r.contains("profile: generation: 1 tokens"), "{r}");
        let row = prompt.lines().find(|l| l.contains("(wq, wo)")).unwrap();
        let calls: u64 = row.split_whitespace().nth_back(2).unwrap().parse().unwrap();
        assert_eq!(calls, 2, "{row}");
        let other = prompt.lines().find(|l| l.contains("other")).unwrap();
        let ms: f64 = other
            .split_whitespace()
            .nth_back(2)
            .unwrap()
            .parse()
            .unwrap();
        assert!(ms > 900.0 && ms < 1000.0, "{other}");
    }
}
