//! Reading SOP files: named files, directories, standard input.
//!
//! Directories are walked the way ripgrep walks them: hidden files and directories, what
//! `.gitignore` (and `.ignore`, and git's global and repository excludes) leave out, and
//! `target/` are skipped, in a git repository or not. A `.sopignore` file, in gitignore
//! syntax, leaves out more (`tests/fixtures/`, say). Only `*.yaml` and `*.yml` files are
//! SOPs in a walk; a file named on the command line is always read.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The file, in gitignore syntax, that names what `sop` skips in a directory walk.
pub const SOPIGNORE: &str = ".sopignore";

/// Reads every named file, every SOP file under named directories (in file name order, so
/// output is stable), and standard input for `-`.
///
/// A path that does not exist, and a directory holding no SOP file, is an error: `sop
/// validate` must not pass because it looked in the wrong place.
pub fn collect_sources(paths: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut sources = Vec::new();
    let mut empty = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            sources.push(("<stdin>".to_owned(), bytes));
        } else if path.is_dir() {
            let found = sop_files_under(path)?;
            if found.is_empty() {
                empty.push(path);
            }
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(not_found(path));
        }
    }
    if !empty.is_empty() {
        return Err(no_sop_file(&empty));
    }
    for file in files {
        let bytes =
            std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        sources.push((file.display().to_string(), bytes));
    }
    Ok(sources)
}

/// Whether a file name is an SOP's in a directory walk: scenario files
/// (`NAME.test.yaml`, see `sop test`) sit beside SOPs and are not SOPs.
fn is_sop_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) && !is_scenario_file(path)
}

/// Whether a file holds scenarios (`NAME.test.yaml`, `NAME.test.yml`) for `sop test`.
pub fn is_scenario_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// The scenario files `sop test` runs: named scenario files, the scenario file beside a
/// named SOP, and every scenario file under named directories (walked as for SOPs), in
/// path order. A path that does not exist, or that holds no scenario file, is an error.
pub fn collect_scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = files_under(path, is_scenario_file)?;
            if found.is_empty() {
                return Err(format!(
                    "no scenario file (*.test.yaml) under `{}`: check the path",
                    path.display()
                ));
            }
            files.extend(found);
        } else if path.exists() && is_scenario_file(path) {
            files.push(path.clone());
        } else if path.exists() {
            let beside = scenario_file_of(path);
            if !beside.exists() {
                return Err(format!(
                    "{} has no scenario file: write its scenarios in {}",
                    path.display(),
                    beside.display()
                ));
            }
            files.push(beside);
        } else {
            return Err(not_found(path));
        }
    }
    files.dedup();
    Ok(files)
}

/// `NAME.test.yaml` for `NAME.yaml` (or `.yml`).
fn scenario_file_of(sop: &Path) -> PathBuf {
    let stem = sop
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    sop.with_file_name(format!("{stem}.test.yaml"))
}

/// The SOP a scenario file tests: `NAME.yaml` (or `NAME.yml`) beside `NAME.test.yaml`.
pub fn sop_of_scenario_file(scenarios: &Path) -> PathBuf {
    let name = scenarios
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".test.yaml")
        .or_else(|| name.strip_suffix(".test.yml"))
        .unwrap_or(&name);
    let yaml = scenarios.with_file_name(format!("{stem}.yaml"));
    let yml = scenarios.with_file_name(format!("{stem}.yml"));
    if !yaml.exists() && yml.exists() {
        yml
    } else {
        yaml
    }
}

/// The SOP files under `dir`, skipping what ripgrep would and what `.sopignore` names,
/// sorted by path.
fn sop_files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    files_under(dir, is_sop_file)
}

/// The files under `dir` that `keep` accepts, skipping what ripgrep would and what
/// `.sopignore` names, sorted by path.
fn files_under(dir: &Path, keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>, String> {
    let mut walk = ignore::WalkBuilder::new(dir);
    walk.require_git(false)
        .add_custom_ignore_filename(SOPIGNORE)
        // `target/` holds build output (copies of SOPs among it), ignored or not. The
        // directory named on the command line is walked whatever its name.
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_name() == "target" && entry.file_type().is_some_and(|t| t.is_dir()))
        })
        .sort_by_file_name(|a, b| a.cmp(b));
    let mut files = Vec::new();
    for entry in walk.build() {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entry.file_type().is_some_and(|t| t.is_file()) && keep(entry.path()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// "no SOP file under `x/`: check the path", saying so when there are YAML files there but
/// every one is skipped.
fn no_sop_file(dirs: &[&PathBuf]) -> String {
    let named = dirs
        .iter()
        .map(|d| format!("`{}`", d.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let check = if dirs.len() == 1 { "path" } else { "paths" };
    let mut message = format!("no SOP file (*.yaml, *.yml) under {named}: check the {check}");
    let skipped: usize = dirs.iter().map(|d| yaml_files_skipped(d)).sum();
    if skipped > 0 {
        let files = if skipped == 1 { "file is" } else { "files are" };
        message.push_str(&format!(
            " ({skipped} YAML {files} there but skipped: hidden, under `target/`, or named by \
             .gitignore, .ignore or {SOPIGNORE})"
        ));
    }
    message
}

/// How many `*.yaml`/`*.yml` files under `dir` a walk that skips nothing would find; only
/// called when the real walk found none, to explain why.
fn yaml_files_skipped(dir: &Path) -> usize {
    ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()) && is_sop_file(e.path()))
        .count()
}

/// "`x` does not exist", with the closest name beside it when one is close.
fn not_found(path: &Path) -> String {
    let mut message = format!("{} does not exist", path.display());
    if let Some(close) = closest_sibling(path) {
        message.push_str(&format!("; did you mean {}?", close.display()));
    }
    message
}

/// The entry of `path`'s directory whose name is closest to `path`'s, if it is close.
fn closest_sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return None;
    }
    std::fs::read_dir(parent)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let candidate = entry.file_name().into_string().ok()?;
            // Close: a letter or two off (one in three for longer names), or a common
            // beginning.
            let edits = strsim::damerau_levenshtein(name, &candidate);
            let score = strsim::jaro_winkler(name, &candidate);
            (edits <= (name.chars().count() / 3).max(1) || score >= 0.9)
                .then_some((score, candidate))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
        .map(|(_, candidate)| {
            let mut close = path.with_file_name(&candidate);
            if path.as_os_str().to_string_lossy().ends_with('/') && parent.join(&candidate).is_dir()
            {
                close.as_mut_os_string().push("/");
            }
            close
        })
}
