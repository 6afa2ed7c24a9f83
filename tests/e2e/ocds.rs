//! `GET /api/v1/instances/{id}/ocds`: the OCDS release package of a SUA case, as an outside
//! client reads it; off without `--ocds-prefix`, and not offered for cases that are no
//! public contract. (The releases' content and their validity for the Open Contracting
//! Partnership's checker: `engine/tests/tender_stories.rs`.)

use super::client::Server;
use serde_json::json;

fn tender_request() -> serde_json::Value {
    json!({
        "oggetto": "Servizi di formazione del personale",
        "ente_committente": "Comune di Castelfranco Veneto",
        "convenzione": "Convenzione SUA rep. 112/2025",
        "tipo": "services",
        "rup_comune_nome": "Elena Bassi",
        "lots": [
            { "name": "Lotto 1", "base_amount": "250000", "criterio": "oepv" },
        ],
    })
}

#[tokio::test]
async fn a_tender_not_yet_published_has_an_empty_package_and_other_cases_none() {
    let server = Server::start_with(&[
        "--ocds-prefix",
        "ocds-pr0ced",
        "--public-url",
        "https://sua.provincia.treviso.it",
    ]);
    let rup = server.token("elena", "provincia-treviso", "rup_comune");
    let id = server
        .start_instance(&rup, "sua-open-tender", tender_request())
        .await;
    let package = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/ocds"),
            Some(&rup),
            None,
        )
        .await;
    assert_eq!(package.status, 200, "{}", package.body);
    assert_eq!(package.body["version"], json!("1.1"));
    assert_eq!(
        package.body["uri"],
        json!(format!(
            "https://sua.provincia.treviso.it/api/v1/instances/{id}/ocds"
        ))
    );
    assert_eq!(
        package.body["publisher"]["name"],
        json!("Provincia di Treviso")
    );
    assert_eq!(
        package.body["releases"],
        json!([]),
        "nothing is public before the tender is published"
    );

    let other_tenant = server.token("ugo", "provincia-belluno", "rup_comune");
    let hidden = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/ocds"),
            Some(&other_tenant),
            None,
        )
        .await;
    assert_eq!(
        hidden.status, 404,
        "another tenant's case is not found: {}",
        hidden.body
    );

    let clerk = server.token("anna", "provincia-treviso", "official");
    let training = server
        .start_instance(
            &clerk,
            "training-enrolment",
            json!({
                "course": "Appalti 2026", "course_area": "appalti", "edition": "1a edizione",
                "course_hours": "20", "participant_name": "Mario Rossi",
                "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10,
            }),
        )
        .await;
    let none = server
        .call(
            "GET",
            &format!("/api/v1/instances/{training}/ocds"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(none.status, 404, "{}", none.body);
    assert!(
        none.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not public contracts")),
        "{}",
        none.body
    );
}

#[tokio::test]
async fn without_a_prefix_the_export_says_how_to_turn_it_on() {
    let server = Server::start();
    let rup = server.token("elena", "provincia-treviso", "rup_comune");
    let id = server
        .start_instance(&rup, "sua-open-tender", tender_request())
        .await;
    let off = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/ocds"),
            Some(&rup),
            None,
        )
        .await;
    assert_eq!(off.status, 404);
    assert!(
        off.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--ocds-prefix")),
        "{}",
        off.body
    );
    let refused = std::process::Command::new(super::client::BIN)
        .args(["serve", "--ocds-prefix", "OCDS-12"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not an OCDS prefix"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The case file of a SUA case holds its OCDS package as published (`ocds.json`, listed in the
/// manifest, verified offline with the rest); a case that is no public contract, or a server
/// that publishes no OCDS, has none.
#[tokio::test]
async fn the_case_file_of_a_tender_carries_its_open_data() {
    let server = Server::start_with(&[
        "--ocds-prefix",
        "ocds-pr0ced",
        "--public-url",
        "https://sua.provincia.treviso.it",
    ]);
    let rup = server.token("elena", "provincia-treviso", "rup_comune");
    let id = server
        .start_instance(&rup, "sua-open-tender", tender_request())
        .await;
    let zip = super::files::get(&server, &rup, &format!("/api/v1/instances/{id}/case-file")).await;
    assert_eq!(zip.status, 200);
    let text = String::from_utf8_lossy(&zip.body).to_string();
    assert!(
        text.contains("\"path\": \"ocds.json\""),
        "an ocds.json entry in the manifest"
    );
    assert!(
        text.contains(&format!(
            "\"uri\": \"https://sua.provincia.treviso.it/api/v1/instances/{id}/ocds\""
        )),
        "the package as the API publishes it"
    );
    assert!(
        text.contains("\"kind\": \"ocds\""),
        "listed in the manifest"
    );
    let dir = std::env::temp_dir().join(format!("procedo-ocds-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("fascicolo.zip");
    std::fs::write(&file, &zip.body).expect("write");
    let (ok, said) = super::files::verify(&file);
    assert!(
        ok,
        "the case file verifies offline with its open data: {said}"
    );

    let clerk = server.token("anna", "provincia-treviso", "official");
    let training = server
        .start_instance(
            &clerk,
            "training-enrolment",
            json!({
                "course": "Appalti 2026", "course_area": "appalti", "edition": "1a edizione",
                "course_hours": "20", "participant_name": "Mario Rossi",
                "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10,
            }),
        )
        .await;
    let other = super::files::get(
        &server,
        &clerk,
        &format!("/api/v1/instances/{training}/case-file"),
    )
    .await;
    assert_eq!(other.status, 200);
    assert!(
        !String::from_utf8_lossy(&other.body).contains("\"path\": \"ocds.json\""),
        "no open data for a course"
    );

    let plain = Server::start();
    let rup = plain.token("elena", "provincia-treviso", "rup_comune");
    let id = plain
        .start_instance(&rup, "sua-open-tender", tender_request())
        .await;
    let zip = super::files::get(&plain, &rup, &format!("/api/v1/instances/{id}/case-file")).await;
    assert_eq!(zip.status, 200);
    assert!(
        !String::from_utf8_lossy(&zip.body).contains("\"path\": \"ocds.json\""),
        "no prefix, no open data"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
