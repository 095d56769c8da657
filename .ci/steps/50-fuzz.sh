# Short fuzz runs of every cargo-fuzz target (cargo-fuzz on the nightly toolchain), each
# starting from its seed corpus in fuzz/corpus/<target>/ (read only: new inputs go to a
# scratch directory). A crash, a panic, an input that runs over 10 s (a hang) or a single
# allocation over 256 MiB fails the step; libFuzzer prints the input that did it.
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
fuzz_scratch=$(mktemp -d)
on_exit "rm -rf '$fuzz_scratch'"
(cd fuzz && cargo +nightly fuzz build)
# What the targets leave in /dev/shm (a queue's liveness file, a segment) is counted before
# and after: a target must remove what it made.
shm_left() { ls /dev/shm | grep -c 'ipcring-fuzz' || true; }
shm_before=$(shm_left)
for t in $(cd fuzz && cargo +nightly fuzz list); do
  mkdir -p "$fuzz_scratch/$t"
  echo "--- fuzz $t (${FUZZ_SECONDS}s)"
  # TMPDIR: the files, FIFOs and logs the targets make land in the scratch directory.
  if ! (cd fuzz && TMPDIR="$fuzz_scratch" cargo +nightly fuzz run "$t" "$fuzz_scratch/$t" "corpus/$t" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 \
    >"$fuzz_scratch/$t.log" 2>&1); then
    tail -n 80 "$fuzz_scratch/$t.log"
    echo "fuzz target $t failed (the input is in fuzz/artifacts/$t/)"
    exit 1
  fi
  grep -E '^(#[0-9]+ +(INITED|DONE)|Done )' "$fuzz_scratch/$t.log" || true
done
if [ "$(shm_left)" != "$shm_before" ]; then
  ls /dev/shm | grep 'ipcring-fuzz'
  echo "the fuzz targets left these in /dev/shm ($shm_before before)"
  exit 1
fi
