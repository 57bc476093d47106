//! The library's modules form layers (docs/architecture.md): each may use only the modules of
//! lower layers, so a change to a lower one never needs a higher one to make sense. This reads
//! the `crate::` paths in every source file and fails on an import that points up or sideways.

use std::collections::BTreeSet;
use std::path::Path;

/// The layers, lowest first; a module may use the modules of earlier layers only.
const LAYERS: &[&[&str]] = &[
    &["schema", "choice", "guid", "operator", "output", "store"],
    &["lake", "engine"],
    &["ingest", "catalog"],
    &["hunt", "generate", "kql"],
    &["triage"],
    &["cluster"],
    &["pipeline"],
    &["bench"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules that `text` names as `crate::name`.
fn used_modules(text: &str) -> BTreeSet<String> {
    used_through(text, "crate::")
}

/// The top-level modules that `text` names as `{path}name`.
fn used_through(text: &str, path: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(path) {
        rest = &rest[at + path.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    used
}

fn rust_files(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_path_buf());
    }
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeSet::new();
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // The binary's front end sits above every layer; lib.rs only declares the modules.
        if ["cli", "main", "lib"].contains(&name.as_str()) {
            continue;
        }
        let layer = layer_of(&name)
            .unwrap_or_else(|| panic!("src/{name} is in no layer: add it to LAYERS and the docs"));
        modules.insert(name.clone());
        let mut files = Vec::new();
        rust_files(&path, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in used_modules(&text) {
                if used == name {
                    continue;
                }
                match layer_of(&used) {
                    Some(below) if below < layer => {}
                    _ => wrong.push(format!("{} uses crate::{used}", file.display())),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // Every layer's module exists: the list cannot drift into naming nothing.
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|m| m.to_string()))
        .collect();
    assert_eq!(listed, modules);
}

#[test]
fn an_upward_import_is_found() {
    let used = used_modules("use crate::catalog::register_lake;\nuse crate::schema::{Table};");
    assert_eq!(
        used,
        BTreeSet::from(["catalog".to_string(), "schema".to_string()])
    );
    assert!(layer_of("catalog") > layer_of("lake"));
}

/// The binary's front end (`src/cli`, `src/main.rs`) is the top layer: it reaches the library
/// only through the modules the layers list, and the library holds no front end's types: no
/// argument parser, no progress bar (a front end maps its arguments onto the library's and
/// draws progress from its events).
#[test]
fn the_front_end_is_the_top_layer_and_the_library_knows_no_front_end() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut front = vec![src.join("main.rs")];
    rust_files(&src.join("cli"), &mut front);
    let mut unknown = Vec::new();
    for file in &front {
        let text = std::fs::read_to_string(file).unwrap();
        for used in used_through(&text, "retrohunt::") {
            if layer_of(&used).is_none() {
                unknown.push(format!("{} uses retrohunt::{used}", file.display()));
            }
        }
    }
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
    let mut library = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.file_stem().is_some_and(|s| s != "cli" && s != "main") {
            rust_files(&path, &mut library);
        }
    }
    let front_end_types: Vec<String> = library
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.contains("clap::") || text.contains("indicatif")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(front_end_types.is_empty(), "{front_end_types:?}");
}
