//! `uniffi-bindgen`: generates the foreign sources (Python, Swift, Kotlin)
//! from `libagent_uniffi.so`'s metadata.

fn main() {
    uniffi::uniffi_bindgen_main()
}
