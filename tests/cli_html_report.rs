//! `sop report --format html` on a store of a dozen simulated tickets: one page that loads
//! nothing from outside, with the charts and the flowchart inline, and (with
//! `SOPFLOW_TEST_CHROMIUM`) a browser that draws it.
#![cfg(feature = "cli")]

mod cli_support;
mod outside;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::TempDir;

fn sop(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run sop");
    assert_eq!(
        output.status.code(),
        Some(0),
        "sop {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The HTML report of twelve simulated support tickets, per day and priority.
fn report(dir: &TempDir) -> (PathBuf, String) {
    let db = dir.db();
    sop(&["simulate", "sops", "--cases", "12", "--db", &db]);
    let file = dir.path("report.html");
    let file_text = file.to_string_lossy().into_owned();
    let printed = sop(&[
        "report",
        "--db",
        &db,
        "--by",
        "day",
        "--segment",
        "priority",
        "--format",
        "html",
        "-o",
        &file_text,
    ]);
    assert_eq!(
        printed, "",
        "the report goes to the file, not standard output"
    );
    let html = std::fs::read_to_string(&file).unwrap();
    (file, html)
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let dir = TempDir::new("html-report");
    let (_, html) = report(&dir);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    // The only web addresses are SVG's XML namespaces, which name and fetch nothing.
    let without_namespaces = html
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace("xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "");
    assert!(!without_namespaces.contains("http"), "{html}");
    for loads in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(
            !html.contains(loads),
            "the page loads something with {loads}"
        );
    }
    for kpi in [
        "First response time",
        "Resolution time",
        "Customer satisfaction (CSAT)",
        "Net promoter score (NPS)",
        "SLA compliance",
        "Escalation rate",
    ] {
        assert!(html.contains(kpi), "{kpi} missing");
    }
    // Seven KPIs with a target or goal, each charted per period; two duration KPIs with
    // their percentiles; two heatmaps (time and breaches).
    assert_eq!(html.matches("<svg").count(), 7 + 2 + 2, "{html}");
    assert!(html.contains("per period</figcaption>"));
    assert!(html.contains("Flowchart: median time each step is active"));
    assert!(html.contains("Flowchart: share of service levels breached"));
    let kpis = &html[html.find("<h3>KPIs</h3>").unwrap()..];
    let kpis = &kpis[..kpis.find("</table>").unwrap() + "</table>".len()];
    insta::assert_snapshot!("kpi_table", kpis);
}

#[test]
fn text_from_the_sop_is_escaped() {
    let report: sopflow::metrics::Report = sopflow::metrics::Accumulator::new(
        "t".parse().unwrap(),
        sopflow::metrics::Options::default(),
    )
    .finish();
    let process = sopflow::graph::compile(
        &sopflow::parse::parse_sop(
            "t.yaml",
            "id: t\nversion: 1\ntitle: T\ndepartment: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: A, role: agent, end: true }\n",
        )
        .unwrap(),
    )
    .process
    .unwrap();
    let page = sopflow::metrics::html::html(
        &report,
        &[(1, process)].into_iter().collect(),
        &sopflow::metrics::html::HtmlContext {
            filters: vec![("Since".into(), "<script>alert('x')</script>".into())],
        },
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
}

/// Headless Chromium draws the page: the screenshot is not blank and holds the colours
/// of the charts and the heatmap.
#[test]
fn chromium_renders_the_html_report() {
    let Some(_) = outside::enabled(
        outside::CHROMIUM,
        "the HTML report in a browser",
        "needs `chromium`, Debian package chromium",
    ) else {
        return;
    };
    let dir = TempDir::new("html-chromium");
    let (file, _) = report(&dir);
    let png = dir.path("report.png");
    let profile = dir.path("chromium-profile");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(file_url(&file))
        .output()
        .expect("run chromium (Debian package chromium)");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = resvg::tiny_skia::Pixmap::load_png(&png).expect("chromium wrote a PNG");
    let pixels = image.pixels();
    let not_white = pixels
        .iter()
        .filter(|p| p.red() < 240 || p.green() < 240 || p.blue() < 240)
        .count();
    // The KPI charts' series blue (#0969da) and the goal lines' red (#cf222e).
    let near = |p: &&resvg::tiny_skia::PremultipliedColorU8, (r, g, b): (u8, u8, u8)| {
        p.red().abs_diff(r) < 24 && p.green().abs_diff(g) < 24 && p.blue().abs_diff(b) < 24
    };
    let blue = pixels
        .iter()
        .filter(|p| near(p, (0x09, 0x69, 0xda)))
        .count();
    let red = pixels
        .iter()
        .filter(|p| near(p, (0xcf, 0x22, 0x2e)))
        .count();
    assert!(
        not_white > pixels.len() / 50,
        "the screenshot is nearly blank: {not_white} of {} pixels are not white",
        pixels.len()
    );
    assert!(blue > 200, "no chart series drawn ({blue} blue pixels)");
    assert!(red > 200, "no goal lines drawn ({red} red pixels)");
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}
