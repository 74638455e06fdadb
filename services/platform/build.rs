//! The runtime tests embed their migrations with `sqlx::migrate!`: a change must rebuild them.
fn main() {
    println!("cargo:rerun-if-changed=tests/runtime/migrations");
}
