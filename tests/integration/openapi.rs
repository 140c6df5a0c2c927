//! The OpenAPI document: served without a token, validated by a real
//! validator (`openapi-spec-validator` in the test virtualenv, run with
//! DQGATE_TEST_PYTHON), with the bearer scheme declared and applied to
//! every route.

use serde_json::Value;

use super::service::{backends, start};

fn python() -> Option<String> {
    super::fixtures::test_python("the OpenAPI validation")
}

const VALIDATE: &str = "import json, sys\n\
from openapi_spec_validator import validate\n\
validate(json.load(open(sys.argv[1])))\n\
print('valid')\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_open_valid_and_declares_bearer_security() {
    for backend in backends() {
        let s = start(backend).await;
        let r = s.send("GET", "/v1/openapi.json", None, "", b"").await;
        assert_eq!(r.status, 200, "{backend}: the document needs no token");
        let doc: Value = r.json();
        let scheme = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(
            (scheme["type"].as_str(), scheme["scheme"].as_str()),
            (Some("http"), Some("bearer")),
            "{backend}: {scheme}"
        );
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() >= 10, "{backend}: {} paths", paths.len());
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{"bearer": []}]),
                    "{backend}: {method} {path} has no bearer security"
                );
                for (code, response) in op["responses"].as_object().expect("responses") {
                    assert!(
                        response["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty()),
                        "{backend}: {method} {path} {code} has no description"
                    );
                }
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
        }
        let Some(python) = python() else {
            continue;
        };
        let file = s.dir.path().join("openapi.json");
        std::fs::write(&file, &r.body).expect("write document");
        let out = std::process::Command::new(&python)
            .args(["-c", VALIDATE])
            .arg(&file)
            .output()
            .expect("run the validator");
        assert!(
            out.status.success(),
            "{backend}: the OpenAPI document does not validate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
