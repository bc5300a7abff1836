//! One module per subcommand.

pub mod asm;
pub mod attach;
pub mod boot;
pub mod check;
pub mod detach;
pub mod disasm;
pub mod exec;
pub mod exec_jit;
pub mod list;
pub mod ps;
pub mod run;
pub mod verify;
