//! Gates: synchronous IPC with a protocol label.
//!
//! `call` sends up to `MSG_MAX` bytes and blocks until the server's
//! `reply`, which lands in the caller's buffer. The first `recv` on a gate
//! binds the receiving task as its server. A call whose label differs from
//! the gate's is refused with `EPROTO` and never delivered: the protocol
//! mismatch CapCheck detects. Messages travel through a kernel buffer in
//! the thread object, so each side's user memory is only touched in its
//! own address space (the receiver's copy happens when it runs again).

use capscope_bytecode::abi::context::CapInvokeCtx;
use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::MSG_MAX;
use capscope_kernel_core::{Error, KResult, Kind, ObjId, Rights, Slot, SlotRef};

use crate::cap::{ObjEntry, Object};
use crate::hooks::{self, AttachPoint};
use crate::state::Kernel;
use crate::syscall::Outcome;
use crate::task::{Block, ThreadState, Wake};

impl Kernel {
    fn gate_mut(&mut self, obj: ObjId) -> Option<&mut crate::cap::Gate> {
        match self.objects.get_mut(&obj) {
            Some(ObjEntry {
                body: Object::Gate(g),
                ..
            }) => Some(g),
            _ => None,
        }
    }

    /// `call(gate_slot, label, msg, len)`.
    pub fn sys_call(&mut self, slot: u64, label: u64, msg: u64, len: u64) -> Outcome {
        let me = self.cur_task();
        let at = match Slot::from_raw(slot, SLOTS) {
            Ok(s) => SlotRef::new(me, s),
            Err(e) => return Outcome::Ret(Err(e)),
        };
        let cap = match self.caps.lookup(at).and_then(|c| c.expect(Kind::Gate)) {
            Ok(c) => c,
            Err(e) => return Outcome::Ret(Err(e)),
        };
        let (expected, server) = match self.gate_mut(cap.obj) {
            Some(g) => (g.label, g.server),
            None => return Outcome::Ret(Err(Error::NoEnt)),
        };
        let mut buf = [0u8; MSG_MAX];
        let checked = (|| {
            cap.rights.require(Rights::INVOKE)?;
            let n = usize::try_from(len)
                .ok()
                .filter(|&n| n <= MSG_MAX)
                .ok_or(Error::TooBig)?;
            self.copy_in(&mut buf[..n], msg)?;
            if label != expected {
                return Err(Error::Proto);
            }
            server.ok_or(Error::NotConn)?;
            Ok(n)
        })();
        hooks::fire(AttachPoint::CapInvoke, || CapInvokeCtx {
            header: hooks::header(),
            slot: at.slot.0,
            server_task: server.map_or(0, |t| t.0),
            object: cap.obj.0,
            label,
            expected,
            error: checked.err().map_or(0, |e| e.errno() as u32),
            _reserved: 0,
        });
        let n = match checked {
            Ok(n) => n,
            Err(e) => return Outcome::Ret(Err(e)),
        };
        // Invoke: cannot fail from here on.
        let caller = self.cur_id();
        let receiver = self.gate_mut(cap.obj).and_then(|g| g.receivers.pop_front());
        match receiver {
            Some(r) => {
                let rt = self.threads.get_mut(&r).expect("queued receiver exists");
                let ThreadState::Blocked(Block::Recv {
                    buf: rbuf,
                    len: rlen,
                    ..
                }) = rt.state
                else {
                    unreachable!("a queued receiver is blocked in recv")
                };
                rt.msg[..n].copy_from_slice(&buf[..n]);
                rt.msg_len = n;
                rt.reply_to = Some(caller);
                self.wake(
                    r,
                    Wake::Deliver {
                        buf: rbuf,
                        len: rlen,
                    },
                );
                self.block_current(Block::Reply {
                    server: r,
                    buf: msg,
                    len,
                });
                // Hand the CPU to the server at once (the caller waits anyway).
                self.runq.retain(|&x| x != r);
                self.runq.push_front(r);
            }
            None => {
                let t = self.cur();
                t.msg[..n].copy_from_slice(&buf[..n]);
                t.msg_len = n;
                self.block_current(Block::Send {
                    gate: cap.obj,
                    buf: msg,
                    len,
                });
                self.gate_mut(cap.obj)
                    .expect("gate")
                    .callers
                    .push_back(caller);
            }
        }
        Outcome::Blocked
    }

    /// `recv(gate_slot, buf, len)`.
    pub fn sys_recv(&mut self, slot: u64, buf: u64, len: u64) -> Outcome {
        let me = self.cur_task();
        let decoded = (|| {
            let at = SlotRef::new(me, Slot::from_raw(slot, SLOTS)?);
            let cap = self.caps.lookup(at)?.expect(Kind::Gate)?;
            cap.rights.require(Rights::READ)?;
            if self.cur().reply_to.is_some() {
                return Err(Error::Busy);
            }
            let g = self.gate_mut(cap.obj).ok_or(Error::NoEnt)?;
            if g.server.is_some_and(|s| s != me) {
                return Err(Error::Busy);
            }
            Ok(cap.obj)
        })();
        let gate = match decoded {
            Ok(g) => g,
            Err(e) => return Outcome::Ret(Err(e)),
        };
        let id = self.cur_id();
        let g = self.gate_mut(gate).expect("gate");
        g.server = Some(me);
        let Some(caller) = g.callers.pop_front() else {
            g.receivers.push_back(id);
            self.block_current(Block::Recv { gate, buf, len });
            return Outcome::Blocked;
        };
        let ct = &self.threads[&caller];
        let (msg, n) = (ct.msg, ct.msg_len.min(len as usize));
        let ThreadState::Blocked(Block::Send {
            buf: cbuf,
            len: clen,
            ..
        }) = ct.state
        else {
            unreachable!("a queued caller is blocked in send")
        };
        if let Err(e) = self.copy_out(buf, &msg[..n]) {
            // Leave the caller queued for the next receive.
            self.gate_mut(gate)
                .expect("gate")
                .callers
                .push_front(caller);
            return Outcome::Ret(Err(e));
        }
        self.threads.get_mut(&caller).expect("caller").state = ThreadState::Blocked(Block::Reply {
            server: id,
            buf: cbuf,
            len: clen,
        });
        self.cur().reply_to = Some(caller);
        Outcome::Ret(Ok(n as u64))
    }

    /// `reply(msg, len)`.
    pub fn sys_reply(&mut self, msg: u64, len: u64) -> KResult<u64> {
        let caller = self.cur().reply_to.ok_or(Error::NoEnt)?;
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MSG_MAX)
            .ok_or(Error::TooBig)?;
        let mut buf = [0u8; MSG_MAX];
        self.copy_in(&mut buf[..n], msg)?;
        let me = self.cur_id();
        self.cur().reply_to = None;
        if let Some(c) = self.threads.get_mut(&caller)
            && let ThreadState::Blocked(Block::Reply {
                server,
                buf: cbuf,
                len: clen,
            }) = c.state
            && server == me
        {
            c.msg[..n].copy_from_slice(&buf[..n]);
            c.msg_len = n;
            self.wake(
                caller,
                Wake::Deliver {
                    buf: cbuf,
                    len: clen,
                },
            );
        }
        Ok(0)
    }
}
