//! One module per subcommand.

pub mod asm;
pub mod check;
pub mod boot;
pub mod disasm;
pub mod exec;
pub mod exec_jit;
pub mod list;
pub mod verify;
