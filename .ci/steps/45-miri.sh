# miri: the ring core's in-process tests (the VecDeque model, garbage in the shared words,
# corrupt records, a replacement producer) under miri's undefined-behaviour and aliasing
# checks. Weak-memory emulation is off: these tests are single-threaded, and miri's
# emulation panics (an interpreter bug, not a finding) on a location written both
# non-atomically (payload bytes) and atomically (record headers), as ring memory is over
# its laps. The proptests run 4 cases each under miri (cfg(miri)).
if rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1; then
  cargo +nightly miri setup
  MIRIFLAGS="-Zmiri-disable-weak-memory-emulation" \
    cargo +nightly miri test -p ipcring --lib ring::core
else
  echo "!!! miri is not available for this nightly toolchain: SKIPPING the miri step !!!"
fi
