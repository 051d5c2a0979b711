//! Markdown as GitHub reads it, as far as these checks need: prose lines
//! outside fenced code, code spans, link targets, heading slugs and anchors.

use super::*;

/// The lines of `text`, with those of fenced code blocks (``` or ~~~,
/// their fences included) made empty.
pub(super) fn prose_lines(text: &str) -> Vec<String> {
    let mut fence: Option<(char, usize)> = None;
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
            let run = marker.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
            match fence {
                Some((c, n)) => {
                    if marker == Some(c) && run >= n && trimmed[run..].trim().is_empty() {
                        fence = None;
                    }
                    String::new()
                }
                None if run >= 3 && line.len() - trimmed.len() <= 3 => {
                    fence = Some((marker.unwrap(), run));
                    String::new()
                }
                None => line.to_string(),
            }
        })
        .collect()
}

/// The code spans of `lines` (a span may continue on the next line of its
/// paragraph, never past a blank line) with the line each starts on, and
/// the lines with every span (backticks included) replaced by spaces.
pub(super) fn code_spans(lines: &[String]) -> (Vec<(usize, String)>, Vec<String>) {
    let mut spans = Vec::new();
    let mut masked: Vec<String> = lines.to_vec();
    // Paragraphs: runs of non-blank lines, joined with '\n'.
    let mut start = 0;
    while start < lines.len() {
        if lines[start].trim().is_empty() {
            start += 1;
            continue;
        }
        let end = (start..lines.len())
            .find(|&i| lines[i].trim().is_empty())
            .unwrap_or(lines.len());
        let text: Vec<char> = lines[start..end].join("\n").chars().collect();
        let mut out = text.clone();
        let mut i = 0;
        while i < text.len() {
            if text[i] == '\\' {
                i += 2;
                continue;
            }
            if text[i] != '`' {
                i += 1;
                continue;
            }
            let n = text[i..].iter().take_while(|c| **c == '`').count();
            // The closing run: exactly n backticks.
            let mut j = i + n;
            let mut close = None;
            while j < text.len() {
                if text[j] == '`' {
                    let m = text[j..].iter().take_while(|c| **c == '`').count();
                    if m == n {
                        close = Some(j);
                        break;
                    }
                    j += m;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(j) => {
                    let content: String = text[i + n..j].iter().collect();
                    let line = start + 1 + text[..i].iter().filter(|c| **c == '\n').count();
                    spans.push((line, content.replace('\n', " ")));
                    for c in &mut out[i..j + n] {
                        if *c != '\n' {
                            *c = ' ';
                        }
                    }
                    i = j + n;
                }
                None => i += n,
            }
        }
        let joined: String = out.into_iter().collect();
        for (k, line) in joined.split('\n').enumerate() {
            masked[start + k] = line.to_string();
        }
        start = end;
    }
    (spans, masked)
}

/// The link destinations on one line of masked prose: `[text](dest)`,
/// `![alt](dest)`, `<a href="dest">` and reference definitions
/// `[label]: dest`.
pub(super) fn link_targets(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(at) = line[from..].find("](") {
        let open = from + at + 2;
        let mut depth = 1;
        let mut end = open;
        while end < bytes.len() {
            match bytes[end] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let inside = line[open..end].trim();
        let dest = match inside.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or(""),
            None => inside.split_whitespace().next().unwrap_or(""),
        };
        found.push(dest.to_string());
        from = end.min(line.len());
    }
    for attr in ["href=\"", "src=\""] {
        let mut from = 0;
        while let Some(at) = line[from..].find(attr) {
            let start = from + at + attr.len();
            let end = line[start..].find('"').map_or(line.len(), |e| start + e);
            found.push(line[start..end].to_string());
            from = end;
        }
    }
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() <= 3 && trimmed.starts_with('[') {
        if let Some((label, rest)) = trimmed[1..].split_once("]:") {
            if !label.is_empty() && !label.contains(']') {
                if let Some(dest) = rest.split_whitespace().next() {
                    found.push(dest.trim_start_matches('<').trim_end_matches('>').to_string());
                }
            }
        }
    }
    found
}

/// Whether `dest` leaves the repository by design: a URL (`https:`,
/// `mailto:`, ...).
pub(super) fn is_external(dest: &str) -> bool {
    match dest.find(':') {
        Some(colon) => {
            let scheme = &dest[..colon];
            !scheme.is_empty()
                && !scheme.contains('/')
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// `path` with `.` and `..` resolved lexically; `None` if it climbs out of
/// its root.
pub(super) fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// The anchor GitHub gives a heading's text: inline code and link markup
/// dropped (their text kept), lowercase, every character that is not a
/// letter, digit, space, `-` or `_` removed, spaces made `-`.
pub(super) fn slug(heading: &str) -> String {
    // [text](dest) -> text
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](") {
            Some(mid) => {
                let close = rest[open + mid..].find(')').map(|c| open + mid + c);
                match close {
                    Some(close) => {
                        text.push_str(&rest[..open]);
                        text.push_str(&rest[open + 1..open + mid]);
                        rest = &rest[close + 1..];
                    }
                    None => break,
                }
            }
            None => break,
        }
    }
    text.push_str(rest);
    // HTML tags go; their text stays.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' if !in_tag => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The heading text of an ATX heading line (`## Text ##`), if it is one.
pub(super) fn heading(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &trimmed[hashes..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    let text = rest.trim();
    // An optional closing sequence of #s.
    let text = match text.trim_end_matches('#') {
        stripped if stripped.is_empty() || stripped.ends_with(' ') => stripped.trim_end(),
        _ => text,
    };
    Some(text)
}

/// Every anchor of `doc`'s headings, a repeated one numbered `-1`, `-2`,
/// ... as GitHub numbers it.
pub(super) fn anchors(doc: &Doc) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in &doc.lines {
        let Some(text) = heading(line) else { continue };
        let base = slug(text);
        let count = seen.entry(base.clone()).or_insert(0);
        let anchor = if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        };
        *count += 1;
        anchors.insert(anchor);
    }
    anchors
}
