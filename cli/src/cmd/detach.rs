//! `capscope detach --control PATH ID`: detach one probe object from a
//! running kernel.
//!
//! The kernel stops the object's programs, runs its `END` programs and
//! tells every session; the session that attached it prints its final
//! output and releases it. An object nobody claims within a few seconds
//! (its session is gone) is released here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use capscope_control::{ControlError, Reply, Request};
use capscope_kernel_hooks::{HostError, ObjectId};

use crate::session::{Client, SessionError};

/// How long the attaching session gets to read a detached object.
const CLAIM_WAIT: Duration = Duration::from_secs(5);

/// Detach a probe object from a running kernel.
#[derive(clap::Args)]
#[command(
    after_long_help = "Example:\n    capscope ps --control /tmp/capscope.sock\n    capscope detach --control /tmp/capscope.sock 3"
)]
pub struct Args {
    /// The control socket `capscope boot --control PATH` serves.
    #[arg(long, value_name = "PATH")]
    control: PathBuf,
    /// The object's id, as `capscope ps` lists it.
    id: u32,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let id = ObjectId(args.id);
    let mut client = Client::connect(&args.control, Duration::ZERO)?;
    client.hello()?;
    match client.request(&Request::Detach { id }) {
        Ok(_) => {}
        Err(SessionError::Kernel(ControlError::Host(HostError::NoSuchObject(_)))) => {
            eprintln!("error: no attached probe object has id {}", args.id);
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    }
    println!("detached probe object {}", args.id);
    // Give its session time to print the final output and release it.
    let start = Instant::now();
    while start.elapsed() < CLAIM_WAIT {
        let Reply::Listing(l) = client.request(&Request::List)? else {
            anyhow::bail!("unexpected answer to the listing");
        };
        if !l.parked.iter().any(|o| o.id == id) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    match client.request(&Request::Release { id }) {
        Ok(_) | Err(SessionError::Kernel(_)) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
