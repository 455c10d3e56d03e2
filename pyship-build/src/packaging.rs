//! Python packaging formats, each parsed in one place: wheel file names
//! ([`WheelFilename`]), a package index's project page ([`project_page`]:
//! the PEP 691 JSON form when the server offers it, else the PEP 503 HTML
//! form, which is also what a `find-links` page is) and a wheel's `RECORD`
//! ([`record_lines`]).
//!
//! Why by hand for the file name: the crates that parse it well are uv's
//! internal component crates (published for uv's own use, with uv's
//! toolchain and a tree of its internal crates); the grammar is one line of
//! the binary distribution format spec. `RECORD` is CSV with quoting (a path
//! may hold a comma), read with the `csv` crate.

use std::path::Path;

use serde::Deserialize;

use crate::context::Context;
use crate::net;

/// A wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
/// each tag part a `.`-separated set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// The distribution name as written in the file name.
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelFilename {
    /// Parse a file name (not a path); `None` when it is not a wheel's.
    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts.as_slice() {
            [n, v, py, abi, plat] => (*n, *v, None, *py, *abi, *plat),
            [n, v, b, py, abi, plat] => (*n, *v, Some(*b), *py, *abi, *plat),
            _ => return None,
        };
        if [name, version, python, abi, platform]
            .iter()
            .chain(build.as_ref())
            .any(|p| p.is_empty())
        {
            return None;
        }
        let set = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        Some(Self {
            name: name.to_owned(),
            version: version.to_owned(),
            build: build.map(str::to_owned),
            python: set(python),
            abi: set(abi),
            platform: set(platform),
        })
    }

    /// [`WheelFilename::parse`] of a path's file name.
    pub fn from_path(path: &Path) -> Option<Self> {
        Self::parse(path.file_name()?.to_str()?)
    }

    /// The platform tag as written (`manylinux_2_17_x86_64.manylinux2014_x86_64`).
    pub fn platform_tag(&self) -> String {
        self.platform.join(".")
    }

    /// Every `{python}-{abi}-{platform}` tag the wheel is compatible with.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.python {
            for a in &self.abi {
                for t in &self.platform {
                    out.push(format!("{p}-{a}-{t}"));
                }
            }
        }
        out
    }
}

/// A file a project page (or a `find-links` page) links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The file name (the URL's last path segment, percent-decoded, or the
    /// JSON form's `filename`).
    pub file_name: String,
    /// The absolute URL, without its fragment.
    pub url: String,
    /// The page's SHA-256 of the file (lower-case hex), when it gives one.
    pub sha256: Option<String>,
}

/// What a PEP 691 JSON project page holds (the fields read here).
#[derive(Debug, Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Debug, Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
}

/// The JSON form first, the HTML forms after (the same preference as uv).
const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// The files a project page of an index (or a `find-links` page) lists,
/// read through the run's HTTP client with the net layer's timeouts, size
/// limit and retries. `missing_ok`: a 404 is "no such project" (`None`),
/// as uv takes it for an index; for a `find-links` page it is an error.
pub fn project_page(
    ctx: &Context<'_>,
    url: &str,
    missing_ok: bool,
) -> Result<Option<Vec<IndexFile>>, net::Error> {
    let client = ctx.http()?;
    let timeouts = ctx.timeouts()?;
    let got = net::Backoff::default().retry(|_| {
        let resp =
            client
                .get(url)
                .header("Accept", ACCEPT)
                .send()
                .map_err(|source| match source.is_timeout() {
                    true => net::Error::Timeout {
                        url: url.to_owned(),
                        timeouts: Box::new(timeouts),
                    },
                    false => net::Error::Request {
                        url: url.to_owned(),
                        source,
                    },
                })?;
        let status = resp.status().as_u16();
        if status == 404 && missing_ok {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(net::Error::Status {
                url: url.to_owned(),
                status,
            });
        }
        let base = resp.url().clone();
        let json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with(JSON_TYPE));
        let len = resp.content_length();
        let text = net::Limited::text(resp, url, &timeouts, len).read_text()?;
        Ok(Some((base, json, text)))
    })?;
    let Some((base, json, text)) = got else {
        return Ok(None);
    };
    if json {
        let page: JsonPage = serde_json::from_str(&text).map_err(|e| net::Error::Invalid {
            url: url.to_owned(),
            size: text.len() as u64,
            reason: format!("not a PEP 691 project page: {e}"),
        })?;
        return Ok(Some(files_of_json(&base, page)));
    }
    Ok(Some(files_of_html(&base, &text)))
}

fn files_of_json(base: &reqwest::Url, page: JsonPage) -> Vec<IndexFile> {
    page.files
        .into_iter()
        .filter_map(|f| {
            let mut abs = base.join(&f.url).ok()?;
            abs.set_fragment(None);
            Some(IndexFile {
                file_name: f.filename,
                url: abs.to_string(),
                sha256: f.hashes.get("sha256").and_then(|s| sha256_hex(s)),
            })
        })
        .collect()
}

/// The files an HTML page links to, relative links resolved against `base`
/// (the page's URL, or its `<base href>`).
pub fn files_of_html(base: &reqwest::Url, html: &str) -> Vec<IndexFile> {
    let mut all = hrefs(html);
    let base = html_base(html)
        .and_then(|b| base.join(&b).ok())
        .unwrap_or_else(|| base.clone());
    all.retain(|h| !h.is_empty());
    all.into_iter()
        .filter_map(|href| {
            let mut abs = base.join(&href).ok()?;
            let sha256 = abs.fragment().and_then(|f| {
                f.split('&')
                    .find_map(|kv| kv.strip_prefix("sha256="))
                    .and_then(sha256_hex)
            });
            abs.set_fragment(None);
            let last = abs.path_segments()?.next_back()?.to_owned();
            if last.is_empty() {
                return None;
            }
            Some(IndexFile {
                file_name: net::percent_decode(&last),
                url: abs.to_string(),
                sha256,
            })
        })
        .collect()
}

/// A 64-digit hex SHA-256, lower-cased; `None` for anything else.
fn sha256_hex(s: &str) -> Option<String> {
    crate::fs::is_sha256_hex(s).then(|| s.to_ascii_lowercase())
}

/// The `href` of a `<base>` element, if the page has one.
fn html_base(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let at = lower.find("<base")?;
    let end = lower[at..].find('>')? + at;
    hrefs(&html[at..=end]).into_iter().next()
}

/// The `href` attribute values of an HTML page, in order, with the
/// character references an index writes (`&amp;`, `&#43;`, …) decoded.
/// Attribute names are matched case-insensitively, values may be
/// double-, single- or unquoted.
pub fn hrefs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href") {
        let at = from + i;
        from = at + 4;
        // An attribute name: preceded by white space, followed by `=`.
        if at == 0 || !bytes[at - 1].is_ascii_whitespace() {
            continue;
        }
        let mut j = at + 4;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let (start, end) = match bytes.get(j) {
            Some(&q @ (b'"' | b'\'')) => match html[j + 1..].find(q as char) {
                Some(n) => (j + 1, j + 1 + n),
                None => continue,
            },
            Some(_) => {
                let n = html[j..]
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(html.len() - j);
                (j, j + n)
            }
            None => continue,
        };
        out.push(unescape(&html[start..end]));
        from = end;
    }
    out
}

/// Decode the HTML character references found in URLs (`&amp;`, `&quot;`,
/// `&lt;`, `&gt;`, `&#NN;`, `&#xHH;`); anything else is kept as written.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One line of a `RECORD`: the file's path (unquoted) and the line's bytes
/// as written (its line end included), so a rewrite keeps every other line
/// byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine<'a> {
    pub path: String,
    pub raw: &'a str,
}

/// The lines of a `RECORD` (`path,hash,size` CSV, paths quoted when they
/// hold a comma or a quote).
pub fn record_lines(text: &str) -> Result<Vec<RecordLine<'_>>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut starts = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        // Where the record itself starts: the line end before it (the
        // reader may stop between `\r` and `\n`) and blank lines belong to
        // the line before.
        let mut pos = record.position().map_or(0, |p| p.byte() as usize);
        while matches!(text.as_bytes().get(pos), Some(b'\r' | b'\n')) {
            pos += 1;
        }
        starts.push((pos, record.get(0).unwrap_or("").to_owned()));
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, (start, path)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |(s, _)| *s);
        out.push(RecordLine {
            path: path.clone(),
            raw: &text[*start..end],
        });
    }
    // Blank lines before the first record go with it, so the lines add up
    // to the whole text.
    if let Some(first) = out.first_mut() {
        first.raw = &text[..first.raw.len() + starts[0].0];
    }
    Ok(out)
}

/// A `RECORD` line for `path` (quoted when it needs it), ending in `eol`.
pub fn record_line(path: &str, hash: &str, size: u64, eol: &str) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let size = size.to_string();
    // Writing into memory cannot fail.
    let _ = w.write_record([path, hash, size.as_str()]);
    let bytes = w.into_inner().unwrap_or_default();
    let mut line = String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_owned();
    line.push_str(eol);
    line
}

/// A one-page HTTP server for tests: answers every request with `body`
/// as `content_type` (404 for paths not ending in `/`), and counts requests.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    pub struct Server {
        pub url: String,
        requests: Arc<AtomicUsize>,
    }

    impl Server {
        pub fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    pub fn serve(content_type: &'static str, body: String) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                counter.fetch_add(1, Ordering::SeqCst);
                let (status, ctype, body) = if path.ends_with('/') {
                    ("200 OK", content_type, body.as_str())
                } else {
                    ("404 Not Found", "text/plain", "not found")
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server { url, requests }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_test<T>(f: impl FnOnce(&Context<'_>) -> T) -> T {
        let env = crate::env::Env::from_pairs(Vec::<(String, String)>::new());
        let reporter = crate::report::NullReporter;
        f(&Context::new(&reporter, &env))
    }

    #[test]
    fn project_pages_are_read_as_json_or_html_and_a_missing_one_is_none() {
        let json = test_server::serve(
            JSON_TYPE,
            format!(
                r#"{{"meta": {{"api-version": "1.0"}}, "name": "x", "files": [{{"filename": "x-1-py3-none-any.whl", "url": "/f/x-1-py3-none-any.whl", "hashes": {{"sha256": "{}"}}}}]}}"#,
                "d".repeat(64)
            ),
        );
        let html = test_server::serve(
            "text/html",
            r#"<a href="/f/x-1-py3-none-any.whl#sha256=DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD">x</a>"#.into(),
        );
        ctx_test(|ctx| {
            for server in [&json, &html] {
                let files = project_page(ctx, &format!("{}/simple/x/", server.url), true)
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    files,
                    [IndexFile {
                        file_name: "x-1-py3-none-any.whl".into(),
                        url: format!("{}/f/x-1-py3-none-any.whl", server.url),
                        sha256: Some("d".repeat(64)),
                    }]
                );
            }
            let missing = format!("{}/simple/x", html.url);
            assert_eq!(project_page(ctx, &missing, true).unwrap(), None);
            let err = project_page(ctx, &missing, false).unwrap_err();
            assert!(
                matches!(err, net::Error::Status { status: 404, .. }),
                "{err}"
            );
        });
        let bad = test_server::serve(JSON_TYPE, "not json".into());
        ctx_test(|ctx| {
            let err = project_page(ctx, &format!("{}/simple/x/", bad.url), true).unwrap_err();
            assert!(
                err.to_string().contains("not a PEP 691 project page"),
                "{err}"
            );
        });
    }

    #[test]
    fn wheel_file_names() {
        let w = WheelFilename::parse("numpy-1.26.4-cp311-cp311-win_amd64.whl").unwrap();
        assert_eq!(
            (w.name.as_str(), w.version.as_str(), w.build.as_deref()),
            ("numpy", "1.26.4", None)
        );
        assert_eq!(w.platform_tag(), "win_amd64");
        let w = WheelFilename::parse("x-1.0-1-py2.py3-none-any.whl").unwrap();
        assert_eq!(w.build.as_deref(), Some("1"));
        assert_eq!(w.tags(), ["py2-none-any", "py3-none-any"]);
        let w = WheelFilename::from_path(Path::new(
            "d/a-1-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ))
        .unwrap();
        assert_eq!(
            w.platform_tag(),
            "manylinux_2_17_x86_64.manylinux2014_x86_64"
        );
        for bad in [
            "x.whl",
            "a-1.whl",
            "a-1-py3-none.whl",
            "a-1-2-3-py3-none-any.whl",
            "a--py3-none-any.whl",
            "a-1-py3-none-any.zip",
        ] {
            assert_eq!(WheelFilename::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn html_pages_give_files_hashes_and_absolute_urls() {
        let base = reqwest::Url::parse("https://idx.example/simple/numpy/").unwrap();
        let html = r#"<html><body>
<a href="../../packages/ab/numpy-1.26.4-cp311-cp311-win_amd64.whl#sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" data-requires-python="&gt;=3.9">x</a>
<a href='fastapi-0.110.0-py3-none-any.whl#md5=00'>y</a>
<A HREF = https://h/p/My%20Pkg-1.0-py3-none-any.whl?a=1&amp;b=2#sha256=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb>z</A>
<link rel="stylesheet" data-href="nothing.css">
</body></html>"#;
        let files = files_of_html(&base, html);
        assert_eq!(files.len(), 3, "{files:?}");
        assert_eq!(files[0].file_name, "numpy-1.26.4-cp311-cp311-win_amd64.whl");
        assert_eq!(
            files[0].url,
            "https://idx.example/packages/ab/numpy-1.26.4-cp311-cp311-win_amd64.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(
            files[1].url,
            "https://idx.example/simple/numpy/fastapi-0.110.0-py3-none-any.whl"
        );
        assert_eq!(files[1].sha256, None);
        assert_eq!(files[2].file_name, "My Pkg-1.0-py3-none-any.whl");
        assert_eq!(
            files[2].url,
            "https://h/p/My%20Pkg-1.0-py3-none-any.whl?a=1&b=2"
        );
    }

    #[test]
    fn a_base_element_moves_relative_links() {
        let base = reqwest::Url::parse("https://idx.example/simple/x/").unwrap();
        let html = r#"<head><base href="https://files.example/x/"></head><a href="x-1-py3-none-any.whl">x</a>"#;
        let files = files_of_html(&base, html);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].url, "https://files.example/x/x-1-py3-none-any.whl");
    }

    #[test]
    fn json_pages_give_files_and_hashes() {
        let base = reqwest::Url::parse("https://idx.example/simple/idna/").unwrap();
        let page: JsonPage = serde_json::from_str(&format!(
            r#"{{"meta": {{"api-version": "1.1"}}, "name": "idna", "files": [
                {{"filename": "idna-3.6-py3-none-any.whl", "url": "../../f/idna-3.6-py3-none-any.whl#x", "hashes": {{"sha256": "{}"}}}},
                {{"filename": "idna-3.6.tar.gz", "url": "https://f.example/idna-3.6.tar.gz", "hashes": {{}}}}
            ]}}"#,
            "C".repeat(64)
        ))
        .unwrap();
        let files = files_of_json(&base, page);
        assert_eq!(
            files,
            [
                IndexFile {
                    file_name: "idna-3.6-py3-none-any.whl".into(),
                    url: "https://idx.example/f/idna-3.6-py3-none-any.whl".into(),
                    sha256: Some("c".repeat(64)),
                },
                IndexFile {
                    file_name: "idna-3.6.tar.gz".into(),
                    url: "https://f.example/idna-3.6.tar.gz".into(),
                    sha256: None,
                }
            ]
        );
    }

    #[test]
    fn hrefs_of_a_simple_page() {
        let html = r#"<a href="../../packages/a2/tkinter_embed-3.11.0.tar.gz#sha256=ab" data-requires-python="==3.11.*">x</a>
<a href='tkinter_embed-3.12.0.tar.gz'>y</a>"#;
        assert_eq!(
            hrefs(html),
            vec![
                "../../packages/a2/tkinter_embed-3.11.0.tar.gz#sha256=ab",
                "tkinter_embed-3.12.0.tar.gz"
            ]
        );
    }

    #[test]
    fn character_references_in_urls() {
        assert_eq!(
            unescape("a&amp;b&#43;c&#x2B;d&unknown;e&"),
            "a&b+c+d&unknown;e&"
        );
    }

    #[test]
    fn record_lines_unquote_paths_and_keep_bytes() {
        let text = "\"pkg/a,b.py\",sha256=x,1\r\nbin/tool,sha256=y,2\r\n\"q\"\"uote.py\",,\nlast,,";
        let lines = record_lines(text).unwrap();
        let paths: Vec<&str> = lines.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, ["pkg/a,b.py", "bin/tool", "q\"uote.py", "last"]);
        assert_eq!(lines[1].raw, "bin/tool,sha256=y,2\r\n");
        assert_eq!(lines.iter().map(|l| l.raw).collect::<String>(), text);
        assert!(record_lines("").unwrap().is_empty());
    }

    #[test]
    fn record_line_quotes_when_needed() {
        assert_eq!(
            record_line("a/b.py", "sha256=x", 3, "\n"),
            "a/b.py,sha256=x,3\n"
        );
        assert_eq!(
            record_line("a,b.py", "sha256=x", 3, "\r\n"),
            "\"a,b.py\",sha256=x,3\r\n"
        );
    }
}
