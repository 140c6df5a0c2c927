//! Any bytes given to the DQDL parser: never a panic, and every ruleset it
//! accepts formats to text that parses back to the same ruleset.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match dqdl::parse(text) {
        Ok(ruleset) => {
            let formatted = dqdl::format_ruleset(&ruleset);
            let again = dqdl::parse(&formatted).expect("formatted text parses");
            assert_eq!(again, ruleset, "format round-trip");
        }
        Err(e) => {
            let _ = e.render("fuzz", text);
        }
    }
});
