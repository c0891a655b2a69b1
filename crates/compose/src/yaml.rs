//! A YAML tree that remembers where every node came from.
//!
//! Compose errors must name the file and the line, after anchors, merge keys, interpolation and
//! the merging of override files have all moved values around. So the loader works on its own
//! tree, built from the YAML parser's events, in which every node and every key carries its
//! origin. Anchors, aliases and `<<` merge keys are resolved here; the `!reset` and `!override`
//! tags are kept for the merge step.

use indexmap::IndexMap;
use yaml_rust2::parser::{Event, Parser, Tag as YamlTag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a node came from: the index of its file in the load and its line (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Mark {
    pub file: usize,
    pub line: usize,
}

/// The compose-specific tags; any other tag is kept by name but has no effect.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Tag {
    #[default]
    None,
    /// `!reset`: remove the value inherited from earlier files.
    Reset,
    /// `!override`: replace the inherited value instead of merging with it.
    Override,
    /// `!!str` and friends: the scalar is a string whatever it looks like.
    Str,
    Other(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
    pub tag: Tag,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    /// A scalar as written. `quoted` is true for quoted and block scalars, which are always
    /// strings; plain scalars may be numbers or booleans where the specification types them.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Map),
}

/// A mapping keeps its keys in file order, each with the mark of the key itself.
pub type Map = IndexMap<String, Entry>;

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key_mark: Mark,
    pub node: Node,
}

impl Node {
    pub fn new(value: Value, mark: Mark) -> Self {
        Node {
            value,
            mark,
            tag: Tag::None,
        }
    }

    pub fn string(text: impl Into<String>, mark: Mark) -> Self {
        Node::new(
            Value::Scalar {
                text: text.into(),
                quoted: true,
            },
            mark,
        )
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar (numbers and booleans included).
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Whether the node holds nothing: null, or an empty sequence or mapping.
    pub fn is_empty(&self) -> bool {
        match &self.value {
            Value::Null => true,
            Value::Seq(s) => s.is_empty(),
            Value::Map(m) => m.is_empty(),
            Value::Scalar { .. } => false,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key)).map(|e| &e.node)
    }

    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// About how many bytes the node takes in memory, with everything below it.
    fn weight(&self) -> usize {
        NODE_BYTES
            + match &self.value {
                Value::Seq(s) => s.iter().map(Node::weight).sum(),
                Value::Map(m) => m.iter().map(|(k, e)| k.len() + e.node.weight()).sum(),
                Value::Scalar { text, .. } => text.len(),
                Value::Null => 0,
            }
    }
}

/// A YAML syntax or structure error, with the line it was found at.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Deeper nesting than this is refused (compose files are a few levels deep).
const MAX_DEPTH: usize = 128;
/// A document that grows past this many bytes in memory (through aliases: the "billion
/// laughs", of many nodes or of long strings) is refused.
const MAX_BYTES: usize = 64 << 20;
/// What one node costs beside its text, about.
const NODE_BYTES: usize = 64;

/// Parses the first document of `src`. An empty file gives `Value::Null`.
pub fn parse(src: &str, file: usize) -> Result<Node, YamlError> {
    Ok(parse_documents(src, file)?
        .into_iter()
        .next()
        .unwrap_or(Node::new(Value::Null, Mark { file, line: 1 })))
}

/// Every document of `src` (`---` separated); compose reads each as one more override file.
pub fn parse_documents(src: &str, file: usize) -> Result<Vec<Node>, YamlError> {
    let events = match scan(src) {
        Err(e) if e.message == "invalid indentation" => {
            relax_flow_indentation(src).and_then(|s| scan(&s).ok()).ok_or(e)?
        }
        other => other?,
    };
    Builder::new(file).build(events)
}

/// The parser's events, pulled one at a time (its own `load` recurses once per level of
/// nesting, so a small file of deep nesting would overflow the stack before any check): nesting
/// deeper than `MAX_DEPTH` is refused as it is met.
fn scan(src: &str) -> Result<Vec<(Event, Marker)>, YamlError> {
    let mut events = Vec::new();
    let mut parser = Parser::new_from_str(src);
    let mut depth = 0usize;
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| YamlError {
            line: e.marker().line(),
            message: e.info().to_string(),
        })?;
        match ev {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError {
                        line: mark.line(),
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            Event::StreamEnd => break,
            _ => {}
        }
        events.push((ev, mark));
    }
    Ok(events)
}

/// Go's YAML parser (and so compose) accepts flow collections whose later lines are indented
/// no deeper than the key they belong to (`command: [` ... `]` under `command`); the YAML
/// specification and our parser do not. Indentation inside a flow collection carries no
/// meaning, so such lines are indented one column past their key and the text parsed again.
/// Lines keep their numbers. `None` when nothing needed it.
fn relax_flow_indentation(src: &str) -> Option<String> {
    let mut out = String::with_capacity(src.len() + 64);
    let mut depth = 0usize; // open flow collections
    let mut base = 0usize; // indentation of the line that opened the outermost one
    let mut quote: Option<char> = None;
    let mut block_scalar: Option<usize> = None; // indentation of the line that started one
    let mut changed = false;
    for line in src.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(b) = block_scalar {
            if blank || indent > b {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        if (depth > 0 || quote.is_some()) && !blank && indent <= base {
            out.push_str(&" ".repeat(base + 1 - indent));
            changed = true;
        }
        if depth == 0 && quote.is_none() {
            base = indent;
        }
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') if c == '\'' => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some('"') if c == '"' => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    '\'' | '"' if " \t[{,:-".contains(prev) => quote = Some(c),
                    '[' | '{' if depth > 0 || " \t:-?".contains(prev) => depth += 1,
                    ']' | '}' if depth > 0 => depth -= 1,
                    '|' | '>' if depth == 0 && prev == ' ' => {
                        let rest: String = chars.clone().collect();
                        let rest = rest.split(" #").next().unwrap_or("").trim();
                        if rest.chars().all(|r| r == '-' || r == '+' || r.is_ascii_digit()) {
                            block_scalar = Some(indent);
                        }
                    }
                    _ => {}
                },
            }
            prev = c;
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

enum Frame {
    Seq {
        node: Node,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        node: Node,
        anchor: usize,
        entries: Map,
        key: Option<(String, Mark)>,
        merges: Vec<(Node, Mark)>,
    },
}

struct Builder {
    file: usize,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    /// What the document takes so far (`weight`), aliases expanded.
    bytes: usize,
    root: Option<Node>,
}

fn convert_tag(tag: Option<YamlTag>) -> Tag {
    match tag {
        None => Tag::None,
        Some(t) if t.handle == "!" && t.suffix == "reset" => Tag::Reset,
        Some(t) if t.handle == "!" && t.suffix == "override" => Tag::Override,
        Some(t) if t.handle == "!!" && t.suffix == "str" => Tag::Str,
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == "str" => Tag::Str,
        Some(t) => Tag::Other(format!("{}{}", t.handle, t.suffix)),
    }
}

impl Builder {
    fn new(file: usize) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: Default::default(),
            bytes: 0,
            root: None,
        }
    }

    fn mark(&self, m: &Marker) -> Mark {
        Mark {
            file: self.file,
            line: m.line(),
        }
    }

    fn build(mut self, events: Vec<(Event, Marker)>) -> Result<Vec<Node>, YamlError> {
        let mut documents = Vec::new();
        for (ev, m) in events {
            let mark = self.mark(&m);
            match ev {
                Event::DocumentEnd => {
                    documents.extend(self.root.take());
                    self.anchors.clear();
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let tag = convert_tag(tag);
                    let quoted = style != TScalarStyle::Plain || tag == Tag::Str;
                    let value = if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                    let node = Node { value, mark, tag };
                    self.complete(node, anchor, mark)?;
                }
                Event::Alias(id) => {
                    let weight = self.anchors.get(&id).map(|a| a.1).ok_or(YamlError {
                        line: mark.line,
                        message: "alias refers to an unknown anchor".into(),
                    })?;
                    // Counted before it is copied.
                    self.count(weight, mark)?;
                    let node = self.anchors[&id].0.clone();
                    self.complete(node, 0, mark)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.push(
                        Frame::Seq {
                            node: Node {
                                value: Value::Null,
                                mark,
                                tag: convert_tag(tag),
                            },
                            anchor,
                            items: Vec::new(),
                        },
                        mark,
                    )?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.push(
                        Frame::Map {
                            node: Node {
                                value: Value::Null,
                                mark,
                                tag: convert_tag(tag),
                            },
                            anchor,
                            entries: Map::new(),
                            key: None,
                            merges: Vec::new(),
                        },
                        mark,
                    )?;
                }
                Event::SequenceEnd => match self.stack.pop() {
                    Some(Frame::Seq {
                        mut node,
                        anchor,
                        items,
                    }) => {
                        node.value = Value::Seq(items);
                        self.complete(node, anchor, mark)?;
                    }
                    _ => return Err(structure(mark, "unbalanced sequence")),
                },
                Event::MappingEnd => match self.stack.pop() {
                    Some(Frame::Map {
                        mut node,
                        anchor,
                        mut entries,
                        merges,
                        ..
                    }) => {
                        apply_merge_keys(&mut entries, merges)?;
                        node.value = Value::Map(entries);
                        self.complete(node, anchor, mark)?;
                    }
                    _ => return Err(structure(mark, "unbalanced mapping")),
                },
                Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            }
        }
        documents.extend(self.root.take());
        Ok(documents)
    }

    fn count(&mut self, bytes: usize, mark: Mark) -> Result<(), YamlError> {
        self.bytes += bytes;
        if self.bytes > MAX_BYTES {
            return Err(structure(
                mark,
                &format!(
                    "aliases make the file grow past {} MiB in memory: an anchor used over and over inside others?",
                    MAX_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, mark: Mark) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(structure(mark, &format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize, mark: Mark) -> Result<(), YamlError> {
        if anchor != 0 {
            let weight = node.weight();
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        self.count(NODE_BYTES, mark)?;
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, merges, ..
            }) => match key.take() {
                None => {
                    let name = match node.value {
                        Value::Scalar { text, quoted: false }
                            if text != "<<"
                                && !matches!(crate::goval::resolve_plain(&text), crate::goval::GoScalar::Str(_)) =>
                        {
                            return Err(structure(
                                node.mark,
                                &format!("the key '{text}' is not a string (compose refuses it): quote it"),
                            ))
                        }
                        Value::Scalar { text, .. } => text,
                        Value::Null => return Err(structure(node.mark, "a mapping key is empty")),
                        _ => return Err(structure(node.mark, "a mapping key must be a plain value")),
                    };
                    *key = Some((name, node.mark));
                }
                Some((name, key_mark)) => {
                    if name == "<<" {
                        merges.push((node, key_mark));
                    } else if entries.contains_key(&name) {
                        return Err(YamlError {
                            line: key_mark.line,
                            message: format!("duplicate key '{name}' in the same mapping"),
                        });
                    } else {
                        entries.insert(name, Entry { key_mark, node });
                    }
                }
            },
        }
        Ok(())
    }
}

fn structure(mark: Mark, msg: &str) -> YamlError {
    YamlError {
        line: mark.line,
        message: msg.to_string(),
    }
}

/// `<<: *base` and `<<: [*a, *b]`: keys of the merged mappings that the mapping does not set
/// itself are added; among several sources the first one wins (YAML merge key spec).
fn apply_merge_keys(entries: &mut Map, merges: Vec<(Node, Mark)>) -> Result<(), YamlError> {
    for (source, mark) in merges {
        let sources: Vec<Node> = match source.value {
            Value::Map(_) => vec![source],
            Value::Seq(items) => items,
            _ => {
                return Err(structure(
                    mark,
                    "a '<<' merge key takes a mapping or a list of mappings",
                ))
            }
        };
        for s in sources {
            let Value::Map(m) = s.value else {
                return Err(structure(
                    mark,
                    "a '<<' merge key takes a mapping or a list of mappings",
                ));
            };
            for (k, v) in m {
                entries.entry(k).or_insert(v);
            }
        }
    }
    Ok(())
}

/// Where a key (`services.api.container_name` as segments) is written in `files`: the last
/// file that has it (overrides come later), and the line of the key. For messages about keys
/// of a model already loaded.
pub fn locate_key(files: &[std::path::PathBuf], segments: &[&str]) -> Option<(std::path::PathBuf, usize)> {
    files.iter().rev().find_map(|f| {
        let text = std::fs::read_to_string(f).ok()?;
        let mut node = &parse(&text, 0).ok()?;
        let mut line = None;
        for s in segments {
            let Value::Map(m) = &node.value else { return None };
            let e = m.get(*s)?;
            line = Some(e.key_mark.line);
            node = &e.node;
        }
        Some((f.clone(), line?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s, 0).expect("parses")
    }

    #[test]
    fn flow_collections_closed_at_the_key_indentation_parse_as_go_yaml_does() {
        let src = "a:\n  command: [\n    \"x\",\n    # note\n    \"y, ]\"\n  ]\n  test: [\"CMD\",\n\"z\"]\n  s: |\n    [\n  b: 1\n";
        let n = p(src);
        let a = n.get("a").expect("a");
        let cmd: Vec<_> = a
            .get("command")
            .and_then(Node::as_seq)
            .expect("list")
            .iter()
            .filter_map(Node::as_str)
            .collect();
        assert_eq!(cmd, ["x", "y, ]"]);
        assert_eq!(a.get("test").and_then(Node::as_seq).map(<[Node]>::len), Some(2));
        assert_eq!(a.get("s").and_then(Node::as_str), Some("[\n"));
        assert_eq!(a.get("b").map(|b| b.mark.line), Some(11));
    }

    #[test]
    fn marks_are_one_based_lines() {
        let n = p("a: 1\nb:\n  c: x\n");
        let b = n.as_map().expect("map").get("b").expect("b");
        assert_eq!(b.key_mark.line, 2);
        assert_eq!(b.node.get("c").expect("c").mark.line, 3);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = p("x: &base {a: 1, b: 2}\ny:\n  <<: *base\n  b: 3\nz:\n  <<: [{a: 9}, *base]\n");
        let y = n.get("y").expect("y");
        assert_eq!(y.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(y.get("b").and_then(Node::as_str), Some("3"));
        let z = n.get("z").expect("z");
        assert_eq!(z.get("a").and_then(Node::as_str), Some("9"));
        assert_eq!(z.get("b").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn tags_and_nulls() {
        let n = p("a: !reset []\nb: !override {x: 1}\nc: ~\nd:\ne: '~'\nf: !!str 1\n");
        assert_eq!(n.get("a").expect("a").tag, Tag::Reset);
        assert_eq!(n.get("b").expect("b").tag, Tag::Override);
        assert!(n.get("c").expect("c").is_null());
        assert!(n.get("d").expect("d").is_null());
        assert_eq!(n.get("e").and_then(Node::as_str), Some("~"));
        assert_eq!(
            n.get("f").expect("f").value,
            Value::Scalar {
                text: "1".into(),
                quoted: true
            }
        );
    }

    #[test]
    fn duplicate_keys_and_bombs_are_errors() {
        assert!(parse("a: 1\na: 2\n", 0).is_err());
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}]\n",
                j = i - 1
            ));
        }
        let err = parse(&bomb, 0).expect_err("bomb refused");
        assert!(err.message.contains("grow past"), "{}", err.message);
        assert!(parse(&"[".repeat(10_000), 0).is_err());
    }
}
