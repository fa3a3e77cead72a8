//! Text for markup: escaping untrusted strings for HTML and SVG, and number formatting
//! shared by the report page and its charts.

/// Escapes text for HTML element content and quoted attributes. Control characters other
/// than tab and newline become U+FFFD, so no input can break the page, and the colon of
/// `://` becomes `&#58;`, so an address in suspect text reads the same but the page's
/// source never holds a fetchable URL.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' if chars.peek() == Some(&'/') && chars.clone().nth(1) == Some('/') => {
                out.push_str("&#58;")
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A count with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
