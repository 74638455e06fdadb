//! `sqlx::migrate!` embeds the migrations at compile time: a new or changed file must rebuild
//! the crate, or an incremental build would ship the old set.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/feedback");
}
