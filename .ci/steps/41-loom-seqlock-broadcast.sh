# loom models of the seqlock cell and the broadcast ring: writer vs two readers (never a
# torn read returned), publish vs a lagging subscriber (lag counted exactly, no torn
# message), and no lost wakeup on either eventcount. `--cfg loom` swaps the atomics for
# loom's, so it rebuilds everything: a target dir of its own keeps the main build's cache.
# --release: loom explores ~450k executions for the seqlock model; debug is ~10x slower.
# Only the two modules' models run here (`-- seqlock:: broadcast::`).
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p ipcring --lib --release -- seqlock:: broadcast::
