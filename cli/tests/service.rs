//! `ipcring ls`, `inspect` and `rm` on a shared-memory service: the real binary looks at a
//! listener served by this test process, with a client connected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipcring::service::{Client, Listener, ServiceOptions};

mod support;
use support::{assert_says, listed_json, run, run_exit, run_ok, uniq};

fn opts() -> ServiceOptions {
    ServiceOptions::new()
        .max_clients(3)
        .open_timeout(Duration::from_secs(10))
}

#[test]
fn ls_inspect_and_rm_show_a_service_and_its_clients() {
    let name = uniq("svc");
    let mut l = Listener::bind(&name, &opts().keep(true)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(req) = l.recv_timeout(Duration::from_millis(10)) {
                    req.respond_with(b"ok").unwrap();
                }
            }
            // Dropped with `keep`: the listener stays behind, its server gone.
        }
    });
    let client = Client::connect(&name, &opts()).unwrap();
    assert_eq!(&*client.call(b"x").unwrap(), b"ok");

    let me = listed_json(&run_exit(&["ls", "--json"], 0).stdout, &name);
    assert_eq!(me["kind"], "service");
    assert_eq!(me["roles"], serde_json::json!(["server"]));
    let svc = &me["service"];
    assert_eq!(svc["max_clients"], 3);
    assert_eq!(svc["connected"], 1);
    let c = &svc["clients"][0];
    assert_eq!(c["entry"], client.entry());
    assert_eq!(c["pid"], std::process::id());
    assert_eq!(
        (c["state"].as_str(), c["alive"].as_bool()),
        (Some("connected"), Some(true))
    );

    // The table: the service's row, then its client's.
    let table = run_ok(&["ls"]);
    let row = table
        .lines()
        .position(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{name} not in\n{table}"));
    let row_line = table.lines().nth(row).unwrap();
    assert!(
        row_line.contains("3 clients") && row_line.contains("1 conn"),
        "{row_line}"
    );
    let next = table.lines().nth(row + 1).unwrap();
    assert!(
        next.contains(&format!(
            "client {}: pid {}, connected",
            client.entry(),
            std::process::id()
        )),
        "{next}"
    );

    let shown = run_ok(&["inspect", &name]);
    assert!(shown.contains("limits:     3 clients"), "{shown}");
    assert!(shown.contains("clients:    1 connected"), "{shown}");

    // A live server's service is not removed without --force.
    let out = run(&["rm", &name]);
    assert!(!out.status.success());
    assert_says(&out.stderr, "server");
    assert!(ipcring::segment::inspect(&name).is_ok());

    // The server gone (its listener kept), the client gone: stale, removed.
    drop(client);
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    let out = run_ok(&["rm", &name]);
    assert!(
        out.contains(&format!("removed {name} (service, was stale)")),
        "{out}"
    );
    assert!(ipcring::segment::inspect(&name).is_err());
}
