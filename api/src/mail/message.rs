//! The message as it travels after DATA: headers (RFC 5322, RFC 2047 for non-ASCII subjects),
//! the body with CRLF line ends and dot-stuffing, and issued acts as base64 parts.

use super::Attachment;

/// RFC 2047 for a header with non-ASCII text (base64 of UTF-8).
fn encoded(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The message as sent after DATA: headers, the body with CRLF line ends and dot-stuffing,
/// the attachments (base64, as parts of a multipart/mixed message) and the end marker.
pub(super) fn message(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    attachments: &[Attachment],
) -> String {
    let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
    let id = uuid::Uuid::new_v4();
    let mut out = format!(
        "From: Procedo <{from}>\r\nTo: <{to}>\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{id}@procedo>\r\nMIME-Version: 1.0\r\n",
        encoded(&subject),
        chrono::Utc::now().to_rfc2822(),
    );
    let text_headers =
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
    // A boundary no base64 line and, being random, no body line contains.
    let boundary = format!("=_procedo_{}", id.simple());
    if attachments.is_empty() {
        out.push_str(text_headers);
    } else {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{text_headers}"
        ));
    }
    for line in body.lines() {
        if line.starts_with('.') || line.starts_with("--") {
            // Dot-stuffing (RFC 5321); a leading "--" is shifted so no line reads as a boundary.
            out.push(if line.starts_with('.') { '.' } else { ' ' });
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    for file in attachments {
        let name = safe_file_name(&file.name);
        let content_type: String = file
            .content_type
            .chars()
            .filter(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '+' | ';' | '=' | ' ')
            })
            .collect();
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
        ));
        let encoded = base64(&file.bytes);
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push_str("\r\n");
        }
    }
    if !attachments.is_empty() {
        out.push_str(&format!("--{boundary}--\r\n"));
    }
    out.push_str(".\r\n");
    out
}

/// A file name safe inside a quoted header parameter: ASCII letters, digits, `.-_`.
fn safe_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if safe.trim_matches(['.', '_']).is_empty() {
        "allegato".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_encoded_and_the_body_dot_stuffed() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        let text = message("a@b.it", "c@d.it", "Attività", "riga\n.punto\n", &[]);
        assert!(
            text.contains("Subject: =?UTF-8?B?QXR0aXZpdMOg?=\r\n"),
            "{text}"
        );
        assert!(text.ends_with("riga\r\n..punto\r\n.\r\n"), "{text}");
    }

    #[test]
    fn an_attached_act_travels_as_a_base64_part_with_a_safe_name() {
        let act = Attachment {
            name: "aggiudicazione 12/2026\r\nX: y.html".into(),
            content_type: "text/html; charset=utf-8".into(),
            bytes: "<p>Si aggiudica</p>".repeat(10).into_bytes(),
        };
        let text = message(
            "a@b.it",
            "c@d.it",
            "Comunicazione",
            "Si trasmette l'atto.\n--x\n",
            &[act],
        );
        let boundary = text
            .split("boundary=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a multipart boundary");
        assert!(
            text.contains(&format!("\r\n--{boundary}\r\nContent-Type: text/plain")),
            "{text}"
        );
        assert!(
            text.contains("filename=\"aggiudicazione_12_2026__X__y.html\""),
            "no header can be injected through the name: {text}"
        );
        assert!(
            text.contains(" --x\r\n"),
            "a body line cannot pose as a boundary: {text}"
        );
        assert!(
            text.ends_with(&format!("--{boundary}--\r\n.\r\n")),
            "{text}"
        );
        let lines: Vec<&str> = text
            .split("\r\n\r\n")
            .nth(3)
            .expect("the attachment's body")
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect();
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.len() <= 76),
            "{lines:?}"
        );
        assert_eq!(
            lines.concat(),
            base64("<p>Si aggiudica</p>".repeat(10).as_bytes())
        );
    }
}
