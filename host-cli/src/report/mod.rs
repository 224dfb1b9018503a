//! The report of `edgellm compare`: one row per quantization type (measured here), the
//! build-vs-buy cost section (board profiles × measured speed), the Pareto fronts, and their
//! renderings as markdown ([`table`]), JSON (serde) and SVG ([`plot`]).

pub mod boards;
pub mod cost;
pub mod measure;
pub mod pareto;
pub mod plot;
pub mod table;

use serde::Serialize;

use boards::Board;
use cost::{CostLine, Prices};

/// Everything `compare` found; `report.json` is this, serialized.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command line that produced it.
    pub command: String,
    pub settings: Settings,
    /// The source model first, then one row per type in the order asked.
    pub rows: Vec<Row>,
    pub cost: CostSection,
}

/// How the measurements were made.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub source: String,
    /// Whether the source was already quantized (types were made with --allow-requantize).
    pub source_quantized: bool,
    pub text: String,
    pub n_ctx: usize,
    pub n_chunks: usize,
    /// Chunks the text holds (n_chunks may be fewer with --chunks).
    pub n_chunks_available: usize,
    pub scored_tokens: usize,
    pub n_prompt: usize,
    pub n_gen: usize,
    pub repetitions: usize,
    pub threads: usize,
    pub kernels: String,
    pub cpu: String,
}

/// One model: the source (the KLD reference) or one quantization of it. All measured here.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `F16`, `Q4_K_M`, ... (the source's `general.file_type`).
    pub ty: String,
    pub is_source: bool,
    pub file_bytes: u64,
    /// Tensor bytes × 8 ÷ weights, over all tensors.
    pub bits_per_weight: f64,
    pub ppl: f64,
    pub ppl_unc: f64,
    /// PPL − the source's PPL on the same chunks.
    pub delta_ppl: f64,
    /// Mean KL(source ‖ this) per scored token (0 for the source).
    pub kld_mean: f64,
    pub kld_unc: f64,
    /// Fraction of positions where this model's top token is the source's.
    pub same_top: f64,
    pub same_top_unc: f64,
    pub pp_tps: f64,
    pub pp_sd: f64,
    pub tg_tps: f64,
    pub tg_sd: f64,
    pub peak_rss_bytes: Option<u64>,
    /// On the Pareto front of (file size, KLD) / (tg speed, KLD) among the quantized types.
    pub pareto_size: bool,
    pub pareto_speed: bool,
}

/// The build-vs-buy section.
#[derive(Debug, Clone, Serialize)]
pub struct CostSection {
    pub prices: Prices,
    pub boards: Vec<BoardCost>,
}

/// One board: its profile and the cost per type.
#[derive(Debug, Clone, Serialize)]
pub struct BoardCost {
    pub board: Board,
    /// Where the generation speeds come from: `measured here`, `given (--tg-tps)`, or
    /// `x86 measured here; not this board's speed`.
    pub speed_source: String,
    pub lines: Vec<TypeCost>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeCost {
    pub ty: String,
    pub cost: CostLine,
}

/// Mark the Pareto fronts on the quantized rows (the source is the reference and is left
/// out).
pub fn mark_pareto(rows: &mut [Row]) {
    use pareto::{Better, front};
    let idx: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].is_source).collect();
    let size: Vec<(f64, f64)> = idx
        .iter()
        .map(|&i| (rows[i].file_bytes as f64, rows[i].kld_mean))
        .collect();
    let speed: Vec<(f64, f64)> = idx
        .iter()
        .map(|&i| (rows[i].tg_tps, rows[i].kld_mean))
        .collect();
    let (fs, fv) = (front(&size, Better::Lower), front(&speed, Better::Higher));
    for (k, &i) in idx.iter().enumerate() {
        rows[i].pareto_size = fs[k];
        rows[i].pareto_speed = fv[k];
    }
}
