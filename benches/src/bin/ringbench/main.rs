//! ringbench (being written).
fn main() {}
