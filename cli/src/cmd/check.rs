//! `capscope check (-e PROGRAM | FILE) [--emit ast|bytecode]`: compile a
//! script, verify every program it produces, and print the diagnostics.
//!
//! Exit codes: 0 valid (warnings allowed), 1 rejected by the compiler or
//! the verifier, 2 usage or I/O errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::diagnostics;

/// Where a script comes from: `-e PROGRAM` or a file.
#[derive(clap::Args, Debug)]
pub struct Script {
    /// The program text, as in `-e 'cap:alloc { @[task] = count(); }'`.
    #[arg(
        short = 'e',
        long = "program",
        value_name = "PROGRAM",
        conflicts_with = "file"
    )]
    pub program: Option<String>,
    /// A script file (`probes/cap-leak.probe`).
    #[arg(value_name = "FILE", required_unless_present = "program")]
    pub file: Option<PathBuf>,
}

impl Script {
    /// The script's display name and text.
    pub fn load(&self) -> anyhow::Result<(String, String)> {
        match (&self.program, &self.file) {
            (Some(p), _) => Ok(("<program>".to_string(), p.clone())),
            (None, Some(f)) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                Ok((f.display().to_string(), text))
            }
            (None, None) => anyhow::bail!("give a program with -e or a script FILE"),
        }
    }
}

/// What `--emit` shows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// The syntax tree.
    Ast,
    /// The maps and the disassembled programs.
    Bytecode,
}

/// Compile and verify a script.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    script: Script,
    /// Also print an intermediate form.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
}

/// Compile `source` and verify every program; on failure the diagnostics
/// are printed and `None` returned.
pub fn compile_and_verify(
    name: &str,
    source: &str,
) -> anyhow::Result<Option<capscope_lang::Compiled>> {
    let mut err = diagnostics::stderr();
    let compiled = match capscope_lang::compile(source) {
        Ok(c) => c,
        Err(e) => {
            capscope_lang::emit(&mut err, &e.diagnostics, name, source)?;
            return Ok(None);
        }
    };
    capscope_lang::emit(&mut err, &compiled.warnings, name, source)?;
    let mut rejected = false;
    for p in &compiled.object.programs {
        if let Err(r) = capscope_verifier::verify(p, &compiled.object.maps, &Default::default()) {
            rejected = true;
            let span = diagnostics::source_range(r.span, source);
            diagnostics::emit(
                &mut err,
                name,
                source,
                &diagnostics::rejection(&r, &p.name, span),
            )?;
        }
    }
    Ok((!rejected).then_some(compiled))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (name, source) = args.script.load()?;
    let Some(compiled) = compile_and_verify(&name, &source)? else {
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    match args.emit {
        None => {}
        Some(Emit::Ast) => write!(out, "{}", compiled.ast)?,
        Some(Emit::Bytecode) => {
            let obj = &compiled.object;
            for (i, m) in obj.maps.iter().enumerate() {
                writeln!(
                    out,
                    "map[{i}] {} {} key {} value {} entries {}",
                    m.name, m.kind, m.key_size, m.value_size, m.max_entries
                )?;
            }
            for (i, f) in obj.formats.iter().enumerate() {
                writeln!(out, "format[{i}] {:?}", f.template)?;
            }
            for p in &obj.programs {
                writeln!(out, "\n{}:", p.name)?;
                let text = capscope_bytecode::asm::disassemble(&p.insns)
                    .map_err(|e| anyhow::anyhow!("disassembling {}: {e}", p.name))?;
                write!(out, "{text}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
