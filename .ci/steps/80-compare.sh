# The comparison run as a user starts it (`ipcring --quick`), every method compiled in, Redis
# included against a throwaway server of this step's own; then the run's JSON must account
# for every method: measured, or not run with a reason. Nothing measured may have failed.
# (Debug build: the figures mean nothing here, the run must work.) Then the CLI's end-to-end
# tests with that server, so their Redis measurement runs for real.
start_redis 46479
compare_port=$REDIS_PORT
compare_dir=$REDIS_DIR

# No REDIS_URL: with redis-server on the PATH the run starts (and stops) one of its own.
(unset REDIS_URL; timeout 600 \
  cargo run -q --all-features -p ipcring-cli -- --quick \
  --json "$compare_dir/compare.json" --plot "$compare_dir/compare.svg")
python3 - "$compare_dir/compare.json" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
bad = []
for m in rep["methods"]:
    if m["unavailable"]:
        print(f"not run: {m['id']}: {m['unavailable']}")
        continue
    for k in ("rtt", "tput_small", "tput_large"):
        if m[k]["status"] == "failed":
            bad.append(f"{m['id']} {k}: {m[k]['value']}")
assert rep["floors"], "no floor measured"
assert any(m["id"] == "redis" and not m["unavailable"] for m in rep["methods"]), \
    "Redis not measured although redis-server is on the PATH"
if bad:
    sys.exit("failed measurements:\n" + "\n".join(bad))
PY
grep -q '<svg' "$compare_dir/compare.svg"
IPCRING_TEST_REDIS_URL="redis://127.0.0.1:$compare_port" \
  cargo test --all-features -p ipcring-cli --test cli
