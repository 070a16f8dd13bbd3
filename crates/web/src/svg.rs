//! Charts drawn on the server as SVG (no script, no library): vertical bars with a label
//! under each and the value above it. Labels are escaped; the sizes are fixed so a page
//! cannot be made to draw an unbounded picture.

/// Bars one chart draws at most (24 hours, or the busiest operators).
pub const BARS_MAX: usize = 24;
const WIDTH: i64 = 720;
const HEIGHT: i64 = 220;
const TOP: i64 = 18;
const BOTTOM: i64 = 24;

/// Escapes text for SVG/XML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart of `(label, value)`; `show` formats a value. Values below zero count as zero.
pub fn bars(items: &[(String, i64)], show: impl Fn(i64) -> String, title: &str) -> String {
    let items = &items[..items.len().min(BARS_MAX)];
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = i64::try_from(items.len()).unwrap_or(1).max(1);
    let slot = WIDTH / n;
    // Bars are at most 64 units wide: one operator alone is a bar, not a wall.
    let bar = (slot * 7 / 10).clamp(2, 64);
    let plot = HEIGHT - TOP - BOTTOM;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    out.push_str(&format!(
        r##"<line x1="0" y1="{0}" x2="{WIDTH}" y2="{0}" stroke="#cbd5e1"/>"##,
        HEIGHT - BOTTOM
    ));
    for (i, (label, value)) in items.iter().enumerate() {
        let v = (*value).max(0);
        let h = v * plot / max;
        let x = i64::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2;
        let y = HEIGHT - BOTTOM - h;
        out.push_str(&format!(r##"<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="#b91c1c" rx="2"><title>{}: {}</title></rect>"##, escape(label), escape(&show(v))));
        let cx = x + bar / 2;
        if v > 0 {
            out.push_str(&format!(
                r#"<text x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
                y - 4,
                escape(&show(v))
            ));
        }
        out.push_str(&format!(
            r#"<text x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
            HEIGHT - 8,
            escape(label)
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            &[("<a>".into(), 50), ("b".into(), 100)],
            |v| v.to_string(),
            "t&t",
        );
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert!(svg.contains("t&amp;t"));
        // The largest bar fills the plot height (220 − 18 − 24 = 178), the other half of it.
        assert!(svg.contains(r#"height="178""#) && svg.contains(r#"height="89""#));
        let many: Vec<_> = (0..100).map(|i| (i.to_string(), i)).collect();
        assert_eq!(
            bars(&many, |v| v.to_string(), "x").matches("<rect").count(),
            BARS_MAX
        );
    }
}
