//! Dependency resolution in `depmod`'s order.
//!
//! `depmod` sorts all modules topologically, modules nobody depends on
//! first, and lists each module's transitive dependencies in that order.
//! So every dependency comes after all modules that need it, and loading the
//! list from last to first loads each module after its own dependencies.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The resolved dependency graph of a set of modules (by index).
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// For each module, its transitive dependencies in `modules.dep` order.
    pub(crate) deps: Vec<Vec<usize>>,
    /// (module, dependency name) pairs naming no known module.
    pub(crate) unresolved: Vec<(usize, String)>,
    /// Modules that are part of a dependency cycle.
    pub(crate) cyclic: Vec<usize>,
}

/// Resolves `direct[i]` (names of module `i`'s direct dependencies) against
/// `by_name`.
pub(crate) fn resolve(direct: &[Vec<String>], by_name: &HashMap<String, usize>) -> Resolved {
    let n = direct.len();
    let mut out = Resolved::default();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, names) in direct.iter().enumerate() {
        for name in names {
            match by_name.get(name) {
                Some(&d) if d != i && !edges[i].contains(&d) => edges[i].push(d),
                Some(_) => {}
                None => out.unresolved.push((i, name.clone())),
            }
        }
    }

    // Kahn's algorithm from the modules without users; the heap picks the
    // lowest index among ready modules so the order is deterministic.
    let mut users = vec![0usize; n];
    for e in &edges {
        for &d in e {
            users[d] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| users[i] == 0).map(Reverse).collect();
    let mut rank = vec![usize::MAX; n];
    let mut next = 0;
    while let Some(Reverse(i)) = ready.pop() {
        rank[i] = next;
        next += 1;
        for &d in &edges[i] {
            users[d] -= 1;
            if users[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    // Whatever is left sits on or behind a cycle; rank it last, in index order.
    for (i, r) in rank.iter_mut().enumerate() {
        if *r == usize::MAX {
            *r = next;
            next += 1;
            out.cyclic.push(i);
        }
    }

    out.deps = (0..n)
        .map(|i| {
            let mut seen = vec![false; n];
            seen[i] = true;
            let mut stack = edges[i].clone();
            let mut all = Vec::new();
            while let Some(d) = stack.pop() {
                if !seen[d] {
                    seen[d] = true;
                    all.push(d);
                    stack.extend_from_slice(&edges[d]);
                }
            }
            all.sort_by_key(|&d| rank[d]);
            all
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &[(&str, &[&str])]) -> (Vec<Vec<String>>, HashMap<String, usize>) {
        let by_name = spec
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.to_string(), i))
            .collect();
        let direct = spec
            .iter()
            .map(|(_, d)| d.iter().map(|s| s.to_string()).collect())
            .collect();
        (direct, by_name)
    }

    /// Checks the "load from last to first" property for every module.
    fn assert_loadable(r: &Resolved, direct: &[Vec<String>], by_name: &HashMap<String, usize>) {
        for (i, list) in r.deps.iter().enumerate() {
            let mut loaded = vec![false; direct.len()];
            for &m in list.iter().rev().chain(std::iter::once(&i)) {
                for d in &direct[m] {
                    let d = by_name[d];
                    assert!(loaded[d], "module {m} loaded before its dependency {d}");
                }
                loaded[m] = true;
            }
        }
    }

    #[test]
    fn transitive_in_load_order() {
        // a → b → c, a → c, d → c, e → (b, d)
        let (direct, by_name) = graph(&[
            ("a", &["b", "c"]),
            ("b", &["c"]),
            ("c", &[]),
            ("d", &["c"]),
            ("e", &["d", "b"]),
        ]);
        let r = resolve(&direct, &by_name);
        assert_eq!(r.deps[0], [1, 2]);
        assert_eq!(r.deps[1], [2]);
        assert!(r.deps[2].is_empty());
        assert_eq!(r.deps[4], [1, 3, 2]);
        assert!(r.unresolved.is_empty() && r.cyclic.is_empty());
        assert_loadable(&r, &direct, &by_name);
    }

    #[test]
    fn diamond_and_chain() {
        let (direct, by_name) = graph(&[
            ("top", &["left", "right"]),
            ("left", &["base"]),
            ("right", &["base", "mid"]),
            ("mid", &["base"]),
            ("base", &[]),
        ]);
        let r = resolve(&direct, &by_name);
        assert_eq!(r.deps[0], [1, 2, 3, 4]);
        assert_loadable(&r, &direct, &by_name);
    }

    #[test]
    fn unresolved_and_cycles_are_reported() {
        let (direct, by_name) = graph(&[
            ("a", &["b", "ghost"]),
            ("b", &["c"]),
            ("c", &["b"]),
            ("d", &["d"]),
        ]);
        let r = resolve(&direct, &by_name);
        assert_eq!(r.unresolved, [(0, "ghost".to_string())]);
        assert_eq!(r.cyclic, [1, 2]);
        assert_eq!(r.deps[0], [1, 2]);
        assert_eq!(r.deps[1], [2]);
        assert!(r.deps[3].is_empty());
    }
}
