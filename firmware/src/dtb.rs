//! Just enough of a flattened device tree (DTB, devicetree spec v0.4 ch. 5) to find the
//! ramdisk the boot loader placed: `/chosen/linux,initrd-start` and `linux,initrd-end`.
//! The Raspberry Pi firmware (config.txt `initramfs FILE ADDR`) and QEMU (`-initrd` when
//! booting an arm64 Image) both write them. Every read is bounds-checked: a bad tree gives
//! `None`, never a fault outside `totalsize` bytes.

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Refuse trees larger than this (the Pi's is ~50 KiB).
const MAX_TOTAL_SIZE: usize = 1 << 20;

/// A flattened device tree in memory.
#[derive(Debug)]
pub struct Fdt<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A property value of one or two big-endian cells (the Pi writes 32-bit, QEMU 64-bit).
fn be_cells(v: &[u8]) -> Option<u64> {
    match v.len() {
        4 => Some(u64::from(be32(v, 0)?)),
        8 => Some((u64::from(be32(v, 0)?) << 32) | u64::from(be32(v, 4)?)),
        _ => None,
    }
}

impl<'a> Fdt<'a> {
    /// Check the header of the tree at `addr` and borrow it.
    ///
    /// # Safety
    /// `addr` must be 0 or point into mapped RAM that stays unchanged while the result lives;
    /// at least 40 bytes (the header) must be readable there.
    pub unsafe fn from_addr(addr: usize) -> Option<Fdt<'a>> {
        if addr == 0 || !addr.is_multiple_of(8) {
            return None;
        }
        // SAFETY: the caller guarantees 40 readable bytes at addr.
        let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 40) };
        if be32(header, 0)? != FDT_MAGIC {
            return None;
        }
        let total = be32(header, 4)? as usize;
        if !(40..=MAX_TOTAL_SIZE).contains(&total) {
            return None;
        }
        // SAFETY: the header (just checked) says the tree is `total` bytes; the caller
        // guarantees the tree is in mapped RAM.
        let all = unsafe { core::slice::from_raw_parts(addr as *const u8, total) };
        Fdt::from_bytes(all)
    }

    /// Borrow a tree from its bytes.
    pub fn from_bytes(all: &'a [u8]) -> Option<Fdt<'a>> {
        if be32(all, 0)? != FDT_MAGIC {
            return None;
        }
        let off_struct = be32(all, 8)? as usize;
        let off_strings = be32(all, 12)? as usize;
        let size_strings = be32(all, 32)? as usize;
        let size_struct = be32(all, 36)? as usize;
        Some(Fdt {
            structs: all.get(off_struct..off_struct.checked_add(size_struct)?)?,
            strings: all.get(off_strings..off_strings.checked_add(size_strings)?)?,
        })
    }

    fn string(&self, off: usize) -> Option<&'a [u8]> {
        let s = self.strings.get(off..)?;
        Some(&s[..s.iter().position(|&c| c == 0)?])
    }

    /// The value of property `name` of the top-level node `node` (compared up to any
    /// `@unit-address`), e.g. `prop(b"chosen", b"linux,initrd-start")`.
    pub fn prop(&self, node: &[u8], name: &[u8]) -> Option<&'a [u8]> {
        let s = self.structs;
        let mut at = 0usize;
        let mut depth = 0usize;
        let mut in_node = false;
        loop {
            let token = be32(s, at)?;
            at += 4;
            match token {
                FDT_BEGIN_NODE => {
                    let rest = s.get(at..)?;
                    let len = rest.iter().position(|&c| c == 0)?;
                    let full = &rest[..len];
                    let base = full.split(|&c| c == b'@').next().unwrap_or(full);
                    depth += 1;
                    in_node = depth == 2 && base == node;
                    at = (at + len + 1).next_multiple_of(4);
                }
                FDT_END_NODE => {
                    depth = depth.checked_sub(1)?;
                    in_node = false;
                }
                FDT_PROP => {
                    let len = be32(s, at)? as usize;
                    let nameoff = be32(s, at + 4)? as usize;
                    let value = s.get(at + 8..(at + 8).checked_add(len)?)?;
                    if in_node && self.string(nameoff)? == name {
                        return Some(value);
                    }
                    at = (at + 8 + len).next_multiple_of(4);
                }
                FDT_NOP => {}
                FDT_END => return None,
                _ => return None,
            }
        }
    }

    /// The ramdisk the boot loader described in `/chosen`, as (start, end) addresses.
    pub fn initrd(&self) -> Option<(u64, u64)> {
        let start = be_cells(self.prop(b"chosen", b"linux,initrd-start")?)?;
        let end = be_cells(self.prop(b"chosen", b"linux,initrd-end")?)?;
        (start < end).then_some((start, end))
    }
}
