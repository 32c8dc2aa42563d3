//! Flowcharts of the SOP library: Mermaid and DOT pinned by snapshots, DOT read by a DOT
//! parser (the process's nodes and edges, every label as written) and accepted by the real
//! Graphviz, our SVG well-formed with every step title, a PNG of the customer support process
//! for people to look at, a case overlay in every format, and `sop graph`.
//!
//! Checks that need a program from outside follow one rule: they run when their environment
//! variable is set (any non-empty value) and then fail if the program is missing; without it
//! they are skipped with a note on standard error. The real Graphviz `dot`:
//! `SOPFLOW_TEST_GRAPHVIZ=1` (CI sets it).

mod outside;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph as DotGraph, Id, Stmt, Subgraph, Vertex,
};
use sopflow::graph::{NodeKind, Process, compile};
use sopflow::model::StepId;
use sopflow::parse::parse_sop;
use sopflow::render::{self, Highlight};

#[path = "../benches/support/generate.rs"]
#[allow(dead_code)]
mod generate;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(file stem, text)` of every `sops/*.yaml`, sorted.
fn sop_sources() -> Vec<(String, String)> {
    let dir = root().join("sops");
    let mut sources: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("file stem")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (stem, text)
        })
        .collect();
    sources.sort();
    assert!(sources.len() >= 7, "the SOP library is missing files");
    sources
}

fn compiled(name: &str, text: &str) -> Process {
    let sop = parse_sop(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let compilation = compile(&sop);
    compilation
        .process
        .unwrap_or_else(|| panic!("{name}: {:#?}", compilation.diagnostics))
}

fn sops() -> Vec<(String, Process)> {
    sop_sources()
        .into_iter()
        .map(|(stem, text)| {
            let process = compiled(&stem, &text);
            (stem, process)
        })
        .collect()
}

fn customer_support() -> Process {
    let text = std::fs::read_to_string(root().join("sops/customer-support-process.yaml"))
        .expect("customer support SOP");
    compiled("customer-support-process.yaml", &text)
}

/// A process with a parallel split and join, which no SOP of the library has yet.
fn parallel_process() -> Process {
    compiled(
        "parallel.yaml",
        "id: parallel\nversion: 2\ntitle: Parallel reviews\ndepartment: Support\n\
         roles: { agent: Agent, lead: Lead }\n\
         steps:\n\
         \x20 - { id: intake, title: Take the request, role: agent }\n\
         \x20 - { id: reviews, title: Reviews, parallel: [legal, tech], join: decide_go }\n\
         \x20 - { id: legal, title: Legal review, role: lead, next: decide_go }\n\
         \x20 - { id: tech, title: Technical review, role: agent, next: decide_go }\n\
         \x20 - { id: decide_go, title: Decide go or no-go, role: lead, end: true }\n",
    )
}

fn step(process: &Process, id: &str) -> petgraph::graph::NodeIndex {
    process
        .step(&StepId::new(id).expect("step id"))
        .unwrap_or_else(|| panic!("no step `{id}`"))
}

/// Records the first edge from `from` to `to` as taken.
fn take(highlight: &mut Highlight, process: &Process, from: &str, to: &str) {
    let index = |name: &str| match name {
        "start" => process.start(),
        "end" => process.end(),
        _ => step(process, name),
    };
    let (from, to) = (index(from), index(to));
    let (kind, _) = process
        .successors(from)
        .iter()
        .copied()
        .find(|&(_, target)| target == to)
        .unwrap_or_else(|| panic!("no edge {from:?} -> {to:?}"));
    highlight.take(from, kind, to);
}

/// A customer support case, built by hand: the first response was late, the team leader
/// took it over, the information was verified, and a solution is being determined.
fn support_case(process: &Process) -> Highlight {
    let mut highlight = Highlight::default();
    let path = [
        "start",
        "receive",
        "overdue_first_response",
        "identify",
        "assign",
        "review_history",
        "create_ticket",
        "research",
        "verify_customer_info",
        "determine_solution",
    ];
    for pair in path.windows(2) {
        take(&mut highlight, process, pair[0], pair[1]);
    }
    highlight.active.insert(step(process, "determine_solution"));
    highlight.breached.insert(step(process, "receive"));
    highlight
}

#[test]
fn mermaid_of_every_sop() {
    for (stem, process) in sops() {
        insta::assert_snapshot!(format!("mermaid-{stem}"), render::mermaid(&process, None));
    }
    insta::assert_snapshot!(
        "mermaid-parallel",
        render::mermaid(&parallel_process(), None)
    );
}

/// How many tokens run is part of the picture: branch conditions on the split's edges, a
/// join that waits for fewer than all, a task run per item.
#[test]
fn mermaid_and_dot_of_the_token_patterns() {
    for name in ["multi-choice", "discriminator", "multiple-instances"] {
        let path = root().join(format!("tests/fixtures/patterns/{name}.yaml"));
        let text = std::fs::read_to_string(&path).expect("pattern fixture");
        let process = compiled(name, &text);
        insta::assert_snapshot!(
            format!("mermaid-pattern-{name}"),
            render::mermaid(&process, None)
        );
        insta::assert_snapshot!(format!("dot-pattern-{name}"), render::dot(&process, None));
    }
}

#[test]
fn dot_of_every_sop() {
    for (stem, process) in sops() {
        insta::assert_snapshot!(format!("dot-{stem}"), render::dot(&process, None));
    }
    insta::assert_snapshot!("dot-parallel", render::dot(&parallel_process(), None));
}

#[test]
fn case_overlay_in_mermaid_and_dot() {
    let process = customer_support();
    let highlight = support_case(&process);
    insta::assert_snapshot!(
        "mermaid-customer-support-case",
        render::mermaid(&process, Some(&highlight))
    );
    let dot = render::dot(&process, Some(&highlight));
    assert!(
        dot.contains("\"s_receive\" [label=\"Receive inbound\\ncommunication from customer\\nsupport_agent\\nSLA 1h in support-hours, warn 15m, 2 levels\\nSLA breached\", fillcolor=\"#dbeafe\", color=\"#cf222e\", penwidth=4];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"s_receive\" -> \"s_overdue_first_response\" [label=\"overdue 1h +30m\", style=dashed, color=\"#0969da\", fontcolor=\"#0969da\", penwidth=3];"),
        "{dot}"
    );
    assert!(dot.contains("\"s_determine_solution\" [label=\"Determine appropriate\\nsolution or answer\\nsupport_agent · person in assignee\\nSLA 2bd in support-hours\", fillcolor=\"#fef3c7\", color=\"#bf8700\", penwidth=4];"), "{dot}");
    // Taken edges, and visited nodes that are neither breached nor active (start included).
    assert_eq!(dot.matches("penwidth=3").count(), 9 + 8);
    if graphviz_enabled("the customer support case") {
        graphviz_svg(&dot, "the customer support case");
    }
}

/// Whether the real-Graphviz checks run ([`outside::GRAPHVIZ`]).
fn graphviz_enabled(what: &str) -> bool {
    outside::enabled(
        outside::GRAPHVIZ,
        &format!("the real Graphviz check of {what}"),
        "it then fails if Graphviz `dot` is not installed: `apt-get install graphviz`",
    )
    .is_some()
}

/// Runs the real `dot -Tsvg` (call it when [`graphviz_enabled`]); fails the test if
/// Graphviz is missing or complains.
fn graphviz_svg(dot: &str, what: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run Graphviz `dot` ({e}): install it (`apt-get install graphviz`)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("write to dot");
    let output = child.wait_with_output().expect("dot runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dot rejected {what}:\n{stderr}\n{dot}"
    );
    assert!(
        stderr.trim().is_empty(),
        "dot warned about {what}:\n{stderr}\n{dot}"
    );
    let svg = String::from_utf8(output.stdout).expect("dot writes UTF-8");
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(&svg, options)
        .unwrap_or_else(|e| panic!("dot's SVG of {what}: {e}"));
    svg
}

#[test]
fn graphviz_accepts_the_dot_of_every_sop() {
    if !graphviz_enabled("the DOT of every SOP") {
        return;
    }
    for (stem, process) in sops() {
        let svg = graphviz_svg(&render::dot(&process, None), &stem);
        for title in step_titles(&process) {
            // Graphviz draws each line of a label as its own text element.
            for line in title.lines() {
                let first_word = line.split_whitespace().next().unwrap_or_default();
                assert!(svg.contains(first_word), "{stem}: {line:?} not drawn");
            }
        }
    }
    graphviz_svg(
        &render::dot(&parallel_process(), None),
        "the parallel process",
    );
}

/// Titles Graphviz could read as syntax, entities or escape sequences.
const NASTY_TITLES: &[&str] = &[
    r#"Say "hi" & <b>bold</b>"#,
    "#quot; &amp; &lt; &#35; look-alikes",
    r"back\slash \N \G \l \n end\",
    "{braces} [brackets] | pipe",
    "ünïcödé e\u{301}",
];

/// A process whose step titles are [`NASTY_TITLES`].
fn nasty_process() -> Process {
    let mut yaml = String::from(
        "id: nasty\nversion: 1\ntitle: Nasty\ndepartment: Testing\nroles: { agent: Agent }\nsteps:\n",
    );
    for (i, title) in NASTY_TITLES.iter().enumerate() {
        let quoted = serde_json::to_string(title).expect("a string serializes");
        yaml.push_str(&format!(
            "  - {{ id: s{i}, title: {quoted}, role: agent }}\n"
        ));
    }
    yaml.push_str("  - { id: done, title: Done, role: agent, end: true }\n");
    compiled("nasty.yaml", &yaml)
}

#[test]
fn graphviz_draws_nasty_titles_as_written() {
    if !graphviz_enabled("nasty titles") {
        return;
    }
    let svg = graphviz_svg(&render::dot(&nasty_process(), None), "nasty titles");
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(&svg, options).expect("xml");
    let drawn: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    let drawn = drawn.join(" ");
    for title in NASTY_TITLES {
        for word in title.split_whitespace() {
            assert!(
                drawn.contains(word),
                "{word:?} of {title:?} not drawn: {drawn}"
            );
        }
    }
}

/// What a DOT parser reads in one of our charts: the graph's name, each node statement's id
/// and text (its label, or its `xlabel` when the label is empty; escapes decoded), and each
/// edge as `(from, to, penwidth)`.
struct ParsedDot {
    name: String,
    nodes: Vec<(String, String)>,
    edges: Vec<(String, String, Option<String>)>,
}

/// Parses `dot` with `graphviz-rust`'s DOT grammar; fails the test if it does not parse, is
/// not one directed graph, or holds anything our renderer does not write.
fn parse_dot(dot: &str, what: &str) -> ParsedDot {
    let graph = graphviz_rust::parse(dot)
        .unwrap_or_else(|e| panic!("the DOT of {what} does not parse: {e}\n{dot}"));
    let DotGraph::DiGraph { id, strict, stmts } = graph else {
        panic!("the DOT of {what} is not a digraph:\n{dot}");
    };
    assert!(!strict, "{what}");
    let mut parsed = ParsedDot {
        name: quoted(&id, what),
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    collect_statements(&stmts, &mut parsed, what);
    parsed
}

fn collect_statements(stmts: &[Stmt], parsed: &mut ParsedDot, what: &str) {
    for stmt in stmts {
        match stmt {
            Stmt::Node(node) => {
                assert!(node.id.1.is_none(), "{what}: a node with a port");
                // Splits and joins are bars with their text beside them.
                let text = attribute(&node.attributes, "label", what)
                    .filter(|label| !label.is_empty())
                    .or_else(|| attribute(&node.attributes, "xlabel", what))
                    .unwrap_or_default();
                parsed.nodes.push((quoted(&node.id.0, what), text));
            }
            Stmt::Edge(Edge { ty, attributes }) => {
                let vertices = match ty {
                    EdgeTy::Pair(from, to) => vec![from, to],
                    EdgeTy::Chain(chain) => chain.iter().collect(),
                };
                let ids: Vec<String> = vertices
                    .into_iter()
                    .map(|vertex| match vertex {
                        Vertex::N(node) => quoted(&node.0, what),
                        Vertex::S(_) => panic!("{what}: an edge to a subgraph"),
                    })
                    .collect();
                let penwidth = attribute(attributes, "penwidth", what);
                for pair in ids.windows(2) {
                    parsed
                        .edges
                        .push((pair[0].clone(), pair[1].clone(), penwidth.clone()));
                }
            }
            Stmt::Subgraph(Subgraph { id, stmts }) => {
                assert!(quoted(id, what).starts_with("cluster_"), "{what}: {id:?}");
                collect_statements(stmts, parsed, what);
            }
            Stmt::GAttribute(_) => {}
            Stmt::Attribute(attribute) => panic!("{what}: a bare attribute {attribute:?}"),
        }
    }
}

/// A quoted id's text, as Graphviz reads it: `\"` and `\\` decoded, `\n` a line break,
/// `&amp;` an ampersand. Fails on any other escape or entity: the text could then draw
/// otherwise than written.
fn quoted(id: &Id, what: &str) -> String {
    match id {
        Id::Escaped(text) => {
            let inner = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{what}: {text} is not quoted"));
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some(c @ ('"' | '\\')) => out.push(c),
                        other => panic!(
                            "{what}: the Graphviz escape `\\{}` in {text}",
                            other.unwrap_or(' ')
                        ),
                    },
                    '&' => {
                        let rest = chars.as_str();
                        assert!(rest.starts_with("amp;"), "{what}: an entity in {text}");
                        chars = rest["amp;".len()..].chars();
                        out.push('&');
                    }
                    c => out.push(c),
                }
            }
            out
        }
        Id::Plain(text) => text.clone(),
        other => panic!("{what}: {other:?} is neither quoted nor plain"),
    }
}

/// The value of attribute `name`, which may be given once.
fn attribute(attributes: &[Attribute], name: &str, what: &str) -> Option<String> {
    let mut values = attributes
        .iter()
        .filter(|Attribute(key, _)| quoted(key, what) == name)
        .map(|Attribute(_, value)| quoted(value, what));
    let value = values.next();
    assert!(values.next().is_none(), "{what}: two `{name}` attributes");
    value
}

/// The DOT id the renderer gives a node of `process`: `n_start`, `n_end`, `n_join_SPLIT`,
/// `s_STEP`, with every character but ASCII letters, digits and `_` written `_`.
fn dot_id(process: &Process, index: petgraph::graph::NodeIndex) -> String {
    let safe = |id: &str| -> String {
        id.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let node = process.node(index);
    match (&node.kind, &node.step) {
        (NodeKind::Start, _) => "n_start".to_owned(),
        (NodeKind::End, _) => "n_end".to_owned(),
        (NodeKind::Join(join), _) => format!("n_join_{}", safe(join.split.as_str())),
        (_, Some(step)) => format!("s_{}", safe(step.as_str())),
        (_, None) => panic!("a node that is no step: {node:?}"),
    }
}

/// Checks the parsed DOT of `process` against it: one node statement per node, one edge per
/// transition between the right nodes, every step's title in its label as written, and (for
/// a case overlay) the taken transitions drawn wider.
fn assert_dot_matches(process: &Process, highlight: Option<&Highlight>, what: &str) {
    dot_matches(process, highlight, &render::dot(process, highlight), what);
}

/// [`assert_dot_matches`] on a given DOT text.
fn dot_matches(process: &Process, highlight: Option<&Highlight>, dot: &str, what: &str) {
    let parsed = parse_dot(dot, what);
    assert_eq!(parsed.name, process.id().as_str(), "{what}");

    let mut declared: Vec<&str> = parsed.nodes.iter().map(|(id, _)| id.as_str()).collect();
    declared.sort_unstable();
    let before = declared.len();
    declared.dedup();
    assert_eq!(declared.len(), before, "{what}: a node declared twice");
    assert_eq!(declared.len(), process.nodes().count(), "{what}: nodes");
    let mut expected: Vec<String> = process.nodes().map(|(i, _)| dot_id(process, i)).collect();
    expected.sort_unstable();
    assert_eq!(declared, expected, "{what}: node ids");

    assert_eq!(
        parsed.edges.len(),
        process.graph().edge_count(),
        "{what}: edges"
    );
    let mut drawn: Vec<(String, String, bool)> = parsed
        .edges
        .iter()
        .map(|(from, to, penwidth)| (from.clone(), to.clone(), penwidth.is_some()))
        .collect();
    let mut transitions: Vec<(String, String, bool)> = Vec::new();
    for (from, _) in process.nodes() {
        for &(kind, to) in process.successors(from) {
            let taken = highlight.is_some_and(|h| {
                h.taken
                    .contains(&sopflow::render::Transition { from, kind, to })
            });
            transitions.push((dot_id(process, from), dot_id(process, to), taken));
        }
    }
    drawn.sort_unstable();
    transitions.sort_unstable();
    assert_eq!(drawn, transitions, "{what}: edges (from, to, taken)");

    for (index, node) in process.nodes() {
        let (Some(_), Some(title)) = (&node.step, &node.title) else {
            continue;
        };
        let id = dot_id(process, index);
        let (_, label) = parsed
            .nodes
            .iter()
            .find(|(n, _)| *n == id)
            .expect("declared");
        let shown: Vec<&str> = label.split_whitespace().collect();
        let title: Vec<&str> = title.source().split_whitespace().collect();
        assert!(
            shown.starts_with(&title),
            "{what}: {id} shows {label:?}, not {title:?}"
        );
    }
}

#[test]
fn a_dot_parser_reads_every_chart_as_the_process() {
    for (stem, process) in sops() {
        assert_dot_matches(&process, None, &stem);
    }
    assert_dot_matches(&parallel_process(), None, "the parallel process");
    let process = customer_support();
    assert_dot_matches(
        &process,
        Some(&support_case(&process)),
        "the customer support case",
    );
    assert_dot_matches(&nasty_process(), None, "nasty titles");
}

/// The checks above fail on the faults they are there for: a missing edge, a node declared
/// twice, a Graphviz escape sequence in a label, DOT that does not parse.
#[test]
fn the_dot_checks_catch_what_they_should() {
    let process = parallel_process();
    let dot = render::dot(&process, None);
    let fails = |dot: String| {
        let process = parallel_process();
        std::panic::catch_unwind(move || dot_matches(&process, None, &dot, "a broken chart"))
            .is_err()
    };
    assert!(!fails(dot.clone()), "the chart as rendered passes");
    let edge = "    \"s_tech\" -> \"n_join_reviews\";\n";
    assert!(dot.contains(edge));
    assert!(fails(dot.replacen(edge, "", 1)), "a missing edge");
    let node = "        \"s_tech\" [label=\"Technical review\\nagent\", fillcolor=\"#dbeafe\"];\n";
    assert!(dot.contains(node));
    assert!(
        fails(dot.replacen(node, &node.repeat(2), 1)),
        "a node twice"
    );
    assert!(
        fails(dot.replacen("Legal review", "Legal \\N review", 1)),
        "an escape sequence"
    );
    assert!(
        fails(dot.replacen("Legal review", "Legal &lt; review", 1)),
        "an entity"
    );
    assert!(
        fails(dot.trim_end().trim_end_matches('}').to_owned()),
        "no closing brace"
    );
}

/// Titles of the steps that show one (tasks, gates, decisions, splits).
fn step_titles(process: &Process) -> Vec<String> {
    process
        .nodes()
        .filter(|(_, node)| node.step.is_some())
        .filter_map(|(_, node)| node.title.as_ref().map(|t| t.source().trim().to_owned()))
        .collect()
}

/// Our SVG parsed, with each node's visible text (its `<text>` lines joined by spaces).
fn svg_node_texts(svg: &str, what: &str) -> Vec<(String, String)> {
    let document = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{what}: {e}\n{svg}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert!(root.attribute("viewBox").is_some());
    document
        .descendants()
        .filter(|n| {
            n.has_tag_name("g") && n.attribute("class").is_some_and(|c| c.starts_with("node "))
        })
        .map(|g| {
            let text: Vec<&str> = g
                .children()
                .filter(|c| c.has_tag_name("text"))
                .filter_map(|t| t.text())
                .collect();
            (
                g.attribute("id").unwrap_or_default().to_owned(),
                text.join(" "),
            )
        })
        .collect()
}

#[test]
fn our_svg_of_every_sop_is_xml_with_every_step_title() {
    let mut all = sops();
    all.push(("parallel".to_owned(), parallel_process()));
    for (stem, process) in all {
        let svg = render::svg(&process, None).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let nodes = svg_node_texts(&svg, &stem);
        assert_eq!(
            nodes.len(),
            process.nodes().count(),
            "{stem}: one group per node"
        );
        for (_, node) in process.nodes() {
            let (Some(step), Some(title)) = (&node.step, &node.title) else {
                continue;
            };
            let id = format!("s_{}", step.as_str().replace('-', "_"));
            let (_, shown) = nodes
                .iter()
                .find(|(g, _)| *g == id)
                .unwrap_or_else(|| panic!("{stem}: no group for {id}"));
            let title: Vec<&str> = title.source().split_whitespace().collect();
            assert!(
                shown.starts_with(&title.join(" ")),
                "{stem}: {id} shows {shown:?}, not {title:?}"
            );
            if let NodeKind::Task(task) = &node.kind {
                assert!(shown.contains(task.role.as_str()), "{stem}: {id} role");
            }
        }
    }
}

#[test]
fn case_overlay_in_our_svg() {
    let process = customer_support();
    let svg = render::svg(&process, Some(&support_case(&process))).expect("layout");
    let document = roxmltree::Document::parse(&svg).expect("xml");
    let class_of = |id: &str| {
        document
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .and_then(|n| n.attribute("class"))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(class_of("s_receive"), "node task breached");
    assert_eq!(class_of("s_determine_solution"), "node task active");
    assert_eq!(class_of("s_identify"), "node task visited");
    assert_eq!(class_of("s_close_ticket"), "node task");
    let taken = document
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.ends_with(" taken")))
        .count();
    assert_eq!(taken, 9);
    assert!(svg.contains(">SLA breached</text>"));
    write_png(&svg, "customer-support-process-case.png");
}

/// Renders our SVG to `target/render/NAME` with resvg, for people to look at.
fn write_png(svg: &str, name: &str) -> PathBuf {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(svg, &options).expect("resvg reads our SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("non-empty image");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let dir = root().join("target/render");
    std::fs::create_dir_all(&dir).expect("target/render");
    let path = dir.join(name);
    pixmap.save_png(&path).expect("write PNG");
    path
}

#[test]
fn customer_support_png() {
    let process = customer_support();
    let svg = render::svg(&process, None).expect("layout");
    let path = write_png(&svg, "customer-support-process.png");
    let bytes = std::fs::read(&path).expect("PNG written");
    assert_eq!(&bytes[1..4], b"PNG");
    std::fs::write(
        root().join("target/render/customer-support-process.svg"),
        svg,
    )
    .expect("write SVG");
}

#[test]
fn generated_sops_of_every_small_size_lay_out() {
    for steps in 1..=40 {
        let process = compiled("generated.yaml", &generate::generate_sop(steps));
        let svg = render::svg(&process, None).unwrap_or_else(|e| panic!("{steps} steps: {e}"));
        assert_eq!(
            svg_node_texts(&svg, "generated").len(),
            process.nodes().count()
        );
    }
}

#[test]
fn readme_chart_is_up_to_date() {
    let path = root().join("docs/customer-support.mmd");
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        written,
        render::mermaid(&customer_support(), None),
        "regenerate it: sop graph sops/customer-support-process.yaml --format mermaid -o docs/customer-support.mmd"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap_or_default();
    assert!(
        readme.contains(&format!("```mermaid\n{written}```")),
        "README.md embeds docs/customer-support.mmd in a ```mermaid block; paste the new chart there"
    );
}

#[cfg(feature = "cli")]
fn sop_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("sop runs")
}

#[cfg(feature = "cli")]
#[test]
fn cli_graph_writes_each_format() {
    let process = customer_support();
    for format in render::Format::ALL {
        let output = sop_cli(&[
            "graph",
            "sops/customer-support-process.yaml",
            "--format",
            format.name(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{format}: {output:?}");
        let expected = render::render(&process, format, None).expect("layout");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{format}"
        );
    }
    let out = std::env::temp_dir().join(format!("sop-graph-{}.dot", std::process::id()));
    let output = sop_cli(&[
        "graph",
        "sops/customer-support-process.yaml",
        "--format",
        "dot",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&out).expect("written");
    let _ = std::fs::remove_file(&out);
    assert_eq!(written, render::dot(&process, None));
}

#[cfg(feature = "cli")]
#[test]
fn cli_graph_exit_codes() {
    // An SOP with errors: 1, the diagnostics on standard error, nothing on standard output.
    let invalid = fixture("001-unknown-top-level-key.yaml");
    let output = sop_cli(&["graph", invalid.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unknown key `titel`"),
        "{output:?}"
    );

    // Usage and I/O errors: 2.
    for args in [
        &["graph", "sops/no-such-file.yaml"][..],
        &["graph", "sops"],
        &[
            "graph",
            "sops/customer-support-process.yaml",
            "--format",
            "png",
        ],
        &["graph"],
        &[
            "graph",
            "sops/customer-support-process.yaml",
            "-o",
            "no-such-dir/x.mmd",
        ],
    ] {
        let output = sop_cli(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[cfg(feature = "cli")]
fn fixture(name: &str) -> PathBuf {
    let path = root().join("tests/fixtures/invalid").join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// The heat figures of `tests/fixtures/heat/customer-support.json` (a median per step, and
/// how many of 1,000 cases took each edge) on the customer support process.
fn support_heat(process: &Process) -> render::Heat {
    let text = std::fs::read_to_string(root().join("tests/fixtures/heat/customer-support.json"))
        .expect("heat fixture");
    render::Heat::from_json(process, &text).expect("the fixture fits the SOP")
}

#[test]
fn heatmap_in_mermaid_and_dot() {
    let process = customer_support();
    let heat = support_heat(&process);
    insta::assert_snapshot!(
        "mermaid-heat",
        render::heatmap(&process, render::Format::Mermaid, &heat).expect("mermaid")
    );
    let dot = render::heatmap(&process, render::Format::Dot, &heat).expect("dot");
    insta::assert_snapshot!("dot-heat", dot);
    // The heatmap is still the process, edge for edge; every edge has a width.
    let mut every_edge = Highlight::default();
    for (from, _) in process.nodes() {
        for &(kind, to) in process.successors(from) {
            every_edge.take(from, kind, to);
        }
    }
    dot_matches(&process, Some(&every_edge), &dot, "heatmap");
    if graphviz_enabled("the heatmap's DOT") {
        graphviz_svg(&dot, "heatmap");
    }
}

#[test]
fn heatmap_in_our_svg() {
    let process = customer_support();
    let heat = support_heat(&process);
    let svg = render::heatmap(&process, render::Format::Svg, &heat).expect("layout");
    insta::assert_snapshot!("svg-heat", svg);
    let document = roxmltree::Document::parse(&svg).expect("xml");
    let node = |id: &str| {
        document
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no node {id}"))
    };
    let fill = |id: &str| {
        node(id)
            .descendants()
            .find(|n| n.has_tag_name("rect") || n.has_tag_name("path"))
            .and_then(|n| n.attribute("fill"))
            .unwrap_or_default()
            .to_owned()
    };
    // The hottest step is dark with white text, the coolest light with dark text, a step
    // without a figure white.
    assert_eq!(fill("s_coordinate_departments"), "#440154");
    assert_eq!(fill("s_close_ticket"), "#fde725");
    assert_eq!(fill("s_resolution_found"), "#ffffff");
    let texts = |id: &str| -> Vec<(String, String)> {
        node(id)
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                (
                    n.text().unwrap_or_default().to_owned(),
                    n.attribute("fill").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    assert!(
        texts("s_coordinate_departments")
            .iter()
            .all(|(_, color)| color == "#ffffff")
    );
    assert!(
        texts("s_determine_solution")
            .iter()
            .any(|(text, _)| text == "median 7h 10m")
    );
    // The busiest edge is the widest; its count is in its label.
    let widths: Vec<f64> = document
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("edge")))
        .filter_map(|g| g.children().find(|c| c.has_tag_name("path")))
        .filter_map(|p| p.attribute("stroke-width")?.parse().ok())
        .collect();
    let widest = widths.iter().copied().fold(0.0, f64::max);
    assert_eq!(widest, 9.0);
    assert!(svg.contains(">1010</text>"));
    assert!(svg.contains(">overdue 2bd · 45</text>"));
    assert!(svg.contains("median time to complete: 0 to 8h or more"));
    let path = write_png(&svg, "customer-support-process-heat.png");
    std::fs::write(path.with_extension("svg"), &svg).expect("write SVG");
}

#[test]
fn heat_figures_that_do_not_fit_the_process_are_refused() {
    let process = customer_support();
    let error = |json: &str| {
        render::Heat::from_json(&process, json)
            .expect_err(json)
            .to_string()
    };
    assert_eq!(
        error(r#"{"steps": {"recieve": {"value": 0.5}}}"#),
        "the heat figures name the step `recieve`, which this SOP version does not have"
    );
    assert_eq!(
        error(r#"{"steps": {"receive": {"value": 1.5}}}"#),
        "the heat value of step `receive` is 1.5: give a number from 0 to 1"
    );
    assert_eq!(
        error(r#"{"edges": [{"from": "determine_solution", "to": "escalate", "count": 3}]}"#),
        "there are several edges from `determine_solution` to `escalate`: give the `label` of the one counted (`overdue 2bd`, `escalate`)"
    );
    assert_eq!(
        error(r#"{"edges": [{"from": "start", "to": "end", "count": 3}]}"#),
        "the heat figures count an edge from `start` to `end`, which this SOP version does not have"
    );
    assert!(
        error(r#"{"step": {}}"#).starts_with("the heat file is not valid: unknown field `step`")
    );
}

/// Edge counts from histories, the building block a metrics module feeds the heatmap
/// with: two support cases through the engine, one of them reworked.
#[test]
fn edges_counted_from_histories_widen_the_edges_taken() {
    use chrono::{TimeZone, Utc};
    use sopflow::engine::{self, Action, Actor, CaseState, Command, Event};
    use sopflow::graph::EdgeKind;
    let sop = "id: t\nversion: 1\ntitle: T\ndepartment: D\nroles: { agent: A, lead: L }\nsteps:\n  - { id: a, title: Do it, role: agent }\n  - id: check\n    title: Check it\n    approval: { by: lead, reviews: [a], on_reject: a }\n  - { id: b, title: Close, role: agent, end: true }\n";
    let process = compiled("t.yaml", sop);
    let ana = Actor::new("ana", ["agent".parse().expect("role")]);
    let lee = Actor::new("lee", ["lead".parse().expect("role")]);
    let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let run = |case: &str, reject: bool| -> (Vec<Event>, CaseState) {
        let mut state = CaseState::new();
        let mut log = Vec::new();
        let mut actions = vec![
            (
                ana.clone(),
                Action::Start {
                    case: case.into(),
                    fields: Default::default(),
                },
            ),
            (
                ana.clone(),
                Action::Complete {
                    step: "a".parse().unwrap(),
                    fields: Default::default(),
                    item: None,
                },
            ),
        ];
        if reject {
            actions.push((
                lee.clone(),
                Action::Reject {
                    step: "check".parse().unwrap(),
                    reason: "again".into(),
                },
            ));
            actions.push((
                ana.clone(),
                Action::Complete {
                    step: "a".parse().unwrap(),
                    fields: Default::default(),
                    item: None,
                },
            ));
        }
        actions.push((
            lee.clone(),
            Action::Approve {
                step: "check".parse().unwrap(),
                comment: None,
            },
        ));
        for (n, (actor, action)) in actions.into_iter().enumerate() {
            let command = Command::new(format!("c{n}"), actor, action);
            for event in engine::handle(&process, &state, command, now).expect("accepted") {
                state.apply(&event);
                log.push(event);
            }
        }
        (log, state)
    };
    let cases = [run("T-1", false), run("T-2", true)];
    let counts = render::Heat::count_edges(
        &process,
        cases
            .iter()
            .map(|(events, state)| (events.as_slice(), state)),
    );
    let check = step(&process, "check");
    let count_of = |from: petgraph::graph::NodeIndex, kind: EdgeKind| {
        counts
            .iter()
            .find(|(t, _)| t.from == from && t.kind == kind)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count_of(process.start(), EdgeKind::Next), 2);
    assert_eq!(count_of(check, EdgeKind::Rejected), 1);
    assert_eq!(count_of(check, EdgeKind::Approved), 2);
    let heat = render::Heat::default().with_edge_counts(counts);
    let dot = render::heatmap(&process, render::Format::Dot, &heat).expect("dot");
    assert!(
        dot.contains(
            r##"[label="approved · 2", color="#2c3e6b", fontcolor="#2c3e6b", penwidth=9]"##
        ),
        "{dot}"
    );
    assert!(dot.contains(r##"[label="rejected · 1", style=dashed, color="#cf222e", fontcolor="#cf222e", penwidth=6.8]"##), "{dot}");
}

#[test]
fn sop_graph_draws_a_heatmap_from_a_json_file() {
    let process = customer_support();
    let output = sop_cli(&[
        "graph",
        "sops/customer-support-process.yaml",
        "--heat",
        "tests/fixtures/heat/customer-support.json",
        "--format",
        "mermaid",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        render::heatmap(&process, render::Format::Mermaid, &support_heat(&process))
            .expect("mermaid")
    );

    let dir = std::env::temp_dir().join(format!("sopflow-heat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, r#"{"steps": {"receive": {"value": 2}}}"#).expect("write");
    let output = sop_cli(&[
        "graph",
        "sops/customer-support-process.yaml",
        "--heat",
        wrong.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("the heat value of step `receive` is 2: give a number from 0 to 1")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn pattern_process(name: &str) -> Process {
    let path = root().join(format!("tests/fixtures/patterns/{name}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    compiled(&format!("{name}.yaml"), &text)
}

#[test]
fn a_gate_of_several_roles_names_each_on_its_role_line() {
    let process = pattern_process("approval-by-several-roles");
    let mermaid = render::mermaid(&process, None);
    assert!(
        mermaid.contains("approval: billing_lead or finance"),
        "{mermaid}"
    );
    insta::assert_snapshot!("mermaid-pattern-approval-by-several-roles", mermaid);
    insta::assert_snapshot!(
        "dot-pattern-approval-by-several-roles",
        render::dot(&process, None)
    );
    let svg = render::svg(&process, None).expect("lays out");
    assert!(
        svg.contains("2 approvals: billing_lead or finance"),
        "{svg}"
    );
}

#[test]
fn a_cancel_edge_is_drawn_apart_with_its_label() {
    let process = pattern_process("cancel-activity");
    let mermaid = render::mermaid(&process, None);
    assert!(
        mermaid.contains(r#"s_courtesy_call -.->|"cancelled"| s_close"#),
        "{mermaid}"
    );
    insta::assert_snapshot!("mermaid-pattern-cancel-activity", mermaid);
    let dot = render::dot(&process, None);
    insta::assert_snapshot!("dot-pattern-cancel-activity", dot);
    assert_dot_matches(&process, None, "cancel-activity");
    let svg = render::svg(&process, None).expect("lays out");
    assert!(svg.contains("cancelled"), "{svg}");
}

#[test]
fn a_call_task_is_drawn_as_a_subroutine_naming_the_sop_it_calls() {
    let process = pattern_process("sub-sop");
    let mermaid = render::mermaid(&process, None);
    assert!(
        mermaid.contains(r#"s_credit_check[["Check the credit of<br/>{{ customer }}<br/><i>sales · calls credit-check</i>"]]"#),
        "{mermaid}"
    );
    insta::assert_snapshot!("mermaid-pattern-sub-sop", mermaid);
    let dot = render::dot(&process, None);
    assert!(
        dot.contains("calls credit-check\", fillcolor=\"#dbeafe\", peripheries=2"),
        "{dot}"
    );
    insta::assert_snapshot!("dot-pattern-sub-sop", dot);
    assert_dot_matches(&process, None, "sub-sop");
    let svg = render::svg(&process, None).expect("lays out");
    assert!(svg.contains("calls credit-check"), "{svg}");
    // The inner border of the subroutine.
    assert!(svg.contains(r#"rx="4" fill="none""#), "{svg}");
}
