//! Message files and what Cyrus learns by parsing one (imap/message.c,
//! cyrus-imapd-2.3.12-p1: `message_parse_file` and `message_create_record`).
//!
//! A simulated message is a small RFC 5322 header (Date, Message-ID, Subject) and a body
//! of `x`s, `size` bytes in all. Delivery and reconstruct both derive the index record's
//! parsed fields from these bytes with [`message_parse`], so a reconstructed record agrees
//! with the delivered one wherever Cyrus's would.

use crate::append::Delivery;

/// What `message_parse_file` finds in a message that `message_create_record` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// RFC822.SIZE: the file's length.
    pub size: u32,
    /// Bytes of the header, the blank line included (`header_size`, also
    /// `content_offset`: the body starts there).
    pub header_size: u32,
    /// Lines of the body.
    pub content_lines: u32,
    /// The Date: header as seconds since the epoch; 0 when absent or unreadable, as
    /// `message_parse_date` answers.
    pub sentdate: u32,
}

/// The bytes of message `uid` as lmtpd writes it: `d.size` bytes in all (more if the header
/// alone is longer).
pub fn message_body(uid: u32, d: &Delivery) -> Vec<u8> {
    let head = format!(
        "Date: {}\r\nMessage-ID: <{uid}@expunge-sim>\r\nSubject: message {uid}\r\n\r\n",
        rfc5322_date(d.sentdate)
    );
    let mut b = head.into_bytes();
    b.resize(d.size.max(b.len() as u32) as usize, b'x');
    b
}

/// Parse a whole message held in memory.
pub fn message_parse(bytes: &[u8]) -> Parsed {
    let mut p = MessageParser::default();
    p.feed(bytes);
    p.finish()
}

/// Incremental `message_parse_file`: feed the file in chunks (bounded memory whatever its
/// size), then [`MessageParser::finish`]. Header lines longer than [`MAX_HEADER_LINE`]
/// are truncated for the Date: lookup only.
#[derive(Debug, Default)]
pub struct MessageParser {
    size: u64,
    in_body: bool,
    header_size: u64,
    newlines_in_body: u64,
    last_byte: Option<u8>,
    line: Vec<u8>,
    sentdate: u32,
}

/// Longest header line kept for parsing.
pub const MAX_HEADER_LINE: usize = 998;

impl MessageParser {
    pub fn feed(&mut self, chunk: &[u8]) {
        for (i, &c) in chunk.iter().enumerate() {
            if self.in_body {
                // The body only needs its newlines counted: the rest of the chunk at once.
                let rest = &chunk[i..];
                self.size += rest.len() as u64;
                self.newlines_in_body += rest.iter().filter(|&&b| b == b'\n').count() as u64;
                self.last_byte = rest.last().copied();
                return;
            }
            self.size += 1;
            if c == b'\n' {
                let line = std::mem::take(&mut self.line);
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if line.is_empty() {
                    self.in_body = true;
                    self.header_size = self.size;
                } else if let Some(v) = strip_prefix_ignore_case(line, b"date:") {
                    self.sentdate = parse_rfc5322_date(v).unwrap_or(0);
                }
            } else if self.line.len() < MAX_HEADER_LINE {
                self.line.push(c);
            }
            self.last_byte = Some(c);
        }
    }

    pub fn finish(self) -> Parsed {
        // A message with no blank line is all header.
        let header_size = if self.in_body {
            self.header_size
        } else {
            self.size
        };
        let body_len = self.size - header_size;
        // A last line without its newline still counts.
        let content_lines = self.newlines_in_body
            + u64::from(body_len > 0 && self.last_byte.is_some_and(|b| b != b'\n'));
        Parsed {
            size: clamp32(self.size),
            header_size: clamp32(header_size),
            content_lines: clamp32(content_lines),
            sentdate: self.sentdate,
        }
    }
}

fn clamp32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn strip_prefix_ignore_case<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &line[prefix.len()..])
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Thu, 01 Jan 1970 00:00:00 +0000` for `t` seconds since the epoch (UTC).
pub fn rfc5322_date(t: u32) -> String {
    let days = i64::from(t / 86_400);
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Seconds since the epoch of an RFC 5322 date (`[Day, ]DD Mon YYYY HH:MM[:SS] +HHMM`);
/// `None` if it does not read as one or lies outside `u32`.
pub fn parse_rfc5322_date(v: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => s,
    };
    let mut it = s.split_ascii_whitespace();
    let d: i64 = it.next()?.parse().ok()?;
    let mon = it.next()?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? as i64 + 1;
    let y: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let hh: i64 = hms.next()?.parse().ok()?;
    let mm: i64 = hms.next()?.parse().ok()?;
    let ss: i64 = match hms.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    let zone = it.next().unwrap_or("+0000");
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => (1, "0000"),
    };
    if digits.len() != 4 || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let zh: i64 = digits[..2].parse().ok()?;
    let zm: i64 = digits[2..].parse().ok()?;
    let t =
        days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - sign * (zh * 3600 + zm * 60);
    u32::try_from(t).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of day `z` since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for t in [
            0u32,
            86_399,
            951_782_400,
            1_221_436_800,
            1_796_083_862,
            u32::MAX,
        ] {
            let s = rfc5322_date(t);
            assert_eq!(parse_rfc5322_date(s.as_bytes()), Some(t), "{s}");
        }
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            parse_rfc5322_date(b" 15 Sep 2008 10:00 -0700"),
            Some(1_221_498_000)
        );
        assert_eq!(parse_rfc5322_date(b"yesterday"), None);
        assert_eq!(parse_rfc5322_date(b"32 Jan 2008 00:00:00 +0000"), None);
    }

    #[test]
    fn parse_finds_header_lines_and_date() {
        let d = Delivery {
            sentdate: 1_221_436_800,
            internaldate: 1_221_500_000,
            size: 300,
        };
        let body = message_body(42, &d);
        assert_eq!(body.len(), 300);
        let p = message_parse(&body);
        assert_eq!(p.size, 300);
        assert_eq!(p.sentdate, d.sentdate);
        let head_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(p.header_size as usize, head_end);
        // One body line with no newline.
        assert_eq!(p.content_lines, 1);
        // Fed in odd chunks, the same answer.
        let mut inc = MessageParser::default();
        for c in body.chunks(7) {
            inc.feed(c);
        }
        assert_eq!(inc.finish(), p);
        // No blank line: all header, no date.
        let p = message_parse(b"Subject: x\r\nFrom: y");
        assert_eq!((p.header_size, p.content_lines, p.sentdate), (19, 0, 0));
        // Body lines counted, the last one unterminated.
        let p = message_parse(b"A: b\n\none\ntwo\nthree");
        assert_eq!((p.header_size, p.content_lines), (6, 3));
    }
}
