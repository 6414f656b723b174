//! An ordered map for the components' tables of requests in flight (pending answers, proposals,
//! reads, pings): almost always a handful of entries, each inserted and removed within milliseconds,
//! so `BTreeMap`'s node search and rebalancing were about 3 % of an idle control plane's instructions
//! (issue 12). Small, it is a vector sorted by key (a scan or a binary search, no allocation once its
//! capacity is there); past [`SmallMap::SPILL`] entries it becomes a `BTreeMap`, so that a table
//! that grows (thousands of requests waiting out a lost quorum) keeps logarithmic inserts and
//! removes. Either way it iterates in key order, so a result never depends on which form it had.

use std::collections::BTreeMap;

/// An ordered map: a sorted vector while small, a `BTreeMap` while large (see the module doc).
#[derive(Clone, Debug)]
pub struct SmallMap<K, V> {
    repr: Repr<K, V>,
}

#[derive(Clone, Debug)]
enum Repr<K, V> {
    Vec(Vec<(K, V)>),
    Tree(BTreeMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> SmallMap<K, V> {
        SmallMap {
            repr: Repr::Vec(Vec::new()),
        }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// Above this many entries the map is a `BTreeMap`.
    pub const SPILL: usize = 48;
    /// At or below this many it goes back to a vector (well under [`SmallMap::SPILL`], so that a
    /// table hovering at the limit does not convert on every request).
    const UNSPILL: usize = 12;

    /// An empty map.
    pub fn new() -> SmallMap<K, V> {
        SmallMap::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Vec(v) => v.len(),
            Repr::Tree(t) => t.len(),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts `v` under `k`, returning the value it replaced.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match &mut self.repr {
            Repr::Vec(vec) => {
                // Keys mostly come from counters, so a new one usually sorts last.
                let at = match vec.last() {
                    Some((last, _)) if *last < k => vec.len(),
                    None => 0,
                    _ => match vec.binary_search_by(|(x, _)| x.cmp(&k)) {
                        Ok(i) => return Some(std::mem::replace(&mut vec[i].1, v)),
                        Err(i) => i,
                    },
                };
                vec.insert(at, (k, v));
                if vec.len() > Self::SPILL {
                    let tree = std::mem::take(vec).into_iter().collect();
                    self.repr = Repr::Tree(tree);
                }
                None
            }
            Repr::Tree(t) => t.insert(k, v),
        }
    }

    /// Removes and returns the value under `k`.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        match &mut self.repr {
            Repr::Vec(vec) => {
                let i = Self::find(vec, k)?;
                Some(vec.remove(i).1)
            }
            Repr::Tree(t) => {
                let v = t.remove(k);
                if t.len() <= Self::UNSPILL {
                    let vec = std::mem::take(t).into_iter().collect();
                    self.repr = Repr::Vec(vec);
                }
                v
            }
        }
    }

    fn find(vec: &[(K, V)], k: &K) -> Option<usize> {
        // The few entries of an idle table are found faster by a scan than by halving.
        if vec.len() <= 8 {
            vec.iter().position(|(x, _)| x == k)
        } else {
            vec.binary_search_by(|(x, _)| x.cmp(k)).ok()
        }
    }

    /// The value under `k`.
    pub fn get(&self, k: &K) -> Option<&V> {
        match &self.repr {
            Repr::Vec(vec) => Self::find(vec, k).map(|i| &vec[i].1),
            Repr::Tree(t) => t.get(k),
        }
    }

    /// The value under `k`, to change.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        match &mut self.repr {
            Repr::Vec(vec) => Self::find(vec, k).map(move |i| &mut vec[i].1),
            Repr::Tree(t) => t.get_mut(k),
        }
    }

    /// Whether `k` has a value.
    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// Removes everything (a vector keeps its capacity).
    pub fn clear(&mut self) {
        match &mut self.repr {
            Repr::Vec(vec) => vec.clear(),
            Repr::Tree(_) => self.repr = Repr::Vec(Vec::new()),
        }
    }

    /// Keeps the entries `f` accepts, in key order.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        match &mut self.repr {
            Repr::Vec(vec) => vec.retain_mut(|(k, v)| f(k, v)),
            Repr::Tree(t) => t.retain(|k, v| f(k, v)),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let (a, b) = match &self.repr {
            Repr::Vec(vec) => (Some(vec.iter().map(|(k, v)| (k, v))), None),
            Repr::Tree(t) => (None, Some(t.iter())),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    /// The value under `k`, inserted by `make` first if there is none (`BTreeMap`'s
    /// `entry(k).or_insert_with(make)`).
    pub fn get_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        if let Repr::Vec(vec) = &mut self.repr {
            if vec.len() >= Self::SPILL && Self::find(vec, &k).is_none() {
                let tree = std::mem::take(vec).into_iter().collect();
                self.repr = Repr::Tree(tree);
            }
        }
        match &mut self.repr {
            Repr::Vec(vec) => {
                let i = match Self::find(vec, &k) {
                    Some(i) => i,
                    None => {
                        let i = vec.partition_point(|(x, _)| *x < k);
                        vec.insert(i, (k, make()));
                        i
                    }
                };
                &mut vec[i].1
            }
            Repr::Tree(t) => t.entry(k).or_insert_with(make),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u32),
        Upsert(u16, u32),
        Remove(u16),
        Retain(u16),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Keys from a range wide enough to spill past the vector's limit and come back.
        prop_oneof![
            6 => (0u16..200, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u16..200, any::<u32>()).prop_map(|(k, v)| Op::Upsert(k, v)),
            4 => (0u16..200).prop_map(Op::Remove),
            1 => (2u16..5).prop_map(Op::Retain),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Whatever its form, the map answers and iterates exactly as a `BTreeMap` given the same
        /// operations, so swapping one for the other cannot change a run.
        #[test]
        fn behaves_as_a_btreemap(ops in proptest::collection::vec(op(), 0..600)) {
            let mut small = SmallMap::new();
            let mut tree = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(small.insert(k, v), tree.insert(k, v)),
                    Op::Upsert(k, v) => {
                        *small.get_or_insert_with(k, || v) += 1;
                        *tree.entry(k).or_insert(v) += 1;
                    }
                    Op::Remove(k) => prop_assert_eq!(small.remove(&k), tree.remove(&k)),
                    Op::Retain(m) => {
                        small.retain(|k, _| k % m != 0);
                        tree.retain(|k, _| k % m != 0);
                    }
                    Op::Clear => {
                        small.clear();
                        tree.clear();
                    }
                }
                prop_assert_eq!(small.len(), tree.len());
                for k in [0u16, 7, 99, 199] {
                    prop_assert_eq!(small.get(&k), tree.get(&k));
                }
                let a: Vec<_> = small.iter().map(|(k, v)| (*k, *v)).collect();
                let b: Vec<_> = tree.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(a, b);
            }
        }
    }

    /// A table past the limit becomes a tree, and one that drains goes back to a vector.
    #[test]
    fn spills_to_a_tree_and_back() {
        let spill = SmallMap::<usize, usize>::SPILL;
        let mut m = SmallMap::new();
        for k in 0..=spill {
            m.insert(k, k);
        }
        assert!(matches!(m.repr, Repr::Tree(_)));
        for k in 0..spill {
            m.remove(&k);
        }
        assert!(matches!(m.repr, Repr::Vec(_)));
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(&spill, &spill)]);
    }
}
