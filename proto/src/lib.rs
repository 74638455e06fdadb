//! gRPC contracts between Switchboard services, compiled from `proto/`.

/// Identity: authentication and directory lookups.
pub mod identity {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("switchboard.identity.v1");
}

/// Billing-metrics: quota checks.
pub mod billing {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("switchboard.billing.v1");
}

/// Encoded descriptor set of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchboard_descriptor");

pub mod events;
