//! Compiles `tandem/v1/*.proto` with protox (pure Rust, so no system `protoc`), generates the
//! prost types and the pbjson serde impls that give docs/design.md's JSON mapping.

use std::{env, path::PathBuf};

use protox::prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "tandem/v1/common.proto",
        "tandem/v1/report.proto",
        "tandem/v1/review.proto",
        "tandem/v1/leadership.proto",
        "tandem/v1/notify.proto",
        "tandem/v1/data.proto",
        "tandem/v1/state.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    // Maps as BTreeMap: sorted keys encode to the same bytes every time, so equal events are
    // equal on the wire and in KV.
    prost_build::Config::new()
        .btree_map([".tandem"])
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(descriptors.clone())?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptors.encode_to_vec())?
        .preserve_proto_field_names()
        .btree_map([".tandem"])
        .out_dir(&out_dir)
        .build(&[".tandem"])?;
    Ok(())
}
