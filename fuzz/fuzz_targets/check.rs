//! Whatever the bytes, parsing, compiling, `sopflow::check` and rendering never panic, and
//! `check` agrees with parsing and compiling by hand.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sopflow::diagnostic::{self, SourceFile};

fuzz_target!(|data: &[u8]| {
    let by_hand = match sopflow::parse::parse_sop_bytes("fuzz.yaml", data) {
        Ok(sop) => {
            let compilation = sopflow::graph::compile(&sop);
            assert_eq!(
                compilation.process.is_some(),
                !compilation.diagnostics.iter().any(|d| d.is_error()),
                "a process exactly when there is no error"
            );
            compilation.diagnostics
        }
        Err(error) => vec![error.to_diagnostic()],
    };

    // What `sop validate` does: lossy text for display, every diagnostic rendered.
    let source = SourceFile::new("fuzz.yaml", String::from_utf8_lossy(data).into_owned());
    let diagnostics = sopflow::check(&source);
    if std::str::from_utf8(data).is_ok() {
        assert_eq!(diagnostics, by_hand, "check = parse + compile");
    }
    let _ = diagnostic::render_human(&source, &by_hand, false);
    let _ = diagnostic::render_human(&source, &diagnostics, false);
    for d in &diagnostics {
        let _ = serde_json::to_string(&diagnostic::to_json(&source, d));
        let _ = diagnostic::render_github(&source, d);
    }
});
