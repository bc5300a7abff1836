//! Shared test harness: compile a script, verify every program, and run
//! programs on synthetic events in the reference interpreter.
#![allow(dead_code)]

use capscope_bytecode::MapIdx;
use capscope_bytecode::abi::{AttachPoint, fields};
use capscope_bytecode::interp::{self, Config};
use capscope_bytecode::model::{EventState, ModelEnv};
use capscope_bytecode::object::{MapKind, ProbeObject};

/// Compile, panicking with the rendered diagnostics on failure.
pub fn compile(src: &str) -> capscope_lang::Compiled {
    match capscope_lang::compile(src) {
        Ok(c) => c,
        Err(e) => panic!("does not compile:\n{}", e.render("test.probe", src)),
    }
}

/// Verify every program of an object; the error names the program.
pub fn verify_all(obj: &ProbeObject) -> Result<(), String> {
    for p in &obj.programs {
        capscope_verifier::verify(p, &obj.maps, &Default::default())
            .map_err(|r| format!("{}: {r}", p.name))?;
    }
    Ok(())
}

pub struct Harness {
    pub obj: ProbeObject,
    pub env: ModelEnv,
}

impl Harness {
    pub fn new(src: &str) -> Harness {
        let c = compile(src);
        if let Err(e) = verify_all(&c.object) {
            panic!("verifier rejects generated code: {e}\n{src}");
        }
        let env = ModelEnv::new(
            &c.object.maps,
            EventState {
                ncpus: 2,
                ..EventState::default()
            },
        );
        Harness { obj: c.object, env }
    }

    /// Run the program named `name` on a context with these fields set
    /// (header fields by their table names: timestamp_ns, cpu, task, thread).
    pub fn fire(&mut self, name: &str, set: &[(&str, u64)]) {
        let prog = self
            .obj
            .programs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no program {name}"));
        let point = prog.attach.point;
        let ctx = context(point, set);
        for (f, v) in set {
            match *f {
                "cpu" => self.env.event_mut().cpu = *v as u32,
                "task" => self.env.event_mut().task = *v as u32,
                "thread" => self.env.event_mut().thread = *v as u32,
                _ => {}
            }
        }
        let exit = interp::run(&prog.insns, &ctx, &mut self.env, &Config::default())
            .unwrap_or_else(|t| panic!("{name} trapped: {t:?}"));
        assert_eq!(exit.r0, 0);
    }

    fn idx(&self, map: &str) -> usize {
        self.obj
            .maps
            .iter()
            .position(|m| m.name == map)
            .unwrap_or_else(|| panic!("no map {map}"))
    }

    /// Entries of a map as (key bytes, per-CPU values summed as u64s at
    /// each 8-byte offset; for plain maps the single value).
    pub fn entries(&self, map: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let i = self.idx(map);
        let snap = self.env.snapshot();
        snap.maps[i]
            .entries
            .iter()
            .map(|e| {
                let v = if self.obj.maps[i].kind.per_cpu() {
                    let mut sum = vec![0u8; e.values[0].len()];
                    for cpu in &e.values {
                        for w in (0..sum.len()).step_by(8) {
                            let a = u64::from_le_bytes(sum[w..w + 8].try_into().unwrap());
                            let b = u64::from_le_bytes(cpu[w..w + 8].try_into().unwrap());
                            sum[w..w + 8].copy_from_slice(&a.wrapping_add(b).to_le_bytes());
                        }
                    }
                    sum
                } else {
                    e.values[0].clone()
                };
                (e.key.clone(), v)
            })
            .collect()
    }

    /// The raw per-CPU values of one map entry.
    pub fn per_cpu(&self, map: &str) -> Vec<Vec<Vec<u8>>> {
        let i = self.idx(map);
        self.env.snapshot().maps[i]
            .entries
            .iter()
            .map(|e| e.values.clone())
            .collect()
    }

    /// A map without keys: its single value as i64 (0 if absent).
    pub fn scalar(&self, map: &str) -> i64 {
        match self.entries(map).first() {
            Some((_, v)) => word(v, 0) as i64,
            None => 0,
        }
    }

    /// Ring-buffer records so far.
    pub fn records(&mut self) -> Vec<Vec<u8>> {
        match self
            .obj
            .maps
            .iter()
            .position(|m| m.kind == MapKind::RingBuf)
        {
            Some(i) => self.env.take_records(MapIdx(i as u32)),
            None => Vec::new(),
        }
    }
}

/// Context bytes for `point` with the named fields set.
pub fn context(point: AttachPoint, set: &[(&str, u64)]) -> Vec<u8> {
    let mut ctx = vec![0u8; point.context_size()];
    for (name, v) in set {
        let f = fields::find(point, name).unwrap_or_else(|| panic!("{point} has no field {name}"));
        let bytes = v.to_le_bytes();
        ctx[f.offset..f.offset + f.ty.size()].copy_from_slice(&bytes[..f.ty.size()]);
    }
    ctx
}

/// The little-endian u64 at `off`.
pub fn word(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().saturating_sub(off).min(8);
    w[..n].copy_from_slice(&b[off..off + n]);
    u64::from_le_bytes(w)
}

/// The little-endian u32 at `off`.
pub fn word32(b: &[u8], off: usize) -> u32 {
    word(b, off) as u32
}
