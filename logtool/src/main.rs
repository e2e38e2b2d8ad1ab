//! Produce to, dump and verify ringlog partition logs (being written).
fn main() {}
