//! The kernel table: one set of function pointers per CPU tier, chosen once.
//!
//! A [`KernelTable`] is built only by [`KernelTable::scalar`], [`KernelTable::detect`],
//! [`KernelTable::with_tier`] (feature check first) or the `unsafe`
//! [`KernelTable::from_features`] (the caller vouches for the features). Its construction is
//! therefore the proof that every kernel it holds may run on this CPU, and the pointers it
//! stores are safe `fn`s: wrappers around the tier's `#[target_feature] unsafe fn`s made
//! by each tier's `table()`, which `kernels_for` calls after that check.
//!
//! # The table
//! [`Kernels`] has one [`TypeKernels`] entry per ggml weight type (`q4_0`, …, `q6_k`, `f32`,
//! `f16`, `bf16`: its `vec_dot`, its GEMM tile and its interleaved rows8 GEMM, as ggml's
//! `type_traits_cpu` has one entry per type) and one field per float operation.
//!
//! # Adding a tier
//! A tier is one module (e.g. `arch/x86_64/avx2.rs`). It defines kernels with the reference's
//! names and signatures (as `#[target_feature] unsafe fn`), and builds its complete table in
//! `pub(crate) unsafe fn table() -> Kernels`. It starts from `Kernels::TIER_BASE`.
//! `simd_tier!` registers the architecture's whole list (a tier re-exports what it shares
//! with another), and `type_kernels!` / `override_kernels!` add the tier's own extras
//! (interleaved-layout GEMMs, wider float operations). Outside the module, the tier needs:
//! - a [`Tier`] variant, its name and its CPU requirement in [`CpuFeatures::supports`];
//! - one arm in `kernels_for`.
//!
//! The test harness (`tests/tiers.rs`) then checks every kernel of the tier against the
//! scalar table.

use core::fmt;
use core::str::FromStr;

use half::{bf16, f16};

use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::blocks::{BlockQ8_1, BlockQ8K};
use crate::parts::ColumnsMut;
use crate::reference;
use crate::rows8::{BlockQ4_0x8, BlockQ4_1x8, BlockQ4Kx8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8};

/// A CPU kernel tier. Order = preference within an architecture (later is faster).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Portable Rust, every CPU (the reference).
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-VNNI (VEX `vpdpbusd` on 256-bit registers, no AVX-512; plus AVX2/FMA/F16C).
    AvxVnni,
    /// x86-64 AVX-512 F/BW/VL + VNNI (plus AVX2/FMA/F16C).
    Avx512Vnni,
    /// aarch64 baseline NEON (Cortex-A53/A72: Raspberry Pi 3/4).
    Neon,
    /// aarch64 NEON + FEAT_DotProd `sdot` (Cortex-A76: Raspberry Pi 5).
    Dotprod,
    /// aarch64 NEON + DotProd + FEAT_I8MM `smmla` (Cortex-A510/A710/X2 and later, Neoverse
    /// N2/V2): the dotprod tier with two tokens per `smmla` in the Q4_1 and Q8_0 prompt
    /// GEMMs.
    I8mm,
}

impl Tier {
    /// Every tier, in declaration order.
    pub const ALL: [Tier; 7] = [
        Tier::Scalar,
        Tier::Avx2,
        Tier::AvxVnni,
        Tier::Avx512Vnni,
        Tier::Neon,
        Tier::Dotprod,
        Tier::I8mm,
    ];

    /// The name used on command lines and in reports (`"scalar"`, `"avx2"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Avx2 => "avx2",
            Tier::AvxVnni => "avxvnni",
            Tier::Avx512Vnni => "avx512vnni",
            Tier::Neon => "neon",
            Tier::Dotprod => "dotprod",
            Tier::I8mm => "i8mm",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tier name that is not one of [`Tier::ALL`]'s names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownTier;

impl fmt::Display for UnknownTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown kernel tier (expected ")?;
        for (i, t) in Tier::ALL.iter().enumerate() {
            let sep = match i {
                0 => "",
                i if i + 1 == Tier::ALL.len() => " or ",
                _ => ", ",
            };
            write!(f, "{sep}{t}")?;
        }
        f.write_str(")")
    }
}

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Tier, UnknownTier> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownTier)
    }
}

/// A tier was requested that this build or this CPU cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierUnavailable {
    /// The requested tier.
    pub tier: Tier,
    /// True if the tier exists for this architecture but the CPU lacks a feature; false if
    /// this binary has no such tier (other architecture).
    pub compiled: bool,
}

impl fmt::Display for TierUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.compiled {
            write!(
                f,
                "kernel tier {} needs CPU features this CPU lacks",
                self.tier
            )
        } else {
            write!(
                f,
                "kernel tier {} is not built for this architecture",
                self.tier
            )
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TierUnavailable {}

/// CPU features the tiers depend on. Fill it from `is_*_feature_detected!`
/// ([`CpuFeatures::detect`], with `std`) or, bare metal, from the ID registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    pub avx2: bool,
    pub fma: bool,
    pub f16c: bool,
    pub avx512f: bool,
    pub avx512bw: bool,
    pub avx512vl: bool,
    pub avx512vnni: bool,
    /// x86-64 AVX-VNNI (VEX-encoded `vpdpbusd`).
    pub avxvnni: bool,
    /// aarch64 Advanced SIMD (always present on aarch64 Linux and on `aarch64-unknown-none`).
    pub neon: bool,
    /// aarch64 FEAT_DotProd (`sdot`/`udot`).
    pub dotprod: bool,
    /// aarch64 FEAT_I8MM (`smmla`/`ummla`; Cortex-A510/A710/X2 and later, Neoverse N2).
    pub i8mm: bool,
}

impl CpuFeatures {
    /// The features of the CPU this runs on.
    #[cfg(feature = "std")]
    pub fn detect() -> CpuFeatures {
        #[allow(unused_mut)]
        let mut f = CpuFeatures::default();
        #[cfg(target_arch = "x86_64")]
        {
            f.avx2 = std::is_x86_feature_detected!("avx2");
            f.fma = std::is_x86_feature_detected!("fma");
            f.f16c = std::is_x86_feature_detected!("f16c");
            f.avx512f = std::is_x86_feature_detected!("avx512f");
            f.avx512bw = std::is_x86_feature_detected!("avx512bw");
            f.avx512vl = std::is_x86_feature_detected!("avx512vl");
            f.avx512vnni = std::is_x86_feature_detected!("avx512vnni");
            f.avxvnni = std::is_x86_feature_detected!("avxvnni");
        }
        #[cfg(target_arch = "aarch64")]
        {
            f.neon = std::arch::is_aarch64_feature_detected!("neon");
            f.dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
            f.i8mm = std::arch::is_aarch64_feature_detected!("i8mm");
        }
        f
    }

    /// Whether a CPU with these features may run `tier`'s kernels (ignoring whether this
    /// binary contains the tier: see [`KernelTable::compiled_tiers`]).
    pub const fn supports(&self, tier: Tier) -> bool {
        let avx2 = self.avx2 && self.fma && self.f16c;
        match tier {
            Tier::Scalar => true,
            Tier::Avx2 => avx2,
            Tier::AvxVnni => avx2 && self.avxvnni,
            Tier::Avx512Vnni => {
                avx2 && self.avx512f && self.avx512bw && self.avx512vl && self.avx512vnni
            }
            Tier::Neon => self.neon,
            Tier::Dotprod => self.neon && self.dotprod,
            Tier::I8mm => self.neon && self.dotprod && self.i8mm,
        }
    }
}

impl CpuFeatures {
    /// The aarch64 tier features from the ID registers' values, as an OS decodes them:
    /// - AdvSIMD: `ID_AA64PFR0_EL1` bits \[23:20\], `0b1111` = not implemented;
    /// - DotProd: `ID_AA64ISAR0_EL1.DP` bits \[47:44\], `>= 1` = `sdot`/`udot` implemented;
    /// - I8MM: `ID_AA64ISAR1_EL1.I8MM` bits \[55:52\], `>= 1` = `smmla`/`ummla` implemented.
    ///
    /// Cortex-A53/A72 (Pi 3/4) give NEON only; Cortex-A76 (Pi 5) gives NEON + dotprod.
    pub const fn from_aarch64_id_regs(
        id_aa64pfr0: u64,
        id_aa64isar0: u64,
        id_aa64isar1: u64,
    ) -> CpuFeatures {
        let neon = (id_aa64pfr0 >> 20) & 0xf != 0xf;
        let dotprod = neon && (id_aa64isar0 >> 44) & 0xf >= 1;
        let i8mm = neon && (id_aa64isar1 >> 52) & 0xf >= 1;
        CpuFeatures {
            avx2: false,
            fma: false,
            f16c: false,
            avx512f: false,
            avx512bw: false,
            avx512vl: false,
            avx512vnni: false,
            avxvnni: false,
            neon,
            dotprod,
            i8mm,
        }
    }

    /// The running aarch64 CPU's features, read from its ID registers: for bare metal (call
    /// at EL1 or above), where there is no `is_aarch64_feature_detected!`. Under Linux the
    /// kernel emulates these reads at EL0, so it gives the same answer as [`CpuFeatures::detect`].
    #[cfg(target_arch = "aarch64")]
    pub fn from_id_registers() -> CpuFeatures {
        let (pfr0, isar0, isar1) = crate::arch::aarch64::id_regs::read();
        CpuFeatures::from_aarch64_id_regs(pfr0, isar0, isar1)
    }
}

/// Rows of weights one GEMM tile kernel call covers at most.
pub const GEMM_TILE_ROWS: usize = 4;
/// Tokens (activation rows) one GEMM tile kernel call covers at most.
pub const GEMM_TILE_TOKENS: usize = 4;

/// A dot product of one weight row with one activation row (`x.len() == y.len()` blocks).
pub type VecDotFn<W, A> = fn(x: &[W], y: &[A]) -> f32;

/// A GEMM tile: `out[t * mr + r] = dot(w row r, x row t)` where `w` holds
/// `mr = w.len() / nb` consecutive weight rows and `x` holds `nt = x.len() / nb` consecutive
/// activation rows of `nb` blocks each, `1 <= mr <= GEMM_TILE_ROWS`,
/// `1 <= nt <= GEMM_TILE_TOKENS`, `out.len() >= mr * nt`. Slices may start at any block.
pub type GemmFn<W, A> = fn(w: &[W], x: &[A], nb: usize, out: &mut [f32]);

/// Attention's weighted sums of several weight rows over the same value rows (contract of
/// [`KernelTable::weighted_sums`]).
pub type WeightedSumsFn = fn(out: &mut [f32], a: &[f32], v: &[f32], hd: usize);

/// A GEMM over an interleaved rows8 matrix ([`crate::rows8`]): `w` holds `w.len() / nb`
/// groups of 8 rows, `x` holds `x.len() / nb` tokens, and the products are written in place
/// into the output part: `out.row_mut(t)[r]` for row `r` of `w` and token `t`
/// (`out.cols().len()` is the rows' count, `out.n_tokens()` at least the tokens').
pub type Rows8GemmFn<W, A> = fn(w: &[W], x: &[A], nb: usize, out: &mut ColumnsMut<'_>);

/// The rows8 GEMM slot of a weight type without an interleaved layout (F32, F16, BF16,
/// Q5_K): no value of it exists, so its `rows8` entry is always `None`.
#[derive(Clone, Copy, Debug)]
pub enum NoRows8 {}

/// One weight type's kernels on one tier (ggml's `type_traits_cpu` entry): the dot product of
/// a weight row with an activation row of the type's `vec_dot_type` (`A`), the GEMM tile
/// (`None`: loop `dot` over the tile), and the GEMM over the type's interleaved rows8 layout
/// `X` (`None`: the tier has no SIMD kernel for it, so the loader keeps the file's layout for
/// this tier, and the driver falls back to the scalar [`crate::rows8`] functions if given
/// such a matrix anyway).
pub struct TypeKernels<W, A, X = NoRows8> {
    pub dot: VecDotFn<W, A>,
    pub gemm: Option<GemmFn<W, A>>,
    pub rows8: Option<Rows8GemmFn<X, A>>,
}

impl<W, A, X> Clone for TypeKernels<W, A, X> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W, A, X> Copy for TypeKernels<W, A, X> {}

impl<W, A, X> fmt::Debug for TypeKernels<W, A, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeKernels")
            .field("dot", &(self.dot as *const ()))
            .field("gemm", &self.gemm.map(|g| g as *const ()))
            .field("rows8", &self.rows8.map(|g| g as *const ()))
            .finish()
    }
}

/// One tier's kernels. Every field is a safe `fn`: the table that holds it proves its CPU
/// features. Signatures and semantics are those of the same-named functions in
/// [`crate::reference`] (the RoPE kernels: of [`crate::rope`]'s `apply_rope_*`); the weight
/// types' entries ([`TypeKernels`]) are those of `vec_dot_<type>_<vec_dot_type>`,
/// `gemm_<type>_<vec_dot_type>` and [`crate::rows8`]'s `gemm_<type>x8_<vec_dot_type>`.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    pub quantize_row_q8_0: fn(x: &[f32], y: &mut [BlockQ8_0]),
    pub quantize_row_q8_1: fn(x: &[f32], y: &mut [BlockQ8_1]),
    pub quantize_row_q8_k: fn(x: &[f32], y: &mut [BlockQ8K]),

    pub q4_0: TypeKernels<BlockQ4_0, BlockQ8_0, BlockQ4_0x8>,
    pub q4_1: TypeKernels<BlockQ4_1, BlockQ8_1, BlockQ4_1x8>,
    pub q5_0: TypeKernels<BlockQ5_0, BlockQ8_0, BlockQ5_0x8>,
    pub q8_0: TypeKernels<BlockQ8_0, BlockQ8_0, BlockQ8_0x8>,
    pub q4_k: TypeKernels<BlockQ4K, BlockQ8K, BlockQ4Kx8>,
    pub q5_k: TypeKernels<BlockQ5K, BlockQ8K>,
    pub q6_k: TypeKernels<BlockQ6K, BlockQ8K, BlockQ6Kx8>,
    pub f32: TypeKernels<f32, f32>,
    pub f16: TypeKernels<f16, f32>,
    pub bf16: TypeKernels<bf16, f32>,

    pub dequantize_row_q4_0: fn(x: &[BlockQ4_0], y: &mut [f32]),
    pub dequantize_row_q4_1: fn(x: &[BlockQ4_1], y: &mut [f32]),
    pub dequantize_row_q5_0: fn(x: &[BlockQ5_0], y: &mut [f32]),
    pub dequantize_row_q8_0: fn(x: &[BlockQ8_0], y: &mut [f32]),
    pub dequantize_row_q4_k: fn(x: &[BlockQ4K], y: &mut [f32]),
    pub dequantize_row_q5_k: fn(x: &[BlockQ5K], y: &mut [f32]),
    pub dequantize_row_q6_k: fn(x: &[BlockQ6K], y: &mut [f32]),
    pub dequantize_row_f16: fn(x: &[f16], y: &mut [f32]),
    pub dequantize_row_bf16: fn(x: &[bf16], y: &mut [f32]),

    pub rmsnorm: fn(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32),
    pub softmax: fn(x: &mut [f32]),
    pub silu_mul: fn(gate: &mut [f32], up: &[f32]),
    pub gelu_mul: fn(gate: &mut [f32], up: &[f32]),
    pub axpy: fn(y: &mut [f32], a: f32, x: &[f32]),
    /// [`crate::reference::attn_scores`]: attention's `q · kᵀ` over key blocks
    /// ([`crate::attention`]), bit-exact on every tier.
    pub attn_scores: fn(q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &mut [f32]),
    /// [`crate::reference::weighted_sum`]: attention's `out = Σ_j a[j] · v[j]`.
    pub weighted_sum: fn(out: &mut [f32], a: &[f32], v: &[f32]),
    /// `weighted_sum` of several rows of weights over the same value rows at once (one pass
    /// over the values; [`KernelTable::weighted_sums`]); `None`: the table loops
    /// `weighted_sum`.
    pub weighted_sums: Option<WeightedSumsFn>,
    pub scale: fn(x: &mut [f32], s: f32),
    pub add: fn(y: &mut [f32], x: &[f32]),

    /// [`crate::rope::apply_rope_norm`]: rotate pairs `(2i, 2i+1)` of `x` by `cos[i]`, `sin[i]`.
    pub rope_norm: fn(x: &mut [f32], cos: &[f32], sin: &[f32]),
    /// [`crate::rope::apply_rope_neox`]: rotate pairs `(i, i + d/2)` of `x` by `cos[i]`,
    /// `sin[i]`.
    pub rope_neox: fn(x: &mut [f32], cos: &[f32], sin: &[f32]),
}

impl Kernels {
    /// The scalar reference kernels.
    pub const SCALAR: Kernels = {
        use reference as r;
        Kernels {
            quantize_row_q8_0: r::quantize_row_q8_0,
            quantize_row_q8_1: r::quantize_row_q8_1,
            quantize_row_q8_k: r::quantize_row_q8_k,
            q4_0: TypeKernels {
                dot: r::vec_dot_q4_0_q8_0,
                gemm: Some(r::gemm_q4_0_q8_0),
                rows8: None,
            },
            q4_1: TypeKernels {
                dot: r::vec_dot_q4_1_q8_1,
                gemm: Some(r::gemm_q4_1_q8_1),
                rows8: None,
            },
            q5_0: TypeKernels {
                dot: r::vec_dot_q5_0_q8_0,
                gemm: Some(r::gemm_q5_0_q8_0),
                rows8: None,
            },
            q8_0: TypeKernels {
                dot: r::vec_dot_q8_0_q8_0,
                gemm: Some(r::gemm_q8_0_q8_0),
                rows8: None,
            },
            q4_k: TypeKernels {
                dot: r::vec_dot_q4_k_q8_k,
                gemm: Some(r::gemm_q4_k_q8_k),
                rows8: None,
            },
            q5_k: TypeKernels {
                dot: r::vec_dot_q5_k_q8_k,
                gemm: Some(r::gemm_q5_k_q8_k),
                rows8: None,
            },
            q6_k: TypeKernels {
                dot: r::vec_dot_q6_k_q8_k,
                gemm: Some(r::gemm_q6_k_q8_k),
                rows8: None,
            },
            f32: TypeKernels {
                dot: r::vec_dot_f32,
                gemm: None,
                rows8: None,
            },
            f16: TypeKernels {
                dot: r::vec_dot_f16_f32,
                gemm: None,
                rows8: None,
            },
            bf16: TypeKernels {
                dot: r::vec_dot_bf16_f32,
                gemm: None,
                rows8: None,
            },
            dequantize_row_q4_0: r::dequantize_row_q4_0,
            dequantize_row_q4_1: r::dequantize_row_q4_1,
            dequantize_row_q5_0: r::dequantize_row_q5_0,
            dequantize_row_q8_0: r::dequantize_row_q8_0,
            dequantize_row_q4_k: r::dequantize_row_q4_k,
            dequantize_row_q5_k: r::dequantize_row_q5_k,
            dequantize_row_q6_k: r::dequantize_row_q6_k,
            dequantize_row_f16: r::dequantize_row_f16,
            dequantize_row_bf16: r::dequantize_row_bf16,
            rmsnorm: r::rmsnorm,
            softmax: r::softmax,
            silu_mul: r::silu_mul,
            gelu_mul: r::gelu_mul,
            axpy: r::axpy,
            attn_scores: r::attn_scores,
            weighted_sum: r::weighted_sum,
            weighted_sums: None,
            scale: r::scale,
            add: r::add,
            rope_norm: crate::rope::apply_rope_norm,
            rope_neox: crate::rope::apply_rope_neox,
        }
    };

    /// The scalar kernels with the vectorisable GEMM fallback: tiers that provide a
    /// `vec_dot` but no GEMM tile get "loop the tier's `vec_dot`" rather than the scalar tile.
    pub(crate) const TIER_BASE: Kernels = {
        let mut k = Kernels::SCALAR;
        k.q4_0.gemm = None;
        k.q4_1.gemm = None;
        k.q5_0.gemm = None;
        k.q8_0.gemm = None;
        k.q4_k.gemm = None;
        k.q5_k.gemm = None;
        k.q6_k.gemm = None;
        k
    };
}

/// Store a tier module's `#[target_feature] unsafe fn`s into a [`Kernels`] as safe wrappers.
///
/// `override_kernels!(k, path::to::tier { rmsnorm(o, x, w, e), softmax(x) })` for plain
/// kernels, and `gemm { weighted_sums(o, a, v, d) }` for optional ones (stored as `Some`);
/// the weight types' entries go through [`type_kernels!`]. Only for use inside a tier's `table()`, whose
/// caller has checked the tier's CPU features (its `# Safety` contract).
macro_rules! override_kernels {
    ($k:ident, $($m:ident)::+ {
        $($name:ident($($arg:ident),*)),* $(,)?
    } $(gemm { $($gname:ident($($garg:ident),*)),* $(,)? })?) => {{
        use $($m)::+ as tier;
        $(
            $k.$name = |$($arg),*| {
                // SAFETY: a tier's `table()` is only called after `CpuFeatures::supports`
                // accepted the tier for the running CPU (or the caller of `from_features`
                // promised it), which is the `# Safety` contract of every kernel of the tier.
                unsafe { tier::$name($($arg),*) }
            };
        )*
        $($(
            $k.$gname = Some(|$($garg),*| {
                // SAFETY: as above: the tier's CPU features were checked before this table
                // was built.
                unsafe { tier::$gname($($garg),*) }
            });
        )*)?
    }};
}
pub(crate) use override_kernels;

/// Store a tier module's weight-type kernels into a [`Kernels`]' [`TypeKernels`] entries as
/// safe wrappers: `type_kernels!(k, path::to::tier { q4_0: dot = vec_dot_q4_0_q8_0,
/// gemm = gemm_q4_0_q8_0; q8_0: rows8 = gemm_q8_0x8_q8_0; })`. Only for use inside a tier's
/// `table()`, as [`override_kernels!`].
macro_rules! type_kernels {
    ($k:ident, $($m:ident)::+ { $($ty:ident: $($slot:ident = $f:ident),+;)* }) => {{
        use $($m)::+ as tier;
        $($($crate::dispatch::type_kernels!(@slot $k.$ty.$slot = tier::$f);)+)*
    }};
    (@slot $k:ident.$ty:ident.dot = $($f:ident)::+) => {
        $k.$ty.dot = |x, y| {
            // SAFETY: a tier's `table()` is only called after `CpuFeatures::supports`
            // accepted the tier for the running CPU (or the caller of `from_features`
            // promised it), which is the `# Safety` contract of every kernel of the tier.
            unsafe { $($f)::+(x, y) }
        };
    };
    (@slot $k:ident.$ty:ident.$slot:ident = $($f:ident)::+) => {
        $k.$ty.$slot = Some(|w, x, nb, out| {
            // SAFETY: as above: the tier's CPU features were checked before this table
            // was built.
            unsafe { $($f)::+(w, x, nb, out) }
        });
    };
}
pub(crate) use type_kernels;

/// Register one SIMD tier module: `simd_tier!(k, x86_64::avx2)`. Every tier of an
/// architecture provides the same kernels (the tiers share what they do not change by
/// re-exporting, e.g. the VNNI tiers' float kernels are AVX2's), so each architecture's list is
/// written once, here: the activation quantizers, every `vec_dot`, the GEMM tiles of the
/// quantized formats, the f32 ops and RoPE; plus the float GEMM tiles on x86-64 and the
/// multi-row `weighted_sums` on aarch64.
macro_rules! simd_tier {
    ($k:ident, x86_64::$tier:ident) => {
        $crate::dispatch::simd_tier!(@list $k, crate::arch::x86_64::$tier);
        $crate::dispatch::type_kernels!($k, crate::arch::x86_64::$tier {
            f32: gemm = gemm_f32; f16: gemm = gemm_f16_f32; bf16: gemm = gemm_bf16_f32;
        })
    };
    ($k:ident, aarch64::$tier:ident) => {
        $crate::dispatch::simd_tier!(@list $k, crate::arch::aarch64::$tier);
        $crate::dispatch::override_kernels!($k, crate::arch::aarch64::$tier {} gemm {
            weighted_sums(o, a, v, d),
        })
    };
    (@list $k:ident, $($m:ident)::+) => {
        $crate::dispatch::override_kernels!($k, $($m)::+ {
            quantize_row_q8_0(x, y), quantize_row_q8_1(x, y), quantize_row_q8_k(x, y),
            rmsnorm(o, x, w, e), softmax(x), silu_mul(g, u), gelu_mul(g, u), axpy(y, a, x),
            attn_scores(q, k, hd, nk, s), weighted_sum(o, a, v), scale(x, s), add(y, x),
            rope_norm(x, c, s), rope_neox(x, c, s),
        });
        $crate::dispatch::type_kernels!($k, $($m)::+ {
            q4_0: dot = vec_dot_q4_0_q8_0, gemm = gemm_q4_0_q8_0;
            q4_1: dot = vec_dot_q4_1_q8_1, gemm = gemm_q4_1_q8_1;
            q5_0: dot = vec_dot_q5_0_q8_0, gemm = gemm_q5_0_q8_0;
            q8_0: dot = vec_dot_q8_0_q8_0, gemm = gemm_q8_0_q8_0;
            q4_k: dot = vec_dot_q4_k_q8_k, gemm = gemm_q4_k_q8_k;
            q5_k: dot = vec_dot_q5_k_q8_k, gemm = gemm_q5_k_q8_k;
            q6_k: dot = vec_dot_q6_k_q8_k, gemm = gemm_q6_k_q8_k;
            f32: dot = vec_dot_f32; f16: dot = vec_dot_f16_f32; bf16: dot = vec_dot_bf16_f32;
        })
    };
}
pub(crate) use simd_tier;

/// Register a `vpdpbusd` tier's rows8 GEMMs (Q4_0, Q4_1, Q5_0 and Q8_0) from a module path
/// (AVX-512 VNNI: its 512-bit `rows16` kernels).
#[cfg(target_arch = "x86_64")]
macro_rules! rows8_vnni {
    ($k:ident, x86_64::$($tier:ident)::+) => {
        $crate::dispatch::type_kernels!($k, crate::arch::x86_64::$($tier)::+ {
            q4_0: rows8 = gemm_q4_0x8_q8_0; q4_1: rows8 = gemm_q4_1x8_q8_1;
            q5_0: rows8 = gemm_q5_0x8_q8_0; q8_0: rows8 = gemm_q8_0x8_q8_0;
        })
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use rows8_vnni;

/// Register an aarch64 tier's rows8 GEMMs (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K and Q6_K; by-element `sdot` or
/// broadcast `smlal`, see `arch::aarch64::rows8`; Q4_0 and Q5_0 prompts on the dotprod and
/// i8mm tiers in `arch::aarch64::rows8_tall`; Q4_1 and Q8_0 prompts on the i8mm tier with
/// `smmla`, `arch::aarch64::rows8_mmla`).
#[cfg(target_arch = "aarch64")]
macro_rules! rows8_lanes {
    ($k:ident, aarch64::$tier:ident) => {
        $crate::dispatch::type_kernels!($k, crate::arch::aarch64::$tier {
            q4_0: rows8 = gemm_q4_0x8_q8_0; q4_1: rows8 = gemm_q4_1x8_q8_1;
            q5_0: rows8 = gemm_q5_0x8_q8_0; q8_0: rows8 = gemm_q8_0x8_q8_0;
            q4_k: rows8 = gemm_q4_kx8_q8_k; q6_k: rows8 = gemm_q6_kx8_q8_k;
        })
    };
}
#[cfg(target_arch = "aarch64")]
pub(crate) use rows8_lanes;

/// Register the AVX2 K-quant rows8 GEMMs (Q4_K, Q6_K; `vpmaddubsw`, 8 rows per register),
/// which the AVX2 and AVX-VNNI tiers share.
#[cfg(target_arch = "x86_64")]
macro_rules! rows8_k_avx2 {
    ($k:ident) => {
        $crate::dispatch::type_kernels!($k, crate::arch::x86_64::avx2::rows8_k {
            q4_k: rows8 = gemm_q4_kx8_q8_k; q6_k: rows8 = gemm_q6_kx8_q8_k;
        })
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use rows8_k_avx2;

/// The kernels of `tier`, or `None` if this binary has no such tier (other architecture).
/// Each tier's module builds its own complete table (`table()`): adding a tier is its module,
/// a [`Tier`] variant with its CPU requirement in [`CpuFeatures::supports`], and one arm here.
///
/// # Safety
/// The CPU must support `tier` ([`CpuFeatures::supports`]): the returned safe `fn`s execute
/// its instructions without further checks.
unsafe fn kernels_for(tier: Tier) -> Option<Kernels> {
    #[cfg(target_arch = "aarch64")]
    use crate::arch::aarch64;
    #[cfg(target_arch = "x86_64")]
    use crate::arch::x86_64;
    let k = match tier {
        Tier::Scalar => Kernels::SCALAR,
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller vouches for the tier's CPU features (`table()`'s contract).
        Tier::Avx2 => unsafe { x86_64::avx2::table() },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Tier::AvxVnni => unsafe { x86_64::avxvnni::table() },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Tier::Avx512Vnni => unsafe { x86_64::avx512vnni::table() },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Tier::Neon => unsafe { aarch64::neon::table() },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Tier::Dotprod => unsafe { aarch64::dotprod::table() },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Tier::I8mm => unsafe { aarch64::i8mm::table() },
        // Tiers of other architectures are not in this binary.
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(k)
}

/// The kernels the forward pass calls, for one CPU tier. Cheap to copy; build once.
#[derive(Clone, Copy, Debug)]
pub struct KernelTable {
    tier: Tier,
    k: Kernels,
}

impl KernelTable {
    /// The scalar reference kernels (every CPU).
    pub const fn scalar() -> KernelTable {
        KernelTable {
            tier: Tier::Scalar,
            k: Kernels::SCALAR,
        }
    }

    /// The best tier this binary contains and this CPU runs.
    #[cfg(feature = "std")]
    pub fn detect() -> KernelTable {
        // SAFETY: the features come from the CPU's own detection.
        unsafe { KernelTable::from_features(CpuFeatures::detect()) }
    }

    /// The kernels of `tier` (e.g. a forced lower tier for `--kernels`), or why not.
    #[cfg(feature = "std")]
    pub fn with_tier(tier: Tier) -> Result<KernelTable, TierUnavailable> {
        // SAFETY: the features come from the CPU's own detection.
        unsafe { KernelTable::with_tier_features(tier, CpuFeatures::detect()) }
    }

    /// The best tier this binary contains that a CPU with features `f` runs.
    ///
    /// # Safety
    /// The CPU that will call the table's kernels must really have every feature `f` claims
    /// (e.g. read from `ID_AA64ISAR0_EL1` on bare metal); otherwise a kernel may execute an
    /// instruction the CPU lacks (SIGILL, or undefined behaviour).
    pub unsafe fn from_features(f: CpuFeatures) -> KernelTable {
        let mut best = KernelTable::scalar();
        for tier in Tier::ALL {
            // SAFETY: the caller vouches for `f`.
            if let Ok(t) = unsafe { KernelTable::with_tier_features(tier, f) } {
                best = t;
            }
        }
        best
    }

    /// The kernels of `tier` for a CPU with features `f`.
    ///
    /// # Safety
    /// As [`KernelTable::from_features`]: `f` must be true of the CPU that runs the kernels.
    pub unsafe fn with_tier_features(
        tier: Tier,
        f: CpuFeatures,
    ) -> Result<KernelTable, TierUnavailable> {
        if !Self::compiled_tiers().any(|t| t == tier) {
            return Err(TierUnavailable {
                tier,
                compiled: false,
            });
        }
        if !f.supports(tier) {
            return Err(TierUnavailable {
                tier,
                compiled: true,
            });
        }
        // SAFETY: `f.supports(tier)` and the caller vouches for `f`.
        match unsafe { kernels_for(tier) } {
            Some(k) => Ok(KernelTable { tier, k }),
            None => Err(TierUnavailable {
                tier,
                compiled: false,
            }),
        }
    }

    /// The tiers this binary contains (whatever the CPU), scalar first.
    pub fn compiled_tiers() -> impl Iterator<Item = Tier> {
        // SAFETY: `kernels_for` only builds fn pointers here; none is called.
        Tier::ALL
            .into_iter()
            .filter(|&t| unsafe { kernels_for(t) }.is_some())
    }

    /// The tiers this binary contains and this CPU runs, scalar first (for tests, benches
    /// and `--kernels`).
    #[cfg(feature = "std")]
    pub fn available_tiers() -> impl Iterator<Item = Tier> {
        let f = CpuFeatures::detect();
        Self::compiled_tiers().filter(move |&t| f.supports(t))
    }

    /// Whether the loader should rewrite a `ty` matrix of `rows` rows into the interleaved
    /// rows8 layout for this table: the type has the layout, `rows` is a multiple of 8, and
    /// the tier has a SIMD kernel for it (the scalar fallback is slower than the ggml layout).
    pub fn interleaves(&self, ty: crate::GgmlType, rows: usize) -> bool {
        use crate::GgmlType::*;
        let k = &self.k;
        let simd = match ty {
            Q4_0 => k.q4_0.rows8.is_some(),
            Q4_1 => k.q4_1.rows8.is_some(),
            Q5_0 => k.q5_0.rows8.is_some(),
            Q8_0 => k.q8_0.rows8.is_some(),
            Q4_K => k.q4_k.rows8.is_some(),
            Q6_K => k.q6_k.rows8.is_some(),
            _ => false,
        };
        simd && rows > 0 && rows.is_multiple_of(crate::rows8::ROWS8)
    }

    /// This table's tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The individual kernels (for tests, benchmarks and callers with their own drivers).
    pub fn kernels(&self) -> &Kernels {
        &self.k
    }
}
