# loom: the ring's publish/consume protocol and its sleep/wake protocol, every interleaving.
# A separate target dir: --cfg loom changes every crate's build.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
  cargo test -p ipcring --lib --release -- ring::tests_loom
