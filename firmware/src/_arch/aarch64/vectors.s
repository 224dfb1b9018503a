// EL1 exception vector table: 16 entries of 0x80 bytes, 2 KiB aligned. Every exception is
// fatal here (no interrupts are enabled), so each entry switches to the exception stack and
// jumps to the Rust reporter with (kind, ESR_EL1, ELR_EL1, FAR_EL1, SPSR_EL1); it never
// returns, so no registers need saving.

.section .text.vectors, "ax"
.balign 2048
.global __exception_vectors
__exception_vectors:
.irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    adrp    x5, __exception_stack_top
    add     x5, x5, :lo12:__exception_stack_top
    mov     sp, x5
    mov     x0, #\kind
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    mrs     x4, spsr_el1
    b       {handler}
.endr
