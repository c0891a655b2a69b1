//! `.dockerignore` with Docker's own semantics, so that a build context leaves out exactly what
//! `docker build` leaves out (secrets listed there never reach the engine):
//! - the file is read as `moby/patternmatcher/ignorefile.ReadAll` reads it: a UTF-8 BOM dropped,
//!   `#` lines skipped, each line trimmed, `!` an exception, each pattern cleaned as Go's
//!   `filepath.Clean` cleans it and a leading `/` dropped;
//! - a pattern is matched as `patternmatcher` matches it: `*` and `?` stop at `/`, `[...]`
//!   classes, `\` escapes, `**` any number of directories, compiled to the same regular
//!   expression (or the same exact, prefix and suffix shortcuts);
//! - a path is excluded when the last pattern that matches it, or one of its parent
//!   directories, is not an exception (`MatchesOrParentMatches`);
//! - the walk skips an excluded directory unless an exception names something inside it, as
//!   the engine's `TarWithOptions` does; the Dockerfile and `.dockerignore` are always sent
//!   (the docker CLI's `TrimBuildFilesFromExcludes`).
//!
//! Written from the Go sources (moby/patternmatcher), whose own match table is among the tests.

use regex::Regex;

#[derive(Debug)]
enum Kind {
    Exact,
    /// `dir/**`: everything below `dir/` (the text without the `**`).
    Prefix,
    /// `**/name`: ends with `/name`, or is `name`.
    Suffix,
    Regex(Regex),
}

#[derive(Debug)]
struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`; a pattern Docker refuses is an error that names it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let invert = p.starts_with('!');
            if invert {
                p = p[1..].trim();
            }
            let mut pattern = String::new();
            if !p.is_empty() {
                pattern = clean(p);
                if pattern.len() > 1 && pattern.starts_with('/') {
                    pattern.remove(0);
                }
            }
            lines.push(if invert { format!("!{pattern}") } else { pattern });
        }
        Self::new(&lines)
    }

    /// patternmatcher's `New`.
    fn new(lines: &[String]) -> Result<Self, String> {
        let mut out = DockerIgnore::default();
        for line in lines {
            let p = line.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err("illegal exclusion pattern: \"!\"".into());
                }
                p.remove(0);
                out.exclusions = true;
            }
            let kind = compile(&p).map_err(|e| format!("bad pattern {line:?}: {e}"))?;
            out.patterns.push(Pattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(out)
    }

    /// Keeps `files` (the Dockerfile, `.dockerignore`) in the context even when a pattern
    /// excludes them, as the docker CLI does.
    pub fn keeping(mut self, files: &[&str]) -> Self {
        for f in files {
            if self.excludes(f) {
                if let Ok(kind) = compile(f) {
                    self.patterns.push(Pattern {
                        cleaned: f.to_string(),
                        exclusion: true,
                        kind,
                    });
                    self.exclusions = true;
                }
            }
        }
        self
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(&path);
            if !hit {
                for i in 0..parents.len() {
                    if p.matches(&parents[..=i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether the walk must still go into excluded directory `dir`: an exception names
    /// something inside it.
    pub fn enters(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.exclusions
            && self
                .patterns
                .iter()
                .any(|p| p.exclusion && format!("{}/", p.cleaned).starts_with(&prefix))
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// patternmatcher's `compile`: the pattern as a regular expression, or a shortcut.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut kind = T::Exact;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut index = 0; // patternmatcher counts tokens, not characters
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == T::Exact {
                        kind = T::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = T::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = T::Regex;
                }
                if index == 0 {
                    kind = T::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = T::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = T::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    re.push_str(&regex::escape(&next.to_string()));
                    kind = T::Regex;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => {
                re.push(ch);
                kind = T::Regex;
            }
            c => re.push(c),
        }
        index += 1;
    }
    Ok(match kind {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix,
        T::Suffix => Kind::Suffix,
        T::Regex => {
            re.push('$');
            Kind::Regex(Regex::new(&re).map_err(|e| e.to_string())?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(pattern: &str, path: &str) -> bool {
        DockerIgnore::new(&[pattern.to_string()]).expect("valid").excludes(path)
    }

    /// patternmatcher's own `TestMatches` table (MatchesOrParentMatches).
    #[test]
    fn patternmatchers_table() {
        let table: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\*b", "a*b", true),
        ];
        for (pattern, path, want) in table {
            assert_eq!(one(pattern, path), *want, "pattern {pattern:?} path {path:?}");
        }
        let multi: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3-py3-none-any.whl", false),
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/README.md", false),
            (&["!fileutils.go", "*.go"], "fileutils.go", true),
        ];
        for (patterns, path, want) in multi {
            let lines: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
            let m = DockerIgnore::new(&lines).expect("valid");
            assert_eq!(m.excludes(path), *want, "patterns {patterns:?} path {path:?}");
        }
    }

    #[test]
    fn the_file_is_read_as_docker_reads_it() {
        let m = DockerIgnore::parse("\u{feff}# secrets\n  /certs/*.key  \n!certs/public.key\n./.env*\nbuild/\n\n")
            .expect("valid");
        assert!(m.excludes("certs/server.key"));
        assert!(!m.excludes("certs/public.key"));
        assert!(m.excludes(".env.local"));
        assert!(m.excludes("build/out/x"));
        assert!(!m.excludes("src/main.rs"));
        assert!(DockerIgnore::parse("!\n").is_err());
        assert!(DockerIgnore::parse("[a\n").is_err());
        assert_eq!(clean("a//b/./c/../d/"), "a/b/d");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean("/.."), "/");
    }

    #[test]
    fn an_excluded_directory_is_entered_only_for_an_exception_inside_it() {
        let m = DockerIgnore::parse("secrets\n!secrets/README\nnode_modules\n").expect("valid");
        assert!(m.enters("secrets"));
        assert!(!m.enters("node_modules"));
        let kept = DockerIgnore::parse("*\n")
            .expect("valid")
            .keeping(&["Dockerfile", ".dockerignore"]);
        assert!(!kept.excludes("Dockerfile"));
        assert!(kept.excludes("src"));
    }
}
