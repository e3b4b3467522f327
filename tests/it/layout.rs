//! The house's shape, kept so by CI: no import cycles between files or between top-level
//! modules, and the lower layers never import the ones built on them. Imports are read from
//! the source text (`use` trees and inline `crate::`/`super::`/`self::` paths, comments,
//! strings and `#[cfg(test)]` items left out) and resolved to the files that define them. A
//! folder's `mod.rs` may re-export its children (its files import the folder's shared items).
//! The Workiva client (`crates/workiva-client`) and the emulator (`crates/workiva-emulator`) are
//! crates of their own, which depend on nothing of esg-sync's nor on each other: that they stay
//! below everything and that the oracle shares no code with what it judges, the compiler keeps.
//! Here the client counts as one more lower layer, `workiva` (the name esg-sync re-exports it
//! under), whose files are those of its crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that everything else stands on, and the ones they must never import.
const LOWER: &[&str] = &[
    "outcome",
    "source",
    "store",
    "workiva",
    "config",
    "telemetry",
    "signals",
];
const UPPER: &[&str] = &[
    "sync",
    "catalog",
    "reviewer",
    "commands",
    "daemon",
    "cli",
    "scheduler",
    "server",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The client crate's sources, which esg-sync's files reach as `crate::workiva::...`.
fn client_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/workiva-client/src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/sync/run.rs` is `[sync, run]`, `src/sync/mod.rs` `[sync]`.
/// The client crate's files are under `[workiva]`.
fn module_of(file: &Path) -> Vec<String> {
    let (rel, mut parts) = match file.strip_prefix(client_src()) {
        Ok(rel) => (rel, vec!["workiva".to_string()]),
        Err(_) => (file.strip_prefix(src()).unwrap(), Vec::new()),
    };
    parts.extend(
        rel.iter()
            .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string()),
    );
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code without comments, string and char literals.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            'raw: while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break 'raw;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime (left as it is).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Removes each `#[cfg(test)]` item: up to its `;`, or its braces.
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at..];
        let mut depth = 0;
        let mut end = rest.len();
        for (i, ch) in rest.char_indices().skip("#[cfg(test)]".len()) {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.replace_range(at..at + end, "");
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into its paths.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut base = prefix.to_vec();
        base.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, out);
        if inner.trim().is_empty() {
            out.push(base);
        }
    } else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let mut p = prefix.to_vec();
        p.extend(
            path.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "*")
                .map(String::from),
        );
        out.push(p);
    }
}

/// Every path a file names, as written.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    // `use` statements.
    let mut from = 0;
    while let Some(pos) = text[from..].find("use ") {
        let at = from + pos;
        from = at + 4;
        let before = text[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = text[at..].find(';') else {
            break;
        };
        expand(&text[at + 4..at + end], &[], &mut out);
        from = at + end;
    }
    // Inline paths.
    for kw in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(kw) {
            let at = from + pos;
            from = at + kw.len();
            let before = text[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(
                rest.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    out
}

/// The file that defines the deepest module of `path` (absolute module segments).
fn resolve(path: &[String]) -> PathBuf {
    let (mut file, mut dir, path) = match path.split_first() {
        Some((first, rest)) if first == "workiva" => {
            (client_src().join("lib.rs"), client_src(), rest)
        }
        _ => (src().join("lib.rs"), src(), path),
    };
    for seg in path {
        let as_dir = dir.join(seg).join("mod.rs");
        let as_file = dir.join(format!("{seg}.rs"));
        if as_dir.is_file() {
            file = as_dir;
        } else if as_file.is_file() {
            file = as_file;
        } else {
            break;
        }
        dir = dir.join(seg);
    }
    file
}

/// File -> the files it imports from.
fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut g = BTreeMap::new();
    for f in all {
        if f.ends_with("main.rs") && f.parent() == Some(&src()) {
            continue;
        }
        let code = without_tests(&strip(&std::fs::read_to_string(&f).unwrap()));
        let me = module_of(&f);
        let dir_of_me = if f.ends_with("mod.rs") || f.ends_with("lib.rs") {
            f.parent().unwrap().to_path_buf()
        } else {
            f.with_extension("")
        };
        let mut to = BTreeSet::new();
        for p in paths(&code) {
            let Some(first) = p.first() else { continue };
            let abs: Vec<String> = match first.as_str() {
                "crate" => p[1..].to_vec(),
                "self" => me.iter().chain(&p[1..]).cloned().collect(),
                "super" => {
                    let mut base = me.clone();
                    let mut rest = &p[..];
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.into_iter().chain(rest.iter().cloned()).collect()
                }
                // A child module named without `self::`.
                child
                    if dir_of_me.join(child).join("mod.rs").is_file()
                        || dir_of_me.join(format!("{child}.rs")).is_file() =>
                {
                    me.iter().chain(&p[..]).cloned().collect()
                }
                _ => continue,
            };
            let target = resolve(&abs);
            // A folder's `mod.rs` re-exporting its own children is the folder's face, not an
            // import: children import their parent's items, never the other way round.
            let own_child = f.ends_with("mod.rs") && target.starts_with(f.parent().unwrap());
            if target != f && target != src().join("lib.rs") && !own_child {
                to.insert(target);
            }
        }
        g.insert(f, to);
    }
    g
}

/// Groups of nodes that reach each other (Tarjan's strongly connected components), larger
/// than one.
fn cycles<N: Ord + Clone>(g: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct T<'a, N: Ord> {
        g: &'a BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on: BTreeSet<N>,
        next: usize,
        out: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(t: &mut T<'_, N>, v: &N) {
        t.index.insert(v.clone(), t.next);
        t.low.insert(v.clone(), t.next);
        t.next += 1;
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn top(f: &Path) -> String {
    module_of(f).first().cloned().unwrap_or_default()
}

fn show(f: &Path) -> String {
    f.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or(f)
        .display()
        .to_string()
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let g = graph();
    let found: Vec<String> = cycles(&g)
        .into_iter()
        .map(|c| c.iter().map(|f| show(f)).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(found.is_empty(), "import cycles between files: {found:#?}");
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    for (f, to) in graph() {
        let a = top(&f);
        g.entry(a.clone()).or_default();
        for t in to {
            let b = top(&t);
            if a != b && !a.is_empty() && !b.is_empty() {
                g.entry(a.clone()).or_default().insert(b.clone());
                why.entry((a.clone(), b))
                    .or_insert_with(|| format!("{} -> {}", show(&f), show(&t)));
            }
        }
    }
    let found: Vec<String> = cycles(&g)
        .into_iter()
        .map(|c| {
            let edges: Vec<&String> = why
                .iter()
                .filter(|((a, b), _)| c.contains(a) && c.contains(b))
                .map(|(_, w)| w)
                .collect();
            format!("{}: {edges:?}", c.join(" <-> "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles between modules: {found:#?}"
    );
}

#[test]
fn lower_layers_never_import_the_layers_built_on_them() {
    let mut wrong = Vec::new();
    for (f, to) in graph() {
        let a = top(&f);
        if !LOWER.contains(&a.as_str()) {
            continue;
        }
        for t in to {
            let b = top(&t);
            if UPPER.contains(&b.as_str()) {
                wrong.push(format!("{} imports {}", show(&f), show(&t)));
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports: {wrong:#?}");
}

#[test]
fn the_reader_sees_the_imports_it_checks() {
    // The check is only worth something if it reads imports: a few known ones must be found.
    let g = graph();
    let has = |from: &str, to: &str| {
        g.get(&src().join(from))
            .is_some_and(|s| s.contains(&src().join(to)))
    };
    assert!(has("sync/run.rs", "sync/plan.rs"), "{g:#?}");
    assert!(
        g.get(&src().join("sync/execute.rs"))
            .is_some_and(|s| s.contains(&client_src().join("client.rs"))
                || s.contains(&client_src().join("lib.rs"))),
        "{g:#?}"
    );
    assert!(has("commands/run.rs", "config/mod.rs"));
    // Nested `use` trees, renames and test modules.
    let mut out = Vec::new();
    expand("crate::{a::{b, c as d}, e}", &[], &mut out);
    assert_eq!(
        out,
        vec![
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c"],
            vec!["crate", "e"]
        ]
    );
    let code = without_tests(&strip(
        "use crate::x; // crate::y\nlet s = \"crate::z\"; let c = '\"';\n#[cfg(test)]\nmod tests { use crate::w; }\n",
    ));
    let p = paths(&code);
    assert!(p.contains(&vec!["crate".to_string(), "x".to_string()]));
    assert!(
        !p.iter()
            .any(|p| p.iter().any(|s| s == "y" || s == "z" || s == "w")),
        "{p:?}"
    );
}

/// Everything `from` reaches through imports.
fn reach(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, from: &Path) -> BTreeSet<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_path_buf()];
    while let Some(f) = todo.pop() {
        for t in g.get(&f).into_iter().flatten() {
            if seen.insert(t.clone()) {
                todo.push(t.clone());
            }
        }
    }
    seen
}

#[test]
fn the_pure_steps_reach_neither_the_client_nor_the_store() {
    let g = graph();
    let io = |f: &Path| {
        f.starts_with(src().join("store"))
            || ["client.rs", "http.rs", "auth.rs", "lib.rs"]
                .iter()
                .any(|n| f == client_src().join(n))
    };
    for step in [
        "sync/validate.rs",
        "sync/diff.rs",
        "sync/chunk.rs",
        "sync/program.rs",
        "catalog/file.rs",
        "catalog/plan.rs",
        "catalog/export.rs",
        "reviewer/check.rs",
    ] {
        let bad: Vec<String> = reach(&g, &src().join(step))
            .into_iter()
            .filter(|f| io(f))
            .map(|f| show(&f))
            .collect();
        assert!(bad.is_empty(), "{step} reaches {bad:?}");
    }
    // And the check sees a reach when there is one.
    assert!(
        reach(&g, &src().join("sync/resolve.rs"))
            .iter()
            .any(|f| io(f))
    );
}
