//! One probe object in a running kernel, seen from the host: load it,
//! carry out its ring-buffer records as they arrive, read its maps, and
//! detach it with its final output.
//!
//! All printing goes through [`crate::output::Printer`], so `-f json`,
//! symbolized stacks and drop warnings apply to sessions as to `exec`.

use std::io;

use capscope_bytecode::model::{MapSnapshot, Snapshot};
use capscope_bytecode::object::{FieldFormat, MapDef, MapKind, ProbeObject};
use capscope_control::msg::{MAX_DRAIN_BYTES, MAX_PAGE_ENTRIES};
use capscope_control::{ControlError, Loaded, Reply, Request};
use capscope_kernel_hooks::{AttachPoint, LoadError, ObjectId};

use super::client::{Client, Result, SessionError, unexpected};
use crate::output::{self, Printer, Record};

/// Bytes of map entries asked for per page (the serial line moves a few
/// hundred KiB per second under emulation, so pages stay small).
const PAGE_BYTES: usize = 48 << 10;

/// Why a load did not attach anything.
#[derive(Debug)]
pub enum LoadFailure {
    /// The kernel refused the object (its verifier, limits, ...).
    Refused(LoadError),
    /// The channel failed.
    Session(SessionError),
}

impl From<SessionError> for LoadFailure {
    fn from(e: SessionError) -> Self {
        LoadFailure::Session(e)
    }
}

/// A loaded object: the host's copy (for decoding its maps and records)
/// and its id in the kernel.
pub struct Probe {
    obj: ProbeObject,
    id: ObjectId,
    cpus: u32,
    exited: bool,
}

impl Probe {
    /// Send `obj` to the kernel to be verified, compiled and attached.
    pub fn load(
        client: &mut Client,
        obj: ProbeObject,
        cpus: u32,
    ) -> std::result::Result<(Probe, Loaded), LoadFailure> {
        let object = obj.to_bytes();
        match client.request(&Request::Load { object }) {
            Ok(Reply::Loaded(l)) => Ok((
                Probe {
                    obj,
                    id: l.id,
                    cpus: cpus.max(1),
                    exited: false,
                },
                l,
            )),
            Ok(other) => Err(unexpected("the load", &other).into()),
            Err(SessionError::Kernel(ControlError::Load(e))) => Err(LoadFailure::Refused(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's id in the kernel.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Drain every ring buffer until it is empty and carry out the records
    /// in order: printf output, `print`, `clear`, `zero`, `exit`. Returns
    /// true if `exit()` was seen (records after it are dropped, as in
    /// bpftrace).
    pub fn pump(&mut self, client: &mut Client, p: &mut Printer<'_>) -> anyhow::Result<bool> {
        if self.exited {
            return Ok(true);
        }
        for i in 0..self.obj.maps.len() {
            let def = self.obj.maps[i].clone();
            if def.kind != MapKind::RingBuf {
                continue;
            }
            loop {
                let drained = match client.request(&Request::Drain {
                    id: self.id,
                    map: i as u32,
                    max_bytes: MAX_DRAIN_BYTES,
                })? {
                    Reply::Drained(d) => d,
                    other => return Err(unexpected("a drain", &other).into()),
                };
                for rec in &drained.records {
                    if self.carry_out(client, p, rec)? {
                        self.exited = true;
                        return Ok(true);
                    }
                }
                p.drops(&def.name, def.kind, Some(def.max_entries), drained.drops)?;
                if !drained.more {
                    break;
                }
            }
        }
        Ok(false)
    }

    /// One record; true for `exit()`.
    fn carry_out(
        &mut self,
        client: &mut Client,
        p: &mut Printer<'_>,
        rec: &[u8],
    ) -> anyhow::Result<bool> {
        match p.record(&self.obj, rec)? {
            Record::PrintMap(m) => self.print_map(client, p, m)?,
            Record::ClearMap(m) => {
                client.request(&Request::ClearMap {
                    id: self.id,
                    map: m,
                })?;
            }
            Record::ZeroMap(m) => {
                client.request(&Request::ZeroMap {
                    id: self.id,
                    map: m,
                })?;
            }
            Record::Exit => return Ok(true),
            Record::Printf(_) | Record::Unknown(_) => {}
        }
        Ok(false)
    }

    /// `print(@m)`: read the map (and the stack map, if its fields are
    /// stacks) now and print it.
    fn print_map(&self, client: &mut Client, p: &mut Printer<'_>, m: u32) -> anyhow::Result<()> {
        let Some(def) = self.obj.maps.get(m as usize) else {
            return Ok(());
        };
        let snap = self.read_map(client, m)?;
        let stacks = match self.stack_map_index() {
            Some(s) if has_stacks(def) && s != m => Some(self.read_map(client, s)?),
            _ => None,
        };
        p.map(def, &snap, stacks.as_ref())?;
        Ok(())
    }

    fn stack_map_index(&self) -> Option<u32> {
        self.obj
            .maps
            .iter()
            .position(|d| d.kind == MapKind::StackTrace)
            .map(|i| i as u32)
    }

    /// Every entry of map `m`, page by page, as the printer's snapshot
    /// (sorted by key; array slots that are all zero left out, as the
    /// reference model lists them). Ring buffers come back empty with
    /// their drop count.
    pub fn read_map(&self, client: &mut Client, m: u32) -> Result<MapSnapshot> {
        let def = self
            .obj
            .maps
            .get(m as usize)
            .ok_or_else(|| SessionError::Protocol(format!("the object has no map {m}")))?;
        if def.kind == MapKind::RingBuf {
            let drops = self.ringbuf_drops(client, m)?;
            return Ok(output::snapshot(def, Vec::new(), 1, drops));
        }
        let per = if def.kind.per_cpu() {
            self.cpus as usize
        } else {
            1
        };
        let entry_bytes = def.key_size as usize + def.value_size as usize * per;
        let max_entries = (PAGE_BYTES / entry_bytes.max(1)).clamp(1, MAX_PAGE_ENTRIES as usize);
        let mut entries = Vec::new();
        let (mut cursor, mut values_per_entry, mut drops) = (Some(0), 1, 0);
        while let Some(c) = cursor {
            let read = match client.request(&Request::ReadMap {
                id: self.id,
                map: m,
                cursor: c,
                max_entries: max_entries as u32,
            })? {
                Reply::Map(r) => r,
                other => return Err(unexpected("a map read", &other)),
            };
            values_per_entry = read.values_per_entry;
            drops = read.drops;
            entries.extend(read.page.entries.into_iter().map(|e| (e.key, e.value)));
            // A cursor that does not advance would loop forever.
            cursor = read.page.next.filter(|&n| n > c);
        }
        if matches!(def.kind, MapKind::Array | MapKind::PerCpuArray) {
            entries.retain(|(_, v)| v.iter().any(|&b| b != 0));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(output::snapshot(def, entries, values_per_entry, drops))
    }

    /// A ring buffer's drop count, from the listing.
    fn ringbuf_drops(&self, client: &mut Client, m: u32) -> Result<u64> {
        let listing = match client.request(&Request::List)? {
            Reply::Listing(l) => l,
            other => return Err(unexpected("the listing", &other)),
        };
        Ok(listing
            .objects
            .iter()
            .chain(&listing.parked)
            .find(|o| o.id == self.id)
            .and_then(|o| o.maps.get(m as usize))
            .map_or(0, |mi| mi.drops))
    }

    /// Every map, for printing at the end.
    pub fn snapshot(&self, client: &mut Client) -> Result<Snapshot> {
        let mut maps = Vec::with_capacity(self.obj.maps.len());
        for i in 0..self.obj.maps.len() {
            maps.push(self.read_map(client, i as u32)?);
        }
        Ok(Snapshot { maps })
    }

    /// Detach (the kernel runs `END` and parks the object), carry out the
    /// records that are left (`END`'s output is among them) unless
    /// `exit()` ended the session, print the maps that are printed at the
    /// end, report missed events, and release the object.
    pub fn finish(mut self, client: &mut Client, p: &mut Printer<'_>) -> anyhow::Result<()> {
        match client.request(&Request::Detach { id: self.id }) {
            Ok(_) => {}
            // Detached by someone else (`capscope detach`): it is parked.
            Err(SessionError::Kernel(ControlError::Host(
                capscope_kernel_hooks::HostError::NoSuchObject(_),
            ))) => {}
            Err(e) => return Err(e.into()),
        }
        self.pump(client, p)?;
        let snap = self.snapshot(client)?;
        p.maps_at_end(&self.obj.maps, &snap)?;
        self.report_missed(client, p)?;
        client.request(&Request::Release { id: self.id })?;
        p.flush()?;
        Ok(())
    }

    /// Events at this object's attach points that ran no program because
    /// their CPU was already running one.
    fn report_missed(&self, client: &mut Client, p: &mut Printer<'_>) -> anyhow::Result<()> {
        let listing = match client.request(&Request::List)? {
            Reply::Listing(l) => l,
            other => return Err(unexpected("the listing", &other).into()),
        };
        let ours: Vec<AttachPoint> = self.obj.programs.iter().map(|p| p.attach.point).collect();
        for (point, n) in &listing.status.missed {
            if ours.contains(point) {
                p.missed(point.name(), *n)?;
            }
        }
        Ok(())
    }
}

/// Whether a map's display has stack fields.
fn has_stacks(def: &MapDef) -> bool {
    def.display
        .key
        .iter()
        .chain(&def.display.value)
        .any(|f| matches!(f.format, FieldFormat::UserStack | FieldFormat::KernelStack))
}

/// io errors from printing end the session like channel errors.
impl From<io::Error> for LoadFailure {
    fn from(e: io::Error) -> Self {
        LoadFailure::Session(SessionError::Io {
            what: "writing output".into(),
            error: e,
        })
    }
}
