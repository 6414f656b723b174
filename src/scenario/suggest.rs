//! "Did you mean" suggestions and bounded name lists for error messages.

/// Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one edit each
/// (optimal string alignment).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j - 1] + cost)
                .min(d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The candidate nearest to `input`, if any is near enough to be a plausible typo.
pub(crate) fn nearest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if input.is_empty() || input.chars().count() > 64 {
        return None;
    }
    let lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let d = if cl == lower {
            0
        } else {
            let d = edit_distance(&lower, &cl);
            let contains =
                lower.chars().count() >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl));
            if d <= limit {
                d
            } else if contains {
                limit + 1
            } else {
                continue;
            }
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// " (did you mean `x`?)" or "".
pub(crate) fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(input, candidates) {
        Some(c) if c != input => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

/// A readable, bounded list of names: all of them when few, else the first two and the last.
pub(crate) fn list_names(names: &[String]) -> String {
    if names.len() <= 4 {
        names.join(", ")
    } else {
        format!(
            "{}, {}, ..., {}",
            names[0],
            names[1],
            names[names.len() - 1]
        )
    }
}
