//! The validator and the renderer must never panic, whatever JSON arrives: a form is a
//! public endpoint. This feeds thousands of pseudo-random values (a tiny xorshift
//! generator, so the run is reproducible and needs no dependency) to a form that uses
//! every field type, and checks that valid results are stable when validated again.

use procedo_forms::{FieldType, FormSpec};
use serde_json::{Map, Value, json};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn type_name(t: FieldType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// YAML for one field of each type; list fields get every type again as sub-fields.
fn field_yaml(t: FieldType, indent: &str, depth: usize, i: usize) -> String {
    let name = type_name(t);
    let mut y = format!(
        "{indent}- name: f_{name}\n{indent}  label: \"Campo <{name}> & co\"\n{indent}  type: {name}\n"
    );
    if i.is_multiple_of(3) {
        y += &format!("{indent}  required: true\n");
    }
    if i % 5 == 1 {
        y += &format!("{indent}  visible_if: \"cond_{i}\"\n");
    }
    if i % 7 == 2 {
        y += &format!("{indent}  required_if: \"req_{i}\"\n");
    }
    if i.is_multiple_of(4) {
        y += &format!("{indent}  help: \"Aiuto per {name}\"\n");
    }
    match t {
        FieldType::Choice | FieldType::MultiChoice => {
            y += &format!("{indent}  options: [a, b, {{ value: c, label: \"C\" }}]\n");
            if t == FieldType::MultiChoice {
                y += &format!("{indent}  max_items: 2\n");
            }
        }
        FieldType::Text | FieldType::Textarea => {
            y += &format!("{indent}  min_length: 1\n{indent}  max_length: 50\n")
        }
        FieldType::Integer => y += &format!("{indent}  min: -10\n{indent}  max: 1000\n"),
        FieldType::Money => y += &format!("{indent}  max: \"5.404.000,00\"\n"),
        FieldType::Decimal => y += &format!("{indent}  min: \"-1,5\"\n"),
        FieldType::Date => {
            y += &format!("{indent}  min: \"2000-01-01\"\n{indent}  max: \"31/12/2099\"\n")
        }
        FieldType::Datetime => y += &format!("{indent}  min: \"2000-01-01T00:00:00Z\"\n"),
        FieldType::List => {
            y += &format!("{indent}  max_items: 3\n{indent}  fields:\n");
            for (j, sub) in FieldType::ALL.iter().enumerate() {
                if *sub != FieldType::List || depth == 0 {
                    y += &field_yaml(*sub, &format!("{indent}    "), depth + 1, j + 11);
                }
            }
        }
        _ => {}
    }
    y
}

fn form() -> FormSpec {
    let mut yaml = String::from("title: \"Tutti i tipi <b>\"\ndescription: prova\nfields:\n");
    for (i, t) in FieldType::ALL.iter().enumerate() {
        yaml += &field_yaml(*t, "  ", 0, i);
    }
    match FormSpec::parse("all.yaml", &yaml) {
        Ok(s) => s,
        Err(d) => panic!("{d:?}\n{yaml}"),
    }
}

const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "1",
    "-1",
    "12,5",
    "1.234,56",
    "4.555.500",
    "4,555.00",
    "1e3",
    "1.2.3",
    ",",
    ".",
    "€",
    "€ 12",
    "100%",
    "NaN",
    "inf",
    "9999999999999999999999999999999999",
    "-9223372036854775809",
    "2024-02-29",
    "2023-02-30",
    "31/12/2024",
    "0/0/0000",
    "2024-05-01T10:00:00+02:00",
    "2024-05-01T10:00:00",
    "true",
    "on",
    "sì",
    "no",
    "a",
    "b",
    "c",
    "d",
    "RSSMRA85T10A562S",
    "RSSMRA85T10A562T",
    "00743110157",
    "81970714FA",
    "A03589F8C6",
    "G39G19000560002",
    "IT60X0542811101000000123456",
    "a@b.it",
    "a@@b",
    "+39 333 1234567",
    "+",
    "https://x.it/a?b",
    "http://",
    "abc-123",
    "../x",
    "<script>alert(1)</script>",
    "\u{0}\u{7}\n\t",
    "ÀÉÎõü 漢字 🙂",
    "a\u{301}",
    "\u{202e}evil",
    "lots[0].cig",
    "_form",
];

fn random_string(rng: &mut Rng) -> String {
    if rng.chance(60) {
        return (*rng.pick(STRINGS)).to_owned();
    }
    let alphabet: Vec<char> = "0123456789.,-+% €eE/:TZaAzZ@_ \n\u{0}ßé🙂"
        .chars()
        .collect();
    (0..rng.below(40)).map(|_| *rng.pick(&alphabet)).collect()
}

fn random_value(rng: &mut Rng, depth: usize, keys: &[String]) -> Value {
    let max = if depth >= 4 { 5 } else { 8 };
    match rng.below(max) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => {
            let ints = [0i64, 1, -1, 7, 1000, 1001, -11, i64::MAX, i64::MIN];
            json!(*rng.pick(&ints))
        }
        3 => {
            let floats = [
                0.5,
                -0.0,
                1e-7,
                1e20,
                1e300,
                -2.5,
                0.1 + 0.2,
                12.345,
                5404000.01,
            ];
            json!(*rng.pick(&floats))
        }
        4 => Value::String(random_string(rng)),
        5 => json!(u64::MAX),
        6 => Value::Array(
            (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1, keys))
                .collect(),
        ),
        _ => Value::Object(random_object(rng, depth + 1, keys)),
    }
}

fn random_object(rng: &mut Rng, depth: usize, keys: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for _ in 0..rng.below(12) {
        let key = if rng.chance(85) {
            rng.pick(keys).clone()
        } else {
            random_string(rng)
        };
        m.insert(key, random_value(rng, depth, keys));
    }
    m
}

fn valid_sample(t: FieldType, rng: &mut Rng, depth: usize) -> Value {
    match t {
        FieldType::Text => json!("Lavori"),
        FieldType::Textarea => json!("riga 1\nriga 2"),
        FieldType::Integer => rng.pick(&[json!(5), json!("7"), json!(-10)]).clone(),
        FieldType::Decimal => rng
            .pick(&[json!("1.234,5"), json!(2.25), json!("4.555")])
            .clone(),
        FieldType::Money => rng
            .pick(&[json!("4.555.500,00"), json!(12.5), json!("1234,5")])
            .clone(),
        FieldType::Percentage => rng
            .pick(&[json!("12,5"), json!(7.5), json!("100 %")])
            .clone(),
        FieldType::Date => rng
            .pick(&[json!("31/12/2024"), json!("2024-02-29")])
            .clone(),
        FieldType::Datetime => json!("2024-05-01T10:00:00.250+02:00"),
        FieldType::Boolean => rng.pick(&[json!(true), json!("on"), json!(false)]).clone(),
        FieldType::Choice => json!("c"),
        FieldType::MultiChoice => json!(["a", "b"]),
        FieldType::Email | FieldType::Pec => json!("Ufficio.Gare@PEC.Provincia.example.IT"),
        FieldType::Phone => json!("0039 06 6982"),
        FieldType::Url => json!("HTTPS://Comune.Example.it/albo"),
        FieldType::CodiceFiscale => json!("rssmra85t10a56nh"),
        FieldType::PartitaIva => json!("IT00743110157"),
        FieldType::Cig => rng
            .pick(&[json!("81970714fa"), json!("A03589F8C6")])
            .clone(),
        FieldType::Cup => json!("G39G19000560002"),
        FieldType::Iban => json!("IT60 X054 2811 1010 0000 0123 456"),
        FieldType::Document => json!("0190c1f0-5b7e-7cc0-8d3e-1a2b3c4d5e6f"),
        FieldType::File => json!("0190C1F0-5B7E-7CC0-8D3E-1A2B3C4D5E6F"),
        FieldType::List => {
            let mut item = Map::new();
            for sub in FieldType::ALL {
                if sub != FieldType::List || depth == 0 {
                    item.insert(
                        format!("f_{}", type_name(sub)),
                        valid_sample(sub, rng, depth + 1),
                    );
                }
            }
            Value::Array(vec![Value::Object(item)])
        }
    }
}

#[test]
fn validator_and_renderer_never_panic_on_random_json() {
    let spec = form();
    let mut keys: Vec<String> = FieldType::ALL
        .iter()
        .map(|t| format!("f_{}", type_name(*t)))
        .collect();
    keys.push("_form".into());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    let iterations = 4000;
    for i in 0..iterations {
        let seed = rng.next();
        // Conditions depend only on the expression and the iteration, so the second
        // validation sees the same visibility as the first.
        let conditions = move |expr: &str, _: &Map<String, Value>| {
            let h = expr
                .bytes()
                .fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
            match h % 7 {
                0 if seed.is_multiple_of(11) => Err(format!("cannot evaluate {expr}")),
                0..=3 => Ok(true),
                _ => Ok(false),
            }
        };
        let data = if i % 2 == 0 {
            let mut m = Map::new();
            for t in FieldType::ALL {
                if rng.chance(96) {
                    let v = if rng.chance(97) {
                        valid_sample(t, &mut rng, 0)
                    } else {
                        random_value(&mut rng, 1, &keys)
                    };
                    m.insert(format!("f_{}", type_name(t)), v);
                }
            }
            Value::Object(m)
        } else if i % 10 == 1 {
            random_value(&mut rng, 0, &keys)
        } else {
            Value::Object(random_object(&mut rng, 0, &keys))
        };
        match spec.validate(&data, &conditions) {
            Ok(out) => {
                accepted += 1;
                let again = spec.validate(&Value::Object(out.clone()), &conditions);
                assert_eq!(
                    again.as_ref(),
                    Ok(&out),
                    "normalised output is not stable for input {data}"
                );
                let html = spec.render_html(&out, &[]);
                assert!(!html.contains("<script>"));
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                let values = data.as_object().cloned().unwrap_or_default();
                let html = spec.render_html(&values, &errors);
                for e in &errors {
                    let shown = procedo_forms::escape_html(&e.message);
                    assert!(html.contains(&shown), "error {e:?} not shown");
                }
                assert!(!html.contains("<script>"), "unescaped input in {html}");
            }
        }
    }
    eprintln!("accepted {accepted} of {iterations}");
    assert!(
        accepted > iterations / 10,
        "only {accepted} valid inputs: the stability property was barely exercised"
    );
}
