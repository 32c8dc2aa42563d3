//! Escaping and text handling, with titles chosen to break each format.

use super::text;
use super::{Format, Highlight};
use crate::graph::{NodeKind, Process, compile};
use crate::parse::parse_sop;

/// Titles that break naive escaping in at least one format.
const NASTY: &[&str] = &[
    r#"Say "hi" & <b>bold</b> 'single'"#,
    "#quot; #35; &amp; &lt; entity look-alikes",
    r#"%%{init: {"theme": "dark"}}%% directive"#,
    "`markdown` | pipe ; semicolon",
    r"back\slash \N \G \l \n \\ end\",
    "[brackets] (parens) {braces} {{ issue }} ]] ) }",
    "end --> x ; style y fill:red",
    "ünïcödé 日本語 🚀 e\u{301}",
    "</text><script>alert(1)</script>",
    "line one\nline two\r\nline three",
    "tab\tand\u{7}bell\u{0}nul \u{fffe}",
];

/// Reverses [`text::mermaid`]: what Mermaid shows for a label.
fn mermaid_decode(escaped: &str) -> String {
    let mut out = String::new();
    let mut rest = escaped;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        let end = entity.find(';').expect("entity code ends with `;`");
        let decoded = match &entity[1..end] {
            "quot" => '"',
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            number => char::from_u32(number.parse().expect("numeric entity")).expect("char"),
        };
        out.push(decoded);
        rest = &entity[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Reverses [`text::dot`]: what Graphviz reads from a quoted string.
fn dot_decode(escaped: &str) -> String {
    let escaped = escaped.replace("&amp;", "&");
    let mut out = String::new();
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().expect("escape sequence is complete"));
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn mermaid_escaping_round_trips_and_leaves_no_syntax() {
    for title in NASTY {
        for line in text::clean(title).lines() {
            let escaped = text::mermaid(line);
            for forbidden in ['"', '<', '>', '`', '|', '%', '&', '\\'] {
                assert!(
                    !escaped.contains(forbidden),
                    "{forbidden:?} left in {escaped:?}"
                );
            }
            assert_eq!(mermaid_decode(&escaped), line, "{title:?}");
        }
    }
    assert_eq!(text::mermaid(r#"a "b" #c"#), "a #quot;b#quot; #35;c");
}

#[test]
fn dot_escaping_round_trips_and_cannot_close_the_string() {
    for title in NASTY {
        for line in text::clean(title).lines() {
            let escaped = text::dot(line);
            // Every quote is escaped, and the string cannot end in a lone backslash.
            let mut backslashes = 0;
            for c in escaped.chars() {
                if c == '"' {
                    assert!(backslashes % 2 == 1, "unescaped quote in {escaped:?}");
                }
                backslashes = if c == '\\' { backslashes + 1 } else { 0 };
            }
            assert!(backslashes % 2 == 0, "{escaped:?} ends inside an escape");
            assert_eq!(dot_decode(&escaped), line, "{title:?}");
        }
    }
    assert_eq!(
        text::dot(r#"say "hi" \N &lt;"#),
        r#"say \"hi\" \\N &amp;lt;"#
    );
}

#[test]
fn xml_escaping_parses_back_to_the_text() {
    for title in NASTY {
        let clean = text::clean(title);
        let document = format!("<a b=\"{0}\" c='{0}'>{0}</a>", text::xml(&clean));
        let parsed = roxmltree::Document::parse(&document)
            .unwrap_or_else(|e| panic!("{title:?}: {e}\n{document}"));
        let root = parsed.root_element();
        assert_eq!(root.text(), Some(clean.as_str()));
        // XML reads a line break in an attribute value as a space.
        assert_eq!(root.attribute("c"), Some(clean.replace('\n', " ").as_str()));
    }
    assert_eq!(
        text::xml("<a href='x'>&\"</a>"),
        "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;"
    );
}

#[test]
fn clean_drops_control_characters_and_blank_lines() {
    assert_eq!(
        text::clean("  a\u{0}b \r\n\n\t c\u{fffe} \n"),
        "a b\nc\u{fffd}"
    );
    assert_eq!(text::one_line("a\n  b\tc"), "a b c");
}

#[test]
fn wrap_keeps_words_cuts_long_ones_and_marks_what_it_left_out() {
    assert_eq!(
        text::wrap("Receive inbound communication from customer", 20, 5),
        ["Receive inbound", "communication from", "customer"]
    );
    assert_eq!(
        text::wrap("abcdefghij xy", 4, 5),
        ["abcd", "efgh", "ij", "xy"]
    );
    assert_eq!(text::wrap("one\ntwo three", 20, 5), ["one", "two three"]);
    assert_eq!(text::wrap("aa bb cc dd", 3, 2), ["aa", "bb…"]);
    assert_eq!(text::wrap("", 10, 3), Vec::<String>::new());
    assert_eq!(
        text::wrap("Solution or Answer to {{ issue }}", 24, 5),
        ["Solution or Answer to", "{{ issue }}"]
    );
    assert_eq!(
        text::shorten("priority == \"High\" && amount > 1000", 12),
        "priority ==…"
    );
    assert_eq!(text::shorten("short", 12), "short");
}

/// A process whose step titles and condition are the nasty strings.
fn nasty_process() -> Process {
    let mut yaml = String::from(
        "id: nasty\nversion: 1\ntitle: \"Nasty \\\"titles\\\" & <friends>\"\ndepartment: Testing\n\
         roles: { agent: Agent, lead: Lead }\n\
         fields:\n  issue: { type: text }\n  priority: { type: choice, options: [High, Low], default: Low }\n\
         steps:\n",
    );
    // YAML itself refuses the control characters and U+FFFE of the last one.
    for (i, title) in NASTY[..NASTY.len() - 1].iter().enumerate() {
        let quoted = serde_json::to_string(title).expect("a string serializes");
        yaml.push_str(&format!(
            "  - {{ id: s{i}, title: {quoted}, role: agent, collects: [issue, priority] }}\n"
        ));
    }
    yaml.push_str(
        "  - id: gate\n    title: \"Approve \\\"it\\\"\"\n    approval: { by: lead, reviews: [s0], on_reject: s0 }\n\
         \x20 - id: route\n    decide:\n      - if: 'priority == \"High\" && issue != \"<&>\"'\n        goto: done\n      - else: done\n\
         \x20 - { id: done, title: Done, role: agent, end: true }\n",
    );
    let sop = parse_sop("nasty.yaml", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let compilation = compile(&sop);
    compilation.process.unwrap_or_else(|| {
        panic!("{:#?}\n{yaml}", compilation.diagnostics);
    })
}

/// The clean titles of every step node.
fn titles(process: &Process) -> Vec<String> {
    process
        .nodes()
        .filter(|(_, node)| matches!(node.kind, NodeKind::Task(_) | NodeKind::Approval(_)))
        .filter_map(|(_, node)| node.title.as_ref().map(|t| text::clean(t.source())))
        .collect()
}

#[test]
fn mermaid_labels_hold_no_raw_syntax() {
    let chart = super::mermaid(&nasty_process(), None);
    assert!(!chart.contains("%%{"), "{chart}");
    for line in chart.lines().skip(1) {
        // Inside each quoted string only entity codes and our own tags.
        for (i, quoted) in line.split('"').enumerate() {
            if i % 2 == 1 {
                let stripped = ["<br/>", "<i>", "</i>", "<b>", "</b>"]
                    .iter()
                    .fold(quoted.to_owned(), |s, tag| s.replace(tag, ""));
                for forbidden in ['<', '>', '`', '|', '%', '\\'] {
                    assert!(!stripped.contains(forbidden), "{forbidden:?} in {line}");
                }
            }
        }
        assert_eq!(
            line.matches('"').count() % 2,
            0,
            "unbalanced quotes: {line}"
        );
    }
    // Every title comes back from the labels.
    let shown: Vec<String> = chart
        .lines()
        .flat_map(|line| line.split('"').skip(1).step_by(2))
        .map(|quoted| mermaid_decode(&quoted.replace("<br/>", " ")))
        .collect();
    // Wrapping may cut a long word: compare without white space.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let shown = squeeze(&shown.join(""));
    for title in titles(&nasty_process()) {
        assert!(
            shown.contains(&squeeze(&title)),
            "{title:?} missing from\n{chart}"
        );
    }
    assert!(
        chart.contains(
            r#"|"priority == #quot;High#quot; #amp;#amp; issue != #quot;#lt;#amp;#gt;#quot;"|"#
        ),
        "{chart}"
    );
}

#[test]
fn dot_labels_are_escaped() {
    let chart = super::dot(&nasty_process(), None);
    assert!(
        chart.contains(r#"label="Say \"hi\" &amp; <b>bold</b>\n'single'\nagent""#),
        "{chart}"
    );
    // A backslash ending a line is escaped before the line break.
    assert!(
        chart.contains(r#"label="back\\slash \\N \\G \\l \\n \\\\\nend\\\nagent""#),
        "{chart}"
    );
    assert!(
        chart.contains(r#"label="priority == \"High\" &amp;&amp; issue != \"<&amp;>\"""#),
        "{chart}"
    );
    assert!(
        chart.contains(r#"graph [label="Nasty \"titles\" &amp; <friends> (nasty v1)""#),
        "{chart}"
    );
}

#[test]
fn svg_is_well_formed_and_titles_survive() {
    let process = nasty_process();
    let svg = super::svg(&process, None).expect("layout");
    let document = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let tooltips: Vec<String> = document
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    for title in titles(&process) {
        assert!(
            tooltips
                .iter()
                .any(|t| t.starts_with(&format!("{title}\n"))),
            "{title:?} not among {tooltips:#?}"
        );
    }
    assert!(svg.contains("&lt;/text&gt;&lt;script&gt;"), "{svg}");
    assert!(!svg.contains("<script"), "{svg}");
}

#[test]
fn every_format_renders_an_empty_overlay_like_none() {
    let process = nasty_process();
    for format in Format::ALL {
        assert_eq!(
            super::render(&process, format, Some(&Highlight::default())),
            super::render(&process, format, None),
            "{format}"
        );
    }
}

#[test]
fn format_names_parse_back() {
    for format in Format::ALL {
        assert_eq!(format.name().parse::<Format>(), Ok(format));
    }
    let error = "png".parse::<Format>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown flowchart format `png`: expected mermaid, dot or svg"
    );
}

/// A coverage chart: the taken edge stays as drawn for a case, the others are grey and
/// dashed in every format.
#[test]
fn dim_untaken_draws_untested_edges_grey_and_dashed() {
    let sop = parse_sop(
        "t.yaml",
        "id: t\nversion: 1\ntitle: T\ndepartment: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: A, role: agent }\n  - { id: b, title: B, role: agent, end: true }\n",
    )
    .unwrap();
    let process = compile(&sop).process.unwrap();
    let mut highlight = Highlight {
        dim_untaken: true,
        ..Highlight::default()
    };
    let (kind, first) = process.successors(process.start())[0];
    highlight.take(process.start(), kind, first);
    let grey = super::chart::colors::UNTESTED;
    let mermaid = super::mermaid(&process, Some(&highlight));
    assert!(
        mermaid.contains(&format!(
            "linkStyle 1,2 stroke:{grey},color:{grey},stroke-dasharray:5 4"
        )),
        "{mermaid}"
    );
    let dot = super::dot(&process, Some(&highlight));
    assert_eq!(
        dot.matches(&format!("style=dashed, color=\"{grey}\""))
            .count(),
        2,
        "{dot}"
    );
    let svg = super::svg(&process, Some(&highlight)).unwrap();
    assert_eq!(svg.matches(r#"class="edge untested""#).count(), 2, "{svg}");
    assert!(svg.contains("not tested by any scenario"));
}

#[test]
fn a_timer_counted_from_a_date_is_drawn_with_its_date() {
    let yaml = "id: onboarding\nversion: 1\ntitle: Onboarding\ndepartment: People\n\
         roles: { hr: HR, it: IT }\n\
         fields: { start_date: { type: date } }\n\
         steps:\n\
         \x20 - { id: record, title: Record the hire, role: hr, collects: [start_date] }\n\
         \x20 - { id: laptop, title: Prepare the laptop, role: it, due: { before: start_date, offset: 2bd }, on_overdue: chase }\n\
         \x20 - { id: chase, title: Chase IT, role: hr, end: true }\n";
    let sop = parse_sop("onboarding.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    let process = compile(&sop).process.expect("it compiles");
    let chart = super::mermaid(&process, None);
    assert!(chart.contains("SLA 2bd before start_date"), "{chart}");
    assert!(chart.contains("overdue 2bd before start_date"), "{chart}");
}

/// Work that goes to one person is drawn in a lane of its own: the person a field names
/// (labelled with the field's label, or its id), and whoever did an earlier step of a
/// role's queue; a step done by whoever did a step in a person's lane shares that lane.
#[test]
fn steps_that_go_to_one_person_get_a_lane_of_their_own() {
    let yaml = "id: lanes\nversion: 1\ntitle: Lanes\ndepartment: D\n\
         roles: { agent: A, lead: L }\n\
         fields:\n\
         \x20 owner: { type: person, label: Owning agent }\n\
         \x20 approver: { type: person }\n\
         steps:\n\
         \x20 - { id: take, title: Take, role: agent, collects: [owner, approver] }\n\
         \x20 - { id: work, title: Work, role: agent, assignee: owner }\n\
         \x20 - { id: again, title: Again, role: agent, same_performer_as: work }\n\
         \x20 - { id: sign, title: Sign, role: lead, assignee: approver }\n\
         \x20 - { id: call_back, title: Call back, role: agent, same_performer_as: take, end: true }\n";
    let sop = parse_sop("lanes.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    let process = compile(&sop).process.expect("it compiles");
    let chart = super::chart::Chart::new(&process, None, None);
    let titles: Vec<&str> = chart.lanes.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(
        titles,
        ["agent", "Owning agent", "approver (person)", "who did take"]
    );
    let lane_of = |title: &str| {
        let node = chart
            .nodes
            .iter()
            .position(|n| n.title == title)
            .expect("a node with that title");
        chart.nodes[node]
            .lane
            .map(|l| chart.lanes[l].title.as_str())
    };
    assert_eq!(lane_of("Take"), Some("agent"));
    assert_eq!(lane_of("Work"), Some("Owning agent"));
    assert_eq!(lane_of("Again"), Some("Owning agent"));
    assert_eq!(lane_of("Sign"), Some("approver (person)"));
    assert_eq!(lane_of("Call back"), Some("who did take"));
    let mermaid = super::mermaid(&process, None);
    assert!(
        mermaid.contains("subgraph lane_1[\"Owning agent\"]"),
        "{mermaid}"
    );
}
