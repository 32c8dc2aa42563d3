//! Text handling shared by the renderers: cleaning, wrapping, shortening, and escaping for
//! each format. Escapers take one line of clean text; line breaks are each format's own
//! syntax, added by the renderer between escaped lines.

/// `text` with line endings normalised to `\n`, every other control character and every
/// character XML cannot hold (U+FFFE, U+FFFF) made a space or U+FFFD, and lines trimmed.
pub(crate) fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` cleaned and on one line: line breaks and runs of spaces become one space.
pub(crate) fn one_line(text: &str) -> String {
    clean(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Greedy word wrap of cleaned `text` to lines of at most `width` characters (longer words
/// are cut), keeping the text's own line breaks; at most `max_lines` lines, the last one
/// ending in `…` when text was left out.
pub(crate) fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    for paragraph in clean(text).lines() {
        let mut line = String::new();
        for word in words(paragraph) {
            let mut chars: Vec<char> = word.chars().collect();
            // A word longer than a line is cut.
            while chars.len() > width {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let rest = chars.split_off(width);
                lines.push(chars.into_iter().collect());
                chars = rest;
            }
            let used = line.chars().count();
            if used == 0 {
                line = chars.into_iter().collect();
            } else if used + 1 + chars.len() <= width {
                line.push(' ');
                line.extend(chars);
            } else {
                lines.push(std::mem::take(&mut line));
                line = chars.into_iter().collect();
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = shorten(&format!("{last} …"), width);
            if !last.ends_with('…') {
                last.push('…');
            }
        }
    }
    lines
}

/// The words of a line, a `{{ field }}` placeholder kept as one word with its braces.
fn words(line: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut open = false;
    for word in line.split_whitespace() {
        match words.last_mut() {
            Some(last) if open => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
        if let Some(last) = words.last() {
            open = last
                .rfind("{{")
                .is_some_and(|at| !last[at..].contains("}}"));
        }
    }
    words
}

/// `text` on one line, cut to at most `width` characters with a trailing `…`.
pub(crate) fn shorten(text: &str, width: usize) -> String {
    let line = one_line(text);
    if line.chars().count() <= width {
        return line;
    }
    let kept: String = line.chars().take(width.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// One line of text inside a Mermaid `"…"` label. Mermaid reads entity codes (`#quot;`,
/// `#35;`) and HTML in labels, and `%%{…}%%` directives anywhere in the text, so every
/// character that could close the string, start an entity, a directive, a markdown string or
/// an HTML tag is written as an entity code; the rest (brackets, braces, unicode) is safe
/// inside quotes.
pub(crate) fn mermaid(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            // Mermaid reads `\n` in a label as a line break.
            '\\' => out.push_str("#92;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One line of text inside a DOT `"…"` string: `"` and `\` escaped (so no escape sequence
/// like `\N` or `\l` can come from the text), and `&` written `&amp;`, since Graphviz
/// reads HTML entities (`&lt;`, `&#35;`) in every label; control characters made spaces.
pub(crate) fn dot(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for XML character data or an attribute value: `& < > " '` escaped, characters XML
/// 1.0 cannot hold replaced (control characters by a space, U+FFFE/U+FFFF by U+FFFD).
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
