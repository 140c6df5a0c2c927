//! Apache Iceberg tables through iceberg-rust and iceberg-datafusion.
//!
//! References (the `--data` value, or a registered dataset's location):
//! - `iceberg:sqlite:PATH?name=CATALOG[&warehouse=URL]#NAMESPACE.TABLE`, or
//!   `iceberg:postgres://...?...#NAMESPACE.TABLE`: a SQL catalog (the schema
//!   pyiceberg's SqlCatalog writes; `name` is its catalog name, default
//!   `default`).
//! - `iceberg:http(s)://HOST/PATH[?warehouse=W]#NAMESPACE.TABLE`: a REST
//!   catalog.
//! - `iceberg:glue[:ENDPOINT][?catalog_id=ID&warehouse=W]#DATABASE.TABLE`: the
//!   AWS Glue Data Catalog (an endpoint for Glue-compatible services).
//! - `iceberg:PATH/metadata/NNNNN-ID.metadata.json` (local or `s3://`), or
//!   `iceberg:TABLE_FOLDER` for its newest metadata file.
//!
//! Parsing a reference needs no Iceberg crate, so a dqgate built without
//! the `iceberg` (or `glue`) feature still recognises one and says which
//! feature it lacks; reading the table is [`table`]'s job.

#[cfg(feature = "iceberg")]
mod table;

use std::collections::HashMap;

use datafusion::prelude::SessionContext;

use super::{DatasetSpec, Registered, SourceError};

/// Where an Iceberg table is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A SQL catalog (SQLite or PostgreSQL database URL).
    Sql {
        /// Database URL.
        uri: String,
        /// Catalog name as written by the catalog's users.
        name: String,
        /// Warehouse location, if given.
        warehouse: Option<String>,
        /// Namespace and table.
        table: Vec<String>,
    },
    /// A REST catalog.
    Rest {
        /// Base URL.
        uri: String,
        /// Warehouse, if given.
        warehouse: Option<String>,
        /// Namespace and table.
        table: Vec<String>,
    },
    /// The AWS Glue Data Catalog.
    Glue {
        /// A custom endpoint, if any.
        endpoint: Option<String>,
        /// The catalog (account) id, if not the caller's.
        catalog_id: Option<String>,
        /// Warehouse, if given.
        warehouse: Option<String>,
        /// Database and table.
        table: Vec<String>,
    },
    /// A metadata file, or a table folder holding `metadata/`.
    Metadata(String),
}

impl Reference {
    /// Parses a reference, with or without the `iceberg:` prefix.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let text = text.strip_prefix("iceberg:").unwrap_or(text);
        let Some((catalog, table)) = text.rsplit_once('#') else {
            if text.is_empty() {
                return Err("empty Iceberg reference".to_string());
            }
            return Ok(Reference::Metadata(text.to_string()));
        };
        let table: Vec<String> = table.split('.').map(str::to_string).collect();
        if table.len() < 2 || table.iter().any(String::is_empty) {
            return Err(format!("`#{}` must name NAMESPACE.TABLE", table.join(".")));
        }
        let (uri, query) = catalog.split_once('?').unwrap_or((catalog, ""));
        let mut params: HashMap<String, String> = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k.to_string(), v.to_string());
        }
        for key in params.keys() {
            if !matches!(key.as_str(), "name" | "warehouse" | "catalog_id") {
                return Err(format!(
                    "unknown catalog parameter `{key}`; use name=, warehouse= or (Glue) catalog_id="
                ));
            }
        }
        let warehouse = params.get("warehouse").cloned();
        if uri == "glue" || uri.starts_with("glue:") {
            let endpoint = uri
                .strip_prefix("glue:")
                .map(str::to_string)
                .filter(|e| !e.is_empty());
            return Ok(Reference::Glue {
                endpoint,
                catalog_id: params.get("catalog_id").cloned(),
                warehouse,
                table,
            });
        }
        if uri.starts_with("sqlite:")
            || uri.starts_with("postgres://")
            || uri.starts_with("postgresql://")
        {
            Ok(Reference::Sql {
                uri: uri.to_string(),
                name: params
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| "default".to_string()),
                warehouse,
                table,
            })
        } else if uri.starts_with("http://") || uri.starts_with("https://") {
            Ok(Reference::Rest {
                uri: uri.to_string(),
                warehouse,
                table,
            })
        } else {
            Err(format!(
                "unknown catalog `{uri}`: use sqlite:PATH, postgres://..., http(s)://... for REST, or glue"
            ))
        }
    }

    #[cfg(feature = "iceberg")]
    fn mentions_s3(&self) -> bool {
        match self {
            // Glue tables live in S3.
            Reference::Glue { .. } => true,
            Reference::Sql { warehouse, .. } | Reference::Rest { warehouse, .. } => {
                warehouse.as_deref().is_some_and(|w| w.starts_with("s3"))
            }
            Reference::Metadata(path) => path.starts_with("s3"),
        }
    }

    /// The cargo feature this dqgate lacks to read the table, if any.
    pub fn missing_feature(&self) -> Option<&'static str> {
        if !cfg!(feature = "iceberg") {
            return Some("iceberg");
        }
        match self {
            Reference::Glue { .. } if !cfg!(feature = "glue") => Some("glue"),
            _ => None,
        }
    }
}

/// Registers an Iceberg table (or its incremental slice) under the alias;
/// an error naming the missing feature when this dqgate cannot read it.
pub async fn register(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Registered, SourceError> {
    if let Ok(reference) = Reference::parse(&spec.location)
        && let Some(feature) = reference.missing_feature()
    {
        return Err(SourceError::NotBuilt {
            alias: spec.alias.clone(),
            feature,
        });
    }
    #[cfg(feature = "iceberg")]
    {
        table::register(ctx, spec).await
    }
    #[cfg(not(feature = "iceberg"))]
    {
        let _ = ctx;
        Err(SourceError::NotBuilt {
            alias: spec.alias.clone(),
            feature: "iceberg",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            Reference::parse(
                "iceberg:sqlite:/tmp/c.db?name=dq&warehouse=file:///tmp/w#default.events"
            ),
            Ok(Reference::Sql {
                uri: "sqlite:/tmp/c.db".into(),
                name: "dq".into(),
                warehouse: Some("file:///tmp/w".into()),
                table: vec!["default".into(), "events".into()],
            })
        );
        assert!(matches!(
            Reference::parse("iceberg:https://cat.example/api#ns.t"),
            Ok(Reference::Rest { .. })
        ));
        assert_eq!(
            Reference::parse("iceberg:glue?catalog_id=123#db.t"),
            Ok(Reference::Glue {
                endpoint: None,
                catalog_id: Some("123".into()),
                warehouse: None,
                table: vec!["db".into(), "t".into()],
            })
        );
        assert!(matches!(
            Reference::parse("iceberg:glue:http://127.0.0.1:5000#db.t"),
            Ok(Reference::Glue {
                endpoint: Some(_),
                ..
            })
        ));
        assert_eq!(
            Reference::parse("iceberg:s3://b/t/metadata/00001-x.metadata.json"),
            Ok(Reference::Metadata(
                "s3://b/t/metadata/00001-x.metadata.json".into()
            ))
        );
        assert!(Reference::parse("iceberg:sqlite:/c.db#events").is_err());
        assert!(Reference::parse("iceberg:ftp://x#a.b").is_err());
        assert!(Reference::parse("iceberg:sqlite:/c.db?user=x#a.b").is_err());
    }

    /// Which feature each kind of reference needs, as this build has them.
    #[test]
    fn names_the_missing_feature() {
        let glue = Reference::parse("iceberg:glue#db.t").expect("glue");
        let sql = Reference::parse("iceberg:sqlite:/c.db#ns.t").expect("sql");
        let file = Reference::parse("iceberg:/w/t").expect("metadata");
        let iceberg = (!cfg!(feature = "iceberg")).then_some("iceberg");
        assert_eq!(sql.missing_feature(), iceberg);
        assert_eq!(file.missing_feature(), iceberg);
        let glue_missing = if cfg!(feature = "glue") {
            None
        } else {
            iceberg.or(Some("glue"))
        };
        assert_eq!(glue.missing_feature(), glue_missing);
    }

    /// Without the feature, registering says which one to build with.
    #[cfg(not(feature = "iceberg"))]
    #[tokio::test]
    async fn registering_without_the_feature_names_it() {
        let spec = DatasetSpec {
            alias: "t".into(),
            location: "iceberg:sqlite:/c.db#ns.t".into(),
            format: None,
            options: Default::default(),
            confinement: None,
        };
        let err = register(&SessionContext::new(), &spec)
            .await
            .expect_err("not built");
        assert_eq!(
            err.to_string(),
            "dataset `t`: this dqgate was built without the `iceberg` feature; rebuild with `--features iceberg` (it is on by default)"
        );
    }
}
