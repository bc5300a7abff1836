//! delete, map, unmap, cap_info.

use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::CapInfo;
use capscope_kernel_core::{Error, KResult, Kind, Rights, Slot, SlotRef};

use crate::cap::{ObjEntry, Object};
use crate::state::Kernel;
use crate::task::TaskState;

fn own(k: &Kernel, raw: u64) -> KResult<SlotRef> {
    Ok(SlotRef::new(k.cur_task(), Slot::from_raw(raw, SLOTS)?))
}

/// `delete(slot)`.
pub fn delete(k: &mut Kernel, slot: u64) -> KResult<u64> {
    let op = k.caps.decode_delete(own(k, slot)?)?;
    k.with_caps(|c, ev| c.invoke_delete(op, ev));
    Ok(0)
}

/// `map(src_slot, dst_task_slot, dst_slot, rights, flags)`. The
/// destination task is named by a Task capability with `RIGHT_WRITE`
/// (write access to its capability space).
pub fn map(
    k: &mut Kernel,
    src: u64,
    dst_task: u64,
    dst_slot: u64,
    rights: u64,
    flags: u64,
) -> KResult<u64> {
    let src = own(k, src)?;
    let tcap = k.caps.lookup(own(k, dst_task)?)?.expect(Kind::Task)?;
    tcap.rights.require(Rights::WRITE)?;
    let target = match k.objects.get(&tcap.obj) {
        Some(ObjEntry {
            body: Object::Task(t),
            ..
        }) => *t,
        _ => return Err(Error::NoEnt),
    };
    if k.tasks
        .get(&target)
        .is_none_or(|t| matches!(t.state, TaskState::Exited(_)))
    {
        return Err(Error::NoEnt);
    }
    let dst = SlotRef::new(target, Slot::from_raw(dst_slot, SLOTS)?);
    let op = k.caps.decode_map(src, dst, rights, flags)?;
    let ev = k.with_caps(|c, ev| c.invoke_map(op, ev));
    Ok(ev.replaced.is_some() as u64)
}

/// `unmap(slot, flags)`: returns how many capabilities were revoked.
pub fn unmap(k: &mut Kernel, slot: u64, flags: u64) -> KResult<u64> {
    let op = k.caps.decode_unmap(own(k, slot)?, flags)?;
    Ok(k.with_caps(|c, ev| c.invoke_unmap(op, ev)) as u64)
}

/// `cap_info(slot, buf)`: write a [`CapInfo`] record.
pub fn cap_info(k: &mut Kernel, slot: u64, buf: u64) -> KResult<u64> {
    let cap = k.caps.lookup(own(k, slot)?)?;
    let detail = match k.objects.get(&cap.obj).map(|e| &e.body) {
        Some(Object::Memory(m)) => m.pages.len() as u64 * 4096,
        Some(Object::Gate(g)) => g.label,
        Some(Object::Factory(q)) => *q,
        Some(Object::Irq(i)) => i.line as u64,
        Some(Object::Task(t)) => t.0 as u64,
        Some(Object::Thread(t)) => t.0 as u64,
        None => 0,
    };
    let info = CapInfo {
        kind: cap.kind.raw(),
        rights: cap.rights.raw(),
        object: cap.obj.0,
        detail,
    };
    let words = [info.kind, info.rights, info.object, info.detail];
    let mut bytes = [0u8; 32];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    k.copy_out(buf, &bytes)?;
    Ok(0)
}

#[allow(dead_code)]
const _: () = assert!(core::mem::size_of::<CapInfo>() == 32);
