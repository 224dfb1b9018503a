//! Physical memory: what each region is, where the firmware image ends, and the heap.

use core::ops::Range;

use linked_list_allocator::LockedHeap;

/// What a 2 MiB block of the physical address space is (the board decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal memory, write-back cacheable.
    Ram,
    /// Device registers (Device-nGnRE, never cached, never executed).
    Mmio,
    /// Nothing there: left unmapped so accesses fault.
    Unmapped,
}

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// Where the firmware image (code, data, .bss, stacks) lies.
pub fn firmware_range() -> Range<usize> {
    (&raw const __image_start as usize)..(&raw const __image_end as usize)
}

/// The largest part of `ram` that overlaps neither the firmware nor `model`, aligned to
/// 4 KiB: the heap.
pub fn heap_region(
    ram: &Range<usize>,
    firmware: &Range<usize>,
    model: &Range<usize>,
) -> Range<usize> {
    // Cut points: everything below, between and above the two occupied ranges.
    let (first, second) = if firmware.start <= model.start {
        (firmware, model)
    } else {
        (model, firmware)
    };
    let gaps = [
        ram.start..first.start,
        first.end..second.start,
        second.end..ram.end,
    ];
    gaps.into_iter()
        .map(|g| g.start.max(ram.start).next_multiple_of(4096)..(g.end.min(ram.end) & !4095))
        .filter(|g| g.start < g.end)
        .max_by_key(|g| g.end - g.start)
        .unwrap_or(0..0)
}

/// Hand `region` to the global allocator.
///
/// # Safety
/// `region` must be RAM mapped as Normal memory that nothing else uses for the rest of the
/// program, and this must be called at most once.
pub unsafe fn init_heap(region: Range<usize>) {
    // SAFETY: the caller guarantees the region is unused, writable RAM.
    unsafe {
        HEAP.lock()
            .init(region.start as *mut u8, region.end - region.start)
    };
}

/// Bytes allocated and free in the heap.
pub fn heap_usage() -> (usize, usize) {
    let h = HEAP.lock();
    (h.used(), h.free())
}

/// [`heap_usage`] without waiting for the allocator's lock (`None` if it is held): for the
/// panic handler, which may run while an allocation is under way.
pub fn try_heap_usage() -> Option<(usize, usize)> {
    HEAP.try_lock().map(|h| (h.used(), h.free()))
}

/// `n` bytes as MiB with one decimal: (integer, tenths).
pub fn mib(n: usize) -> (usize, usize) {
    let tenths = (n as u64 * 10 / (1 << 20)) as usize;
    (tenths / 10, tenths % 10)
}
