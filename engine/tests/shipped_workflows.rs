use procedo_engine::expr::{Expr, Scope};
use serde_json::json;

#[test]
fn probe() {
    let vars = json!({"amount": "39999.99", "big": "150000.00", "pct": "80", "thr": 75, "thr_s": "75", "seats": 0, "tipo": "lavori", "cup": null}).as_object().cloned().unwrap();
    let now = chrono::Utc::now();
    for src in [
        "double(vars.amount) < 40000.0",
        "double(vars.amount) < 40000",
        "double(vars.big) >= 150000.0",
        "double(vars.pct) >= double(vars.thr)",
        "double(vars.pct) >= double(vars.thr_s)",
        "double(vars.pct) >= 75",
        "vars.thr >= 75",
        "vars.seats > 0",
        "vars.amount < 40000",
        "has(vars.cup)",
        "has(vars.nothere)",
        "vars.tipo == 'lavori' && double(vars.big) >= 150000.0",
        "action == 'reject'",
        "int(vars.thr_s) >= 75",
        "vars.seats - 1",
        "'x' in vars",
    ] {
        let e = Expr::compile(src);
        match e {
            Err(err) => println!("{src}: COMPILE ERROR {err:?}"),
            Ok(e) => {
                let s = Scope { vars: &vars, form: None, instance: json!({}), now, action: None };
                println!("{src}: {:?}", e.eval(&s));
            }
        }
    }
}
