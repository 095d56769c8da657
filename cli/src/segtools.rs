//! `ls`, `inspect`, `rm`, `send`, `recv`: the segment tools.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipcring::ring::{self, Consumer, Producer, RingInfo, RingOptions};
use ipcring::segment::{self, SegmentInfo};
use ipcring::{Error, TryRecvError};
use serde_json::{json, Value};

use crate::args::{
    Failure, InspectArgs, LsArgs, RecvArgs, RmArgs, SendArgs, EXIT_FAILURE, EXIT_UNDELIVERED,
};

/// A segment as `ls` and `inspect` show it: the common header, plus the ring's state for a
/// ring.
struct Seen {
    info: SegmentInfo,
    ring: Option<RingInfo>,
    seqlock: Option<ipcring::seqlock::SeqlockInfo>,
    broadcast: Option<ipcring::broadcast::BroadcastInfo>,
    service: Option<ipcring::service::ServiceInfo>,
}

fn look(name: &str) -> ipcring::Result<Seen> {
    let info = segment::inspect(name)?;
    let is = |kind: &str| info.kind == kind;
    Ok(Seen {
        ring: is("ring").then(|| ring::inspect(name)).transpose()?,
        seqlock: is("seqlock")
            .then(|| ipcring::seqlock::inspect(name))
            .transpose()?,
        broadcast: is("broadcast")
            .then(|| ipcring::broadcast::inspect(name))
            .transpose()?,
        service: is("service")
            .then(|| ipcring::service::inspect(name))
            .transpose()?,
        info,
    })
}

/// Role names of a kind's role bytes.
fn roles(s: &Seen) -> Vec<String> {
    s.info
        .roles_held
        .iter()
        .enumerate()
        .filter(|(_, &held)| held)
        .map(|(b, _)| match (s.info.kind, b) {
            ("ring", 0) => "producer".to_owned(),
            ("ring", 1) => "consumer".to_owned(),
            ("seqlock", 0) => "writer".to_owned(),
            ("seqlock", 1) => "readers".to_owned(),
            ("broadcast", 0) => "publisher".to_owned(),
            ("broadcast", 1) => "subscribers".to_owned(),
            ("service", 0) => "server".to_owned(),
            ("service channel", 0) => "client".to_owned(),
            (_, b) => format!("role{b}"),
        })
        .collect()
}

fn state(info: &SegmentInfo) -> &'static str {
    if info.is_stale() {
        "stale"
    } else {
        "live"
    }
}

/// A JSON object of `x`'s fields, then of its methods without arguments (after `;`), each
/// under its own name.
macro_rules! fields {
    ($x:expr; $($f:ident),* $(; $($m:ident()),*)? $(,)?) => {{
        let x = $x;
        let mut m = serde_json::Map::new();
        $(m.insert(stringify!($f).to_owned(), json!(x.$f));)*
        $($(m.insert(stringify!($m).to_owned(), json!(x.$m()));)*)?
        Value::Object(m)
    }};
}

fn to_json(s: &Seen) -> Value {
    let i = &s.info;
    let mut v = fields!(i; name, kind, version, total_size, creator_pid, created_ns, roles_held);
    v["nonce"] = json!(format!("{:#018x}", i.nonce));
    v["roles"] = json!(roles(s));
    v["state"] = json!(state(i));
    if let Some(r) = &s.ring {
        v["ring"] = fields!(r;
            capacity, max_message, write_pos, read_pos, fill,
            producer_attached, consumer_attached, producer_attaches, consumer_attaches,
            consumer_waiting, consumer_asleep, producer_asleep, consumer_excuses,
            producer_excuses; positions_consistent()
        );
    }
    if let Some(q) = &s.seqlock {
        v["seqlock"] = fields!(q;
            value_size, type_tag, version, write_in_progress,
            writer_attached, readers_attached, writer_attaches, reader_attaches,
        );
    }
    if let Some(sv) = &s.service {
        v["service"] =
            fields!(sv; max_clients, max_slots, max_message, server_attached; connected());
        v["service"]["clients"] = sv
            .clients
            .iter()
            .map(|c| {
                let mut e = fields!(c; entry, pid, alive, channel);
                e["state"] = json!(c.state.as_str());
                e
            })
            .collect();
    }
    if let Some(b) = &s.broadcast {
        v["broadcast"] = fields!(b;
            slots, max_message, slot_size, published, publisher_attached, subscribers_attached,
        );
    }
    v
}

/// Prints `v` as pretty JSON (`--json`).
fn print_json(v: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure::new(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// True if the error says "this file is not one of ours" (as opposed to "one of ours, but
/// broken").
fn not_ours(e: &Error) -> bool {
    match e {
        Error::BadSegment { reason, .. } => {
            reason.starts_with("wrong magic") || reason.starts_with("truncated")
        }
        _ => true,
    }
}

fn candidates(dirs: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    let shm = Path::new("/dev/shm");
    let mut scan = |dir: &Path, as_shm: bool| {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut here: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| {
                let f = e.file_name().into_string().ok()?;
                Some(if as_shm {
                    format!("/{f}")
                } else {
                    dir.join(f).to_string_lossy().into_owned()
                })
            })
            .collect();
        here.sort();
        names.extend(here);
    };
    if cfg!(target_os = "linux") {
        scan(shm, true);
    }
    for d in dirs {
        scan(d, false);
    }
    names
}

/// A name `ls` lists without showing its state.
enum Listed {
    /// One of ours, but unusable.
    Broken(Error),
    /// Not opened: another user's, or the system refused access.
    Denied {
        owner: Option<u32>,
        mode: Option<u32>,
        note: String,
    },
}

/// What `ls` says about a name it was not allowed to open, or `None` when the file can be
/// read and is not a segment at all. Only the first 8 bytes are read (with `pread`, which
/// cannot fault however the owner changes the file).
fn denied_entry(name: &str, owner: Option<u32>, mode: Option<u32>, reason: &str) -> Option<Listed> {
    use std::os::unix::fs::FileExt;
    let path = if name.starts_with('/') && !name[1..].contains('/') {
        format!("/dev/shm{name}")
    } else {
        name.to_owned()
    };
    let magic_ok = std::fs::File::open(&path).ok().map(|f| {
        let mut m = [0u8; 8];
        f.read_exact_at(&mut m, 0).is_ok() && m == *b"SHMRING\0"
    });
    let note = match magic_ok {
        Some(false) => return None,
        Some(true) => "another user's segment, not inspected".to_owned(),
        None if reason.contains("EACCES") => "not readable by this user".to_owned(),
        None => reason.to_owned(),
    };
    Some(Listed::Denied { owner, mode, note })
}

/// `ipcring ls`.
pub fn ls(a: &LsArgs) -> Result<(), Failure> {
    if let Some(d) = a.dirs.iter().find(|d| !d.is_dir()) {
        return Err(Failure::new(format!("{}: not a directory", d.display())));
    }
    let mut found = Vec::new();
    let mut half = Vec::new();
    for name in candidates(&a.dirs) {
        match look(&name) {
            Ok(s) => found.push(Ok(s)),
            Err(Error::PermissionDenied {
                owner,
                mode,
                reason,
                ..
            }) => {
                if let Some(d) = denied_entry(&name, owner, mode, &reason) {
                    found.push(Err((name, d)));
                }
            }
            Err(e) => match segment::half_created(&name) {
                Ok(Some(h)) => half.push(h),
                _ if not_ours(&e) => {}
                _ => found.push(Err((name, Listed::Broken(e)))),
            },
        }
    }
    if a.json {
        let mut v: Vec<Value> = found
            .iter()
            .map(|f| match f {
                Ok(s) => to_json(s),
                Err((n, Listed::Broken(e))) => {
                    json!({"name": n, "state": "broken", "error": e.to_string()})
                }
                Err((n, Listed::Denied { owner, mode, note })) => json!({
                    "name": n, "state": "not opened", "owner": owner,
                    "mode": mode.map(|m| format!("{m:04o}")), "note": note,
                }),
            })
            .collect();
        v.extend(half.iter().map(|h| {
            json!({
                "name": h.name,
                "state": "half-created",
                "total_size": h.size,
                "mode": format!("{:04o}", h.mode),
                "in_progress": h.in_progress,
            })
        }));
        return print_json(&v);
    }
    if found.is_empty() && half.is_empty() {
        println!("no ipcring segments");
        return Ok(());
    }
    println!(
        "{:<32} {:<9} {:>10} {:>10} {:>10} {:<18} {:>8} {:<6}",
        "NAME", "KIND", "SIZE", "CAPACITY", "FILL", "ATTACHED", "CREATOR", "STATE"
    );
    for f in &found {
        match f {
            Ok(s) => {
                // CAPACITY / FILL: bytes for a ring, slots / messages published for a
                // broadcast ring, value size / version for a seqlock cell, clients at most
                // / connected for a service.
                let (cap, fill) = match (&s.ring, &s.broadcast, &s.seqlock, &s.service) {
                    (Some(r), ..) => (r.capacity.to_string(), r.fill.to_string()),
                    (_, Some(b), ..) => (format!("{} slots", b.slots), b.published.to_string()),
                    (_, _, Some(q), _) => {
                        (format!("{} B", q.value_size), format!("v{}", q.version))
                    }
                    (.., Some(sv)) => (
                        format!("{} clients", sv.max_clients),
                        format!("{} conn", sv.connected()),
                    ),
                    _ => ("-".into(), "-".into()),
                };
                let att = roles(s);
                println!(
                    "{:<32} {:<9} {:>10} {:>10} {:>10} {:<18} {:>8} {:<6}",
                    s.info.name,
                    s.info.kind,
                    s.info.total_size,
                    cap,
                    fill,
                    if att.is_empty() {
                        "-".into()
                    } else {
                        att.join(",")
                    },
                    s.info.creator_pid,
                    state(&s.info)
                );
                if let Some(sv) = &s.service {
                    for c in &sv.clients {
                        println!("  {}", client_line(c));
                    }
                }
            }
            Err((n, Listed::Broken(e))) => println!("{n:<32} broken: {e}"),
            Err((n, Listed::Denied { owner, mode, note })) => println!(
                "{n:<32} not opened: owner {}, mode {}: {note}",
                owner.map_or("?".into(), |u| format!("uid {u}")),
                mode.map_or("?".into(), |m| format!("{m:04o}"))
            ),
        }
    }
    for h in &half {
        println!("{:<32} half-created: {}", h.name, half_created_text(h));
    }
    Ok(())
}

/// A service's client, on one line.
fn client_line(c: &ipcring::service::ClientInfo) -> String {
    format!(
        "client {}: pid {}, {}{}",
        c.entry,
        c.pid,
        match c.state {
            ipcring::service::EntryState::Unknown(x) => format!("unknown state {x:#x}"),
            st => st.as_str().to_owned(),
        },
        if c.alive {
            ""
        } else {
            " (gone: its entry is freed by the server)"
        }
    )
}

/// What `ls` says about a half-created name.
fn half_created_text(h: &segment::HalfCreated) -> String {
    format!(
        "{} bytes, mode {:04o}; {}",
        h.size,
        h.mode,
        if h.in_progress {
            "a creator may still be at work on it"
        } else {
            "its creator died while creating it (`ipcring rm` removes it)"
        }
    )
}

fn age(created_ns: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let s = now.saturating_sub(created_ns) / 1_000_000_000;
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// `ipcring inspect`.
pub fn inspect(a: &InspectArgs) -> Result<(), Failure> {
    let s = look(&a.name)?;
    if a.json {
        return print_json(&to_json(&s));
    }
    let i = &s.info;
    let att = roles(&s);
    println!("name:       {}", i.name);
    println!("kind:       {} (layout version {})", i.kind, i.version);
    println!("size:       {} bytes", i.total_size);
    println!(
        "created:    by pid {}, {} ({} ns after the epoch)",
        i.creator_pid,
        age(i.created_ns),
        i.created_ns
    );
    println!("nonce:      {:#018x}", i.nonce);
    println!(
        "attached:   {}",
        if att.is_empty() {
            "nobody".into()
        } else {
            att.join(", ")
        }
    );
    println!("state:      {}", state(i));
    if let Some(r) = &s.ring {
        println!(
            "capacity:   {} bytes, largest message {} bytes",
            r.capacity, r.max_message
        );
        println!(
            "positions:  write {}, read {}: {} bytes waiting{}",
            r.write_pos,
            r.read_pos,
            r.fill,
            if r.positions_consistent() {
                ""
            } else {
                " (INCONSISTENT: misaligned, or write more than a capacity past read: the ring is corrupt)"
            }
        );
        println!(
            "attaches:   producer {} time(s), consumer {} time(s) since creation{}",
            r.producer_attaches,
            r.consumer_attaches,
            match (r.consumer_waiting, r.consumer_asleep) {
                (true, true) => "; the consumer sleeps until the next message",
                (true, false) => "; the consumer waits for the next message",
                (false, true) => "; the consumer sleeps",
                (false, false) => "",
            }
        );
    }
    if let Some(q) = &s.seqlock {
        println!(
            "value:      {} bytes, type tag {:#x}, version {}{}",
            q.value_size,
            q.type_tag,
            q.version,
            if q.write_in_progress {
                " (a write is in progress, or its writer died in it)"
            } else {
                ""
            }
        );
        println!(
            "attaches:   writer {} time(s), readers {} time(s) since creation",
            q.writer_attaches, q.reader_attaches
        );
    }
    if let Some(sv) = &s.service {
        println!(
            "limits:     {} clients, {} slots a client, messages up to {} bytes",
            sv.max_clients, sv.max_slots, sv.max_message
        );
        println!(
            "clients:    {} connected{}",
            sv.connected(),
            if sv.clients.is_empty() { "" } else { ":" }
        );
        for c in &sv.clients {
            println!("  {}", client_line(c));
        }
    }
    if let Some(b) = &s.broadcast {
        println!(
            "slots:      {} of {} bytes, largest message {} bytes",
            b.slots, b.slot_size, b.max_message
        );
        println!("published:  {} messages", b.published);
    }
    Ok(())
}

/// `ipcring rm`.
pub fn rm(a: &RmArgs) -> Result<(), Failure> {
    let mut failed = 0;
    for name in &a.names {
        if let Err(why) = rm_one(name, a.force) {
            failed += 1;
            eprintln!("ipcring: {name}: not removed: {why}");
        }
    }
    if failed > 0 {
        return Err(Failure {
            msg: String::new(),
            code: EXIT_FAILURE,
        });
    }
    Ok(())
}

/// Removes `name` (a service with its clients' channels, a segment of another kind, or a
/// half-created one) and says what it removed; else why not.
fn rm_one(name: &str, force: bool) -> Result<(), String> {
    let refused = |e: Error| match e {
        Error::RoleTaken { .. } => format!("{e} (use --force to remove it anyway)"),
        e => e.to_string(),
    };
    if segment::inspect(name).is_ok_and(|i| i.kind == "service") {
        let (info, channels) = ipcring::service::remove(name, force).map_err(refused)?;
        let was = if info.server_attached {
            "live"
        } else {
            "stale"
        };
        println!("removed {} (service, was {was})", info.segment.name);
        for c in channels {
            println!("removed {c} (a client's channel)");
        }
        return Ok(());
    }
    let info = match segment::remove(name, force) {
        Err(e @ (Error::BadSegment { .. } | Error::NotFound(_))) => {
            // Not a finished segment: a half-created one is removed too.
            match segment::remove_half_created(name, force) {
                Ok(Some(h)) => {
                    println!("removed {} (half-created, {} bytes)", h.name, h.size);
                    return Ok(());
                }
                Ok(None) => Err(e),
                Err(Error::RoleTaken { .. }) => return Err("it is not finished and a creator may still be at work on it (use --force to remove it anyway)".into()),
                Err(e2) => Err(e2),
            }
        }
        other => other,
    }
    .map_err(refused)?;
    println!(
        "removed {} ({}, was {})",
        info.name,
        info.kind,
        state(&info)
    );
    Ok(())
}

fn ring_opts(capacity: u64) -> RingOptions {
    RingOptions::new().capacity(capacity)
}

/// Before `send`/`recv` attach to `name`: what an earlier run left there is not mixed in
/// silently. A half-created name (its creator died while creating it) is removed; a stale
/// ring (no live producer or consumer) is reported and removed, so this run starts on a
/// fresh ring, unless `resume`, which continues it (its unread messages come first).
/// A live ring is joined as it is.
fn prepare_name(name: &str, resume: bool) -> Result<(), Failure> {
    if let Ok(Some(h)) = segment::half_created(name) {
        if !h.in_progress {
            eprintln!(
                "ipcring: {name}: removing a half-created segment ({})",
                half_created_text(&h)
            );
            match segment::remove_half_created(name, false) {
                Ok(_) | Err(Error::RoleTaken { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(());
    }
    let Ok(info) = ring::inspect(name) else {
        // Missing, or not a ring: attaching says what is wrong.
        return Ok(());
    };
    if !info.segment.is_stale() {
        return Ok(());
    }
    let what = format!(
        "a stale ring left by an earlier run (no live producer or consumer; {} bytes unread; created by pid {}, {})",
        info.fill,
        info.segment.creator_pid,
        age(info.segment.created_ns)
    );
    if resume {
        eprintln!("ipcring: {name}: resuming {what}");
        return Ok(());
    }
    eprintln!("ipcring: {name}: replacing {what}; use --resume to continue it instead");
    match segment::remove(name, false) {
        // Attached or replaced by another process meanwhile: join what is there now.
        Ok(_) | Err(Error::RoleTaken { .. }) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `send`'s failure once the consumer left with messages unread: exit code 3.
fn undelivered(name: &str, e: Error, sent: u64, input_left: bool) -> Failure {
    let mut msg = format!("{name}: {e}; this run sent {sent} message(s)");
    if input_left {
        msg.push_str(", and stopped before the end of its input");
    }
    Failure {
        msg,
        code: EXIT_UNDELIVERED,
    }
}

/// Reads one frame (u32 LE length, then the bytes) into `buf`. `Ok(false)` at a clean end
/// of input. A length above `max` is refused before anything is allocated.
fn read_frame(input: &mut impl Read, buf: &mut Vec<u8>, max: usize) -> Result<bool, Failure> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(Error::Framing(
                    format!("input ends inside a frame's length ({got} of 4 bytes)").into(),
                )
                .into())
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let n = u32::from_le_bytes(len) as usize;
    if n > max {
        return Err(Error::MessageTooLarge { len: n, max }.into());
    }
    buf.clear();
    buf.resize(n, 0);
    input.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Failure::from(Error::Framing(
                format!("input ends inside a frame of {n} bytes").into(),
            ))
        } else {
            Failure::from(e)
        }
    })?;
    Ok(true)
}

/// `ipcring send`.
pub fn send(a: &SendArgs) -> Result<(), Failure> {
    let name = &a.ring.name;
    prepare_name(name, a.resume)?;
    let mut tx = Producer::open_or_create(name, &ring_opts(a.ring.capacity))?;
    let mut sent = 0u64;
    let max = tx.max_message();
    let mut input = std::io::stdin().lock();
    let mut buf = Vec::new();
    loop {
        if a.framed {
            if !read_frame(&mut input, &mut buf, max)? {
                break;
            }
        } else {
            buf.clear();
            if input.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.len() > max {
                return Err(Error::MessageTooLarge {
                    len: buf.len(),
                    max,
                }
                .into());
            }
        }
        match tx.send(&buf) {
            Ok(()) => sent += 1,
            Err(Error::Disconnected) => {
                // The ring is full and its consumer left: count what it did not take.
                return Err(match tx.wait_drained(None) {
                    Err(e @ Error::Undelivered { .. }) => undelivered(name, e, sent, true),
                    Err(e) => e.into(),
                    Ok(()) => undelivered(name, Error::Disconnected, sent, true),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    if a.no_wait {
        // Messages nobody is attached to take would vanish with the name (the creator's
        // drop removes it): keep the ring for a later `recv --resume`, and say so.
        if tx.wait_drained(Some(std::time::Duration::ZERO)).is_err() && !tx.consumer_attached()? {
            tx.set_keep(true);
            eprintln!(
                "ipcring: {}: left the messages in the ring for a later consumer (`ipcring recv --resume {}` takes them)",
                name, name
            );
        }
    } else {
        // Like a FIFO writer: leave once a consumer has taken everything, or report what
        // it left unread when it goes first (the creator's drop removes the name).
        // In slices, so that a name removed before any consumer came ends the wait: no
        // consumer could attach any more.
        loop {
            match tx.wait_drained(Some(NAME_CHECK)) {
                Ok(()) => break,
                Err(Error::Timeout) => {
                    if !tx.consumer_attached()? && !tx.name_leads_here()? {
                        return Err(Failure {
                            msg: format!(
                                "{}: the name was removed before a consumer took the messages; none can attach any more, so this run's {sent} message(s) were not delivered",
                                name
                            ),
                            code: EXIT_UNDELIVERED,
                        });
                    }
                }
                Err(e @ Error::Undelivered { .. }) => {
                    return Err(undelivered(name, e, sent, false))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// How often `send`, waiting for its messages to be taken, checks that its ring can still
/// be reached by name.
const NAME_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// Writes one message as a line or a frame.
fn write_msg(out: &mut impl Write, msg: &[u8], framed: bool) -> std::io::Result<()> {
    if framed {
        let len = u32::try_from(msg.len()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "message longer than a u32 frame length",
            )
        })?;
        out.write_all(&len.to_le_bytes())?;
        out.write_all(msg)
    } else {
        out.write_all(msg)?;
        out.write_all(b"\n")
    }
}

/// `ipcring recv`.
pub fn recv(a: &RecvArgs) -> Result<(), Failure> {
    let name = &a.ring.name;
    prepare_name(name, a.resume)?;
    let mut rx = Consumer::open_or_create(name, &ring_opts(a.ring.capacity))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    let mut msg = Vec::new();
    let written = (|| -> std::io::Result<Option<Error>> {
        while a.count.is_none_or(|c| n < c) {
            // Copy-out receives: never a reference into memory the peer can write. Before
            // waiting, everything taken so far goes out.
            let got = match rx.try_recv_into(&mut msg) {
                Ok(()) => Ok(()),
                Err(TryRecvError::Empty) => {
                    out.flush()?;
                    rx.recv_into(&mut msg)
                }
                Err(TryRecvError::Failed(e)) => Err(e),
            };
            match got {
                Ok(()) => {}
                Err(Error::Disconnected) => break,
                Err(e) => {
                    out.flush()?;
                    return Ok(Some(e));
                }
            }
            write_msg(&mut out, &msg, a.framed)?;
            n += 1;
        }
        out.flush()?;
        Ok(None)
    })();
    match written {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e.into()),
        // The reader of our stdout went away (`ipcring recv /q | head`): a normal end.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}
