//! Sentinel's query files: the YAML its hunting queries and analytics rules are kept in
//! (Azure/Azure-Sentinel's `Hunting Queries/`, `Detections/`, `Solutions/`). The `query` is
//! what runs; the name, tactics, techniques and entity mappings are what a Sentinel
//! bookmark of each row carries.

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use crate::output::entity;

/// A Sentinel query file, as far as retrohunt reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryFile {
    pub name: String,
    pub query: String,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub entities: Vec<EntityMapping>,
}

/// `entityMappings`: an entity type and, for each identifier, the column holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityMapping {
    pub entity_type: String,
    pub fields: Vec<(String, String)>,
}

impl QueryFile {
    /// Reads the YAML text of a query file.
    ///
    /// # Errors
    /// What is wrong with it, in words: not YAML, or no `query`.
    pub fn parse(text: &str) -> Result<QueryFile, String> {
        let documents = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let Some(document) = documents.first() else {
            return Err("the file is empty".into());
        };
        let Some(query) = document["query"].as_str() else {
            return Err("the file has no `query:`".into());
        };
        let strings = |value: &Yaml| -> Vec<String> {
            value
                .as_vec()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let entities = document["entityMappings"]
            .as_vec()
            .map(|mappings| {
                mappings
                    .iter()
                    .filter_map(|mapping| {
                        let entity_type = mapping["entityType"].as_str()?.to_string();
                        let fields = mapping["fieldMappings"]
                            .as_vec()?
                            .iter()
                            .filter_map(|field| {
                                Some((
                                    field["identifier"].as_str()?.to_string(),
                                    field["columnName"].as_str()?.to_string(),
                                ))
                            })
                            .collect();
                        Some(EntityMapping {
                            entity_type,
                            fields,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(QueryFile {
            name: document["name"].as_str().unwrap_or_default().to_string(),
            query: query.to_string(),
            tactics: strings(&document["tactics"]),
            techniques: strings(&document["relevantTechniques"]),
            entities,
        })
    }
}

impl QueryFile {
    /// One result row as a Sentinel bookmark of this query: its entities from the columns
    /// the file maps them to, its time (`TimeGenerated`, else `timestamp`), the row as
    /// evidence.
    pub fn bookmark(&self, row: Map<String, Value>) -> Value {
        let text = |column: &str| match row.get(column) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let mut shown = Vec::new();
        let entities: Vec<Value> = self
            .entities
            .iter()
            .map(|mapping| {
                let values: Vec<(String, String)> = mapping
                    .fields
                    .iter()
                    .map(|(identifier, column)| (identifier.clone(), text(column)))
                    .collect();
                shown.extend(
                    values
                        .iter()
                        .map(|(_, v)| v.clone())
                        .filter(|v| !v.is_empty()),
                );
                let pairs: Vec<(&str, &str)> = values
                    .iter()
                    .map(|(i, v)| (i.as_str(), v.as_str()))
                    .collect();
                entity(&mapping.entity_type, &pairs)
            })
            .filter(|entity| {
                entity["fieldMappings"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
            })
            .collect();
        let time = row
            .get("TimeGenerated")
            .or_else(|| row.get("timestamp"))
            .cloned()
            .unwrap_or(Value::Null);
        json!({
            "TimeGenerated": time,
            "QueryName": self.name,
            "DisplayName": format!("{}: {}", self.name, shown.join(", ")),
            "Tactics": self.tactics,
            "Techniques": self.techniques,
            "EntityMappings": entities,
            "Evidence": row,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_file_gives_its_query_and_card() {
        let text = "id: 0001\nname: Legacy authentication\nrequiredDataConnectors: []\n\
                    tactics:\n  - InitialAccess\nrelevantTechniques:\n  - T1078\n\
                    query: |\n  SigninLogs\n  | where UserAgent in~ (\"BAV2ROPC\")\n\
                    entityMappings:\n  - entityType: Account\n    fieldMappings:\n\
                    \x20     - identifier: FullName\n        columnName: UserPrincipalName\n\
                    \x20 - entityType: IP\n    fieldMappings:\n      - identifier: Address\n\
                    \x20       columnName: IPAddress\n";
        let file = QueryFile::parse(text).unwrap();
        assert_eq!(file.name, "Legacy authentication");
        assert_eq!(
            file.query,
            "SigninLogs\n| where UserAgent in~ (\"BAV2ROPC\")\n"
        );
        assert_eq!(file.tactics, ["InitialAccess"]);
        assert_eq!(file.techniques, ["T1078"]);
        assert_eq!(
            file.entities,
            [
                EntityMapping {
                    entity_type: "Account".into(),
                    fields: vec![("FullName".into(), "UserPrincipalName".into())]
                },
                EntityMapping {
                    entity_type: "IP".into(),
                    fields: vec![("Address".into(), "IPAddress".into())]
                },
            ]
        );
        assert_eq!(
            QueryFile::parse("name: x\n").unwrap_err(),
            "the file has no `query:`"
        );
        let row = json!({"UserPrincipalName": "a@b.c", "IPAddress": "", "TimeGenerated": "t"});
        let Value::Object(row) = row else {
            unreachable!()
        };
        let bookmark = file.bookmark(row);
        assert_eq!(bookmark["DisplayName"], "Legacy authentication: a@b.c");
        assert_eq!(bookmark["TimeGenerated"], "t");
        assert_eq!(
            bookmark["EntityMappings"],
            json!([{"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "value": "a@b.c"}]}]),
            "an entity whose identifiers are all empty is left out"
        );
    }
}
