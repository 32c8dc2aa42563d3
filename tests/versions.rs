//! `sopflow::versions` on pairs of small SOPs, one pair per kind of change
//! (`tests/fixtures/diff/NAME.old.yaml` → `NAME.new.yaml`), and on a revision of every seed
//! SOP (`tests/fixtures/revisions/STEM.vN.yaml`, realistic edits: an approval added, a step
//! split, an SLA tightened, a step renamed with `renamed_from`, a decision arm changed,
//! instructions edited). The human report, the JSON and a chart are pinned by snapshots:
//! after a change, run `INSTA_UPDATE=always cargo test --test versions` and read every new
//! snapshot before committing it.

use std::collections::HashSet;
use std::path::Path;

use sopflow::render::{self, Format};
use sopflow::versions::{ChangeKind, MatchedBy, Revision, SopDiff, diff};

const PAIRS: &[&str] = &[
    "unchanged",
    "steps",
    "routing",
    "roles",
    "fields",
    "service-levels",
    "calendars",
    "text",
    "kinds",
    "people",
    "kpis",
    "tokens",
    "calls",
];

/// A version read from a path relative to the crate, named by that path.
fn load(relative: &str) -> Revision {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{relative}: {e}"));
    match Revision::load(relative, &bytes) {
        Ok(revision) => revision,
        Err(invalid) => panic!(
            "{relative}:\n{}",
            sopflow::diagnostic::render_human(&invalid.source_file, &invalid.diagnostics, false)
        ),
    }
}

fn pair(name: &str) -> (Revision, Revision, SopDiff) {
    let old = load(&format!("tests/fixtures/diff/{name}.old.yaml"));
    let new = load(&format!("tests/fixtures/diff/{name}.new.yaml"));
    let changes = diff(&old.sop, &new.sop);
    (old, new, changes)
}

fn json(changes: &SopDiff) -> String {
    serde_json::to_string_pretty(changes).expect("a diff serializes")
}

#[test]
fn each_kind_of_change_is_reported_as_pinned() {
    for name in PAIRS {
        let (old, new, changes) = pair(name);
        insta::assert_snapshot!(
            format!("pair-{name}"),
            changes.render_human(&old.source.name, &new.source.name)
        );
        insta::assert_snapshot!(format!("pair-{name}-json"), json(&changes));
    }
}

#[test]
fn the_pairs_cover_every_kind_of_change_a_revision_usually_makes() {
    let mut seen = HashSet::new();
    for name in PAIRS {
        let (_, _, changes) = pair(name);
        seen.extend(changes.changes.iter().map(|c| c.kind));
    }
    use ChangeKind::*;
    for kind in [
        StepAdded,
        StepRemoved,
        StepRenamed,
        StepMoved,
        StepKindChanged,
        RouteAdded,
        RouteChanged,
        RouteRemoved,
        ArmsReordered,
        TimeoutChanged,
        BranchingChanged,
        InstancesChanged,
        RoleAdded,
        RoleRemoved,
        PerformerChanged,
        ApproverChanged,
        ApprovalCountChanged,
        ReviewsChanged,
        FieldAdded,
        FieldRemoved,
        FieldDefaultChanged,
        FieldTypeChanged,
        FieldOptionsChanged,
        FieldRequiredChanged,
        FieldEditorsChanged,
        FieldBoundsChanged,
        CollectsChanged,
        DueChanged,
        WarningChanged,
        LadderChanged,
        PausableChanged,
        StepCalendarChanged,
        CaseSlaChanged,
        CalendarAdded,
        CalendarChanged,
        DefaultCalendarChanged,
        TextChanged,
    ] {
        assert!(seen.contains(&kind), "no pair shows {kind:?}");
    }
}

#[test]
fn text_changes_cannot_affect_cases_and_everything_else_can() {
    let (_, _, unchanged) = pair("unchanged");
    assert!(unchanged.is_empty());
    let (_, _, text) = pair("text");
    assert!(!text.is_empty());
    assert!(!text.has_behaviour_changes());
    let (_, _, kpis) = pair("kpis");
    assert!(!kpis.is_empty());
    assert!(
        !kpis.has_behaviour_changes(),
        "KPIs measure cases, they do not change them"
    );
    for name in PAIRS
        .iter()
        .filter(|n| !["unchanged", "text", "kpis"].contains(n))
    {
        let (_, _, changes) = pair(name);
        assert!(changes.has_behaviour_changes(), "{name}");
    }
}

#[test]
fn a_renamed_step_maps_to_its_new_id_and_a_removed_one_to_nothing() {
    let (_, _, changes) = pair("steps");
    let mapping: Vec<(&str, Option<&str>, MatchedBy)> = changes
        .steps
        .iter()
        .map(|m| {
            (
                m.old.as_str(),
                m.new.as_ref().map(|s| s.as_str()),
                m.matched_by,
            )
        })
        .collect();
    assert_eq!(
        mapping,
        [
            ("receive", Some("intake"), MatchedBy::RenamedFrom),
            ("check", None, MatchedBy::Unmatched),
            ("approve", Some("approve"), MatchedBy::SameId),
            ("pay", Some("pay"), MatchedBy::SameId),
            (
                "lead_takes_over",
                Some("lead_takes_over"),
                MatchedBy::SameId
            ),
        ]
    );
    assert_eq!(
        changes
            .unmapped_steps()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["check"]
    );
    // References to the renamed step are compared under its new name: the rejection of
    // `approve` still goes to the same step, so it is no change.
    assert!(
        !changes
            .changes
            .iter()
            .any(|c| c.step.as_ref().is_some_and(|s| s.as_str() == "approve")),
        "{:#?}",
        changes.changes
    );
}

#[test]
fn every_change_points_into_the_files_it_compares() {
    for name in PAIRS {
        let (old, new, changes) = pair(name);
        let lines = |text: &str| text.lines().count() as u32;
        for change in &changes.changes {
            assert!(
                change.old.is_some() || change.new.is_some(),
                "{name}: {change:?} has no location"
            );
            if let Some(at) = change.old {
                assert!(
                    at.line >= 1 && at.line <= lines(&old.source.text),
                    "{name}: {change:?}"
                );
            }
            if let Some(at) = change.new {
                assert!(
                    at.line >= 1 && at.line <= lines(&new.source.text),
                    "{name}: {change:?}"
                );
            }
        }
    }
}

/// Seed SOPs (not scenario files), by stem.
fn seed_stems() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .expect("sops/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml") && !name.ends_with(".test.yaml"))
        .map(|name| name.trim_end_matches(".yaml").to_owned())
        .collect();
    stems.sort();
    stems
}

/// The revision fixture of a seed SOP: `STEM.vN.yaml`.
fn revision_of(stem: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/revisions");
    let found: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/revisions/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| {
            name.strip_prefix(stem)
                .and_then(|rest| rest.strip_prefix(".v"))
                .is_some_and(|rest| rest.trim_end_matches(".yaml").parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{stem}: one revision fixture expected, found {found:?}"
    );
    format!("tests/fixtures/revisions/{}", found[0])
}

#[test]
fn every_seed_sop_has_a_revision_whose_diff_is_pinned() {
    for stem in seed_stems() {
        let old = load(&format!("sops/{stem}.yaml"));
        let new = load(&revision_of(&stem));
        assert_eq!(old.sop.id.value, new.sop.id.value, "{stem}");
        assert!(new.sop.version.value > old.sop.version.value, "{stem}");
        assert!(new.warnings.is_empty(), "{stem}: {:?}", new.warnings);
        let changes = diff(&old.sop, &new.sop);
        assert!(
            changes.has_behaviour_changes(),
            "{stem}: a revision changes behaviour"
        );
        insta::assert_snapshot!(
            format!("seed-{stem}"),
            changes.render_human(&old.source.name, &new.source.name)
        );
        insta::assert_snapshot!(format!("seed-{stem}-json"), json(&changes));
        let overlay = changes.overlay(&old.sop, &new.sop, &new.process);
        let chart = render::render_changes(&new.process, Format::Mermaid, &overlay)
            .expect("Mermaid never fails");
        insta::assert_snapshot!(format!("seed-{stem}-mermaid"), chart);
    }
}

#[test]
fn the_chart_marks_added_changed_and_removed_parts_in_every_format() {
    let (old, new, changes) = pair("steps");
    let overlay = changes.overlay(&old.sop, &new.sop, &new.process);
    let step = |id: &str| {
        new.process
            .step(&id.parse().expect("an id"))
            .expect("a step")
    };
    assert!(overlay.added.contains(&step("notify_customer")));
    assert!(overlay.changed.contains(&step("intake")));
    assert_eq!(overlay.removed_steps.len(), 1);
    assert_eq!(overlay.removed_steps[0].id.as_str(), "check");
    // `intake` led to `check`, whose two arms led to `approve` and `else` to `pay`; `pay`
    // ended the case.
    assert_eq!(
        overlay.removed_edges.len(),
        5,
        "{:#?}",
        overlay.removed_edges
    );

    let dot = render::render_changes(&new.process, Format::Dot, &overlay).expect("DOT");
    if let Err(error) = graphviz_rust::parse(&dot) {
        panic!("the DOT of a diff does not parse: {error}\n{dot}");
    }
    insta::assert_snapshot!("pair-steps-dot", dot);
    let mermaid = render::render_changes(&new.process, Format::Mermaid, &overlay).expect("Mermaid");
    insta::assert_snapshot!("pair-steps-mermaid", mermaid);

    let svg = render::render_changes(&new.process, Format::Svg, &overlay).expect("SVG");
    let document = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let classes: Vec<&str> = document
        .descendants()
        .filter_map(|n| n.attribute("class"))
        .collect();
    assert!(classes.contains(&"node task added"), "{classes:?}");
    assert!(classes.contains(&"node task changed"), "{classes:?}");
    assert!(classes.contains(&"node task removed"), "{classes:?}");
    assert!(
        classes
            .iter()
            .any(|c| c.starts_with("edge") && c.ends_with(" removed"))
    );
    for legend in ["added", "changed", "removed step", "removed path"] {
        assert!(
            svg.contains(&format!(">{legend}</text>")),
            "legend lacks {legend}"
        );
    }

    // Drawn, the blue of what was added and the orange of what changed are on the image.
    let pixels = rasterize(&svg, "diff-steps.png");
    let has = |rgb: [u8; 3]| pixels.chunks(4).any(|p| p[..3] == rgb);
    assert!(has([0x09, 0x69, 0xda]), "no added blue");
    assert!(has([0xe1, 0x6f, 0x24]), "no changed orange");
}

/// Draws an SVG with resvg, writes it to `target/render/NAME` for people to look at, and
/// returns its RGBA pixels.
fn rasterize(svg: &str, name: &str) -> Vec<u8> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(svg, &options).expect("resvg reads the SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a non-empty image");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/render");
    std::fs::create_dir_all(&dir).expect("target/render");
    pixmap.save_png(dir.join(name)).expect("the PNG is written");
    pixmap.data().to_vec()
}
