# loom: the service channel's slot protocol (request published, answered over the same
# bytes, slot reused; pipelined slots), its two eventcounts (server sleeping for a
# request, client sleeping for an answer) and the accept path (connect vs accept vs a
# client dying: service::core::EntryWords), every interleaving. Same target dir as the
# other loom steps (--cfg loom rebuilds everything); --release as they are.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
  cargo test -p ipcring --lib --release -- service::tests_loom
