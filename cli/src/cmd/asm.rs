//! `capscope asm FILE.s -o FILE.bin`: assemble text into raw bytecode.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use capscope_bytecode::asm::assemble_all_errors;
use capscope_bytecode::insn::slots_to_bytes;

use crate::diagnostics;

/// The text to assemble, and where the bytecode goes.
#[derive(clap::Args)]
#[command(after_long_help = ASM_HELP)]
pub struct Args {
    /// Assembly source; `-` reads standard input.
    #[arg(value_name = "FILE.s")]
    input: PathBuf,
    /// Where to write the bytecode; `-` writes to standard output.
    #[arg(short, long, value_name = "FILE.bin")]
    output: PathBuf,
}

const ASM_HELP: &str = "\
The input uses the llvm-objdump / Linux verifier-log syntax, one instruction
per line:

    r6 = *(u64 *)(r1 + 24)        ; ctx->nr
    *(u64 *)(r10 - 8) = r6
    r1 = map[0] ll                ; lddw of map 0
    r2 = r10
    r2 += -8
    call map_lookup_elem          ; helpers by name or number
    if r0 == 0 goto out           // a label, or an offset: +3, -2
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 0
    exit

Comments run from `;` or `//` to the end of the line. docs/bytecode.md has the
full syntax. The output is raw little-endian bytecode, 8 bytes per instruction
and 16 for an lddw; `capscope disasm` turns it back into the same text.

Exit status: 0 on success; 1 if the text does not assemble (every error is
reported with FILE:LINE:COLUMN and nothing is written); 2 on usage or I/O
errors.";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = args.input.display().to_string();
    let bytes = read_input(&args.input)?;
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: {name}: not UTF-8 text (is it bytecode? try `capscope disasm`)");
        return Ok(ExitCode::from(1));
    };
    let slots = match assemble_all_errors(&text) {
        Ok(slots) => slots,
        Err(errors) => {
            let mut err = diagnostics::stderr();
            for e in &errors {
                diagnostics::emit(&mut err, &name, &text, &diagnostics::asm_error(e))?;
            }
            let n = errors.len();
            eprintln!(
                "error: {name}: {n} error{} in assembly, nothing written",
                if n == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(1));
        }
    };
    write_output(&args.output, &slots_to_bytes(&slots))?;
    Ok(ExitCode::SUCCESS)
}

/// Read a file, or standard input for `-`.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(bytes)
}

fn write_output(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .context("cannot write standard output");
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
