//! [`GgufWriter`]: plan and emit GGUF v3 files that llama.cpp and the Python `gguf` package
//! read.
//!
//! Writing streams: [`GgufWriter::plan`] turns metadata and tensor shapes into a
//! [`GgufLayout`] (the header bytes up to the data section, and each tensor's offset, size
//! and trailing padding). The caller writes `layout.header()`, then for each tensor in order
//! its `n_bytes` of data followed by `padding` zero bytes. The file never needs to be in
//! memory at once. [`GgufWriter::to_vec`] does the same into a `Vec<u8>`.
//!
//! Layout choices follow llama.cpp's `gguf_write`: tensors are packed in the order they were
//! added, each padded to the alignment (the last one too), which is the only layout
//! llama.cpp's reader accepts (it checks each offset equals the padded running size).
//! Nested arrays are written if asked for; the Python `gguf` package and this crate read them
//! but llama.cpp rejects them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use edgellm_kernels::GgmlType;

use super::error::{Context, GgufError, clip};
use super::limits::{MAX_DIMS, MAX_KEY_LEN, MAX_KV_COUNT, MAX_TENSOR_COUNT, MAX_TENSOR_NAME_LEN};
use super::metadata::{MetadataValue, encode_str};
use super::reader::{ALIGNMENT_KEY, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC};

/// The version the writer emits.
pub const GGUF_WRITE_VERSION: u32 = 3;

/// A tensor to be written: name, shape in ggml order (`dims[0]` = row length) and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    n_bytes: usize,
}

impl TensorSpec {
    /// Bytes of data this tensor takes (ggml `ggml_nbytes`).
    pub fn n_bytes(&self) -> usize {
        self.n_bytes
    }
}

/// Where one tensor goes in the planned file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTensor {
    pub name: String,
    /// Offset relative to the data section (a multiple of the alignment).
    pub offset: u64,
    /// Data bytes the caller must write.
    pub n_bytes: usize,
    /// Zero bytes the caller must write after the data.
    pub padding: usize,
}

/// The planned file: header bytes (up to the data section) and each tensor's place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufLayout {
    header: Vec<u8>,
    alignment: usize,
    tensors: Vec<PlannedTensor>,
    file_len: u64,
}

impl GgufLayout {
    /// Everything before the data section, padding included: `header().len() ==
    /// data_offset()`.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    pub fn data_offset(&self) -> usize {
        self.header.len()
    }

    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Tensors in the order their data must be written.
    pub fn tensors(&self) -> &[PlannedTensor] {
        &self.tensors
    }

    /// Total size of the finished file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }
}

/// Collects metadata and tensor descriptions, checks each as it is added, and plans the file.
#[derive(Clone, Debug)]
pub struct GgufWriter {
    alignment: usize,
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<TensorSpec>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

fn invalid(context: Context, problem: String) -> GgufError {
    GgufError::InvalidInput { context, problem }
}

fn pad_to(n: u64, alignment: u64) -> u64 {
    (alignment - n % alignment) % alignment
}

impl GgufWriter {
    /// An empty file with the default alignment (32) and no `general.alignment` key.
    pub fn new() -> Self {
        GgufWriter {
            alignment: GGUF_DEFAULT_ALIGNMENT,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    pub fn alignment(&self) -> usize {
        self.alignment
    }

    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    pub fn tensors(&self) -> &[TensorSpec] {
        &self.tensors
    }

    /// Set the data alignment (a power of two, multiple of 8 as the spec asks) and record it
    /// as the `general.alignment` u32 key, replacing an earlier value.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<&mut Self, GgufError> {
        if !alignment.is_power_of_two() || !alignment.is_multiple_of(8) {
            return Err(invalid(
                Context::Key(ALIGNMENT_KEY.into()),
                format!("alignment {alignment} is not a power of two multiple of 8"),
            ));
        }
        self.alignment = alignment as usize;
        let value = MetadataValue::U32(alignment);
        match self.metadata.iter_mut().find(|(k, _)| k == ALIGNMENT_KEY) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((ALIGNMENT_KEY.into(), value)),
        }
        Ok(self)
    }

    /// Add a metadata key. Keys must be unique and at most 65 535 bytes; values are checked
    /// against the reader's caps. `general.alignment` must be a `U32` and sets the alignment.
    pub fn add_metadata(
        &mut self,
        key: impl Into<String>,
        value: impl Into<MetadataValue>,
    ) -> Result<&mut Self, GgufError> {
        let key = key.into();
        let value = value.into();
        let ctx = || Context::Key(clip(&key));
        if key.len() as u64 > MAX_KEY_LEN {
            return Err(invalid(
                ctx(),
                format!("key length {} exceeds {MAX_KEY_LEN}", key.len()),
            ));
        }
        if self.metadata.len() as u64 >= MAX_KV_COUNT {
            return Err(invalid(
                ctx(),
                format!("more than {MAX_KV_COUNT} metadata keys"),
            ));
        }
        if self.metadata.iter().any(|(k, _)| *k == key) {
            return Err(invalid(ctx(), "key added twice".into()));
        }
        if let Some(problem) = value.problem(0) {
            return Err(invalid(ctx(), problem));
        }
        if key == ALIGNMENT_KEY {
            let MetadataValue::U32(a) = value else {
                return Err(invalid(
                    ctx(),
                    format!("must be a u32, got {}", value.value_type()),
                ));
            };
            return self.set_alignment(a);
        }
        self.metadata.push((key, value));
        Ok(self)
    }

    /// Add a tensor description. Its data is written later, in the order tensors were added.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
    ) -> Result<&mut Self, GgufError> {
        let name = name.into();
        let ctx = || Context::Tensor(clip(&name));
        if name.len() as u64 > MAX_TENSOR_NAME_LEN {
            return Err(invalid(
                ctx(),
                format!(
                    "name length {} exceeds ggml's limit of {MAX_TENSOR_NAME_LEN} bytes",
                    name.len()
                ),
            ));
        }
        if self.tensors.len() as u64 >= MAX_TENSOR_COUNT {
            return Err(invalid(
                ctx(),
                format!("more than {MAX_TENSOR_COUNT} tensors"),
            ));
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(invalid(ctx(), "tensor added twice".into()));
        }
        if dims.len() > MAX_DIMS {
            return Err(invalid(
                ctx(),
                format!("{} dimensions, ggml allows {MAX_DIMS}", dims.len()),
            ));
        }
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| invalid(ctx(), format!("element count of shape {dims:?} overflows")))?;
        let row = dims.first().copied().unwrap_or(1);
        let block = ty.block_size() as u64;
        if row % block != 0 {
            return Err(invalid(
                ctx(),
                format!("row length {row} is not a multiple of the {ty} block size {block}"),
            ));
        }
        let n_bytes = (n_elements / block)
            .checked_mul(ty.type_size() as u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| invalid(ctx(), format!("byte size of shape {dims:?} overflows")))?;
        self.tensors.push(TensorSpec {
            name,
            dims: dims.to_vec(),
            ty,
            n_bytes,
        });
        Ok(self)
    }

    /// Lay the file out: encode the header, metadata and tensor table, and place each tensor.
    pub fn plan(&self) -> Result<GgufLayout, GgufError> {
        let align = self.alignment as u64;
        let overflow = || invalid(Context::Header, "total file size overflows u64".into());

        let mut header = Vec::new();
        header.extend_from_slice(&GGUF_MAGIC);
        header.extend_from_slice(&GGUF_WRITE_VERSION.to_le_bytes());
        header.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        header.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            encode_str(key, &mut header);
            header.extend_from_slice(&value.value_type().id().to_le_bytes());
            value.encode(&mut header);
        }

        let mut tensors = Vec::with_capacity(self.tensors.len());
        let mut offset = 0u64;
        for t in &self.tensors {
            encode_str(&t.name, &mut header);
            header.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                header.extend_from_slice(&d.to_le_bytes());
            }
            header.extend_from_slice(&t.ty.id().to_le_bytes());
            header.extend_from_slice(&offset.to_le_bytes());
            let padding = pad_to(t.n_bytes as u64, align);
            tensors.push(PlannedTensor {
                name: t.name.clone(),
                offset,
                n_bytes: t.n_bytes,
                padding: padding as usize,
            });
            offset = offset
                .checked_add(t.n_bytes as u64)
                .and_then(|o| o.checked_add(padding))
                .ok_or_else(overflow)?;
        }
        let header_pad = pad_to(header.len() as u64, align) as usize;
        header.resize(header.len() + header_pad, 0);
        let file_len = (header.len() as u64)
            .checked_add(offset)
            .ok_or_else(overflow)?;
        Ok(GgufLayout {
            header,
            alignment: self.alignment,
            tensors,
            file_len,
        })
    }

    /// The whole file in memory; `data[i]` is the data of the `i`-th tensor added and must be
    /// exactly its [`TensorSpec::n_bytes`] long.
    pub fn to_vec(&self, data: &[&[u8]]) -> Result<Vec<u8>, GgufError> {
        if data.len() != self.tensors.len() {
            return Err(invalid(
                Context::Header,
                format!(
                    "{} tensors described but {} data slices given",
                    self.tensors.len(),
                    data.len()
                ),
            ));
        }
        let layout = self.plan()?;
        let len = usize::try_from(layout.file_len())
            .map_err(|_| invalid(Context::Header, "file does not fit in memory".into()))?;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(layout.header());
        for (t, d) in layout.tensors().iter().zip(data) {
            if d.len() != t.n_bytes {
                return Err(invalid(
                    Context::Tensor(clip(&t.name)),
                    format!("expected {} data bytes, got {}", t.n_bytes, d.len()),
                ));
            }
            out.extend_from_slice(d);
            out.resize(out.len() + t.padding, 0);
        }
        Ok(out)
    }
}
