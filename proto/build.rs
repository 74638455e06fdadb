//! Compiles the `.proto` contracts with a vendored `protoc`, so a build needs nothing installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("switchboard_descriptor.bin"))
        .compile_protos(&["proto/identity/v1/identity.proto", "proto/billing/v1/billing.proto"], &["proto"])?;
    Ok(())
}
