//! attach, detach.

use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::{STACK_SIZE, STACK_TOP, USER_BOTTOM};
use capscope_kernel_core::{Error, KResult, Kind, Rights, Slot, SlotRef};

use crate::cap::{ObjEntry, Object};
use crate::state::Kernel;
use crate::task::Attachment;

/// `attach(mem_slot, vaddr, rights)`: make a Memory object accessible at
/// `vaddr` with `rights` (READ/WRITE/EXEC, a subset of the capability's).
/// Pages appear on first touch.
pub fn attach(k: &mut Kernel, slot: u64, vaddr: u64, rights: u64) -> KResult<u64> {
    let me = k.cur_task();
    let cap = k
        .caps
        .lookup(SlotRef::new(me, Slot::from_raw(slot, SLOTS)?))?
        .expect(Kind::Memory)?;
    let rights = Rights::from_raw(rights)?;
    let mem_rights = Rights::READ.or(Rights::WRITE).or(Rights::EXEC);
    if rights == Rights::NONE || !mem_rights.contains(rights) {
        return Err(Error::Inval);
    }
    cap.rights.require(rights)?;
    let pages = match k.objects.get(&cap.obj) {
        Some(ObjEntry {
            body: Object::Memory(m),
            ..
        }) => m.pages.len() as u64,
        _ => return Err(Error::NoEnt),
    };
    let end = vaddr.checked_add(pages * 4096).ok_or(Error::Inval)?;
    if !vaddr.is_multiple_of(4096) || vaddr < USER_BOTTOM || end > STACK_TOP - STACK_SIZE {
        return Err(Error::Inval);
    }
    let task = k.tasks.get(&me).ok_or(Error::NoEnt)?;
    if task.attachments.len() >= crate::state::MAX_ATTACHMENTS {
        return Err(Error::NoSpc);
    }
    if task
        .attachments
        .iter()
        .any(|a| vaddr < a.base + a.pages * 4096 && a.base < end)
    {
        return Err(Error::Busy);
    }
    let aspace = task.aspace.as_ref().ok_or(Error::NoEnt)?;
    if (0..pages).any(|p| aspace.is_mapped(vaddr + p * 4096)) {
        return Err(Error::Busy);
    }
    // Invoke.
    k.tasks
        .get_mut(&me)
        .expect("task")
        .attachments
        .push(Attachment {
            base: vaddr,
            pages,
            mem: cap.obj,
            rights,
        });
    k.hold(cap.obj);
    Ok(0)
}

/// `detach(vaddr)`: remove the attachment starting at `vaddr`.
pub fn detach(k: &mut Kernel, vaddr: u64) -> KResult<u64> {
    let me = k.cur_task();
    let task = k.tasks.get_mut(&me).ok_or(Error::NoEnt)?;
    let i = task
        .attachments
        .iter()
        .position(|a| a.base == vaddr)
        .ok_or(Error::NoEnt)?;
    let a = task.attachments.remove(i);
    let aspace = task.aspace.as_mut().expect("running task");
    for p in 0..a.pages {
        aspace.unmap(a.base + p * 4096);
    }
    k.unhold(a.mem);
    Ok(0)
}
