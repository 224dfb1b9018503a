//! Which weight matrices a loader rewrites into the interleaved rows8 layout
//! ([`edgellm_kernels::rows8`]) for a kernel tier, where they lie in the file, and the
//! rewrite itself.
//!
//! The layout is built at load time, in place: an x8-block is exactly the size of the 8
//! blocks it holds, so a loader that maps the file privately (copy-on-write) rewrites the
//! planned byte ranges and never holds two copies of a matrix. The plan names every matrix
//! the forward pass multiplies ([`Weights::matrices`], which the architecture's tensor table
//! decides: per layer the q/k/v, output, gate/up/down projections — each row range of a fused
//! tensor on its own — and the output head, which is `token_embd` when the model ties them)
//! whose type and row count the tier's rows8 kernels take ([`KernelTable::interleaves`]).
//! Planned matrices are identified by their byte range in the file.
//!
//! Contract: build the [`Transformer`](super::Transformer) with
//! [`Transformer::from_gguf_interleaved`](super::Transformer::from_gguf_interleaved), the
//! same plan after [`InterleavePlan::apply`] and a [`Gguf`] parsed from those same file bytes,
//! and with [`Transformer::from_gguf`] (ggml layout) otherwise. Mixing them gives wrong
//! logits (never undefined behaviour).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use edgellm_kernels::{GgmlType, KernelTable, rows8};

use crate::gguf::Gguf;

use super::{Config, ModelError, Weights};

/// One matrix to interleave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMatrix {
    /// GGUF tensor name.
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    /// Byte range of the tensor's data in the file.
    pub start: usize,
    pub len: usize,
}

/// The matrices to interleave for one model and kernel tier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterleavePlan {
    pub matrices: Vec<PlannedMatrix>,
}

impl InterleavePlan {
    /// The plan for the model in `g` (parsed from `file`, the whole file's bytes) on
    /// `kernels`. Checks the model's config and tensors as loading would; empty when the
    /// tier has no rows8 kernels for the model's types. A matrix whose bytes another tensor
    /// shares (only a crafted file does that) stays in the ggml layout.
    pub fn new(g: &Gguf<'_>, file: &[u8], kernels: &KernelTable) -> Result<Self, ModelError> {
        let c = Config::from_gguf(g)?;
        // Validates every shape and type before anything is planned.
        let weights = Weights::from_gguf(g, &c)?;
        let file_start = file.as_ptr() as usize;
        // Every tensor's byte range: a matrix is only rewritten if no other tensor shares
        // its bytes (a well-formed file never aliases; a crafted one must not have another
        // tensor changed under it).
        let ranges: Vec<(usize, usize)> = g
            .tensors()
            .iter()
            .map(|t| {
                let d = g.tensor_data(t);
                let start = (d.as_ptr() as usize).wrapping_sub(file_start);
                (start, start.saturating_add(d.len()))
            })
            .collect();
        let mut matrices: Vec<PlannedMatrix> = Vec::new();
        for m in weights.matrices() {
            let data = m.data();
            let start = (data.as_ptr() as usize).wrapping_sub(file_start);
            // The tensor this matrix is (or is a row range of, for a fused tensor).
            let Some((i, &owner)) = ranges
                .iter()
                .enumerate()
                .find(|(_, r)| r.0 <= start && start + data.len() <= r.1)
            else {
                continue;
            };
            let name = g.tensors()[i].name.to_string();
            if owner.1 > file.len() {
                return Err(ModelError::TensorData {
                    name,
                    problem: "tensor data is not inside the given file bytes".into(),
                });
            }
            if !kernels.interleaves(m.ty(), m.rows())
                || shares_bytes(&ranges, owner)
                || matrices.iter().any(|p| p.start == start)
            {
                continue;
            }
            matrices.push(PlannedMatrix {
                name,
                ty: m.ty(),
                rows: m.rows(),
                cols: m.cols(),
                start,
                len: data.len(),
            });
        }
        Ok(InterleavePlan { matrices })
    }

    /// Whether the matrix whose data is bytes `start..start + len` of the file is planned.
    pub fn contains(&self, start: usize, len: usize) -> bool {
        self.matrices
            .iter()
            .any(|m| m.start == start && m.len == len)
    }

    /// Bytes the plan rewrites.
    pub fn bytes(&self) -> usize {
        self.matrices.iter().map(|m| m.len).sum()
    }

    /// Rewrite every planned matrix of `file` (the bytes the plan was made from, now
    /// writable) into the rows8 layout.
    pub fn apply(&self, file: &mut [u8]) -> Result<(), ModelError> {
        let mut scratch = vec![0u8; 0];
        for m in &self.matrices {
            let group = rows8::ROWS8 * (m.len / m.rows.max(1));
            if scratch.len() < group {
                scratch.resize(group, 0);
            }
            let bytes =
                file.get_mut(m.start..m.start + m.len)
                    .ok_or_else(|| ModelError::TensorData {
                        name: m.name.clone(),
                        problem: format!("bytes {}..+{} are outside the file", m.start, m.len),
                    })?;
            rows8::interleave_matrix(m.ty, m.cols, bytes, &mut scratch).map_err(|e| {
                ModelError::TensorData {
                    name: m.name.clone(),
                    problem: format!("{e}"),
                }
            })?;
        }
        Ok(())
    }
}

/// Whether byte range `r` overlaps any range of `all` other than itself (`all` holds `r`
/// once: a tensor's own range).
fn shares_bytes(all: &[(usize, usize)], r: (usize, usize)) -> bool {
    let overlaps = |&(a, b): &(usize, usize)| a < r.1 && r.0 < b;
    all.iter().filter(|&&x| x != r).any(overlaps) || all.iter().filter(|&&x| x == r).count() > 1
}

#[cfg(test)]
mod tests {
    use super::shares_bytes;

    #[test]
    fn aliased_or_overlapping_tensors_are_not_interleaved() {
        let all = [(0, 100), (100, 200), (150, 160), (300, 400), (300, 400)];
        assert!(!shares_bytes(&all, (0, 100)), "adjacent is not overlapping");
        assert!(shares_bytes(&all, (100, 200)), "contains (150, 160)");
        assert!(shares_bytes(&all, (150, 160)), "inside (100, 200)");
        assert!(
            shares_bytes(&all, (300, 400)),
            "two tensors on the same bytes"
        );
    }
}
