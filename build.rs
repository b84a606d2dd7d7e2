//! Rebuild when the profiles or overlays built into the binary (include_dir!) change.
fn main() {
    println!("cargo:rerun-if-changed=profiles");
    println!("cargo:rerun-if-changed=overlays");
    println!("cargo:rerun-if-changed=builder/profile/data");
}
