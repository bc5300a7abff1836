//! `capscope disasm FILE.bin`: print raw bytecode as text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use capscope_bytecode::asm::{disassemble, disassemble_numbered};
use capscope_bytecode::insn::slots_from_bytes;
use capscope_bytecode::object;

use super::asm::read_input;

/// The bytecode to print, and how.
#[derive(clap::Args)]
#[command(after_long_help = DISASM_HELP)]
pub struct Args {
    /// Raw bytecode; `-` reads standard input.
    #[arg(value_name = "FILE.bin")]
    input: PathBuf,
    /// Prefix each instruction with its slot index (`12: r1 = ...`), as the
    /// verifier log does. Such a listing is for reading, not for `capscope asm`.
    #[arg(short, long)]
    numbered: bool,
}

const DISASM_HELP: &str = "\
The input is raw little-endian bytecode: 8 bytes per instruction, 16 for an
lddw. The output has one instruction per line in the llvm-objdump / Linux
verifier-log syntax, jump offsets relative to the next instruction, for
example:

    r6 = *(u64 *)(r1 + 24)
    r1 = map[0] ll
    if r0 == 0 goto +2
    exit

`capscope asm` turns this text back into exactly the same bytes.

Exit status: 0 on success; 1 if the bytes are not a valid program (a truncated
instruction, an unknown opcode, an lddw without its second half, ...; the
error names the instruction index); 2 on usage or I/O errors.";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = args.input.display().to_string();
    let bytes = read_input(&args.input)?;
    let text = slots_from_bytes(&bytes).and_then(|slots| {
        if args.numbered {
            disassemble_numbered(&slots)
        } else {
            disassemble(&slots)
        }
    });
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            if bytes.starts_with(&object::MAGIC) {
                eprintln!(
                    "note: {name} is a capscope probe object, not raw bytecode; \
                     disasm reads the raw form that `capscope asm` writes"
                );
            }
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write standard output"),
    }
}
