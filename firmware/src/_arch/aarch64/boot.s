// Entry points of the firmware image. Both run with the MMU off at EL3, EL2 or EL1.
//
// `_start`: where the loader enters. The boot core (MPIDR Aff0 = 0) brings the firmware up;
// any other core that arrives here (QEMU's raspi machines start all four at _start when
// booting an ELF) waits like the Pi firmware's spin stub does: `wfe` until its 64-bit
// release slot at {spin_table} + 8 * core is non-zero, then jumps there (boards without a
// spin table, {spin_table} = 0, park such cores for good).
//
// `_secondary_start`: where a secondary core is released to (PSCI CPU_ON on virt, the
// spin table on a Pi), once the boot core's page tables exist.
//
// Order on every core: leave EL3/EL2 for EL1 with FP/SIMD traps cleared, enable FP/SIMD at
// EL1, set this core's stack, then (boot core only) zero .bss and build the page tables
// (Rust `build_tables`, aligned 8-byte stores only), then turn this core's MMU and caches on
// with the shared tables (Rust `enable`) and call `kernel_init` (boot core) or
// `secondary_init`. No Rust code runs before FP/SIMD is enabled.

// Sizes shared with link.ld, which reserves the stacks.
.global __fw_max_cores
.set __fw_max_cores, {max_cores}
.global __fw_secondary_stack_size
.set __fw_secondary_stack_size, {secondary_stack}
.global __fw_exception_stack_size
.set __fw_exception_stack_size, {exception_stack}

.section .text.boot, "ax"
.global _start
_start:
    // arm64 Linux Image header (Documentation/arch/arm64/booting.rst), so QEMU and the Pi
    // firmware boot kernel8.img with the Linux protocol (x0 = device tree address).
    b       .Lentry                     // code0
    .word   0                           // code1
    .quad   0x80000                     // text_offset: loaded at RAM base + 512 KiB
    .quad   __image_size                // image_size, .bss and stacks included
    .quad   0x2                         // flags: little-endian, 4 KiB pages, 2 MiB-aligned base
    .quad   0, 0, 0                     // res2..res4
    .ascii  "ARM\x64"                  // magic
    .word   0                           // res5
.Lentry:
    mov     x19, x0                     // DTB address from the Pi firmware / Linux boot protocol (or 0)
    mrs     x21, mpidr_el1
    and     x21, x21, #0xff             // Aff0: core number within the cluster
    cbz     x21, .Lcommon

    // A secondary core entered at _start: wait for a release address like the Pi stub.
    mov     x5, #{spin_table}
    cbz     x5, .Lpark
.Lspin:
    wfe
    ldr     x4, [x5, x21, lsl #3]
    cbz     x4, .Lspin
    br      x4

.global _secondary_start
_secondary_start:
    mov     x19, xzr                    // no device tree on secondary cores
    mrs     x21, mpidr_el1
    and     x21, x21, #0xff
    cmp     x21, #{max_cores}
    b.hs    .Lpark                      // no stack reserved for it

.Lcommon:
    // x19 = DTB (boot core) or 0, x21 = core number; x20 = entry exception level.
    mrs     x1, CurrentEL
    lsr     x1, x1, #2
    mov     x20, x1                     // entry exception level, reported by kernel_init
    cmp     x1, #3
    b.eq    .Lfrom_el3
    cmp     x1, #2
    b.eq    .Lfrom_el2
    b       .Lat_el1

.Lfrom_el3:
    msr     cptr_el3, xzr               // TFP = 0: FP/SIMD does not trap to EL3
    mov     x1, #0x431                  // SCR_EL3: RW (lower ELs are AArch64), RES1 [5:4], NS
    msr     scr_el3, x1
    mov     x1, #0x33ff                 // CPTR_EL2: RES1 bits only, TFP = 0
    msr     cptr_el2, x1
    mov     x1, #(1 << 31)              // HCR_EL2.RW: EL1 is AArch64
    msr     hcr_el2, x1
    mov     x1, #3                      // CNTHCTL_EL2: EL1 may use the physical counter and timer
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr            // virtual count == physical count
    mov     x1, #0x3c5                  // SPSR: EL1h, D A I F masked
    msr     spsr_el3, x1
    adr     x1, .Lat_el1
    msr     elr_el3, x1
    eret

.Lfrom_el2:
    mov     x1, #0x33ff
    msr     cptr_el2, x1
    mov     x1, #(1 << 31)
    msr     hcr_el2, x1
    mov     x1, #3
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr
    mov     x1, #0x3c5
    msr     spsr_el2, x1
    adr     x1, .Lat_el1
    msr     elr_el2, x1
    eret

.Lat_el1:
    mov     x1, #(3 << 20)              // CPACR_EL1.FPEN = 0b11: no FP/SIMD traps at EL1/EL0
    msr     cpacr_el1, x1
    isb
    cbnz    x21, .Lsecondary_el1

    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1

    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    bl      {build_tables}              // identity map in .bss (MMU still off)
    bl      {mmu_enable}                // returns with the MMU and caches on
    mov     x0, x19
    mov     x1, x20
    bl      {kernel_init}               // never returns

.Lsecondary_el1:
    // Core k (1..max) uses the k-th secondary stack: top = bottom + k * size.
    adrp    x1, __secondary_stacks_bottom
    add     x1, x1, :lo12:__secondary_stacks_bottom
    ldr     x2, ={secondary_stack}
    madd    x1, x2, x21, x1
    mov     sp, x1
    bl      {mmu_enable}                // the boot core's tables, this core's MMU and caches
    mov     x0, x21
    mov     x1, x20
    bl      {secondary_init}            // never returns

.Lpark:
    wfe
    b       .Lpark
