#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_scan::{ImageInventory, Limits, inventory_of_layer};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 8 << 20,
        max_file_size: 1 << 20,
        max_artifact_size: 1 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    if let Ok(inv) = inventory_of_layer(data, None, None, &limits) {
        let _ = ImageInventory::from_layers(&[inv], &limits);
    }
});
