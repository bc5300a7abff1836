//! GDT and TSS.
//!
//! The selector order is what `syscall`/`sysret` require: kernel code
//! 0x08, kernel data 0x10, user data 0x1b, user code 0x23, then the TSS at
//! 0x28. The TSS holds the interrupt stacks (IST) and `rsp0`.

use core::arch::asm;
use core::cell::UnsafeCell;

use super::boot;

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x1b;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x23;
const TSS_SEL: u16 = 0x28;

#[repr(C, packed)]
struct Tss {
    _r0: u32,
    rsp: [u64; 3],
    _r1: u64,
    ist: [u64; 7],
    _r2: u64,
    _r3: u16,
    iomap: u16,
}

#[repr(C, align(16))]
struct Tables {
    gdt: [u64; 7],
    tss: Tss,
}

/// Written once by [`init`] before interrupts are possible, then only read
/// by the CPU.
struct TablesCell(UnsafeCell<Tables>);
// SAFETY: written only in `init`, on the single CPU, before anything else
// can observe it.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [
        0,
        0x00af_9a00_0000_ffff, // kernel code, 64-bit
        0x00cf_9200_0000_ffff, // kernel data
        0x00cf_f200_0000_ffff, // user data, DPL 3
        0x00af_fa00_0000_ffff, // user code, 64-bit, DPL 3
        0,
        0, // TSS descriptor (two slots), filled in by init
    ],
    tss: Tss {
        _r0: 0,
        rsp: [0; 3],
        _r1: 0,
        ist: [0; 7],
        _r2: 0,
        _r3: 0,
        iomap: core::mem::size_of::<Tss>() as u16,
    },
}));

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Load the GDT and TSS and reload every segment register.
pub fn init() {
    // SAFETY: runs once at boot on the only CPU, before interrupts are
    // enabled; nothing else references TABLES yet.
    let t = unsafe { &mut *TABLES.0.get() };
    t.tss.rsp[0] = boot::kernel_stack().top;
    for i in 0..4 {
        t.tss.ist[i] = boot::ist_stack(i).top;
    }
    let base = &raw const t.tss as u64;
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    t.gdt[5] = (limit & 0xffff)
        | (base & 0xff_ffff) << 16
        | 0x89 << 40 // present, 64-bit available TSS
        | ((limit >> 16) & 0xf) << 48
        | ((base >> 24) & 0xff) << 56;
    t.gdt[6] = base >> 32;
    let ptr = Pointer {
        limit: (core::mem::size_of::<[u64; 7]>() - 1) as u16,
        base: t.gdt.as_ptr() as u64,
    };
    // SAFETY: the GDT above has valid code/data descriptors at the
    // selectors loaded here and lives forever (a static); the far return
    // reloads CS with the same flat 64-bit code segment.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "mov ax, {ds}",
            "mov ds, ax",
            "mov es, ax",
            "mov ss, ax",
            "xor eax, eax",
            "mov fs, ax",
            "mov gs, ax",
            "push {cs}",
            "lea rax, [rip + 2f]",
            "push rax",
            "retfq",
            "2:",
            "mov ax, {tss}",
            "ltr ax",
            ptr = in(reg) &ptr,
            ds = const KERNEL_DS,
            cs = const KERNEL_CS as u64,
            tss = const TSS_SEL,
            out("rax") _,
        );
    }
}
