//! Program entry, C memory functions and the panic handler.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    xor ebp, ebp
    and rsp, -16
    call {start}
    ud2
    "#,
    start = sym start,
);

// memcpy, memset, memmove, memcmp and the unwinding symbols, shared with
// the kernel.
global_asm!(include_str!("../../../freestanding.s"));

unsafe extern "C" {
    fn capscope_user_main() -> u64;
}

extern "C" fn start() -> ! {
    crate::fault::init();
    // SAFETY: `entry!` defines this symbol in the program.
    let status = unsafe { capscope_user_main() };
    crate::sys::exit(status)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::println!("user panic: {info}");
    crate::sys::exit(101)
}

/// The shared crates (`capscope-kernel-core`, `capscope-bytecode`) link
/// `alloc`, so a program needs a global allocator even though the
/// workloads never allocate: a bump allocator over a static arena, which
/// never frees and returns null when the arena is used up.
struct Bump;

const ARENA: usize = 64 << 10;

#[repr(C, align(4096))]
struct Arena(core::cell::UnsafeCell<[u8; ARENA]>);
// SAFETY: handed out in disjoint pieces by `Bump`, which tracks the
// next free offset atomically.
unsafe impl Sync for Arena {}

static ARENA_MEM: Arena = Arena(core::cell::UnsafeCell::new([0; ARENA]));
static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

// SAFETY: every block returned is inside the arena, aligned as asked, and
// never handed out twice (NEXT only grows).
unsafe impl core::alloc::GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        use core::sync::atomic::Ordering;
        let base = ARENA_MEM.0.get() as usize;
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(layout.align()) - base;
            let end = start + layout.size();
            if end > ARENA {
                return core::ptr::null_mut();
            }
            match NEXT.compare_exchange(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: core::alloc::Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump;
