//! The kernel services kernel-hooks' platform trait needs, ready to be
//! wrapped by its implementation (issue 7): each function here is safe to
//! call from a probe, in any kernel context, with kernel state borrowed.

use core::sync::atomic::{AtomicU64, Ordering};

use capscope_kernel_core::KResult;

use crate::arch::{boot, report, uaccess};

/// Registers of the user context that last entered the kernel: a copy
/// kept outside the kernel state so a probe can walk the user stack while
/// the kernel state is borrowed.
static USER_RIP: AtomicU64 = AtomicU64::new(0);
static USER_RBP: AtomicU64 = AtomicU64::new(0);

/// Note the user `rip`/`rbp` at a kernel entry (or a switch).
pub fn note_user_regs(rip: u64, rbp: u64) {
    USER_RIP.store(rip, Ordering::Relaxed);
    USER_RBP.store(rbp, Ordering::Relaxed);
}

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    crate::time::now_ns()
}

/// (task, thread) of the current context; (0, 0) in the idle loop.
pub fn current() -> (u32, u32) {
    super::current()
}

/// The current task's name (its workload's), NUL-padded into `buf`.
pub fn comm(buf: &mut [u8]) {
    buf.fill(0);
    let name = crate::workloads::current_name();
    let n = name.len().min(buf.len().saturating_sub(1));
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
}

/// Fault-safe read of user memory in the current address space. Pages not
/// present are an error (no demand paging from probe context).
pub fn read_user(addr: u64, buf: &mut [u8]) -> KResult<()> {
    uaccess::copy_from_user(buf, addr)
}

/// True if `[addr, addr+len)` is kernel memory a probe may read: the
/// kernel image (text, rodata, data, bss).
pub fn kernel_readable(addr: u64, len: usize) -> bool {
    unsafe extern "C" {
        static __text_start: u8;
        static __kernel_end: u8;
    }
    let (start, end) = (
        &raw const __text_start as u64,
        &raw const __kernel_end as u64,
    );
    let guard = |a: u64| {
        [
            boot::kernel_stack(),
            boot::ist_stack(0),
            boot::ist_stack(1),
            boot::ist_stack(2),
            boot::ist_stack(3),
        ]
        .iter()
        .any(|s| a >= s.guard() && a < s.bottom)
    };
    match addr.checked_add(len as u64) {
        Some(e) => addr >= start && e <= end && !guard(addr) && !guard(e.saturating_sub(1)),
        None => false,
    }
}

/// Walk the current thread's user stack by frame pointers: the user `rip`
/// first, then each return address, read fault-safely. Returns the count.
pub fn walk_user_stack(out: &mut [u64]) -> usize {
    let (task, _) = current();
    if task == 0 || out.is_empty() {
        return 0;
    }
    out[0] = USER_RIP.load(Ordering::Relaxed);
    let mut n = 1;
    let mut rbp = USER_RBP.load(Ordering::Relaxed);
    while n < out.len() && rbp != 0 && rbp.is_multiple_of(8) {
        let (Ok(next), Ok(ret)) = (uaccess::read_user_u64(rbp), uaccess::read_user_u64(rbp + 8))
        else {
            break;
        };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    n
}

/// Walk the kernel stack from frame pointer `rbp` (use
/// `arch::cpu::rbp()` for "here"). Frames outside the kernel's stacks end
/// the walk, so it cannot fault.
pub fn walk_kernel_stack(rbp: u64, out: &mut [u64]) -> usize {
    let mut n = 0;
    report::walk_kernel_stack(rbp, |ret| {
        if n < out.len() {
            out[n] = ret;
            n += 1;
        }
    });
    n
}

static SELFTEST_STACKS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// With `selftest=stacks` on the command line, every call prints the user
/// and kernel stacks as a probe at that site would see them (the QEMU test
/// `stack_walks_see_grow_heap_called_from_main` symbolizes them).
pub fn selftest_stacks(site: &str) {
    if !SELFTEST_STACKS.load(Ordering::Relaxed) {
        return;
    }
    let (mut user, mut kernel) = ([0u64; 16], [0u64; 16]);
    let nu = walk_user_stack(&mut user);
    let nk = walk_kernel_stack(crate::arch::cpu::rbp(), &mut kernel);
    crate::kprint!("capscope: selftest: {site} ustack");
    for a in &user[..nu] {
        crate::kprint!(" {a:#x}");
    }
    crate::kprint!(" kstack");
    for a in &kernel[..nk] {
        crate::kprint!(" {a:#x}");
    }
    crate::kprintln!();
}

/// Read the stack self-test switch from the command line.
pub fn init_selftest() {
    if crate::bootinfo::arg("selftest") == Some("stacks") {
        SELFTEST_STACKS.store(true, Ordering::Relaxed);
    }
}

/// kernel-hooks' platform trait, implemented by the functions above.
#[cfg(feature = "hooks")]
mod adapter {
    use capscope_kernel_hooks::{COMM_LEN, Fault, KernelFrame, Platform};

    /// The reference kernel as a kernel-hooks platform: one CPU, so
    /// `synchronize_cpus` has nothing to do.
    pub struct KernelPlatform;

    impl Platform for KernelPlatform {
        fn now_ns(&self) -> u64 {
            super::now_ns()
        }
        fn cpu(&self) -> usize {
            0
        }
        fn cpus(&self) -> usize {
            1
        }
        fn current(&self) -> (u32, u32) {
            super::current()
        }
        fn comm(&self, buf: &mut [u8; COMM_LEN]) {
            super::comm(buf)
        }
        fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
            super::read_user(addr, buf).map_err(|_| Fault)
        }
        fn kernel_readable(&self, addr: u64, len: usize) -> bool {
            super::kernel_readable(addr, len)
        }
        fn walk_user_stack(&self, out: &mut [u64]) -> usize {
            super::walk_user_stack(out)
        }
        fn walk_kernel_stack(&self, from: KernelFrame, out: &mut [u64]) -> usize {
            let rbp = if from.0 == 0 {
                crate::arch::cpu::rbp()
            } else {
                from.0
            };
            super::walk_kernel_stack(rbp, out)
        }
        fn synchronize_cpus(&self) {}
    }

    pub static PLATFORM: KernelPlatform = KernelPlatform;
}

/// Hand the platform to kernel-hooks (once, at boot).
pub fn init() {
    #[cfg(feature = "hooks")]
    if let Err(e) = capscope_kernel_hooks::init(&adapter::PLATFORM) {
        panic!("kernel-hooks init: {e:?}");
    }
}
