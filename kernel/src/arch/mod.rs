//! Everything x86-64 specific: boot, descriptor tables, trap and syscall
//! entry and exit, user-memory access and privileged instructions.
//!
//! This is the only place (with `mm::paging`) where the kernel uses
//! `unsafe`; each block says why it is sound.

pub mod boot;
pub mod cpu;
pub mod gdt;
pub mod idt;
pub mod report;
pub mod syscall;
pub mod trap;
pub mod uaccess;
