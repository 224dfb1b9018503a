// EL1 exception vector table: 16 entries of 0x80 bytes, 2 KiB aligned. Every exception is
// fatal here (no interrupts are enabled), so each entry switches to this core's exception
// stack (core k: __exception_stacks_bottom + (k + 1) * size) and jumps to the Rust reporter
// with (kind, ESR_EL1, ELR_EL1, FAR_EL1, SPSR_EL1); it never returns, so no registers need
// saving. Every core installs the same table.

.section .text.vectors, "ax"
.balign 2048
.global __exception_vectors
__exception_vectors:
.irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mrs     x5, mpidr_el1
    and     x5, x5, #0xff               // core number (< max cores: boot.s parks the others)
    add     x5, x5, #1
    adrp    x6, __exception_stacks_bottom
    add     x6, x6, :lo12:__exception_stacks_bottom
    ldr     x7, ={exception_stack}
    madd    x5, x5, x7, x6
    mov     sp, x5
    mov     x0, #\kind
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    mrs     x4, spsr_el1
    b       {handler}
.endr
