//! Media hot paths (filled in below).
fn main() {}
