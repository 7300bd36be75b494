//! The SQLite implementation of the incidents port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::error::PortResult;
use ops_core::ports::{IncidentSummary, Incidents};
use ops_core::{CorrelationId, PortError};
use rusqlite::{OptionalExtension, Row, params};

use crate::store::timestamp;
use crate::{SqliteStore, StoreError};

const COLUMNS: &str = "id, severity, deployment, ring, title, raised_at, open";

fn from_row(row: &Row<'_>) -> rusqlite::Result<[Option<String>; 6]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ])
}

fn decode(columns: [Option<String>; 6], open: bool) -> Result<IncidentSummary, StoreError> {
    let [id, severity, deployment, ring, title, raised_at] = columns;
    let key = id.clone().unwrap_or_default();
    let corrupt = |column: &'static str, message: String| StoreError::CorruptRow {
        key: key.clone(),
        column,
        message,
    };
    let id = CorrelationId::parse(&key).map_err(|error| corrupt("id", error.to_string()))?;
    let severity = severity.unwrap_or_default().parse().map_err(
        |error: ops_core::severity::UnknownSeverity| corrupt("severity", error.to_string()),
    )?;
    let deployment = deployment
        .map(|text| CorrelationId::parse(&text))
        .transpose()
        .map_err(|error| corrupt("deployment", error.to_string()))?;
    let ring = ring
        .map(|text| text.parse())
        .transpose()
        .map_err(|error: ops_core::ring::UnknownRing| corrupt("ring", error.to_string()))?;
    let raised_at = DateTime::parse_from_rfc3339(&raised_at.unwrap_or_default())
        .map_err(|error| corrupt("raised_at", error.to_string()))?
        .with_timezone(&Utc);
    Ok(IncidentSummary {
        id,
        severity,
        deployment,
        ring,
        title: title.unwrap_or_default(),
        raised_at,
        open,
    })
}

#[async_trait]
impl Incidents for SqliteStore {
    async fn open_for_deployment(
        &self,
        deployment: &CorrelationId,
    ) -> PortResult<Vec<IncidentSummary>> {
        let connection = self.lock();
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE deployment = ?1 AND open = 1 ORDER BY raised_at"
        );
        let mut statement = connection
            .prepare_cached(&sql)
            .map_err(StoreError::query("listing open incidents"))?;
        let rows = statement
            .query_map([deployment.as_str()], from_row)
            .map_err(StoreError::query("listing open incidents"))?;
        let mut incidents = Vec::new();
        for row in rows {
            let columns = row.map_err(StoreError::query("listing open incidents"))?;
            incidents.push(decode(columns, true)?);
        }
        Ok(incidents)
    }

    async fn raise(&self, incident: &IncidentSummary) -> PortResult<IncidentSummary> {
        let connection = self.lock();
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1");
        let stored = connection
            .query_row(&sql, [incident.id.as_str()], |row| {
                Ok((from_row(row)?, row.get::<_, bool>(6)?))
            })
            .optional()
            .map_err(StoreError::query("reading an incident"))?;
        if let Some((columns, open)) = stored {
            return Ok(decode(columns, open)?);
        }
        connection
            .execute(
                "INSERT INTO incidents (id, severity, deployment, ring, title, raised_at, open) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    incident.id.as_str(),
                    incident.severity.name(),
                    incident.deployment.as_ref().map(CorrelationId::as_str),
                    incident.ring.map(|ring| ring.name()),
                    incident.title,
                    timestamp(incident.raised_at),
                    incident.open,
                ],
            )
            .map_err(StoreError::query("recording an incident"))?;
        Ok(incident.clone())
    }

    async fn resolve(&self, id: &CorrelationId) -> PortResult<()> {
        let connection = self.lock();
        let changed = connection
            .execute("UPDATE incidents SET open = 0 WHERE id = ?1", [id.as_str()])
            .map_err(StoreError::query("resolving an incident"))?;
        if changed == 0 {
            return Err(PortError::not_found(
                "state store",
                "resolve incident",
                format!("no incident has id {id}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ops_core::{Ring, Severity};

    use super::*;

    fn incident(id: &str, deployment: &str) -> IncidentSummary {
        IncidentSummary {
            id: CorrelationId::parse(id).unwrap(),
            severity: Severity::P1,
            deployment: Some(CorrelationId::parse(deployment).unwrap()),
            ring: Some(Ring::Canary),
            title: "install failures on Canary".into(),
            raised_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            open: true,
        }
    }

    #[tokio::test]
    async fn raise_is_idempotent_and_resolve_closes() {
        let directory = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(directory.path()).unwrap();
        let deployment = CorrelationId::parse("deploy-1").unwrap();
        store
            .raise(&incident("incident-1", "deploy-1"))
            .await
            .unwrap();
        let mut again = incident("incident-1", "deploy-1");
        again.title = "another title".into();
        assert_eq!(
            store.raise(&again).await.unwrap().title,
            "install failures on Canary"
        );
        store
            .raise(&incident("incident-2", "deploy-2"))
            .await
            .unwrap();

        let open = store.open_for_deployment(&deployment).await.unwrap();
        assert_eq!(open, [incident("incident-1", "deploy-1")]);

        store.resolve(&open[0].id).await.unwrap();
        assert!(
            store
                .open_for_deployment(&deployment)
                .await
                .unwrap()
                .is_empty()
        );
        let missing = store
            .resolve(&CorrelationId::parse("incident-9").unwrap())
            .await
            .unwrap_err();
        assert_eq!(missing.kind(), ops_core::ErrorKind::NotFound);
    }
}
