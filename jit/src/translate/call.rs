//! Helper calls: by absolute address, with the helper's own arity, and
//! `map_lookup_elem` on array and per-CPU array maps inlined when the
//! linker describes their storage.

use capscope_bytecode::abi::helpers::{self, id};
use capscope_bytecode::insn::{HelperId, Reg};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, InstBuilder, SigRef, Signature};

use super::track::RegFact;
use super::{Translator, mem_flags};
use crate::error::{JitError, Result};
use crate::linker::ArrayLayout;

impl Translator<'_, '_> {
    /// The signature of a helper taking `arity` of r1..r5. Helpers are
    /// `extern "C" fn(u64 x5) -> u64`; passing fewer argument registers is
    /// the same call at the machine level (SysV passes them in registers the
    /// callee ignores), and saves moving values the helper never reads.
    fn helper_sig(&mut self, arity: usize) -> SigRef {
        if let Some(&s) = self.sigs.get(&arity) {
            return s;
        }
        let mut sig = Signature::new(self.call_conv);
        sig.params.extend((0..arity).map(|_| AbiParam::new(I64)));
        sig.returns.push(AbiParam::new(I64));
        let s = self.b.import_signature(sig);
        self.sigs.insert(arity, s);
        s
    }

    /// `call <helper>`: r0 = helper(r1, ..., r5). r1-r5 are clobbered,
    /// which costs nothing: the interpreter traps on reading them after.
    pub(super) fn call_helper(&mut self, helper: HelperId) -> Result<()> {
        if helper == id::MAP_LOOKUP_ELEM
            && self.opts.inline_array_lookups
            && let Some(map) = self.track.reg(Reg::R1).map
            && let Some(layout) = self.linker.array_map(map)
        {
            self.inline_array_lookup(layout);
            return Ok(());
        }
        let f = self.linker.helper(helper).ok_or(JitError::UnknownHelper {
            at: self.at,
            helper,
        })?;
        let arity = helpers::find(helper).map_or(5, |h| h.args.len());
        let sig = self.helper_sig(arity);
        let callee = self.b.ins().iconst(I64, f as usize as i64);
        let args: alloc::vec::Vec<_> = (1..=arity)
            .map(|i| {
                let r = Reg::new(i as u8).unwrap_or(Reg::R1);
                self.get(r)
            })
            .collect();
        let call = self.b.ins().call_indirect(sig, callee, &args);
        let r0 = self.b.inst_results(call)[0];
        self.set(Reg::R0, r0);
        self.track.call(helper);
        Ok(())
    }

    /// `r0 = key < max_entries ? values + cpu * cpu_stride + key * stride :
    /// 0`, with the u32 key read from r2: branch-free, and when the key is
    /// a known stack constant (as for key-less aggregations), just the
    /// address, known non-null, so the program's null check folds away.
    fn inline_array_lookup(&mut self, layout: ArrayLayout) {
        let known_key = self.track.stack_bytes(Reg::R2, 4);
        let mut fact = RegFact::default();
        let cpu_off = (layout.cpu_stride != 0).then(|| {
            let cpu = self.cpu;
            self.scale(cpu, layout.cpu_stride)
        });
        let r0 = match known_key {
            Some(k) if k < u64::from(layout.max_entries) => {
                let base = layout
                    .values
                    .wrapping_add(k.wrapping_mul(u64::from(layout.value_stride)));
                fact.nonnull = true;
                let base = self.b.ins().iconst(I64, base as i64);
                match cpu_off {
                    Some(o) => self.b.ins().iadd(base, o),
                    None => base,
                }
            }
            Some(_) => {
                fact.konst = Some(0);
                self.b.ins().iconst(I64, 0)
            }
            None => {
                let key_ptr = self.get(Reg::R2);
                let key = self.b.ins().uload32(mem_flags(), key_ptr, 0);
                let in_range = self.b.ins().icmp_imm_u(
                    IntCC::UnsignedLessThan,
                    key,
                    i64::from(layout.max_entries),
                );
                // The key is a u32 loaded into an i64: no overflow.
                let offset = self.scale(key, u64::from(layout.value_stride));
                let mut addr = self.b.ins().iadd_imm_u(offset, layout.values as i64);
                if let Some(o) = cpu_off {
                    addr = self.b.ins().iadd(addr, o);
                }
                let null = self.b.ins().iconst(I64, 0);
                self.b.ins().select(in_range, addr, null)
            }
        };
        self.set(Reg::R0, r0);
        self.track.call(id::MAP_LOOKUP_ELEM);
        self.track.set(Reg::R0, fact);
    }

    /// `v * k`, a shift when `k` is a power of two (strides usually are).
    fn scale(&mut self, v: cranelift_codegen::ir::Value, k: u64) -> cranelift_codegen::ir::Value {
        if k.is_power_of_two() {
            self.b.ins().ishl_imm_u(v, i64::from(k.trailing_zeros()))
        } else {
            self.b.ins().imul_imm_u(v, k as i64)
        }
    }
}
