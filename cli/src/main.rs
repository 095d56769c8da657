//! The `shmring` command (being written).
fn main() {
    eprintln!("shmring: the comparison is being written");
}
