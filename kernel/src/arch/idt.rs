//! The IDT: one 16-byte entry stub per vector, every vector on an IST.
//!
//! Running every vector on an interrupt stack is what makes the kernel
//! safe with the prebuilt `core`, which uses the red zone: an interrupt
//! never pushes onto a stack that kernel code is using. Exceptions from
//! user mode and all interrupts leave the IST at once for the kernel stack
//! (see `trap`).

use core::arch::asm;
use core::cell::UnsafeCell;

use super::gdt::KERNEL_CS;

/// IST slots (1-based, as in the IDT entry).
const IST_IRQ: u8 = 1;
const IST_EXCEPTION: u8 = 2;
const IST_DOUBLE_FAULT: u8 = 3;
const IST_NMI_MCE: u8 = 4;

#[repr(C)]
#[derive(Clone, Copy)]
struct Entry {
    offset_lo: u16,
    selector: u16,
    ist: u8,
    attr: u8,
    offset_mid: u16,
    offset_hi: u32,
    _zero: u32,
}

struct IdtCell(UnsafeCell<[Entry; 256]>);
// SAFETY: written only by `init` at boot on the single CPU before
// interrupts are enabled; afterwards only the CPU reads it.
unsafe impl Sync for IdtCell {}

static IDT: IdtCell = IdtCell(UnsafeCell::new(
    [Entry {
        offset_lo: 0,
        selector: 0,
        ist: 0,
        attr: 0,
        offset_mid: 0,
        offset_hi: 0,
        _zero: 0,
    }; 256],
));

unsafe extern "C" {
    /// 256 entry stubs, 16 bytes apart (see `trap`).
    static trap_stubs: u8;
}

/// Fill and load the IDT.
pub fn init() {
    let stubs = &raw const trap_stubs as u64;
    // SAFETY: boot-time, single CPU, interrupts off: no concurrent reader.
    let idt = unsafe { &mut *IDT.0.get() };
    for (v, e) in idt.iter_mut().enumerate() {
        let addr = stubs + 16 * v as u64;
        let ist = match v {
            2 | 18 => IST_NMI_MCE,
            8 => IST_DOUBLE_FAULT,
            0..=31 => IST_EXCEPTION,
            _ => IST_IRQ,
        };
        *e = Entry {
            offset_lo: addr as u16,
            selector: KERNEL_CS,
            ist,
            // present, DPL 0, 64-bit interrupt gate (IF cleared on entry).
            // DPL 0 everywhere: a user `int n` raises #GP, which is
            // reflected to the thread like any other fault.
            attr: 0x8e,
            offset_mid: (addr >> 16) as u16,
            offset_hi: (addr >> 32) as u32,
            _zero: 0,
        };
    }
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (core::mem::size_of::<[Entry; 256]>() - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the IDT is a static with valid gates to the stubs.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(nostack)) };
}
