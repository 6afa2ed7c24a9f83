//! Validators for the identifiers an Italian public administration handles every day.
//!
//! Every validator is a pure function `&str -> Result<Normalised, IdError>`: it never
//! panics, never allocates more than the input, and returns the *canonical* spelling
//! (uppercase, no spaces) so that stored data can be compared byte for byte.
//! [`IdError`] variants map to stable codes ([`IdError::code`]) and Italian messages
//! ([`IdError::message`]) so the form validator can show them to citizens and officers.
//!
//! Rules and their sources are collected in `/work/shared/domain.md` §1.7; where a rule
//! is not publicly documented (PCP CIG, CUP) only the *format* is checked and the doc
//! comment of the validator says so.

use std::fmt;

/// The canonical spelling of a valid identifier.
///
/// A newtype rather than a bare `String` so that "validated" is visible in signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Normalised(String);

impl Normalised {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Normalised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Normalised {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why an identifier was rejected. Each variant has a stable [`code`](IdError::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing but whitespace was given.
    #[error("empty")]
    Empty,
    /// The length is wrong for this kind of identifier.
    #[error("wrong length")]
    Length,
    /// A character that can never appear in this identifier.
    #[error("invalid characters")]
    Characters,
    /// The characters are allowed but not in this arrangement.
    #[error("invalid format")]
    Format,
    /// The check digit / check character does not match.
    #[error("wrong check character")]
    Checksum,
    /// IBAN country code not assigned (or not two letters).
    #[error("unknown country")]
    Country,
}

impl IdError {
    /// Stable machine code, safe to persist and to match on in clients.
    pub fn code(self) -> &'static str {
        match self {
            IdError::Empty => "empty",
            IdError::Length => "wrong_length",
            IdError::Characters => "invalid_characters",
            IdError::Format => "invalid_format",
            IdError::Checksum => "wrong_check_character",
            IdError::Country => "unknown_country",
        }
    }

    /// Italian explanation, meant to follow `"Codice fiscale non valido: "`.
    pub fn message(self) -> &'static str {
        match self {
            IdError::Empty => "valore vuoto",
            IdError::Length => "lunghezza errata",
            IdError::Characters => "contiene caratteri non ammessi",
            IdError::Format => "formato errato",
            IdError::Checksum => "carattere di controllo errato",
            IdError::Country => "codice paese sconosciuto",
        }
    }
}

/// Uppercases and removes every kind of whitespace: people paste identifiers grouped
/// in blocks ("IT60 X054 …") and with trailing newlines.
fn compact_upper(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

// ---------------------------------------------------------------------------
// Codice fiscale and partita IVA
// ---------------------------------------------------------------------------

/// Values of characters in odd (1-based) positions for the codice fiscale check
/// character (DM 23/12/1976). Digits share the values of `A`…`J`.
const CF_ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Omocodia replacement letters for the digits 0…9.
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";

/// Month letters, January to December.
const CF_MONTHS: &[u8; 12] = b"ABCDEHLMPRST";

/// Odd/even table sum of the CF algorithm, also used by the Italian IBAN CIN.
/// `chars` must be ASCII digits or uppercase letters.
fn cf_table_sum(chars: &[u8]) -> Option<u32> {
    let mut sum = 0u32;
    for (i, &c) in chars.iter().enumerate() {
        let index = match c {
            b'0'..=b'9' => (c - b'0') as usize,
            b'A'..=b'Z' => (c - b'A') as usize,
            _ => return None,
        };
        // i is 0-based: i even <=> 1-based position odd.
        sum += if i % 2 == 0 {
            CF_ODD[index]
        } else {
            index as u32
        };
    }
    Some(sum)
}

/// Digit value of a position that may hold an omocodia letter.
fn omocodic_digit(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        _ => OMOCODIA.iter().position(|&l| l == c).map(|p| p as u32),
    }
}

/// Validates a codice fiscale.
///
/// * 16 characters: natural person. Checks the layout (surname, name, year, month
///   letter, day 1–31 or 41–71, Belfiore code, check letter), accepting *omocodia*
///   letters `LMNPQRSTUV` in every numeric position (7, 8, 10, 11, 13, 14, 15), and the
///   check letter of DM 23/12/1976. It does not check that the Belfiore code exists or
///   that the day exists in that month: the Agenzia delle Entrate is the only authority
///   and some historic codes were issued with odd dates.
/// * 11 digits: organisations (and temporary personal codes), validated like a partita IVA.
pub fn codice_fiscale(input: &str) -> Result<Normalised, IdError> {
    let s = compact_upper(input);
    match s.len() {
        0 => Err(IdError::Empty),
        11 => partita_iva(&s),
        16 => personal_cf(&s),
        _ if !s.chars().all(|c| c.is_ascii_alphanumeric()) => Err(IdError::Characters),
        _ => Err(IdError::Length),
    }
}

fn personal_cf(s: &str) -> Result<Normalised, IdError> {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return Err(IdError::Characters);
    }
    let letters = [0usize, 1, 2, 3, 4, 5, 8, 11, 15];
    let numeric = [6usize, 7, 9, 10, 12, 13, 14];
    if letters.iter().any(|&i| !b[i].is_ascii_uppercase()) {
        return Err(IdError::Format);
    }
    if numeric.iter().any(|&i| omocodic_digit(b[i]).is_none()) {
        return Err(IdError::Format);
    }
    if !CF_MONTHS.contains(&b[8]) {
        return Err(IdError::Format);
    }
    let day = omocodic_digit(b[9]).unwrap_or(0) * 10 + omocodic_digit(b[10]).unwrap_or(0);
    if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
        return Err(IdError::Format);
    }
    let sum = cf_table_sum(&b[..15]).ok_or(IdError::Characters)?;
    let expected = b'A' + (sum % 26) as u8;
    if b[15] != expected {
        return Err(IdError::Checksum);
    }
    Ok(Normalised(s.to_owned()))
}

/// Validates a partita IVA (also the numeric codice fiscale of entities such as Comuni).
///
/// 11 digits; the last is the Luhn-style check digit used by the Agenzia delle Entrate:
/// odd positions summed as they are, even positions doubled (minus 9 if > 9),
/// `check = (10 − sum mod 10) mod 10`. `00000000000` passes the arithmetic but is
/// rejected: it is the classic placeholder, never a real number. The provincial office
/// code (digits 8–10) is not checked because the list of valid offices changes.
pub fn partita_iva(input: &str) -> Result<Normalised, IdError> {
    let mut s = compact_upper(input);
    // "IT" VAT prefix as printed on invoices.
    if s.len() == 13 && s.starts_with("IT") {
        s.drain(..2);
    }
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(IdError::Characters);
    }
    if s.len() != 11 {
        return Err(IdError::Length);
    }
    let d: Vec<u32> = s.bytes().map(|c| u32::from(c - b'0')).collect();
    if d.iter().all(|&x| x == 0) {
        return Err(IdError::Format);
    }
    let mut sum = 0;
    for (i, &x) in d[..10].iter().enumerate() {
        sum += if i % 2 == 0 {
            x
        } else if x * 2 > 9 {
            x * 2 - 9
        } else {
            x * 2
        };
    }
    if (10 - sum % 10) % 10 != d[10] {
        return Err(IdError::Checksum);
    }
    Ok(Normalised(s))
}

// ---------------------------------------------------------------------------
// CIG and CUP
// ---------------------------------------------------------------------------

/// Validates a CIG (Codice Identificativo Gara), 10 characters `[0-9A-Z]`.
///
/// * A CIG starting with a digit is a legacy SIMOG CIG: `NNNNNNN` (7 digits, not all
///   zero) + `KKK` (3 hex digits) with `KKK == NNNNNNN × 211 mod 4091` — checked.
/// * Any other CIG (SmartCIG `X/Y/Z…`, and the CIGs issued by the PCP platforms since
///   1 January 2024, observed as `A…`) is checked **for format only**: no public
///   checksum is known for PCP CIGs, and the SmartCIG checksum published in the AGID
///   PEPPOL Schematron (`KK == CCCCCCC × 211 mod 251`) fails on real SmartCIGs found in
///   public acts (`Z13276BF77`, `ZEECDCAC17`), so enforcing it would block real users.
pub fn cig(input: &str) -> Result<Normalised, IdError> {
    let s = compact_upper(input);
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if !s.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(IdError::Characters);
    }
    if s.len() != 10 {
        return Err(IdError::Length);
    }
    let b = s.as_bytes();
    if b[0].is_ascii_digit() {
        if !b[..7].iter().all(u8::is_ascii_digit) || !b[7..].iter().all(u8::is_ascii_hexdigit) {
            return Err(IdError::Format);
        }
        let n: u64 = s[..7].parse().map_err(|_| IdError::Format)?;
        let k = u64::from_str_radix(&s[7..], 16).map_err(|_| IdError::Format)?;
        if n == 0 {
            return Err(IdError::Format);
        }
        if n * 211 % 4091 != k {
            return Err(IdError::Checksum);
        }
    }
    Ok(Normalised(s))
}

/// Validates a CUP (Codice Unico di Progetto): 15 characters, `[A-Z][0-9]{2}[A-Z][0-9]{11}`.
///
/// Format only: the structure is the one enforced by public validators and matched by
/// real CUPs; no check-digit algorithm has been published by DIPE.
pub fn cup(input: &str) -> Result<Normalised, IdError> {
    let s = compact_upper(input);
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if !s.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(IdError::Characters);
    }
    if s.len() != 15 {
        return Err(IdError::Length);
    }
    let ok = s.bytes().enumerate().all(|(i, c)| match i {
        0 | 3 => c.is_ascii_uppercase(),
        _ => c.is_ascii_digit(),
    });
    if !ok {
        return Err(IdError::Format);
    }
    Ok(Normalised(s))
}

// ---------------------------------------------------------------------------
// IBAN
// ---------------------------------------------------------------------------

/// IBAN lengths from the SWIFT IBAN registry: all EU/EEA countries plus the
/// neighbours an Italian administration pays most often.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AL", 28),
    ("AT", 20),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("ME", 22),
    ("MK", 19),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("RS", 22),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("XK", 20),
];

/// Validates an IBAN (ISO 13616): country letters, two check digits, alphanumeric BBAN,
/// and `mod 97 == 1`.
///
/// * Countries in the built-in table must have their registered length; other
///   two-letter countries are accepted with the generic 15–34 length (the registry
///   grows every year and rejecting a valid foreign IBAN is worse than accepting it).
/// * `IT` and `SM` (same BBAN layout): `CIN` letter + 5-digit ABI + 5-digit CAB +
///   12-character account, and the CIN is verified with the codice-fiscale odd/even
///   tables over ABI+CAB+account (checked on the SWIFT registry examples).
///
/// Normalised as the electronic format: uppercase, no spaces.
pub fn iban(input: &str) -> Result<Normalised, IdError> {
    let s = compact_upper(input);
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if !s.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(IdError::Characters);
    }
    let b = s.as_bytes();
    if b.len() < 2 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() {
        return Err(IdError::Country);
    }
    let country = &s[..2];
    match IBAN_LENGTHS.iter().find(|(c, _)| *c == country) {
        Some(&(_, len)) if b.len() != len => return Err(IdError::Length),
        Some(_) => {}
        None if !(15..=34).contains(&b.len()) => return Err(IdError::Length),
        None => {}
    }
    if !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return Err(IdError::Format);
    }
    if country == "IT" || country == "SM" {
        let bban = &b[4..];
        let layout_ok = bban[0].is_ascii_uppercase() && bban[1..11].iter().all(u8::is_ascii_digit);
        if !layout_ok {
            return Err(IdError::Format);
        }
        let sum = cf_table_sum(&bban[1..]).ok_or(IdError::Characters)?;
        if bban[0] != b'A' + (sum % 26) as u8 {
            return Err(IdError::Checksum);
        }
    }
    // Move the first four characters to the end and reduce letter-expanded digits mod 97.
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            _ => u32::from(c - b'A') + 10,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem != 1 {
        return Err(IdError::Checksum);
    }
    Ok(Normalised(s))
}

// ---------------------------------------------------------------------------
// E-mail, PEC, phone, URL
// ---------------------------------------------------------------------------

/// Characters allowed unquoted in the local part (RFC 5322 `atext`).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Validates a host name: dot-separated labels of letters, digits and hyphens, each
/// 1–63 long, not starting or ending with a hyphen. Returns the lowercased host.
fn host_name(host: &str, require_dot: bool) -> Option<String> {
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if require_dot && labels.len() < 2 {
        return None;
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return None;
        }
    }
    if labels.len() >= 2 {
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
    }
    Some(host.to_ascii_lowercase())
}

/// Validates an e-mail address in the common "dot-atom" form (`local@example.it`).
///
/// Quoted local parts, IP-literal domains and comments are rejected: they are legal in
/// RFC 5322 but never appear in Italian administrative registers, and accepting them
/// would let typos through. Internationalised (non-ASCII) addresses are rejected too.
/// The domain is lowercased; the local part is kept as typed (it is case-sensitive in
/// theory).
pub fn email(input: &str) -> Result<Normalised, IdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 254 {
        return Err(IdError::Length);
    }
    if !s.is_ascii() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::Characters);
    }
    let (local, domain) = s.split_once('@').ok_or(IdError::Format)?;
    if domain.contains('@') {
        return Err(IdError::Format);
    }
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext));
    if !local_ok {
        return Err(IdError::Format);
    }
    let domain = host_name(domain, true).ok_or(IdError::Format)?;
    Ok(Normalised(format!("{local}@{domain}")))
}

/// Validates a PEC (posta elettronica certificata) address.
///
/// A PEC address is syntactically an ordinary e-mail address; whether the mailbox is
/// really certified can only be proved by looking it up in INI-PEC / IPA / INAD or by
/// receiving a PEC receipt, which a pure validator cannot do. So this is [`email`],
/// kept separate so that forms and stored data say what the value is meant to be.
pub fn pec(input: &str) -> Result<Normalised, IdError> {
    email(input)
}

/// Validates an Italian phone number: optional `+39` / `0039` prefix, then digits
/// (spaces, dots, dashes, slashes and parentheses are tolerated as separators).
///
/// The national number must be a landline (`0…`, 6–11 digits), a mobile (`3…`, 9–10
/// digits) or a non-geographic number (`8…`, 6–10 digits, e.g. 800 numeri verdi).
/// These ranges follow the AGCOM numbering plan as commonly implemented; they are
/// deliberately loose. Normalised as `+39` followed by the digits.
pub fn phone(input: &str) -> Result<Normalised, IdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    let (rest, had_plus) = match s.strip_prefix('+') {
        Some(r) => (r, true),
        None => (s, false),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '/' | '(' | ')' => {}
            _ => return Err(IdError::Characters),
        }
    }
    let national = if had_plus {
        digits.strip_prefix("39").ok_or(IdError::Format)?
    } else if let Some(n) = digits.strip_prefix("0039") {
        n
    } else {
        &digits
    };
    let len = national.len();
    let ok = match national.as_bytes().first() {
        Some(b'0') => (6..=11).contains(&len),
        Some(b'3') => (9..=10).contains(&len),
        Some(b'8') => (6..=10).contains(&len),
        _ => false,
    };
    if !ok {
        return Err(if national.is_empty() {
            IdError::Empty
        } else {
            IdError::Format
        });
    }
    Ok(Normalised(format!("+39{national}")))
}

/// Dotted-quad IPv4 address without leading zeros.
fn is_ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Validates an absolute `http`/`https` URL with a host name (or `localhost`/IPv4),
/// optional port, and optional path/query/fragment made of printable ASCII.
///
/// Scheme and host are lowercased; the rest is kept. Non-ASCII URLs must be given
/// already percent-encoded / punycoded.
pub fn url(input: &str) -> Result<Normalised, IdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if !s.is_ascii()
        || s.chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(IdError::Characters);
    }
    let (scheme, rest) = s.split_once("://").ok_or(IdError::Format)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(IdError::Format);
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        // Credentials in URLs are a phishing vector and never legitimate in a form.
        return Err(IdError::Format);
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            let valid_port = !p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit());
            match p.parse::<u32>() {
                Ok(n) if valid_port && (1..=65535).contains(&n) => (h, Some(p)),
                _ => return Err(IdError::Format),
            }
        }
        None => (authority, None),
    };
    let host = if host.eq_ignore_ascii_case("localhost") {
        "localhost".to_owned()
    } else if is_ipv4(host) {
        host.to_owned()
    } else {
        host_name(host, true).ok_or(IdError::Format)?
    };
    if tail.contains(['<', '>', '"', '\\', '^', '`', '{', '|', '}']) {
        return Err(IdError::Characters);
    }
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Normalised(format!("{scheme}://{host}{port}{tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: Result<Normalised, IdError>) -> String {
        match r {
            Ok(n) => n.into_string(),
            Err(e) => panic!("expected valid, got {e:?}"),
        }
    }

    #[test]
    fn published_codice_fiscale_is_accepted() {
        assert_eq!(ok(codice_fiscale("RSSMRA85T10A562S")), "RSSMRA85T10A562S");
        assert_eq!(ok(codice_fiscale("RSSMRA80A01H501U")), "RSSMRA80A01H501U");
        // Women: day + 40.
        assert_eq!(ok(codice_fiscale("BNCGLI92E52F205X")), "BNCGLI92E52F205X");
    }

    #[test]
    fn codice_fiscale_is_normalised_to_uppercase_without_spaces() {
        assert_eq!(
            ok(codice_fiscale(" rssmra85t10 a562s\n")),
            "RSSMRA85T10A562S"
        );
    }

    #[test]
    fn omocodic_codice_fiscale_is_accepted() {
        // Last digit 2 -> N, check letter recomputed.
        assert_eq!(ok(codice_fiscale("RSSMRA85T10A56NH")), "RSSMRA85T10A56NH");
        // Year digits 8,5 -> U,R.
        assert_eq!(ok(codice_fiscale("RSSMRAURT10A562B")), "RSSMRAURT10A562B");
    }

    #[test]
    fn codice_fiscale_with_wrong_check_letter_is_rejected() {
        assert_eq!(codice_fiscale("RSSMRA85T10A562T"), Err(IdError::Checksum));
    }

    #[test]
    fn codice_fiscale_with_wrong_length_or_chars_is_rejected() {
        assert_eq!(codice_fiscale("RSSMRA85T10A562"), Err(IdError::Length));
        assert_eq!(codice_fiscale("RSSMRA85T10A56-S"), Err(IdError::Characters));
        assert_eq!(codice_fiscale(""), Err(IdError::Empty));
        // Month letter F does not exist.
        assert_eq!(codice_fiscale("RSSMRA85F10A562S"), Err(IdError::Format));
        // Non-omocodia letter in a numeric position.
        assert_eq!(codice_fiscale("RSSMRA8AT10A562S"), Err(IdError::Format));
        // Day 35 is neither a man's nor a woman's day.
        assert_eq!(codice_fiscale("RSSMRA85T35A562S"), Err(IdError::Format));
    }

    #[test]
    fn numeric_codice_fiscale_of_entity_is_validated_like_partita_iva() {
        // Comune di Milano.
        assert_eq!(ok(codice_fiscale("01199250158")), "01199250158");
        assert_eq!(codice_fiscale("01199250159"), Err(IdError::Checksum));
    }

    #[test]
    fn real_partita_iva_is_accepted() {
        assert_eq!(ok(partita_iva("00743110157")), "00743110157");
        assert_eq!(ok(partita_iva("IT 00743110157")), "00743110157");
        assert_eq!(ok(partita_iva("12345670488")), "12345670488");
    }

    #[test]
    fn partita_iva_with_wrong_check_digit_or_shape_is_rejected() {
        assert_eq!(partita_iva("00743110158"), Err(IdError::Checksum));
        assert_eq!(partita_iva("0074311015"), Err(IdError::Length));
        assert_eq!(partita_iva("0074311015A"), Err(IdError::Characters));
        assert_eq!(partita_iva("00000000000"), Err(IdError::Format));
    }

    #[test]
    fn legacy_simog_cig_checksum_is_verified() {
        for real in ["81970714FA", "915282916F", "8517779597", "8325033290"] {
            assert_eq!(ok(cig(real)), real);
        }
        assert_eq!(ok(cig("81970714fa")), "81970714FA");
        assert_eq!(cig("81970714FB"), Err(IdError::Checksum));
        assert_eq!(cig("8197071GFA"), Err(IdError::Format));
    }

    #[test]
    fn pcp_and_smart_cig_are_checked_for_format_only() {
        assert_eq!(ok(cig("A03589F8C6")), "A03589F8C6");
        assert_eq!(ok(cig("A01D5289C5")), "A01D5289C5");
        assert_eq!(ok(cig("Z13276BF77")), "Z13276BF77");
        assert_eq!(cig("A03589F8C"), Err(IdError::Length));
        assert_eq!(cig("A03589F8C_"), Err(IdError::Characters));
    }

    #[test]
    fn real_cup_is_accepted_and_malformed_rejected() {
        for real in ["G39G19000560002", "J36H15000000001", "G59F19000090007"] {
            assert_eq!(ok(cup(real)), real);
        }
        assert_eq!(cup("G39G1900056000"), Err(IdError::Length));
        assert_eq!(cup("339G19000560002"), Err(IdError::Format));
        assert_eq!(cup("G39G1900056000A"), Err(IdError::Format));
    }

    #[test]
    fn registry_example_ibans_are_accepted() {
        assert_eq!(
            ok(iban("IT60X0542811101000000123456")),
            "IT60X0542811101000000123456"
        );
        assert_eq!(
            ok(iban("it60 x054 2811 1010 0000 0123 456")),
            "IT60X0542811101000000123456"
        );
        assert_eq!(
            ok(iban("SM86U0322509800000000270100")),
            "SM86U0322509800000000270100"
        );
        assert_eq!(ok(iban("DE89370400440532013000")), "DE89370400440532013000");
        assert_eq!(ok(iban("GB82WEST12345698765432")), "GB82WEST12345698765432");
        assert_eq!(
            ok(iban("FR1420041010050500013M02606")),
            "FR1420041010050500013M02606"
        );
    }

    #[test]
    fn iban_with_wrong_check_digits_cin_or_length_is_rejected() {
        assert_eq!(iban("IT61X0542811101000000123456"), Err(IdError::Checksum));
        // mod-97 is fine but the CIN letter is wrong (Wikipedia's made-up example).
        assert_eq!(iban("IT40S0542811101000000123456"), Err(IdError::Checksum));
        assert_eq!(iban("IT60X054281110100000012345"), Err(IdError::Length));
        assert_eq!(
            iban("IT60X05428111010000001234-6"),
            Err(IdError::Characters)
        );
        assert_eq!(iban("IT6XX0542811101000000123456"), Err(IdError::Format));
        assert_eq!(iban("1T60X0542811101000000123456"), Err(IdError::Country));
        assert_eq!(iban("DE8937040044053201300"), Err(IdError::Length));
    }

    #[test]
    fn email_and_pec_accept_ordinary_addresses() {
        assert_eq!(
            ok(email("Mario.Rossi@Comune.Example.IT")),
            "Mario.Rossi@comune.example.it"
        );
        assert_eq!(
            ok(pec("protocollo@pec.provincia.example.it")),
            "protocollo@pec.provincia.example.it"
        );
        for bad in [
            "",
            "mario",
            "mario@",
            "@x.it",
            "a@@x.it",
            "a@x",
            "a b@x.it",
            "a..b@x.it",
            "a@-x.it",
            "a@x.i",
        ] {
            assert!(email(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn italian_phone_numbers_are_normalised_with_prefix() {
        assert_eq!(ok(phone("+39 333 1234567")), "+393331234567");
        assert_eq!(ok(phone("06 6982")), "+39066982");
        assert_eq!(ok(phone("0039 02-1234567")), "+39021234567");
        assert_eq!(ok(phone("800 123456")), "+39800123456");
        assert_eq!(phone("+44 20 7946 0958"), Err(IdError::Format));
        assert_eq!(phone("333 12a4567"), Err(IdError::Characters));
        assert_eq!(phone("33312"), Err(IdError::Format));
    }

    #[test]
    fn http_urls_are_accepted_and_others_rejected() {
        assert_eq!(
            ok(url("HTTPS://Www.Comune.Example.it/albo?x=1")),
            "https://www.comune.example.it/albo?x=1"
        );
        assert_eq!(ok(url("http://localhost:8080/")), "http://localhost:8080/");
        assert_eq!(ok(url("http://10.0.0.1/x")), "http://10.0.0.1/x");
        for bad in [
            "",
            "ftp://x.it",
            "https://",
            "https://x",
            "https://a b.it",
            "javascript:alert(1)",
            "https://u:p@x.it",
            "https://x.it:99999",
        ] {
            assert!(url(bad).is_err(), "{bad} accepted");
        }
    }
}
