//! `sqlx::migrate!` embeds inbox-sync's migrations here too: a change must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/inbox-sync");
}
