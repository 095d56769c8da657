//! Alice, the article's command server over a shared JSON file guarded by a lock.
//!
//! Serves `add` and `multiply` from `shared.json` in the current directory (or the path
//! given as the first argument), locking `shared.json.lock` exactly as Python's `filelock`
//! does, so the article's Python Bob can call her. Runs until Ctrl-C.
//!
//! ```text
//! cargo run --features file --example file_alice     # terminal 1 (either order)
//! cargo run --features file --example file_bob       # terminal 2 (or the article's Python Bob)
//! ```
//!
//! Unlike the article's Alice, she does not blank the file when she starts: commands that a
//! Bob started earlier left there are served (answered ones are dropped).
use ipcring::file::mailbox::{article_alice, Mailbox};
use serde_json::Value;

/// Formats a JSON value the way Python prints the same data (`[2, 5]`, `['bad', 'data']`),
/// so the output reads like the article's.
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn size(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn main() -> ipcring::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shared.json".to_owned());
    let mut mb = Mailbox::open(&path)?;
    mb.init()?;
    println!("Alice is serving commands in {path}");
    let mut last_size = size(&path);
    let mut handler = |command: &str, args: &[Value]| {
        println!(
            "running command {command} with args {}",
            py_repr(&Value::Array(args.to_vec()))
        );
        article_alice(command, args)
    };
    loop {
        let file_size = size(&path);
        if file_size != last_size {
            println!("File has changed from {last_size} to {file_size} bytes, lets see what they want to do!");
        }
        mb.serve_pending(&mut handler)?;
        last_size = size(&path);
        mb.wait_for_change(None)?;
    }
}
