//! Profile text -> validated profile -> resolved plan: never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lookup = builder::profile::Lookup {
        local_dir: "/nonexistent".into(),
    };
    if let Ok(profile) = lookup.load_text("fuzz.toml", text) {
        if let Ok(catalog) = builder::profile::catalog::Catalog::builtin() {
            let _ = builder::profile::plan::Plan::resolve(profile, &catalog)
                .map(|p| p.show_text().len());
        }
    }
});
