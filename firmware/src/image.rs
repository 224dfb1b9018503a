//! Finding and checking the GGUF model image in RAM before anything parses it.
//!
//! Two ways to learn where the image is and how long it is (GGUF headers carry no total
//! length, and a blob QEMU could not place in RAM is dropped silently, so both are needed):
//!
//! 1. **Device tree** (a real Pi: config.txt `initramfs model.gguf 0x10000000`; QEMU
//!    `virt` booting the arm64 Image with `-initrd`): `/chosen/linux,initrd-start` and
//!    `linux,initrd-end` in the DTB whose address the boot loader passed in `x0`.
//! 2. **Image descriptor** (QEMU booting the ELF or kernel8.img with `-device loader`): 16
//!    bytes just below the board's `MODEL_ADDR`: the magic `b"EDGEGGUF"` then the image
//!    length, both little-endian u64. `scripts/firmware-qemu.sh` writes them with two
//!    `-device loader,addr=...,data=...,data-len=8` options.
//!
//! The image must then lie inside the board's RAM and start with the GGUF magic and a
//! supported version; `Gguf::parse` checks every tensor against the image length.

use core::fmt;
use core::ops::Range;

use crate::dtb::Fdt;

/// `b"EDGEGGUF"` read as a little-endian u64.
pub const DESCRIPTOR_MAGIC: u64 = u64::from_le_bytes(*b"EDGEGGUF");
/// Bytes of the descriptor (magic, length), placed at `MODEL_ADDR - DESCRIPTOR_SIZE`.
pub const DESCRIPTOR_SIZE: usize = 16;

/// Where the image location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    DeviceTree,
    Descriptor,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::DeviceTree => "device tree /chosen/linux,initrd-*",
            Source::Descriptor => "image descriptor",
        })
    }
}

/// Why no usable model image was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// No initrd in the device tree and no descriptor below `addr`.
    Missing { addr: usize },
    /// The image would extend past the end of RAM (or starts outside it).
    OutsideRam {
        start: usize,
        len: usize,
        ram: Range<usize>,
    },
    /// The image overlaps the firmware itself.
    OverlapsFirmware { start: usize, len: usize },
    /// Fewer bytes than a GGUF header.
    TooShort { len: usize },
    /// The first four bytes are not `GGUF`.
    BadMagic { found: [u8; 4] },
    /// A GGUF version other than 2 or 3.
    BadVersion { version: u32 },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Missing { addr } => write!(
                f,
                "no model image: the device tree has no /chosen/linux,initrd-start and there is \
                 no descriptor (magic EDGEGGUF + length) at {:#x}; load the GGUF with \
                 scripts/firmware-qemu.sh or config.txt `initramfs`",
                addr - DESCRIPTOR_SIZE
            ),
            ImageError::OutsideRam { start, len, ram } => write!(
                f,
                "model image of {len} bytes at {start:#x} does not fit in RAM {:#x}..{:#x} \
                 (QEMU drops such a blob silently: give the machine more memory)",
                ram.start, ram.end
            ),
            ImageError::OverlapsFirmware { start, len } => write!(
                f,
                "model image of {len} bytes at {start:#x} overlaps the firmware image"
            ),
            ImageError::TooShort { len } => {
                write!(
                    f,
                    "model image of {len} bytes is too short for a GGUF header (24 bytes)"
                )
            }
            ImageError::BadMagic { found } => write!(
                f,
                "model image does not start with the GGUF magic: found {:02x} {:02x} {:02x} {:02x} \
                 (not a GGUF file, or the load address is wrong)",
                found[0], found[1], found[2], found[3]
            ),
            ImageError::BadVersion { version } => {
                write!(
                    f,
                    "model image is GGUF version {version}; only versions 2 and 3 are read"
                )
            }
        }
    }
}

/// A located, header-checked model image. Writable: the loader rewrites the matrices the
/// kernel tier multiplies faster interleaved in place (`llm::run`).
#[derive(Debug)]
pub struct ModelImage {
    pub bytes: &'static mut [u8],
    pub source: Source,
}

impl ModelImage {
    pub fn range(&self) -> Range<usize> {
        let start = self.bytes.as_ptr() as usize;
        start..start + self.bytes.len()
    }
}

/// Find the image (device tree first, then the descriptor below `model_addr`) and check it
/// lies in `ram`, clear of `firmware`, and starts like a GGUF file.
pub fn locate(
    dtb: Option<&Fdt<'_>>,
    model_addr: usize,
    ram: &Range<usize>,
    firmware: &Range<usize>,
) -> Result<ModelImage, ImageError> {
    let (start, len, source) = if let Some((s, e)) = dtb.and_then(Fdt::initrd) {
        (s as usize, (e - s) as usize, Source::DeviceTree)
    } else {
        let desc = model_addr - DESCRIPTOR_SIZE;
        if !ram.contains(&desc) {
            return Err(ImageError::Missing { addr: model_addr });
        }
        // SAFETY: `desc` is 8-aligned (MODEL_ADDR is) and inside RAM, which the MMU maps as
        // Normal memory; reading it has no side effects.
        let (magic, len) = unsafe {
            let p = desc as *const u64;
            (p.read_volatile(), p.add(1).read_volatile())
        };
        if magic != DESCRIPTOR_MAGIC {
            return Err(ImageError::Missing { addr: model_addr });
        }
        (model_addr, len as usize, Source::Descriptor)
    };
    let end = start.checked_add(len);
    if !ram.contains(&start) || end.is_none_or(|e| e > ram.end) {
        return Err(ImageError::OutsideRam {
            start,
            len,
            ram: ram.clone(),
        });
    }
    if start < firmware.end && firmware.start < start + len {
        return Err(ImageError::OverlapsFirmware { start, len });
    }
    // SAFETY: start..start+len was just checked to lie in RAM (mapped Normal memory, read
    // and write), clear of the firmware image; this is the only reference to it for the rest
    // of the program (the heap is placed outside it, `locate` runs once).
    let bytes: &'static mut [u8] =
        unsafe { core::slice::from_raw_parts_mut(start as *mut u8, len) };
    check_header(bytes)?;
    Ok(ModelImage { bytes, source })
}

/// The GGUF magic and version, before the full parse.
pub fn check_header(bytes: &[u8]) -> Result<(), ImageError> {
    if bytes.len() < 24 {
        return Err(ImageError::TooShort { len: bytes.len() });
    }
    let found = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if &found != b"GGUF" {
        return Err(ImageError::BadMagic { found });
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if !(2..=3).contains(&version) {
        return Err(ImageError::BadVersion { version });
    }
    Ok(())
}
