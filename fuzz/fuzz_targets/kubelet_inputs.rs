//! A kubelet command line or kubeadm-flags.env -> flags -> verdict: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        builder::detect::fuzz_kubelet(text);
    }
});
