//! First boot: what turns a fresh machine into a profile's node. cloud-init user-data
//! (`cloudinit`) and the Ignition config (`ignition`) share the files they write on the node
//! (`files`), the cloud's user-data size limit (`cloud`), the kubeadm join parameters (`join`)
//! and the YAML subset they are written in (`yaml`). `node_check` is the script that checks the
//! base image before the runtime starts; `sh` holds what it and the fetch script share.

pub mod cloud;
pub mod cloudinit;
pub mod files;
pub mod ignition;
pub mod join;
pub mod node_check;
pub mod sh;
pub mod yaml;
