//! The source files' dependencies point one way: no file of `src/` reaches itself through the
//! paths it names (`use crate::…`, `use super::…` and inline `crate::…` paths, outside test
//! modules and comments). A circle is printed as the files it goes through.
//!
//! Run alone: `cargo test --test layers -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The module path of a source file: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its test module, comments and string contents.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let line = line.split("//").next().unwrap();
        let mut in_str = false;
        for c in line.chars() {
            if c == '"' {
                in_str = !in_str;
            }
            if !in_str {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Every path a file names: `crate::a::b` and `super::x` (made absolute), each expanded
/// through `{…}` groups.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let prev_ident = i > 0 && (bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        let start = if rest.starts_with("crate::") && !prev_ident {
            Some((Vec::new(), i + 7))
        } else if rest.starts_with("super::") && !prev_ident {
            let mut base = module.to_vec();
            base.pop();
            Some((base, i + 7))
        } else {
            None
        };
        let Some((base, mut j)) = start else {
            i += 1;
            continue;
        };
        let mut path = base;
        let mut seg = String::new();
        while j < bytes.len() {
            let c = bytes[j];
            if c.is_alphanumeric() || c == '_' {
                seg.push(c);
            } else if c == ':' {
                if !seg.is_empty() {
                    path.push(std::mem::take(&mut seg));
                }
            } else {
                break;
            }
            j += 1;
        }
        if j < bytes.len() && bytes[j] == '{' {
            // A group: each member is a path below `path`.
            let mut depth = 0;
            let mut member = String::new();
            let mut k = j;
            while k < bytes.len() {
                let c = bytes[k];
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if (c == ',' && depth == 1) || depth == 0 {
                    let mut p = path.clone();
                    p.extend(
                        member
                            .trim_matches(|c: char| c == '{' || c.is_whitespace())
                            .split("::")
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty() && s != "self" && !s.contains('{')),
                    );
                    out.push(p);
                    member.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    member.push(c);
                }
                k += 1;
            }
            i = k + 1;
        } else {
            if !seg.is_empty() {
                path.push(seg);
            }
            out.push(path);
            i = j;
        }
    }
    out
}

/// The file a module path lands in: the longest prefix that is a module of `files`.
fn file_of(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on_stack: BTreeSet<Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit(s: &mut State<'_>, v: &Vec<String>) {
        let n = s.index.len();
        s.index.insert(v.clone(), n);
        s.low.insert(v.clone(), n);
        s.stack.push(v.clone());
        s.on_stack.insert(v.clone());
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn graph_of(root: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(root, f)).collect();
    let mut graph = BTreeMap::new();
    for f in &files {
        let module = module_of(root, f);
        let text = code(&fs::read_to_string(f).unwrap());
        let deps: BTreeSet<Vec<String>> = named_paths(&module, &text)
            .iter()
            .filter_map(|p| file_of(p, &modules))
            // A module's own children are below it, not beside it.
            .filter(|d| *d != module && !d.starts_with(&module))
            .collect();
        graph.insert(module, deps);
    }
    graph
}

#[test]
fn no_source_file_reaches_itself_through_the_paths_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&root);
    for (m, deps) in &graph {
        let names: Vec<String> = deps.iter().map(|d| d.join("::")).collect();
        println!("{} -> {}", m.join("::"), names.join(" "));
    }
    let found = circles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            c.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", shown.join("\n"));
}

#[test]
fn the_checker_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir(src.join("a")).unwrap();
    fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    fs::write(src.join("a/mod.rs"), "use crate::b::{x, y::z};\n").unwrap();
    fs::write(src.join("b.rs"), "fn f() { crate::a::g(); }\n").unwrap();
    let found = circles(&graph_of(src));
    assert_eq!(found.len(), 1, "{found:?}");
    // Paths in comments, strings and test modules do not count.
    fs::write(
        src.join("b.rs"),
        "// crate::a::g\nconst S: &str = \"crate::a\";\n#[cfg(test)]\nmod t { use crate::a; }\n",
    )
    .unwrap();
    assert!(circles(&graph_of(src)).is_empty());
}
