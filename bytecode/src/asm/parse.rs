//! Parsing one line of assembly into an instruction.
//!
//! Labels are resolved later (see `assemble.rs`): a line that jumps to or
//! calls a label yields its `Op` with a zero offset and a [`Fixup`] saying
//! which field the label's offset goes into.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::error::AsmErrorKind;
use super::lex::{LineError, Tok, Token, parse_number, strip_comment, tokenize};
use super::syntax::{ACCESS_TYPES, ALU_OPS, CONDS, LOAD_KINDS, SWAPS};
use crate::insn::{
    AluOp, AtomicOp, CallTarget, HelperId, LoadImmKind, Op, Operand, Reg, Size, Width,
};

/// What one line holds.
#[derive(Debug, Default)]
pub(super) struct Line<'a> {
    /// `name:` at the start of the line, with its byte range.
    pub label: Option<(&'a str, usize, usize)>,
    /// The instruction after the label, if any.
    pub insn: Option<(Op, Option<Fixup<'a>>)>,
}

/// A label reference waiting for the label's slot.
#[derive(Debug)]
pub(super) struct Fixup<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
    pub kind: FixupKind,
}

/// Where a resolved label offset goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FixupKind {
    /// The 16-bit `off` of `goto` or a conditional jump.
    Short,
    /// The 32-bit `imm` of `gotol`.
    Long,
    /// `call NAME`: a helper by name, or else a local call to a label.
    Call,
}

type Result<T> = core::result::Result<T, LineError>;

/// Parse one line (without its newline).
pub(super) fn parse_line(line: &str) -> Result<Line<'_>> {
    let code = strip_comment(line);
    let toks = tokenize(code)?;
    let mut p = Parser {
        line: code,
        toks,
        pos: 0,
    };
    let mut out = Line::default();
    if let (Some(Tok::Ident(name)), Some(Tok::Punct(":"))) = (p.peek(), p.peek_at(1)) {
        let t = p.bump_token();
        p.bump();
        out.label = t.map(|t| (name, t.start, t.end));
    }
    if p.peek().is_some() {
        out.insn = Some(p.insn()?);
        p.end()?;
    }
    Ok(out)
}

/// A register as written: its view (`r` or `w`), the register, its range.
#[derive(Clone, Copy)]
struct RegTok {
    view: char,
    reg: Reg,
    start: usize,
    end: usize,
}

impl RegTok {
    fn text(self) -> String {
        alloc::format!("{}{}", self.view, self.reg.number())
    }

    fn width(self) -> Width {
        if self.view == 'w' {
            Width::W32
        } else {
            Width::W64
        }
    }

    fn error(self, kind: AsmErrorKind) -> LineError {
        LineError {
            start: self.start,
            end: self.end,
            kind,
        }
    }

    /// Require the 64-bit view (`rN`).
    fn wide(self, expected: &'static str) -> Result<Reg> {
        if self.view == 'r' {
            Ok(self.reg)
        } else {
            Err(self.error(AsmErrorKind::RegisterWidth {
                found: self.text(),
                expected,
            }))
        }
    }

    /// Require the same view as `other` (ALU and jump operands).
    fn same_width_as(self, other: RegTok) -> Result<Reg> {
        if self.view == other.view {
            return Ok(self.reg);
        }
        Err(self.error(AsmErrorKind::RegisterWidth {
            found: self.text(),
            expected: if other.view == 'w' {
                "a 32-bit register (w0-w10), like the destination"
            } else {
                "a 64-bit register (r0-r10), like the destination"
            },
        }))
    }

    /// Require exactly `want` (any view).
    fn same_reg(self, want: Reg, view: char, why: &'static str) -> Result<()> {
        if self.reg == want {
            return Ok(());
        }
        Err(self.error(AsmErrorKind::SameRegister {
            expected: alloc::format!("{view}{}", want.number()),
            found: self.text(),
            why,
        }))
    }
}

/// `Some(Ok)` for `r0`-`r10`/`w0`-`w10`, `Some(Err)` for register-shaped
/// words that name no register (`r11`, `w01`), `None` for other words.
fn register(word: &str) -> Option<core::result::Result<(char, Reg), ()>> {
    let mut chars = word.chars();
    let view = chars.next().filter(|c| matches!(c, 'r' | 'w'))?;
    let digits = chars.as_str();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only the canonical spelling: no leading zeros, at most two digits.
    let canonical = digits.len() <= 2 && !(digits.len() > 1 && digits.starts_with('0'));
    let reg = digits
        .parse::<u8>()
        .ok()
        .filter(|_| canonical)
        .and_then(Reg::new);
    Some(reg.map(|r| (view, r)).ok_or(()))
}

/// Which memory widths a value register may be viewed at.
#[derive(Clone, Copy)]
enum ValueWidth {
    /// 64-bit data: only `rN`.
    Wide,
    /// 32 bits or less: `rN` or `wN`, both mean the same slot.
    Narrow,
}

impl ValueWidth {
    fn of(size: Size) -> ValueWidth {
        if size == Size::DW {
            ValueWidth::Wide
        } else {
            ValueWidth::Narrow
        }
    }
}

const TYPES_ALL: &str = "u8, u16, u32, u64, s8, s16 or s32";
const TYPES_UNSIGNED: &str = "u8, u16, u32 or u64 (stores do not sign-extend)";
const TYPES_ATOMIC: &str = "u32 or u64 (atomics work on 4 or 8 bytes)";

struct Parser<'a> {
    line: &'a str,
    toks: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<Tok<'a>> {
        self.toks.get(self.pos + n).map(|t| t.tok)
    }

    fn bump_token(&mut self) -> Option<Token<'a>> {
        let t = self.toks.get(self.pos).copied();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn bump(&mut self) {
        self.bump_token();
    }

    /// Byte range of the next token, or an empty range at the end of the line.
    fn here(&self) -> (usize, usize) {
        match self.toks.get(self.pos) {
            Some(t) => (t.start, t.end),
            None => {
                let end = self.line.trim_end().len();
                (end, end)
            }
        }
    }

    fn error_here(&self, kind: AsmErrorKind) -> LineError {
        let (start, end) = self.here();
        LineError { start, end, kind }
    }

    fn unexpected(&self, expected: &'static str) -> LineError {
        let (start, end) = self.here();
        let found = self
            .toks
            .get(self.pos)
            .map(|_| self.line[start..end].to_string());
        LineError {
            start,
            end,
            kind: AsmErrorKind::Unexpected { expected, found },
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(p)) if p == punct) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &'static str, expected: &'static str) -> Result<()> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn eat_ident(&mut self, word: &str) -> bool {
        if self.peek() == Some(Tok::Ident(word)) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the line")),
        }
    }

    fn peek_is_register(&self) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if register(w).is_some())
    }

    fn reg(&mut self, expected: &'static str) -> Result<RegTok> {
        let (start, end) = self.here();
        match self.peek() {
            Some(Tok::Ident(w)) => match register(w) {
                Some(Ok((view, reg))) => {
                    self.bump();
                    Ok(RegTok {
                        view,
                        reg,
                        start,
                        end,
                    })
                }
                Some(Err(())) => Err(self.error_here(AsmErrorKind::BadRegister(w.to_string()))),
                None => Err(self.unexpected(expected)),
            },
            _ => Err(self.unexpected(expected)),
        }
    }

    /// A value register of a memory operation: `rN`, or also `wN` if the
    /// value is 32 bits or less.
    fn value_reg(&mut self, width: ValueWidth) -> Result<RegTok> {
        let r = self.reg("a register")?;
        if let ValueWidth::Wide = width {
            r.wide("a 64-bit register (r0-r10) for 8-byte data")?;
        }
        Ok(r)
    }

    /// An optionally negative number, and its byte range.
    fn number(&mut self, expected: &'static str) -> Result<(i128, usize, usize)> {
        let (start, _) = self.here();
        let negative = self.eat("-");
        let (v, _, end) = self.unsigned(expected)?;
        Ok((if negative { -v } else { v }, start, end))
    }

    /// A number without a sign (a magnitude after `+` or `-`), and its range.
    fn unsigned(&mut self, expected: &'static str) -> Result<(i128, usize, usize)> {
        let (start, end) = self.here();
        match self.peek() {
            Some(Tok::Num(raw)) => {
                let Some(v) = parse_number(raw) else {
                    return Err(self.error_here(AsmErrorKind::BadNumber(raw.to_string())));
                };
                self.bump();
                // Saturate: anything this large is out of every range anyway.
                Ok((i128::try_from(v).unwrap_or(i128::MAX), start, end))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    /// A number that must lie in `min..=max`.
    fn ranged(
        &mut self,
        what: &'static str,
        expected: &'static str,
        min: i128,
        max: i128,
    ) -> Result<i128> {
        let (value, start, end) = self.number(expected)?;
        check_range(value, what, min, max, start, end)
    }

    /// A 32-bit immediate. Where only 32 bits are used, `0x80000000` to
    /// `0xffffffff` are accepted too; where the immediate is sign-extended to
    /// 64 bits they are not, because they would silently mean a negative number.
    fn imm32(&mut self, narrow: bool) -> Result<i32> {
        let max = if narrow {
            i128::from(u32::MAX)
        } else {
            i128::from(i32::MAX)
        };
        let v = self.ranged(
            "immediate",
            "a register or a number",
            i128::from(i32::MIN),
            max,
        )?;
        Ok(v as u32 as i32)
    }

    /// `+ N` or `- N` after a base register, or nothing (offset 0).
    fn offset(&mut self) -> Result<i16> {
        let (start, _) = self.here();
        let negative = if self.eat("+") {
            false
        } else if self.eat("-") {
            true
        } else {
            return Ok(0);
        };
        let (magnitude, _, end) = self.unsigned("an offset")?;
        let v = if negative { -magnitude } else { magnitude };
        let v = check_range(
            v,
            "offset",
            i128::from(i16::MIN),
            i128::from(i16::MAX),
            start,
            end,
        )?;
        Ok(v as i16)
    }

    /// `rB + N` (no parentheses), the address of `xchg` and `cmpxchg`.
    fn base_and_offset(&mut self) -> Result<(Reg, i16)> {
        let base = self
            .reg("a base register")?
            .wide("a 64-bit base register (r0-r10)")?;
        Ok((base, self.offset()?))
    }

    /// `(rB + N)`.
    fn address(&mut self) -> Result<(Reg, i16)> {
        if matches!(self.peek(), Some(Tok::Ident("skb"))) {
            return Err(self.error_here(AsmErrorKind::Unsupported(
                "legacy packet access (`skb[...]`, BPF_ABS/BPF_IND) is not supported",
            )));
        }
        self.expect("(", "`(` and an address like `(r10 - 8)`")?;
        let a = self.base_and_offset()?;
        self.expect(")", "`+ N`, `- N` or `)`")?;
        Ok(a)
    }

    /// `(TYPE *)` after the opening `*` or `(`: returns size and signedness.
    fn access_type(&mut self, allowed: &'static str) -> Result<(Size, bool, String, usize, usize)> {
        self.expect("(", "`(` and an access type like `(u64 *)`")?;
        let (start, end) = self.here();
        let Some(Tok::Ident(name)) = self.peek() else {
            return Err(self.unexpected("an access type (u8, u16, u32, u64, s8, s16, s32)"));
        };
        let Some(&(size, signed, _)) = ACCESS_TYPES.iter().find(|t| t.2 == name) else {
            return Err(self.error_here(AsmErrorKind::BadSize {
                found: name.to_string(),
                expected: allowed,
            }));
        };
        self.bump();
        self.expect("*", "`*`")?;
        self.expect(")", "`)`")?;
        Ok((size, signed, name.to_string(), start, end))
    }

    fn bad_size(found: String, start: usize, end: usize, expected: &'static str) -> LineError {
        LineError {
            start,
            end,
            kind: AsmErrorKind::BadSize { found, expected },
        }
    }

    /// An atomic's access type: `u32` or `u64`.
    fn atomic_type(&mut self) -> Result<Size> {
        let (size, signed, name, start, end) = self.access_type(TYPES_ATOMIC)?;
        if signed || !matches!(size, Size::W | Size::DW) {
            return Err(Self::bad_size(name, start, end, TYPES_ATOMIC));
        }
        Ok(size)
    }

    /// A jump target: `+N`, `-N`, `pc+N`, `pc-N` or a label.
    fn target(&mut self, kind: FixupKind) -> Result<(i32, Option<Fixup<'a>>)> {
        let (min, max) = match kind {
            FixupKind::Short => (i128::from(i16::MIN), i128::from(i16::MAX)),
            _ => (i128::from(i32::MIN), i128::from(i32::MAX)),
        };
        let expected = "a jump offset (`+3`, `-2`) or a label";
        if matches!(self.peek(), Some(Tok::Ident("pc")))
            && matches!(self.peek_at(1), Some(Tok::Punct("+" | "-")))
        {
            self.bump();
        }
        match self.peek() {
            Some(Tok::Punct("+")) => {
                let (start, _) = self.here();
                self.bump();
                let (v, _, end) = self.unsigned(expected)?;
                let v = check_range(v, "jump offset", min, max, start, end)?;
                Ok((v as i32, None))
            }
            Some(Tok::Punct("-")) => {
                let v = self.ranged("jump offset", expected, min, max)?;
                Ok((v as i32, None))
            }
            Some(Tok::Ident(name)) => {
                let (start, end) = self.here();
                self.bump();
                Ok((
                    0,
                    Some(Fixup {
                        name,
                        start,
                        end,
                        kind,
                    }),
                ))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn insn(&mut self) -> Result<(Op, Option<Fixup<'a>>)> {
        let plain = |op| Ok((op, None));
        match self.peek() {
            Some(Tok::Ident("exit")) => {
                self.bump();
                plain(Op::Exit)
            }
            Some(Tok::Ident("goto")) => {
                self.bump();
                let (off, fix) = self.target(FixupKind::Short)?;
                Ok((Op::Ja { off, long: false }, fix))
            }
            Some(Tok::Ident("gotol")) => {
                self.bump();
                let (off, fix) = self.target(FixupKind::Long)?;
                Ok((Op::Ja { off, long: true }, fix))
            }
            Some(Tok::Ident("if")) => {
                self.bump();
                self.cond_jump()
            }
            Some(Tok::Ident("call")) => {
                self.bump();
                self.call()
            }
            Some(Tok::Ident("lock")) => {
                self.bump();
                plain(self.lock()?)
            }
            Some(Tok::Punct("*")) => {
                self.bump();
                plain(self.store()?)
            }
            Some(Tok::Ident(w)) if register(w).is_some() => {
                let dst = self.reg("a register")?;
                plain(self.assignment(dst)?)
            }
            Some(Tok::Ident(w)) => {
                Err(self.error_here(AsmErrorKind::UnknownMnemonic(w.to_string())))
            }
            _ => Err(self.unexpected("an instruction or a label")),
        }
    }

    fn cond_jump(&mut self) -> Result<(Op, Option<Fixup<'a>>)> {
        let dst = self.reg("a register")?;
        let cond = match self.peek() {
            Some(Tok::Punct(p)) => CONDS.iter().find(|c| c.1 == p).map(|c| c.0),
            _ => None,
        };
        let Some(cond) = cond else {
            return Err(self.unexpected("a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)"));
        };
        self.bump();
        let src = self.alu_operand(dst)?;
        if !self.eat_ident("goto") {
            return Err(self.unexpected("`goto`"));
        }
        let (off, fix) = self.target(FixupKind::Short)?;
        Ok((
            Op::Jmp {
                width: dst.width(),
                cond,
                dst: dst.reg,
                src,
                off: off as i16,
            },
            fix,
        ))
    }

    /// The second operand of an ALU or jump instruction: a register viewed
    /// like `dst`, or an immediate.
    fn alu_operand(&mut self, dst: RegTok) -> Result<Operand> {
        if self.peek_is_register() {
            let r = self.reg("a register")?;
            return Ok(Operand::Reg(r.same_width_as(dst)?));
        }
        Ok(Operand::Imm(self.imm32(dst.view == 'w')?))
    }

    fn call(&mut self) -> Result<(Op, Option<Fixup<'a>>)> {
        let expected = "a helper name or number, `pc+N`, `btf#N` or a label";
        match (self.peek(), self.peek_at(1)) {
            (Some(Tok::Num(_)), _) => {
                let id = self.ranged("helper number", expected, 0, i128::from(u32::MAX))?;
                Ok((Op::Call(CallTarget::Helper(HelperId(id as u32))), None))
            }
            (Some(Tok::Ident("pc")), Some(Tok::Punct("+" | "-"))) => {
                let (off, _) = self.target(FixupKind::Long)?;
                Ok((Op::Call(CallTarget::Local(off)), None))
            }
            (Some(Tok::Ident("btf")), Some(Tok::Punct("#"))) => {
                self.bump();
                self.bump();
                let id = self.ranged(
                    "BTF id",
                    "a BTF id",
                    i128::from(i32::MIN),
                    i128::from(i32::MAX),
                )?;
                Ok((Op::Call(CallTarget::Btf(id as i32)), None))
            }
            (Some(Tok::Ident(_)), _) => {
                let (_, fix) = self.target(FixupKind::Call)?;
                Ok((Op::Call(CallTarget::Local(0)), fix))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    /// `*(TYPE *)(rB + N) = rS | IMM`
    fn store(&mut self) -> Result<Op> {
        let (size, signed, name, start, end) = self.access_type(TYPES_UNSIGNED)?;
        if signed {
            return Err(Self::bad_size(name, start, end, TYPES_UNSIGNED));
        }
        let (dst, off) = self.address()?;
        self.expect("=", "`=`")?;
        let src = if self.peek_is_register() {
            Operand::Reg(self.value_reg(ValueWidth::of(size))?.reg)
        } else {
            // Narrow stores keep only the low bytes, so unsigned 32-bit
            // spellings are fine; an 8-byte store sign-extends the immediate.
            Operand::Imm(self.imm32(size != Size::DW)?)
        };
        Ok(Op::Store {
            size,
            dst,
            off,
            src,
        })
    }

    /// `lock *(TYPE *)(rB + N) OP= rS`
    fn lock(&mut self) -> Result<Op> {
        self.expect("*", "`*`")?;
        let size = self.atomic_type()?;
        let (dst, off) = self.address()?;
        let op = match self.peek() {
            Some(Tok::Punct("+=")) => AtomicOp::Add { fetch: false },
            Some(Tok::Punct("|=")) => AtomicOp::Or { fetch: false },
            Some(Tok::Punct("&=")) => AtomicOp::And { fetch: false },
            Some(Tok::Punct("^=")) => AtomicOp::Xor { fetch: false },
            _ => return Err(self.unexpected("`+=`, `|=`, `&=` or `^=`")),
        };
        self.bump();
        let src = self.value_reg(ValueWidth::of(size))?.reg;
        Ok(Op::Atomic {
            size,
            op,
            dst,
            off,
            src,
        })
    }

    /// Everything that starts `rD`: ALU operations, moves, loads, byte
    /// swaps, fetching atomics and `lddw`.
    fn assignment(&mut self, dst: RegTok) -> Result<Op> {
        let op = match self.peek() {
            Some(Tok::Punct("=")) => {
                self.bump();
                return self.rhs(dst);
            }
            Some(Tok::Punct(p)) => ALU_OPS.iter().find(|o| o.1 == p).map(|o| o.0),
            _ => None,
        };
        let Some(op) = op else {
            return Err(self.unexpected("an assignment operator (=, +=, -=, *=, /=, s/=, %=, s%=, &=, |=, ^=, <<=, >>=, s>>=)"));
        };
        self.bump();
        let src = self.alu_operand(dst)?;
        Ok(Op::Alu {
            width: dst.width(),
            op,
            dst: dst.reg,
            src,
        })
    }

    /// The right-hand side of `rD = ...`.
    fn rhs(&mut self, dst: RegTok) -> Result<Op> {
        let width = dst.width();
        match self.peek() {
            Some(Tok::Punct("-")) if matches!(self.peek_at(1), Some(Tok::Ident(w)) if register(w).is_some()) => {
                self.bump();
                let src = self.reg("a register")?;
                src.same_width_as(dst)?;
                src.same_reg(dst.reg, dst.view, "negation works in place")?;
                Ok(Op::Neg {
                    width,
                    dst: dst.reg,
                })
            }
            Some(Tok::Punct("-") | Tok::Num(_)) => {
                let (value, start, end) = self.number("a number")?;
                if self.eat_ident("ll") {
                    let dst = dst.wide("a 64-bit register (r0-r10): lddw loads 64 bits")?;
                    let v = check_range(value, "64-bit immediate", i128::from(i64::MIN), i128::from(u64::MAX), start, end)?;
                    let bits = if v < 0 { v as i64 as u64 } else { v as u64 };
                    return Ok(Op::LoadImm64 {
                        kind: LoadImmKind::Imm64,
                        dst,
                        imm_lo: bits as u32 as i32,
                        imm_hi: (bits >> 32) as u32 as i32,
                    });
                }
                let max = if width == Width::W32 {
                    i128::from(u32::MAX)
                } else {
                    i128::from(i32::MAX)
                };
                let v = check_range(value, "immediate", i128::from(i32::MIN), max, start, end)?;
                Ok(Op::Alu {
                    width,
                    op: AluOp::Mov,
                    dst: dst.reg,
                    src: Operand::Imm(v as u32 as i32),
                })
            }
            Some(Tok::Punct("(")) => self.movsx(dst),
            Some(Tok::Punct("*")) => {
                self.bump();
                self.load(dst)
            }
            Some(Tok::Ident(w)) if register(w).is_some() => {
                let src = self.reg("a register")?;
                Ok(Op::Alu {
                    width,
                    op: AluOp::Mov,
                    dst: dst.reg,
                    src: Operand::Reg(src.same_width_as(dst)?),
                })
            }
            Some(Tok::Ident(name)) => self.named_rhs(dst, name),
            _ => Err(self.unexpected(
                "a register, a number, `-rN`, `(s8)rN`, a load `*(u64 *)(rN + 0)`, a byte swap, an atomic or an lddw source",
            )),
        }
    }

    /// `rD = (sN)rS`
    fn movsx(&mut self, dst: RegTok) -> Result<Op> {
        self.bump();
        let (start, end) = self.here();
        let expected_bits = "s8, s16 or s32 (s8 or s16 for a 32-bit move)";
        let bits = match self.peek() {
            Some(Tok::Ident("s8")) => 8,
            Some(Tok::Ident("s16")) => 16,
            Some(Tok::Ident("s32")) => 32,
            Some(Tok::Ident(other)) => {
                return Err(Self::bad_size(other.to_string(), start, end, expected_bits));
            }
            _ => return Err(self.unexpected(expected_bits)),
        };
        self.bump();
        self.expect(")", "`)`")?;
        let src = self.reg("a register")?;
        let src = src.same_width_as(dst)?;
        if bits == 32 && dst.width() == Width::W32 {
            return Err(LineError {
                start,
                end,
                kind: AsmErrorKind::Unsupported(
                    "a 32-bit sign-extending move from 32 bits does not exist: write `wD = wS`",
                ),
            });
        }
        Ok(Op::MovSx {
            width: dst.width(),
            dst: dst.reg,
            src,
            bits,
        })
    }

    /// `rD = *(TYPE *)(rS + N)` after the `*`.
    fn load(&mut self, dst: RegTok) -> Result<Op> {
        let (size, signed, _, _, _) = self.access_type(TYPES_ALL)?;
        if signed {
            dst.wide("a 64-bit register (r0-r10): sign-extending loads fill 64 bits")?;
        } else if size == Size::DW {
            dst.wide("a 64-bit register (r0-r10) for a u64 load")?;
        }
        let (src, off) = self.address()?;
        Ok(Op::Load {
            size,
            signed,
            dst: dst.reg,
            src,
            off,
        })
    }

    /// `rD = WORD ...`: byte swaps, fetching atomics and lddw sources.
    fn named_rhs(&mut self, dst: RegTok, name: &'a str) -> Result<Op> {
        if let Some(op) = self.swap(dst, name)? {
            return Ok(op);
        }
        let fetch = match name {
            "atomic_fetch_add" => Some(AtomicOp::Add { fetch: true }),
            "atomic_fetch_or" => Some(AtomicOp::Or { fetch: true }),
            "atomic_fetch_and" => Some(AtomicOp::And { fetch: true }),
            "atomic_fetch_xor" => Some(AtomicOp::Xor { fetch: true }),
            _ => None,
        };
        if let Some(op) = fetch {
            self.bump();
            self.expect("(", "`(`")?;
            let size = self.atomic_type()?;
            let (base, off) = self.address()?;
            self.expect(",", "`,`")?;
            return self.atomic_tail(
                dst,
                size,
                op,
                base,
                off,
                "the old value is written back to the source register",
            );
        }
        let xchg = match name {
            "xchg_64" => Some((Size::DW, AtomicOp::Xchg)),
            "xchg32_32" => Some((Size::W, AtomicOp::Xchg)),
            "cmpxchg_64" => Some((Size::DW, AtomicOp::CmpXchg)),
            "cmpxchg32_32" => Some((Size::W, AtomicOp::CmpXchg)),
            _ => None,
        };
        if let Some((size, op)) = xchg {
            self.bump();
            self.expect("(", "`(`")?;
            let (base, off) = self.base_and_offset()?;
            self.expect(",", "`+ N`, `- N` or `,`")?;
            if op == AtomicOp::CmpXchg {
                let view = if size == Size::DW { 'r' } else { 'w' };
                let why = "cmpxchg compares with r0 and returns the old value in r0";
                dst.same_reg(Reg::R0, view, why)?;
                let r0 = self.value_reg(ValueWidth::of(size))?;
                r0.same_reg(Reg::R0, view, why)?;
                self.expect(",", "`,`")?;
                return self.atomic_tail(dst, size, op, base, off, why);
            }
            return self.atomic_tail(
                dst,
                size,
                op,
                base,
                off,
                "xchg returns the old value in the source register",
            );
        }
        if let Some(&(kind, _)) = LOAD_KINDS.iter().find(|k| k.1 == name) {
            self.bump();
            return self.pseudo_lddw(dst, kind);
        }
        if self.peek_at(1) == Some(Tok::Punct("[")) {
            return Err(self.error_here(AsmErrorKind::UnknownLoadKind(name.to_string())));
        }
        Err(self.unexpected(
            "a register, a number, `-rN`, `(s8)rN`, a load `*(u64 *)(rN + 0)`, a byte swap, an atomic or an lddw source",
        ))
    }

    /// The last operand of a fetching atomic, which must repeat `dst`, and `)`.
    fn atomic_tail(
        &mut self,
        dst: RegTok,
        size: Size,
        op: AtomicOp,
        base: Reg,
        off: i16,
        why: &'static str,
    ) -> Result<Op> {
        let width = ValueWidth::of(size);
        if let ValueWidth::Wide = width {
            dst.wide("a 64-bit register (r0-r10) for 8-byte data")?;
        }
        let src = self.value_reg(width)?;
        if op != AtomicOp::CmpXchg {
            src.same_reg(dst.reg, dst.view, why)?;
        }
        self.expect(")", "`)`")?;
        Ok(Op::Atomic {
            size,
            op,
            dst: base,
            off,
            src: src.reg,
        })
    }

    /// `rD = be16 rD` and friends; `None` if `name` is no byte swap.
    fn swap(&mut self, dst: RegTok, name: &str) -> Result<Option<Op>> {
        let Some((order, bits)) = SWAPS.iter().find_map(|&(order, prefix)| {
            let bits = match name.strip_prefix(prefix)? {
                "16" => 16,
                "32" => 32,
                "64" => 64,
                _ => return None,
            };
            Some((order, bits))
        }) else {
            return Ok(None);
        };
        let d = dst.wide("a 64-bit register (r0-r10): byte swaps zero-extend to 64 bits")?;
        self.bump();
        let src = self.reg("a register")?;
        src.wide("a 64-bit register (r0-r10)")?;
        src.same_reg(d, 'r', "byte swaps work in place")?;
        Ok(Some(Op::Swap {
            order,
            dst: d,
            bits,
        }))
    }

    /// `rD = KIND[N] (+|- M)? ll` after KIND.
    fn pseudo_lddw(&mut self, dst: RegTok, kind: LoadImmKind) -> Result<Op> {
        let d = dst.wide("a 64-bit register (r0-r10): lddw loads 64 bits")?;
        self.expect("[", "`[`")?;
        // Code addresses are signed instruction offsets; the other sources
        // are unsigned indices or ids.
        let imm_lo = if kind == LoadImmKind::CodeAddr {
            self.ranged(
                "code offset",
                "a number",
                i128::from(i32::MIN),
                i128::from(i32::MAX),
            )? as i32
        } else {
            self.ranged("index", "a number", 0, i128::from(u32::MAX))? as u32 as i32
        };
        self.expect("]", "`]`")?;
        let (start, _) = self.here();
        // Only the map-value forms carry an offset in the second slot; for
        // the others it must be zero, so they do not accept one.
        let takes_offset = matches!(kind, LoadImmKind::MapValue | LoadImmKind::MapValueByIdx);
        if !takes_offset {
            if !self.eat_ident("ll") {
                let offset_given = matches!(self.peek(), Some(Tok::Punct("+" | "-")));
                return Err(self.unexpected(if offset_given {
                    "`ll` (only map_value[..] and map_idx_value[..] take an offset)"
                } else {
                    "`ll` (lddw sources end in `ll`)"
                }));
            }
            return Ok(Op::LoadImm64 {
                kind,
                dst: d,
                imm_lo,
                imm_hi: 0,
            });
        }
        let negative = if self.eat("+") {
            Some(false)
        } else if self.eat("-") {
            Some(true)
        } else {
            None
        };
        let imm_hi = match negative {
            None => 0,
            Some(neg) => {
                let (m, _, end) = self.unsigned("an offset")?;
                let v = if neg { -m } else { m };
                check_range(
                    v,
                    "offset",
                    i128::from(i32::MIN),
                    i128::from(i32::MAX),
                    start,
                    end,
                )? as i32
            }
        };
        if !self.eat_ident("ll") {
            return Err(self.unexpected("`ll` (lddw sources end in `ll`)"));
        }
        Ok(Op::LoadImm64 {
            kind,
            dst: d,
            imm_lo,
            imm_hi,
        })
    }
}

fn check_range(
    value: i128,
    what: &'static str,
    min: i128,
    max: i128,
    start: usize,
    end: usize,
) -> Result<i128> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(LineError {
            start,
            end,
            kind: AsmErrorKind::OutOfRange {
                what,
                value,
                min,
                max,
            },
        })
    }
}
