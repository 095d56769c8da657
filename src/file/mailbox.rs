//! The article's JSON command mailbox, wire compatible with its Python programs.
//!
//! One JSON file (`shared.json` in the article) holds every command and its answer:
//!
//! ```json
//! {
//!   "commands": {
//!     "5d1e…-uuid4": { "command": "add", "args": [2, 5], "result": 7 },
//!     "9b0c…-uuid4": { "command": "add", "args": ["bad", "data"],
//!                      "error": "Yeah, we are only going to add numbers" }
//!   }
//! }
//! ```
//!
//! A client (the article's Bob) adds a command under a fresh UUID and waits for `result` or
//! `error` to appear; a server (Alice) runs every command that has neither and writes the
//! answer. Every read-modify-write happens under an exclusive `flock(2)` on `<file>.lock`,
//! the very lock Python's [`filelock`](https://pypi.org/project/filelock/) package takes on
//! Unix (`FileLock("shared.json.lock")`), so Rust and Python programs share one mailbox: the
//! article's Python Bob can call a Rust Alice, and a Rust Bob a Python Alice.
//! After every `flock` the mailbox checks that its descriptor is still the lock file at the
//! path (a cleanup may remove and re-create it while programs run) and otherwise locks the
//! file now there, as `filelock` 4 checks the link count of what it locked.
//!
//! Compatibility details:
//! - The file is written pretty-printed with a two-space indent, like Python's
//!   `json.dump(data, f, indent=2)`, so each added command or answer makes the file grow; the
//!   article's Python Alice notices changes by the file's size only.
//! - Commands are kept and run in the order they appear in the file (the order they were
//!   added), as Python's dicts do. Other top-level keys are kept.
//! - Reading tolerates trailing bytes after the JSON document (a Python writer that
//!   `seek(0)`s and writes a shorter document without truncating leaves some); writing
//!   truncates.
//! - The file is read whole, so its size is bounded ([`MailboxOptions::max_file`], 64 MiB by
//!   default): a larger one is refused, not allocated.
//!
//! Waiting (for an answer, or for new commands) sleeps on inotify on Linux, re-checking at
//! least every 100 ms; elsewhere it sleeps 1 to 25 ms between looks.
//!
//! # Example
//!
//! ```
//! use serde_json::json;
//! use ipcring::file::mailbox::Mailbox;
//!
//! # fn main() -> ipcring::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("shared.json");
//! let mut alice = Mailbox::open(&path)?;
//! alice.reset()?;                                  // the article's Alice blanks it
//! let mut bob = Mailbox::open(&path)?;             // another program
//! let id = bob.submit("add", vec![json!(2), json!(5)])?;
//! alice.serve_pending(&mut |cmd, args| ipcring::file::mailbox::article_alice(cmd, args))?;
//! assert_eq!(bob.answer(&id)?, Some(Ok(json!(7))));
//! # Ok(())
//! # }
//! ```

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{io_err, read_full_at, with_suffix, LockFile, LockPerm};
use crate::sys::flock::Mode;
use crate::sys::notify::{Event, Watch};
use crate::sys::owner;
use crate::transport::Deadline;
use crate::{Error, Result};

/// Default bound on the mailbox file's size: 64 MiB.
pub const DEFAULT_MAX_FILE: usize = 64 << 20;
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// A command's answer: `Ok(result)` or `Err(error message)` as the server wrote it.
pub type Reply = std::result::Result<Value, String>;

/// The commands map, in file order.
#[derive(Debug, Default, Clone, PartialEq)]
struct Commands(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Commands {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Commands;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of commands keyed by id")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Commands, A::Error> {
                let mut v: Vec<(String, Value)> = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Value>()? {
                    // A repeated key: the last one wins, as in Python's json.
                    if let Some(slot) = v.iter_mut().find(|(kk, _)| *kk == k) {
                        slot.1 = val;
                    } else {
                        v.push((k, val));
                    }
                }
                Ok(Commands(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for Commands {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Doc {
    #[serde(default)]
    commands: Commands,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Decodes the file's bytes (`path` names it in errors). A blank file is an empty mailbox.
fn parse_doc(path: &Path, buf: &[u8]) -> Result<Doc> {
    if buf.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Doc::default());
    }
    // Parse the first JSON value; tolerate trailing bytes (see the module docs).
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<Doc>();
    let doc = it
        .next()
        .transpose()
        .map_err(|e| Error::corrupt(format!("{}: not a command mailbox: {e}", path.display())))?;
    Ok(doc.unwrap_or_default())
}

/// For the fuzz targets: decodes `buf` as [`Mailbox`] reads the file, and returns the
/// document as [`Mailbox`] writes it, with the answer each command holds.
#[cfg(fuzzing)]
pub(crate) fn fuzz_decode(buf: &[u8]) -> Result<(Vec<u8>, crate::__fuzz::mailbox::Answers)> {
    let doc = parse_doc(Path::new("fuzz.json"), buf)?;
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Codec(e.to_string().into()))?;
    let answers = doc
        .commands
        .0
        .iter()
        .map(|(id, e)| (id.clone(), answer_of(e)))
        .collect();
    Ok((bytes, answers))
}

/// Options for a [`Mailbox`].
///
/// ```
/// let opts = ipcring::file::mailbox::MailboxOptions::new().max_file(1 << 20).mode(0o644);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct MailboxOptions {
    max_file: usize,
    mode: u32,
    access: crate::Access,
}

impl Default for MailboxOptions {
    fn default() -> Self {
        MailboxOptions::new()
    }
}

impl MailboxOptions {
    /// A 64 MiB file bound; files created with mode 0600.
    ///
    /// ```
    /// let opts = ipcring::file::mailbox::MailboxOptions::new();
    /// # let _ = opts;
    /// ```
    pub fn new() -> MailboxOptions {
        MailboxOptions {
            max_file: DEFAULT_MAX_FILE,
            mode: 0o600,
            access: crate::Access::new(),
        }
    }

    /// Largest mailbox file read, in bytes.
    ///
    /// ```
    /// let opts = ipcring::file::mailbox::MailboxOptions::new().max_file(4096);
    /// # let _ = opts;
    /// ```
    pub fn max_file(mut self, bytes: usize) -> MailboxOptions {
        self.max_file = bytes;
        self
    }

    /// Mode of the JSON and lock files when this side creates them (default 0600; Python's
    /// `filelock` uses 0644 for the lock file it creates). Opening refuses a file another
    /// user owns (see [`MailboxOptions::allow_owner`]) or whose mode grants more than this
    /// mode plus read for group and others (0644 for the default): the article's Python
    /// programs create both files 0644 under the usual umask, and a mailbox others may only
    /// read cannot be forged by them.
    ///
    /// ```
    /// let opts = ipcring::file::mailbox::MailboxOptions::new().mode(0o644);
    /// # let _ = opts;
    /// ```
    pub fn mode(mut self, mode: u32) -> MailboxOptions {
        self.mode = mode & 0o777;
        self
    }

    crate::access::access_option_methods!(access);

    /// The widest mode an opened file may have.
    fn accepted_mode(&self) -> u32 {
        self.mode | 0o044
    }
}

/// A handle on a JSON command mailbox: the client side ([`submit`](Mailbox::submit),
/// [`answer`](Mailbox::answer), [`call`](Mailbox::call)) and the server side
/// ([`serve_pending`](Mailbox::serve_pending), [`serve`](Mailbox::serve)).
///
/// ```no_run
/// use serde_json::json;
/// use ipcring::file::mailbox::Mailbox;
///
/// # fn main() -> ipcring::Result<()> {
/// // The article's Bob, against a Python or Rust Alice on shared.json:
/// let mut mb = Mailbox::open("shared.json")?;
/// let seven = mb.call("add", vec![json!(2), json!(5)], None)?;
/// assert_eq!(seven, Ok(json!(7)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Mailbox {
    path: PathBuf,
    lock: LockFile,
    opts: MailboxOptions,
    watch: Watch,
    /// Ids this handle has served (the article's `completed`).
    completed: HashSet<String>,
    /// (size, mtime ns, inode) at the last look, to skip re-reading an unchanged file.
    last_seen: Cell<Option<(u64, i64, u64)>>,
}

/// A random version 4 UUID in its usual text form, like Python's `str(uuid.uuid4())`.
///
/// ```
/// let id = ipcring::file::mailbox::uuid4();
/// assert_eq!(id.len(), 36);
/// assert_eq!(&id[14..15], "4");
/// ```
pub fn uuid4() -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&crate::sys::random_u64().to_le_bytes());
    b[8..].copy_from_slice(&crate::sys::random_u64().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The article's Alice: `add` and `multiply` of two numbers, with its error messages.
///
/// ```
/// use serde_json::json;
/// use ipcring::file::mailbox::article_alice;
/// assert_eq!(article_alice("add", &[json!(2), json!(5)]), Ok(json!(7)));
/// assert_eq!(article_alice("multiply", &[json!(8), json!(5)]), Ok(json!(40)));
/// assert_eq!(article_alice("add", &[json!(1.5), json!(2)]), Ok(json!(3.5)));
/// assert_eq!(
///     article_alice("add", &[json!("bad"), json!("data")]),
///     Err("Yeah, we are only going to add numbers".to_string())
/// );
/// assert_eq!(article_alice("add", &[json!(1)]), Err("Incorrect number of arguments".to_string()));
/// ```
pub fn article_alice(command: &str, args: &[Value]) -> Reply {
    let (verb, add) = match command {
        "add" => ("add", true),
        "multiply" => ("multiply", false),
        other => return Err(format!("Unknown command {other:?}")),
    };
    if args.len() != 2 {
        return Err("Incorrect number of arguments".to_owned());
    }
    let (a, b) = (&args[0], &args[1]);
    if !a.is_number() || !b.is_number() {
        return Err(format!("Yeah, we are only going to {verb} numbers"));
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let exact = if add {
            x.checked_add(y)
        } else {
            x.checked_mul(y)
        };
        if let Some(r) = exact {
            return Ok(Value::from(r));
        }
    }
    let (x, y) = (
        a.as_f64().unwrap_or(f64::NAN),
        b.as_f64().unwrap_or(f64::NAN),
    );
    let r = if add { x + y } else { x * y };
    serde_json::Number::from_f64(r)
        .map(Value::Number)
        .ok_or_else(|| format!("result of {verb} is not a finite number"))
}

fn answer_of(entry: &Value) -> Option<Reply> {
    let obj = entry.as_object()?;
    if let Some(r) = obj.get("result") {
        return Some(Ok(r.clone()));
    }
    if let Some(e) = obj.get("error") {
        return Some(Err(match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    None
}

impl Mailbox {
    /// Opens the mailbox at `path` (its lock is `<path>.lock`) with default options. The
    /// JSON file need not exist yet.
    ///
    /// ```no_run
    /// let mb = ipcring::file::mailbox::Mailbox::open("shared.json")?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Mailbox> {
        Mailbox::open_with(path, &MailboxOptions::new())
    }

    /// Opens the mailbox at `path` with `opts`.
    ///
    /// ```no_run
    /// use ipcring::file::mailbox::{Mailbox, MailboxOptions};
    /// let mb = Mailbox::open_with("shared.json", &MailboxOptions::new().max_file(1 << 20))?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, opts: &MailboxOptions) -> Result<Mailbox> {
        let path = path.as_ref().to_path_buf();
        let lock = LockFile::open(
            with_suffix(&path, ".lock"),
            LockPerm {
                mode: opts.mode,
                max_mode: opts.accepted_mode(),
                access: opts.access,
            },
        )?;
        Ok(Mailbox {
            path,
            lock,
            opts: opts.clone(),
            watch: Watch::new()?,
            completed: HashSet::new(),
            last_seen: Cell::new(None),
        })
    }

    /// The JSON file's path.
    ///
    /// ```no_run
    /// let mb = ipcring::file::mailbox::Mailbox::open("shared.json")?;
    /// assert_eq!(mb.path(), std::path::Path::new("shared.json"));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_file(&self, create: bool) -> Result<Option<File>> {
        owner::open_file_if(
            &self.path,
            create,
            self.opts.mode,
            &self.opts.access,
            self.opts.accepted_mode(),
        )
    }

    /// Opens the file, creating it if missing.
    fn create_file(&self) -> Result<File> {
        self.open_file(true)?
            .ok_or_else(|| Error::NotFound(self.path.display().to_string()))
    }

    /// Reads the document (the lock held). A missing or empty file is an empty mailbox.
    fn read_doc(&self, f: Option<&File>) -> Result<Doc> {
        let Some(f) = f else {
            return Ok(Doc::default());
        };
        let len = f
            .metadata()
            .map_err(|e| io_err("stat", &self.path, e))?
            .len();
        if len > self.opts.max_file as u64 {
            return Err(Error::MessageTooLarge {
                len: len as usize,
                max: self.opts.max_file,
            });
        }
        let mut buf = vec![0u8; len as usize];
        let n = read_full_at(f, &mut buf, 0).map_err(|e| io_err("read", &self.path, e))?;
        buf.truncate(n);
        parse_doc(&self.path, &buf)
    }

    /// Writes the document (the lock held), pretty-printed as Python's `indent=2`.
    fn write_doc(&self, f: &File, doc: &Doc) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(doc).map_err(|e| Error::Codec(e.to_string().into()))?;
        f.write_all_at(&bytes, 0)
            .map_err(|e| io_err("write", &self.path, e))?;
        f.set_len(bytes.len() as u64)
            .map_err(|e| io_err("truncate", &self.path, e))?;
        self.last_seen.set(stat_key(f.metadata()));
        Ok(())
    }

    /// Blanks the mailbox to `{"commands": {}}`, as the article's Alice does when she
    /// starts.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = ipcring::file::mailbox::Mailbox::open(dir.path().join("shared.json"))?;
    /// mb.reset()?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn reset(&mut self) -> Result<()> {
        let _g = self.lock.lock(Mode::Exclusive)?;
        let f = self.create_file()?;
        self.completed.clear();
        self.write_doc(&f, &Doc::default())
    }

    /// Prepares the mailbox for a server that may start after its clients: creates it if
    /// missing or empty, drops the commands that already have an answer, and keeps the
    /// pending ones so they get served. An unreadable file is [`Error::Corrupt`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = ipcring::file::mailbox::Mailbox::open(dir.path().join("shared.json"))?;
    /// mb.init()?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn init(&mut self) -> Result<()> {
        let _g = self.lock.lock(Mode::Exclusive)?;
        let f = self.create_file()?;
        let mut doc = self.read_doc(Some(&f))?;
        doc.commands.0.retain(|(_, v)| answer_of(v).is_none());
        self.write_doc(&f, &doc)
    }

    /// Adds a command under a fresh UUID and returns the id. Creates the file if missing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = ipcring::file::mailbox::Mailbox::open(dir.path().join("shared.json"))?;
    /// let id = mb.submit("multiply", vec![8.into(), 5.into()])?;
    /// assert_eq!(mb.answer(&id)?, None); // nobody served it yet
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn submit(&mut self, command: &str, args: Vec<Value>) -> Result<String> {
        let id = uuid4();
        self.submit_as(&id, command, &args)?;
        Ok(id)
    }

    fn submit_as(&mut self, id: &str, command: &str, args: &[Value]) -> Result<()> {
        let _g = self.lock.lock(Mode::Exclusive)?;
        let f = self.create_file()?;
        let mut doc = self.read_doc(Some(&f))?;
        let mut entry = Map::new();
        entry.insert("command".into(), Value::String(command.to_owned()));
        entry.insert("args".into(), Value::Array(args.to_vec()));
        doc.commands.0.retain(|(k, _)| k != id);
        doc.commands.0.push((id.to_owned(), Value::Object(entry)));
        self.write_doc(&f, &doc)
    }

    /// The answer to command `id`, if the server wrote one. A command missing from the file
    /// is [`Error::NotFound`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = ipcring::file::mailbox::Mailbox::open(dir.path().join("shared.json"))?;
    /// assert!(matches!(mb.answer("no-such-id"), Err(ipcring::Error::NotFound(_))));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn answer(&mut self, id: &str) -> Result<Option<Reply>> {
        let doc = {
            let _g = self.lock.lock(Mode::Exclusive)?;
            let f = self.open_file(false)?;
            self.read_doc(f.as_ref())?
        };
        match doc.commands.0.iter().find(|(k, _)| k == id) {
            Some((_, v)) => Ok(answer_of(v)),
            None => Err(Error::NotFound(format!(
                "command {id} in {}",
                self.path.display()
            ))),
        }
    }

    /// Submits a command and waits for its answer, at most `timeout` (`None`: as long as
    /// needed). The outer `Result` is this side's failure (I/O, [`Error::Timeout`], a
    /// corrupt file); the inner one is the server's answer: `Ok(result)` or `Err(message)`.
    ///
    /// If the command disappears before it is answered (a server that blanks the mailbox
    /// when it starts, as the article's Alice does), it is submitted again under the same id.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # fn main() -> ipcring::Result<()> {
    /// let mut mb = ipcring::file::mailbox::Mailbox::open("shared.json")?;
    /// match mb.call("add", vec![json!("bad"), json!("data")], None)? {
    ///     Ok(v) => println!("{v}"),
    ///     Err(msg) => println!("Alice says: {msg}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn call(
        &mut self,
        command: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> Result<Reply> {
        let deadline = timeout.map_or(Deadline::forever(), Deadline::after);
        let id = uuid4();
        self.submit_as(&id, command, &args)?;
        loop {
            match self.answer(&id) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(Error::NotFound(_)) => self.submit_as(&id, command, &args)?,
                Err(e) => return Err(e),
            }
            if !self.wait_change(deadline)? {
                return Err(Error::Timeout);
            }
        }
    }

    /// Runs every command that has no answer yet (and that this handle has not run) through
    /// `handler(command, args)`, writes the answers, and returns how many ran. A command whose
    /// `command` is not a string or whose `args` is not a list gets an `error` answer without
    /// reaching the handler.
    ///
    /// ```
    /// use ipcring::file::mailbox::{article_alice, Mailbox};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = Mailbox::open(dir.path().join("shared.json"))?;
    /// assert_eq!(mb.serve_pending(&mut |c, a| article_alice(c, a))?, 0);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn serve_pending(
        &mut self,
        handler: &mut dyn FnMut(&str, &[Value]) -> Reply,
    ) -> Result<usize> {
        let _g = self.lock.lock(Mode::Exclusive)?;
        let Some(f) = self.open_file(false)? else {
            return Ok(0);
        };
        let mut doc = self.read_doc(Some(&f))?;
        let mut ran = 0;
        for (id, entry) in doc.commands.0.iter_mut() {
            if self.completed.contains(id) || answer_of(entry).is_some() {
                continue;
            }
            let Some(obj) = entry.as_object_mut() else {
                continue;
            };
            let reply = match (obj.get("command"), obj.get("args")) {
                (Some(Value::String(c)), Some(Value::Array(a))) => handler(c, a),
                (Some(Value::String(c)), None) => handler(c, &[]),
                (Some(Value::String(_)), Some(_)) => Err("args must be a list".to_owned()),
                _ => Err("command must be a string".to_owned()),
            };
            match reply {
                Ok(v) => obj.insert("result".into(), v),
                Err(m) => obj.insert("error".into(), Value::String(m)),
            };
            self.completed.insert(id.clone());
            ran += 1;
        }
        if ran > 0 {
            self.write_doc(&f, &doc)?;
        } else {
            self.last_seen.set(stat_key(f.metadata()));
        }
        Ok(ran)
    }

    /// Serves commands until `keep_going()` returns false (checked after every wake-up, at
    /// least every 100 ms), sleeping while the file does not change.
    ///
    /// ```no_run
    /// use ipcring::file::mailbox::{article_alice, Mailbox};
    /// let mut mb = Mailbox::open("shared.json")?;
    /// mb.serve(&mut |c, a| article_alice(c, a), &mut || true)?; // forever
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn serve(
        &mut self,
        handler: &mut dyn FnMut(&str, &[Value]) -> Reply,
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        while keep_going() {
            self.serve_pending(handler)?;
            self.wait_change(Deadline::after(WAIT_SLICE))?;
        }
        Ok(())
    }

    /// Sleeps until the mailbox file changes (is written, created or replaced), at most
    /// `timeout` (`None`: as long as needed). `Ok(false)` if the time ran out. Spurious
    /// wake-ups are possible: re-check what you wait for.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut mb = ipcring::file::mailbox::Mailbox::open(dir.path().join("shared.json"))?;
    /// mb.reset()?;
    /// let changed = mb.wait_for_change(Some(Duration::from_millis(10)))?;
    /// # let _ = changed;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn wait_for_change(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.wait_change(timeout.map_or(Deadline::forever(), Deadline::after))
    }

    /// Sleeps until the file changes or `deadline` passes. `Ok(false)` once it has passed.
    fn wait_change(&mut self, deadline: Deadline) -> Result<bool> {
        loop {
            let Some(slice) = deadline.slice(WAIT_SLICE) else {
                return Ok(false);
            };
            // (Re-)watch the path: the file may have been created or replaced meanwhile.
            let _ = self.watch.add(&self.path, Event::Modify);
            if self.watch.wait(slice)? {
                return Ok(true);
            }
            // No event: look at the file's identity, size and time in case one was missed.
            let now = stat_key(std::fs::metadata(&self.path));
            if now != self.last_seen.get() {
                self.last_seen.set(now);
                return Ok(true);
            }
        }
    }
}

fn stat_key(m: std::io::Result<std::fs::Metadata>) -> Option<(u64, i64, u64)> {
    m.ok()
        .map(|m| (m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000, m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_order_and_other_keys_and_tolerates_trailing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.json");
        std::fs::write(
            &path,
            br#"{"commands": {"z": {"command": "add", "args": [1, 2]}, "a": {"command": "multiply", "args": [3, 4]}}, "note": 1}]]garbage"#,
        )
        .unwrap();
        let mut mb = Mailbox::open(&path).unwrap();
        let mut order = Vec::new();
        let n = mb
            .serve_pending(&mut |c, a| {
                order.push(c.to_owned());
                article_alice(c, a)
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(order, ["add", "multiply"]);
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["commands"]["z"]["result"], json!(3));
        assert_eq!(v["commands"]["a"]["result"], json!(12));
        assert_eq!(v["note"], json!(1));
        // Served once only.
        assert_eq!(mb.serve_pending(&mut article_alice).unwrap(), 0);
    }

    #[test]
    fn garbage_is_an_error_and_bad_entries_get_error_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.json");
        std::fs::write(&path, b"{not json").unwrap();
        let mut mb = Mailbox::open(&path).unwrap();
        let r = mb.serve_pending(&mut article_alice);
        assert!(matches!(r, Err(Error::Corrupt(_))), "{r:?}");
        assert!(matches!(mb.submit("add", vec![]), Err(Error::Corrupt(_))));
        std::fs::write(
            &path,
            br#"{"commands": {"x": {"command": 5}, "y": {"command": "add", "args": 3}, "w": 7}}"#,
        )
        .unwrap();
        assert_eq!(mb.serve_pending(&mut article_alice).unwrap(), 2);
        assert_eq!(
            mb.answer("x").unwrap(),
            Some(Err("command must be a string".into()))
        );
        assert_eq!(
            mb.answer("y").unwrap(),
            Some(Err("args must be a list".into()))
        );
        assert_eq!(mb.answer("w").unwrap(), None);
        let mut small = Mailbox::open_with(&path, &MailboxOptions::new().max_file(10)).unwrap();
        let r = small.answer("x");
        assert!(matches!(r, Err(Error::MessageTooLarge { .. })), "{r:?}");
    }

    #[test]
    fn file_grows_with_each_change_as_the_python_alice_needs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.json");
        let mut alice = Mailbox::open(&path).unwrap();
        alice.reset().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"commands\": {}\n}"
        );
        let mut bob = Mailbox::open(&path).unwrap();
        let mut last = std::fs::metadata(&path).unwrap().len();
        for i in 0..5 {
            bob.submit("add", vec![json!(i), json!(1)]).unwrap();
            let s = std::fs::metadata(&path).unwrap().len();
            assert!(s > last);
            last = s;
            alice.serve_pending(&mut article_alice).unwrap();
            let s = std::fs::metadata(&path).unwrap().len();
            assert!(s > last);
            last = s;
        }
    }
}
