//! kubectl JSON -> nodes and pods: never a panic, and the streaming reader (used for big
//! files) never answers differently from the whole-document reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    builder::detect::fuzz_lists(data);
});
