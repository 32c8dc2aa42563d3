//! Writing to the terminal: stored text cannot steer it, and a reader that goes away (`sop
//! case show T-1 | head`) ends the program quietly, as ripgrep does.

use std::borrow::Cow;
use std::io::Write;

/// Writes `text` to standard output as is (JSON, charts: formats that escape their own
/// content). When the reader has gone away, ends the program with status 0; on any other
/// write error, with status 2.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot write to standard output: {error}"
        );
        std::process::exit(i32::from(crate::EXIT_USAGE));
    }
}

/// Writes text for people to standard output, control characters escaped ([`printable`]).
pub fn human(text: &str) {
    stdout(&printable(text));
}

/// `text` with every control character but newline and tab written as an escape
/// (`\u{1b}`), so a stored value cannot move the cursor, recolour or ring the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_but_lines_kept() {
        assert_eq!(printable("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(
            printable("red \u{1b}[31malert\u{7}\r"),
            "red \\u{1b}[31malert\\u{7}\\r"
        );
        assert_eq!(printable("next\u{85}line"), "next\\u{85}line");
    }
}

/// How a `sop case` or `sop people` command prints its result.
#[derive(clap::Args, Clone, Copy)]
pub struct Output {
    /// `human`, or `json`: exactly one JSON object on standard output, the result or
    /// `{"error": {...}}`
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Lines for people, or one JSON object.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines for people
    Human,
    /// One JSON object per command
    Json,
}
