//! The CRI container log format, as containerd and the kubelet use it.
//!
//! Each line a container writes becomes one line of its log file:
//!
//! ```text
//! 2024-01-02T03:04:05.123456Z stdout F hello, world
//! 2024-01-02T03:04:05.200000Z stderr P a long line split in two pa
//! 2024-01-02T03:04:05.200001Z stderr F rts
//! ```
//!
//! — an RFC 3339 timestamp, the stream (`stdout` / `stderr`), a tag (`F` for
//! a full line, `P` for a partial one continued on the next record) and the
//! content. [`encode`] writes a record, [`parse`] reads one back, and
//! [`read`] turns a log file into the stream `kubectl logs` shows (with
//! `tailLines`, `sinceTime`, `timestamps`, `limitBytes` and `follow`).
//!
//! ```
//! use keelson::runtime::logs::{self, Stream};
//! use keelson::api::MicroTime;
//!
//! let at = MicroTime::from_unix_micros(1_704_164_645_123_456);
//! let record = logs::encode(at, Stream::Stdout, false, b"hello");
//! assert_eq!(record, b"2024-01-02T03:04:05.123456Z stdout F hello\n");
//! let line = logs::parse(&record[..record.len() - 1]).unwrap();
//! assert_eq!(line.content, b"hello");
//! assert!(!line.partial);
//! ```

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Error, LogOptions, LogStream, Result};
use crate::api::MicroTime;

/// Which output a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// When it was written.
    pub time: MicroTime,
    /// The stream it came from.
    pub stream: Stream,
    /// The line continues in the next record (`P`).
    pub partial: bool,
    /// The content, without the trailing newline.
    pub content: &'a [u8],
}

/// One record: `<time> <stream> <F|P> <content>\n`. `content` must not hold
/// a newline (split lines first; [`encode_lines`] does).
pub fn encode(time: MicroTime, stream: Stream, partial: bool, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 48);
    push_record(&mut out, time, stream, partial, content);
    out
}

fn push_record(out: &mut Vec<u8>, time: MicroTime, stream: Stream, partial: bool, content: &[u8]) {
    out.extend_from_slice(time.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// Records for a chunk of output: one full record per complete line, and a
/// partial record for a trailing piece without a newline. Returns the
/// records.
///
/// ```
/// use keelson::runtime::logs::{encode_lines, Stream};
/// use keelson::api::MicroTime;
///
/// let out = encode_lines(MicroTime::from_unix_micros(0), Stream::Stderr, b"a\nbc");
/// assert_eq!(out, b"1970-01-01T00:00:00.000000Z stderr F a\n1970-01-01T00:00:00.000000Z stderr P bc\n");
/// ```
pub fn encode_lines(time: MicroTime, stream: Stream, chunk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 48);
    let mut rest = chunk;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                push_record(&mut out, time, stream, false, &rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                push_record(&mut out, time, stream, true, rest);
                rest = &[];
            }
        }
    }
    out
}

/// Parses one record (without its trailing newline); `None` when it is not
/// in the CRI format.
pub fn parse(record: &[u8]) -> Option<Line<'_>> {
    let mut parts = record.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    let content = parts.next().unwrap_or(b"");
    Some(Line {
        time,
        stream,
        partial,
        content,
    })
}

/// How often a followed log file is checked for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Reads a CRI log file as `kubectl logs` shows it: the contents of each
/// record (partial records joined), filtered by `options`. With
/// `options.follow` the stream stays open and yields records as they are
/// appended, until it is dropped.
///
/// A missing file is [`Error::NotFound`]; records that are not in the CRI
/// format are passed through as they are.
pub async fn read(path: PathBuf, options: LogOptions) -> Result<LogStream> {
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                kind: "log",
                id: path.display().to_string(),
            },
            _ => Error::Failed(format!("opening {}: {e}", path.display())),
        })?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .await
        .map_err(|e| Error::Failed(format!("reading {}: {e}", path.display())))?;
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut offset = complete as u64;
    let mut render = Renderer::new(&options);
    let mut first = render.records(&data[..complete]);
    if let Some(tail) = options.tail_lines {
        let skip = first.len().saturating_sub(tail);
        first.drain(..skip);
    }
    let mut budget = options.limit_bytes;
    let first = limit(first.concat(), &mut budget);
    let initial = futures::stream::iter((!first.is_empty()).then(|| Ok(Bytes::from(first))));
    if !options.follow || budget == Some(0) {
        return Ok(Box::pin(initial));
    }
    let follow = futures::stream::unfold(
        (file, render, budget, Vec::new()),
        move |(mut file, mut render, mut budget, mut pending)| async move {
            loop {
                if budget == Some(0) {
                    return None;
                }
                if let Err(e) = file.seek(SeekFrom::Start(offset)).await {
                    return Some((
                        Err(Error::Failed(e.to_string())),
                        (file, render, budget, pending),
                    ));
                }
                let mut more = Vec::new();
                match file.read_to_end(&mut more).await {
                    Ok(0) => {
                        tokio::time::sleep(FOLLOW_POLL).await;
                        continue;
                    }
                    Ok(n) => {
                        offset += n as u64;
                        pending.extend_from_slice(&more);
                    }
                    Err(e) => {
                        return Some((
                            Err(Error::Failed(e.to_string())),
                            (file, render, budget, pending),
                        ))
                    }
                }
                let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
                    continue;
                };
                let rest = pending.split_off(end + 1);
                let out = limit(render.records(&pending).concat(), &mut budget);
                pending = rest;
                if !out.is_empty() {
                    return Some((Ok(Bytes::from(out)), (file, render, budget, pending)));
                }
            }
        },
    );
    Ok(Box::pin(futures::StreamExt::chain(initial, follow)))
}

/// Cuts `out` to what is left of the byte budget.
fn limit(mut out: Vec<u8>, budget: &mut Option<u64>) -> Vec<u8> {
    if let Some(left) = budget {
        let keep = usize::try_from(*left).unwrap_or(usize::MAX).min(out.len());
        out.truncate(keep);
        *left -= keep as u64;
    }
    out
}

/// Turns records into output lines, joining partial records.
struct Renderer {
    since: Option<MicroTime>,
    timestamps: bool,
    /// A line started by partial records and not yet finished.
    partial: Option<(MicroTime, Vec<u8>)>,
}

impl Renderer {
    fn new(options: &LogOptions) -> Self {
        Renderer {
            since: options.since.map(|t: SystemTime| MicroTime::from(t)),
            timestamps: options.timestamps,
            partial: None,
        }
    }

    /// The output lines (each ending in a newline) for complete records.
    fn records(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for record in data.split(|&b| b == b'\n') {
            if record.is_empty() {
                continue;
            }
            let Some(line) = parse(record) else {
                let mut raw = record.to_vec();
                raw.push(b'\n');
                lines.push(raw);
                continue;
            };
            let (time, mut content) = match self.partial.take() {
                Some((time, mut started)) => {
                    started.extend_from_slice(line.content);
                    (time, started)
                }
                None => (line.time, line.content.to_vec()),
            };
            if line.partial {
                self.partial = Some((time, content));
                continue;
            }
            if self.since.is_some_and(|since| time < since) {
                continue;
            }
            content.push(b'\n');
            if self.timestamps {
                let mut stamped = format!("{time} ").into_bytes();
                stamped.extend_from_slice(&content);
                content = stamped;
            }
            lines.push(content);
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn collect(path: PathBuf, options: LogOptions) -> String {
        let mut stream = read(path, options).await.unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parse_rejects_other_formats() {
        assert!(parse(b"hello world").is_none());
        assert!(parse(b"2024-01-02T03:04:05Z stdin F x").is_none());
        assert!(parse(b"2024-01-02T03:04:05Z stdout X x").is_none());
        let line = parse(b"2024-01-02T03:04:05.123456789Z stderr F").unwrap();
        assert_eq!(line.content, b"");
        assert_eq!(line.stream, Stream::Stderr);
    }

    #[tokio::test]
    async fn read_joins_partials_and_applies_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut data = Vec::new();
        for (i, text) in ["one\n", "tw", "o\n", "three\n", "four\n"]
            .iter()
            .enumerate()
        {
            let at = MicroTime::from_unix_micros(1_000_000 * i as i64);
            data.extend(encode_lines(at, Stream::Stdout, text.as_bytes()));
        }
        data.extend_from_slice(b"not cri\n");
        std::fs::write(&path, &data).unwrap();

        let all = collect(path.clone(), LogOptions::default()).await;
        assert_eq!(all, "one\ntwo\nthree\nfour\nnot cri\n");
        let tail = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(collect(path.clone(), tail).await, "four\nnot cri\n");
        let since = LogOptions {
            since: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(3)),
            ..Default::default()
        };
        assert_eq!(collect(path.clone(), since).await, "three\nfour\nnot cri\n");
        let limited = LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(collect(path.clone(), limited).await, "one\ntw");
        let stamped = LogOptions {
            timestamps: true,
            tail_lines: Some(3),
            ..Default::default()
        };
        assert_eq!(
            collect(path.clone(), stamped).await,
            "1970-01-01T00:00:03.000000Z three\n1970-01-01T00:00:04.000000Z four\nnot cri\n"
        );
        let missing = read(dir.path().join("nope"), LogOptions::default()).await;
        assert!(matches!(missing, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn follow_yields_appended_records() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(
            &path,
            encode(MicroTime::now(), Stream::Stdout, false, b"first"),
        )
        .unwrap();
        let options = LogOptions {
            follow: true,
            ..Default::default()
        };
        let mut stream = read(path.clone(), options).await.unwrap();
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"first\n");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&encode_lines(MicroTime::now(), Stream::Stderr, b"sec"))
            .unwrap();
        file.write_all(&encode_lines(MicroTime::now(), Stream::Stderr, b"ond\n"))
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&next[..], b"second\n");
    }
}
