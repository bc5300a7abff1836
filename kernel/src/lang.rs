//! What the prebuilt `core` and `alloc` expect from a freestanding binary:
//! the C memory functions, the unwinding symbols (never used: every profile
//! is `panic = "abort"`) and the panic handler.
//!
//! The memory functions and unwinding symbols are assembly shared with the
//! workloads' runtime (`kernel/freestanding.s`).

use core::arch::global_asm;

global_asm!(include_str!("../freestanding.s"));

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::arch::report::panic(info)
}

/// Boot check of the memory functions above on the cases that matter
/// (overlap in both directions, disjoint ranges, odd lengths), since a
/// bug here would corrupt everything silently.
pub fn self_test() {
    use core::hint::black_box;
    let fresh = || core::array::from_fn::<u8, 64, _>(|i| i as u8);
    let n = black_box(21usize);
    let mut b = fresh();
    // SAFETY: source and destination lie within the 64-byte local buffer.
    unsafe { core::ptr::copy(b.as_ptr(), b.as_mut_ptr().add(5), n) };
    assert!(
        (0..n).all(|i| b[5 + i] == i as u8),
        "memmove, overlapping upwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::copy(b.as_ptr().add(5), b.as_mut_ptr(), n) };
    assert!(
        (0..n).all(|i| b[i] == (i + 5) as u8),
        "memmove, overlapping downwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::copy(b.as_ptr(), b.as_mut_ptr().add(40), n) };
    assert!(
        (0..n).all(|i| b[40 + i] == i as u8),
        "memmove, disjoint upwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::write_bytes(b.as_mut_ptr().add(3), 0xa5, n) };
    assert!(
        b[2] == 2 && b[3..3 + n].iter().all(|&x| x == 0xa5) && b[3 + n] == (3 + n) as u8,
        "memset"
    );
}
