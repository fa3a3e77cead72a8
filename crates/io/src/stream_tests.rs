//! Reading inputs: formats told apart, byte-order marks, arrays, pretty JSON, pieces, limits.

use super::*;

fn write(content: &[u8], name: &str) -> (tempfile::TempDir, Source) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, Source::File(path))
}

fn collect(content: &[u8], name: &str) -> Result<Vec<Document>, IoError> {
    let (_dir, source) = write(content, name);
    let mut docs = Vec::new();
    for_each_document::<IoError>(&source, InputFormat::Auto, |d, _| {
        docs.push(d);
        Ok(())
    })?;
    Ok(docs)
}

#[test]
fn jsonl_is_recognised_and_parsed() {
    let docs = collect(
        b"{\"id\": 7, \"prompt\": \"q\", \"response\": \"a b\"}\n\n{\"text\": \"c\"}\n",
        "x.txt",
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    let d = &docs[0];
    assert_eq!(
        (d.id.as_deref(), d.prompt.as_deref(), d.line),
        (Some("7"), Some("q"), Some(1))
    );
    assert_eq!((docs[1].text.as_str(), docs[1].line), ("c", Some(3)));
}

#[test]
fn plain_text_stays_whole() {
    let docs = collect(b"{not json} but text\nmore", "a.txt").unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].text, "{not json} but text\nmore");
    let docs = collect(b"[1] Introduction\nText.", "a.txt").unwrap();
    assert_eq!(docs[0].text, "[1] Introduction\nText.");
}

#[test]
fn a_byte_order_mark_is_not_text() {
    let docs = collect(
        b"\xEF\xBB\xBF{\"text\": \"a\"}\n{\"text\": \"b\"}\n",
        "x.jsonl",
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    let docs = collect(b"\xEF\xBB\xBF{\"text\": \"a\"}\n", "x.txt").unwrap();
    assert_eq!(docs[0].text, "a", "sniffed as JSONL despite the mark");
    let docs = collect("\u{feff}Hello there.".as_bytes(), "x.txt").unwrap();
    assert_eq!(docs[0].text, "Hello there.");
}

#[test]
fn a_json_array_of_records_or_strings_is_read_element_by_element() {
    let docs = collect(
        b"[\n  {\"id\": \"a\", \"response\": \"one\", \"prompt\": \"q\"},\n  \"two\"\n]\n",
        "x.json",
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(
        (docs[0].id.as_deref(), docs[0].text.as_str()),
        (Some("a"), "one")
    );
    assert_eq!((docs[1].text.as_str(), docs[1].line), ("two", Some(2)));
    let e = collect(b"[{\"other\": 1}]", "x.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.json:1") && e.contains("no \"text\""), "{e}");
}

#[test]
fn pretty_printed_json_is_refused_with_a_hint() {
    let e = collect(b"{\n  \"text\": \"a\"\n}\n", "x.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pretty-printed JSON") && e.contains("--format text"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn text_comes_in_exact_pieces() {
    let tok = TextTokenizer::default_model().unwrap();
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(60_000);
    let (_dir, source) = write(text.as_bytes(), "big.txt");
    let mut pieces = Vec::new();
    for_each_piece::<IoError>(
        &source,
        &ReadOptions::default(),
        Some(&tok),
        |d, part, _| {
            pieces.push((d.text, part));
            Ok(())
        },
    )
    .unwrap();
    assert!(pieces.len() > 2, "{} pieces", pieces.len());
    assert!(pieces[0].1.first && !pieces[0].1.last);
    assert!(pieces.last().unwrap().1.last);
    assert!(pieces.iter().all(|(t, _)| t.len() < 2 * PIECE_BYTES));
    let joined: String = pieces.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(joined, text);
    let mut ids = Vec::new();
    for (t, _) in &pieces {
        ids.extend(tok.encode_ids(t).unwrap());
    }
    assert_eq!(ids, tok.encode_ids(&text).unwrap());
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let cases: [(&[u8], &str, &str); 8] = [
        (b"", "a.txt", "empty"),
        (b"  \n", "a.txt", "empty"),
        (b"\n\n", "a.jsonl", "empty"),
        (b"ab\0cd", "a.txt", "binary"),
        (b"\xff\xfe", "a.txt", "UTF-8"),
        (
            b"{\"text\": \"a\"}\n{\"other\": 1}\n",
            "a.jsonl",
            ":2: JSONL record has no",
        ),
        (
            b"{\"text\": \"a\"}\n{oops\n",
            "a.jsonl",
            ":2: malformed JSON",
        ),
        (
            b"{\"text\": \"a\"}\n{\"text\": \"\xff\"}\n",
            "a.jsonl",
            ":2: not UTF-8",
        ),
    ];
    for (content, name, expect) in cases {
        let err = collect(content, name).unwrap_err().to_string();
        assert!(err.contains(expect), "{name} {content:?}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    let (_d, source) = write(&[b'a'; 100], "big.txt");
    let options = ReadOptions {
        max_bytes: 50,
        ..ReadOptions::default()
    };
    let err = for_each_piece::<IoError>(&source, &options, None, |_, _, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than the limit"), "{err}");
    let missing = Source::parse("/no/such/file");
    let err = for_each_document::<IoError>(&missing, InputFormat::Auto, |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/file"), "{err}");
}
