# Keeps README.md true: runs every command it gives a newcomer, as written there.
#
# - Every `cargo run ... --example` line of README's sh blocks is run verbatim (in pairs, the
#   first side in the background, the second with a timeout) and its output checked; a line
#   this step does not know, or an example file README does not mention, fails the step.
#   The only change made to a line: Redis's URL points at this step's own throwaway server.
# - Each line's `--features` must cover the example's `required-features` (cargo metadata),
#   and each feature set is built as the line builds it (debug: one build per feature set).
# - The dependency line (`cargo add ipcring --features ...`) is checked in a scratch crate
#   that depends on this checkout by path (ipcring is not on crates.io yet).
# - The install line (`cargo install --locked --path cli`) installs into a temporary root
#   (in debug, into the shared target directory, so step 80's build is reused), and the
#   installed `ipcring` then lists and removes the rings a killed example left behind, as
#   README says to.
need_python3

rd_tmp=$(mktemp -d)
on_exit "rm -rf '$rd_tmp'"
rd_pids=()
on_exit 'for p in "${rd_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done'
rd_target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# README's commands, checked against Cargo.toml: one `cargo run` example line per line of
# $rd_tmp/commands, and "RELEASE|FEATURES|EXAMPLES..." per build in $rd_tmp/builds.
cargo metadata --format-version 1 --no-deps >"$rd_tmp/metadata.json"
python3 - README.md "$rd_tmp/metadata.json" "$rd_tmp" <<'PY'
import json, os, re, sys
readme, meta_path, out = sys.argv[1:4]
meta = json.load(open(meta_path))
lib = next(p for p in meta["packages"] if p["name"] == "ipcring")
features = set(lib["features"])
examples = {t["name"]: set(t.get("required-features", [])) for t in lib["targets"] if "example" in t["kind"]}
lines, in_sh = [], False
for line in open(readme):
    s = line.rstrip("\n")
    if s.startswith("```"):
        in_sh = s.strip() in ("```sh", "```bash")
        continue
    if in_sh:
        lines.append(s.split(" #")[0].rstrip())
run_re = re.compile(r"^((?:[A-Z_]+=\S+ )*)cargo run( --release)?(?: --features ([a-z,]+))? --example ([a-z_]+)(?: -- (.*))?$")
errors, commands, builds, seen = [], [], set(), set()
for l in lines:
    if "--example" in l:
        m = run_re.match(l)
        if not m:
            errors.append(f"README line not in the form this check runs: {l!r}")
            continue
        release, feats, ex = bool(m.group(2)), m.group(3) or "", m.group(4)
        given = set(f for f in feats.split(",") if f)
        if ex not in examples:
            errors.append(f"README runs example {ex!r}, which Cargo.toml does not have")
            continue
        if given - features:
            errors.append(f"README line uses unknown features {sorted(given - features)}: {l!r}")
        if examples[ex] - given:
            errors.append(f"README line lacks features {sorted(examples[ex] - given)} that {ex} requires: {l!r}")
        commands.append(l)
        builds.add(("1" if release else "0", feats, ex))
        seen.add(ex)
    for m in re.finditer(r"cargo add ipcring(?: --features ([a-z,]+))?", l):
        unknown = set((m.group(1) or "").split(",")) - features - {""}
        if unknown:
            errors.append(f"README's cargo add names unknown features {sorted(unknown)}")
for f in sorted(os.listdir("examples")):
    if f.endswith(".rs") and f[:-3] not in seen:
        errors.append(f"examples/{f} has no `cargo run` line in README")
if errors:
    sys.exit("\n".join(errors))
open(os.path.join(out, "commands"), "w").write("\n".join(commands) + "\n")
groups = {}
for release, feats, ex in sorted(builds):
    groups.setdefault((release, feats), []).append(ex)
open(os.path.join(out, "builds"), "w").write("".join(f"{r}|{f}|{' '.join(exs)}\n" for (r, f), exs in groups.items()))
print(f"README: {len(commands)} example commands, {len(seen)} examples")
PY

# Build every example as its README line builds it: one cargo build per profile+features.
while IFS='|' read -r release feats exs; do
  args=()
  [ "$release" = 1 ] && args+=(--release)
  [ -n "$feats" ] && args+=(--features "$feats")
  for ex in $exs; do args+=(--example "$ex"); done
  echo "+ cargo build ${args[*]}"
  cargo build -q "${args[@]}"
done <"$rd_tmp/builds"

# readme_cmd ERE: the one README command matching ERE (anchored at the end, so
# `signal_alice$` does not match `signal_alice -- 42`), recorded as exercised.
readme_cmd() {
  local hits
  hits=$(grep -E -- "$1" "$rd_tmp/commands" || true)
  if [ "$(printf '%s' "$hits" | grep -c .)" -ne 1 ]; then
    echo "FAIL: README should have exactly one command matching /$1/, has: ${hits:-none}" >&2
    return 1
  fi
  printf '%s\n' "$hits" >>"$rd_tmp/used"
  printf '%s' "${hits//redis:\/\/127.0.0.1:6379/$rd_redis_url}"
}
# start_bg NAME ERE: runs the command in the background, output in $rd_tmp/NAME.out. `cargo
# run` execs the example, so $bg_pid is the example's pid once it runs.
start_bg() {
  local cmd
  cmd=$(readme_cmd "$2")
  echo "+ (background) $cmd"
  bash -c "$cmd" >"$rd_tmp/$1.out" 2>&1 &
  bg_pid=$!
  rd_pids+=("$bg_pid")
}
# run_fg NAME ERE [RC]: runs the command to its end (at most 120 s); its exit status must be RC.
run_fg() {
  local cmd rc=0
  cmd=$(readme_cmd "$2")
  echo "+ $cmd"
  timeout 120 bash -c "$cmd" >"$rd_tmp/$1.out" 2>&1 || rc=$?
  if [ "$rc" -ne "${3:-0}" ]; then
    echo "FAIL: $1 exited $rc, expected ${3:-0}:"; cat "$rd_tmp/$1.out"; return 1
  fi
}
# wait_out NAME TEXT: waits (at most 120 s) until NAME's output contains TEXT.
wait_out() {
  local i
  for i in $(seq 1 1200); do
    grep -qF -- "$2" "$rd_tmp/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: $1 never printed '$2':"; cat "$rd_tmp/$1.out"; return 1
}
# stop_bg PID SIGNAL: sends SIGNAL (INT stands for Ctrl-C) and waits at most 20 s for the exit.
stop_bg() {
  local i
  kill "-$2" "$1" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "FAIL: pid $1 did not exit on SIG$2"; kill -KILL "$1"; return 1
}
# wait_bg PID NAME [RC]: waits (at most 120 s) for a background command to end with status RC.
wait_bg() {
  local i rc=0
  for i in $(seq 1 1200); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    echo "FAIL: $2 did not finish:"; cat "$rd_tmp/$2.out"; kill -KILL "$1"; return 1
  fi
  wait "$1" || rc=$?
  if [ "$rc" -ne "${3:-0}" ]; then
    echo "FAIL: $2 exited $rc, expected ${3:-0}:"; cat "$rd_tmp/$2.out"; return 1
  fi
}
expect() {
  grep -qF -- "$2" "$rd_tmp/$1.out" || { echo "FAIL: $1 did not print '$2':"; cat "$rd_tmp/$1.out"; return 1; }
}
no_shm() {
  if ls /dev/shm/"$1"* >/dev/null 2>&1; then
    echo "FAIL: left behind: $(ls /dev/shm/"$1"*)"; return 1
  fi
}

start_redis 46579
rd_redis_url="redis://127.0.0.1:$REDIS_PORT"

# The ring: Bob's three answers; Alice removes both rings on Ctrl-C.
start_bg ring_alice 'example ring_alice$'
wait_out ring_alice "waiting for messages"
run_fg ring_bob 'example ring_bob$'
expect ring_bob "bob: alice says: terrible looking machine output"
stop_bg "$bg_pid" INT
expect ring_alice "alice: removed /ipcring-example.ba"
no_shm ipcring-example.
echo "readme: ring pair ok"

# The ring on tokio, Bob first this time.
start_bg async_bob 'example async_bob$'
async_bob_pid=$bg_pid
start_bg async_alice 'example async_alice$'
wait_bg "$async_bob_pid" async_bob
expect async_bob "bob: alice says: another one bites the dust"
stop_bg "$bg_pid" INT
expect async_alice "alice: removed /ipcring-example.ab"
no_shm ipcring-example.
echo "readme: async ring pair ok"

# The seqlock cell: the watcher sees the writer's values; the writer removes the cell.
start_bg state_watcher 'example state_watcher$'
run_fg state_writer 'example state_writer$'
wait_out state_watcher "again"
stop_bg "$bg_pid" TERM
no_shm ipcring-state
echo "readme: seqlock pair ok"

# The broadcast ring: the subscriber gets the publisher's messages.
start_bg broadcast_subscriber 'example broadcast_subscriber$'
run_fg broadcast_publisher 'example broadcast_publisher$'
wait_out broadcast_subscriber "example data 19"
stop_bg "$bg_pid" TERM
echo "readme: broadcast pair ok"

# The named pipe (in the current directory).
start_bg pipe_alice 'example pipe_alice$'
run_fg pipe_bob 'example pipe_bob$'
wait_out pipe_alice "Alice will print out a pretty message of: terrible looking machine output"
stop_bg "$bg_pid" TERM
rm -f fifo
echo "readme: pipe pair ok"

# The shared file: Bob ends with the article's exception (status 1).
start_bg file_alice 'example file_alice$'
run_fg file_bob 'example file_bob$' 1
expect file_bob "Lets add 2 and 5: 7"
expect file_bob "Lets multiply 8 and 5: 40"
expect file_bob "Exception: Yeah, we are only going to add numbers"
stop_bg "$bg_pid" TERM
rm -f shared.json shared.json.lock
echo "readme: file pair ok"

# Signals: Bob first; Alice's start says "on", her Ctrl-C "off", then a number.
start_bg signal_bob 'example signal_bob$'
signal_bob_pid=$bg_pid
wait_out signal_bob "registered"
start_bg signal_alice 'example signal_alice$'
wait_out signal_bob "service is on"
wait_out signal_alice "Ctrl-C to stop"
stop_bg "$bg_pid" INT
wait_out signal_bob "service is off"
run_fg signal_alice_42 'example signal_alice -- 42$'
wait_out signal_bob "Alice sent 42"
stop_bg "$signal_bob_pid" INT
echo "readme: signal pair ok"

# Sockets: Bob gets 8 * 8 and stops Alice.
start_bg socket_alice 'example socket_alice$'
run_fg socket_bob 'example socket_bob$'
expect socket_bob "64"
wait_bg "$bg_pid" socket_alice
echo "readme: socket pair ok"

# POSIX message queue: the message, then `stop` ends Alice, who removes the queue.
start_bg mq_alice 'example mq_alice$'
run_fg mq_bob 'example mq_bob$'
run_fg mq_bob_stop 'example mq_bob -- /ipcring-example stop$'
wait_bg "$bg_pid" mq_alice
expect mq_alice "example data"
if [ -e /dev/mqueue/ipcring-example ]; then echo "FAIL: the queue is left behind"; exit 1; fi
expect mq_alice "Goodbye"
echo "readme: mq pair ok"

# Redis, against this step's server.
start_bg redis_alice 'example redis_alice$'
run_fg redis_bob 'example redis_bob$'
wait_out redis_alice "example data"
stop_bg "$bg_pid" TERM
echo "readme: redis pair ok"
run_fg redis_throughput 'example redis_throughput -- 0.2$'
for k in publish_msgs_per_s xadd_msgs_per_s; do expect redis_throughput "$k"; done
echo "readme: redis throughput ok"

# RPC over two rings. Alice stopped by a signal leaves her rings: the installed `ipcring`
# (below) must find and remove them.
start_bg rpc_alice 'example rpc_alice$'
run_fg rpc_bob 'example rpc_bob$'
expect rpc_bob "Lets add 2 and 5: 7"
expect rpc_bob "Lets multiply 8 and 5: 40"
# Killed once she waits for the next Bob on new rings (she had created both).
wait_out rpc_alice "Bob has left"
for _ in $(seq 1 1200); do
  [ "$(grep -c "Alice is waiting for Bob" "$rd_tmp/rpc_alice.out")" -ge 2 ] && break
  sleep 0.1
done
stop_bg "$bg_pid" KILL
echo "readme: rpc pair ok"

# The shared-memory service: Bob's answers; Bob (without --stay) stops Alice, who leaves
# nothing behind.
start_bg service_alice 'example service_alice$'
wait_out service_alice "waiting for someone"
run_fg service_bob 'example service_bob$'
expect service_bob "Why Alice told me it's 64"
wait_bg "$bg_pid" service_alice
expect service_alice "alice: Goodbye"
no_shm ipcring-service
echo "readme: service pair ok"

# The service's measuring tool: both sides in one thread, each answer's first byte checked.
run_fg service_callgrind 'example service_callgrind -- 100000$'
no_shm ipcring-callgrind
echo "readme: service callgrind tool ok"

# The ring's measuring tool: producer and consumer in one thread, each message's number checked.
run_fg ring_callgrind 'example ring_callgrind -- 100000$'
no_shm ipcring-ringcg
echo "readme: ring callgrind tool ok"

# Every README example command was run.
if ! diff <(sort -u "$rd_tmp/commands") <(sort -u "$rd_tmp/used"); then
  echo "FAIL: README commands above (<) were not run by this step"; exit 1
fi

# The install line, into a temporary root.
grep -qF 'cargo install --locked --path cli' README.md
rd_root=$(mktemp -d)
on_exit "rm -rf '$rd_root'"
CARGO_TARGET_DIR="$rd_target" cargo install -q --locked --debug --path cli --root "$rd_root"
"$rd_root/bin/ipcring" --help | grep -q "Usage: ipcring"
"$rd_root/bin/ipcring" ls | tee "$rd_tmp/ls.out"
grep -q "ipcring-rpc-demo.ab" "$rd_tmp/ls.out"
"$rd_root/bin/ipcring" rm /ipcring-rpc-demo.ab /ipcring-rpc-demo.ba
no_shm ipcring-rpc-demo.
echo "readme: install line and ipcring ls/rm ok"

# The dependency line, in a scratch crate depending on this checkout by path.
rd_dep="$rd_tmp/dependent"
cargo new -q --lib --vcs none "$rd_dep"
cp Cargo.lock "$rd_dep/"
rd_add=$(grep -o 'cargo add ipcring --features [a-z,]*' README.md | head -n 1)
[ -n "$rd_add" ]
(cd "$rd_dep" && ${rd_add/cargo add ipcring/cargo add -q --path "$OLDPWD" ipcring})
cat >"$rd_dep/src/lib.rs" <<'RS'
//! Uses what `cargo add ipcring --features socket,rpc` promises: the ring, the socket, RPC,
//! and `?` from ipcring's error into `io::Result`.
pub fn open(name: &str) -> std::io::Result<ipcring::ring::Consumer> {
    let _ = ipcring::socket::SocketOptions::new();
    let _ = ipcring::rpc::JsonCodec;
    Ok(ipcring::ring::Consumer::open(name, &ipcring::ring::RingOptions::new())?)
}
RS
(cd "$rd_dep" && CARGO_TARGET_DIR="$rd_target" cargo check -q)
echo "readme: dependency line ok"
