//! Launching the uninstall job template and waiting for its job.

use ops_core::error::PortResult;
use ops_core::ports::{RemovalOutcome, RemovalRequest};
use ops_core::{ErrorKind, PortError};
use ops_http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AwxPlane, SERVICE};

/// The variables the adapter sends as `extra_vars`.
const SENT_VARIABLES: [&str; 4] = [
    "app_name",
    "app_version",
    "application_id",
    "correlation_id",
];

/// The launch requirements that `GET job_templates/{id}/launch/` returns.
#[derive(Debug, Deserialize)]
struct LaunchInfo {
    #[serde(default)]
    ask_limit_on_launch: bool,
    #[serde(default)]
    ask_variables_on_launch: bool,
    #[serde(default)]
    passwords_needed_to_start: Vec<String>,
    #[serde(default)]
    defaults: Value,
}

/// The response to `POST job_templates/{id}/launch/`.
#[derive(Debug, Deserialize)]
struct Launched {
    job: Option<u64>,
    id: Option<u64>,
    #[serde(default)]
    ignored_fields: Map<String, Value>,
}

/// `GET jobs/{id}/`, the fields read.
#[derive(Debug, Deserialize)]
struct Job {
    status: String,
    #[serde(default)]
    job_explanation: String,
}

/// One host's counts in `GET jobs/{id}/job_host_summaries/`.
#[derive(Debug, Deserialize)]
struct HostSummary {
    #[serde(default)]
    changed: u64,
}

impl AwxPlane {
    /// Launches the uninstall job on `group`, waits for it, and reports what it did.
    pub(super) async fn uninstall(
        &self,
        request: &RemovalRequest,
        group: &str,
    ) -> PortResult<RemovalOutcome> {
        let template = self.job_template;
        let launch_url = self
            .client
            .url(&format!("job_templates/{template}/launch/"))?;
        let info: LaunchInfo = self
            .client
            .get_json("read job template", launch_url.clone())
            .await
            .map_err(|error| self.template_error(error))?;
        self.check_launch(&info)?;

        let body = json!({
            "limit": group,
            "extra_vars": {
                "app_name": request.app_name,
                "app_version": request.version,
                "application_id": request.application_id,
                "correlation_id": request.correlation_id.to_string(),
            },
        });
        let operation = "launch job";
        // A launch is not idempotent: a 5xx or a timeout may come after the controller started
        // the job, so this call is sent once and the rollback's own retry decides what follows.
        let response = self
            .client
            .send_unretried(operation, Method::POST, launch_url, |builder| {
                builder.json(&body)
            })
            .await
            .map_err(|error| self.launch_error(error))?;
        let launched: Launched = ops_http::decode_json(SERVICE, operation, &response.body)?;
        let Some(job_id) = launched.job.or(launched.id) else {
            return Err(PortError::permanent(
                SERVICE,
                operation,
                "the launch answer names no job: check connectors.ansible.api_path",
            ));
        };
        if !launched.ignored_fields.is_empty() {
            return Err(self.cancel_ignored(job_id, &launched.ignored_fields).await);
        }
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            job_template = template,
            job_id,
            limit = group,
            app = %request.app_name,
            "launched the uninstall job"
        );

        let job = self.wait_for_job(job_id).await?;
        let outcome = self.job_outcome(job_id, &job).await?;
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            job_id,
            limit = group,
            outcome = ?outcome,
            "the uninstall job finished"
        );
        Ok(outcome)
    }

    /// Rejects a launch that the controller would run without the limit or the variables, or
    /// that would wait for input.
    fn check_launch(&self, info: &LaunchInfo) -> PortResult<()> {
        let template = self.job_template;
        let reject = |message: String| {
            Err(PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                "launch job",
                message,
            ))
        };

        if !info.ask_limit_on_launch {
            return reject(format!(
                "job template {template} does not prompt for a limit (ask_limit_on_launch is \
                 false), so the controller would drop the ring's limit and run on the whole \
                 inventory: enable Prompt on launch for Limit in the template"
            ));
        }

        if !info.ask_variables_on_launch {
            return reject(format!(
                "job template {template} does not prompt for variables \
                 (ask_variables_on_launch is false), so the application to remove would not \
                 reach the playbook: enable Prompt on launch for Variables in the template"
            ));
        }

        if !info.passwords_needed_to_start.is_empty() {
            return reject(format!(
                "job template {template} asks for passwords at launch ({}): store them in the \
                 template's credentials",
                info.passwords_needed_to_start.join(", ")
            ));
        }

        // The launch view reports the template's inventory as `defaults.inventory.id`; a
        // controller that leaves it out skips this check.
        let template_inventory = info.defaults["inventory"]["id"].as_u64();
        if let Some(inventory) = template_inventory.filter(|id| *id != self.inventory) {
            return reject(format!(
                "job template {template} runs on inventory {inventory}, but the ring groups are \
                 read from inventory {} (connectors.ansible.inventory): make them the same",
                self.inventory
            ));
        }
        Ok(())
    }

    /// Names the configuration key when the job template does not exist.
    fn template_error(&self, error: PortError) -> PortError {
        if error.kind() != ErrorKind::NotFound {
            return error;
        }
        let template = self.job_template;
        PortError::not_found(
            SERVICE,
            "read job template",
            format!(
                "job template {template} does not exist or the token's user cannot see it: \
                 check connectors.ansible.uninstall_job_template"
            ),
        )
        .with_source(error)
    }

    /// Explains a failed launch: a rejected token is the usual cause of a 401 or 403 here.
    fn launch_error(&self, error: PortError) -> PortError {
        let template = self.job_template;
        let message = match error.kind() {
            ErrorKind::Unauthorized => format!(
                "the controller rejected the launch of job template {template} with this token: a \
                 read-scope token cannot launch jobs, and the token's user needs Execute \
                 permission on the template; use a write-scope token"
            ),
            ErrorKind::InvalidInput => format!(
                "job template {template} rejected the launch request: check that its survey \
                 accepts the variables {}, and that its other required questions have defaults",
                SENT_VARIABLES.join(", ")
            ),
            _ => return error,
        };
        PortError::new(error.kind(), SERVICE, "launch job", message).with_source(error)
    }

    /// Cancels a job launched without some of its fields and returns the error to report.
    async fn cancel_ignored(&self, job_id: u64, ignored: &Map<String, Value>) -> PortError {
        let fields: Vec<&str> = ignored.keys().map(String::as_str).collect();
        let fields = fields.join(", ");
        let cancelled = match self.client.url(&format!("jobs/{job_id}/cancel/")) {
            Ok(url) => self
                .client
                .send("cancel job", Method::POST, url, |builder| builder)
                .await
                .map(|_| ()),
            Err(error) => Err(error),
        };
        let template = self.job_template;
        let message = format!(
            "the controller ignored {fields} when launching job template {template}; enable \
             Prompt on launch for them in the template"
        );
        match cancelled {
            Ok(()) => {
                tracing::warn!(
                    service = SERVICE,
                    job_id,
                    fields,
                    "cancelled a job launched without some of its fields"
                );
                PortError::new(
                    ErrorKind::InvalidInput,
                    SERVICE,
                    "launch job",
                    format!("{message}; job {job_id} was cancelled"),
                )
            }
            Err(error) => {
                tracing::error!(service = SERVICE, job_id, fields, error = %error, "failed to cancel a job launched without some of its fields");
                PortError::new(
                    ErrorKind::InvalidInput,
                    SERVICE,
                    "launch job",
                    format!(
                        "{message}; cancelling job {job_id} failed, so cancel it in the \
                         controller now"
                    ),
                )
                .with_source(error)
            }
        }
    }

    /// Polls the job until it ends or the job timeout passes.
    async fn wait_for_job(&self, job_id: u64) -> PortResult<Job> {
        let url = self.client.url(&format!("jobs/{job_id}/"))?;
        let started = self.clock.now();
        loop {
            let job: Job = self.client.get_json("read job", url.clone()).await?;
            if matches!(
                job.status.as_str(),
                "successful" | "failed" | "error" | "canceled"
            ) {
                return Ok(job);
            }
            let waited = (self.clock.now() - started).to_std().unwrap_or_default();
            if waited >= self.job_timeout {
                return Err(PortError::permanent(
                    SERVICE,
                    "wait for job",
                    format!(
                        "job {job_id} is still {} after {} s; it was left running: follow it \
                         in the controller, or raise connectors.ansible.job_timeout_seconds",
                        job.status,
                        waited.as_secs()
                    ),
                ));
            }
            self.clock.sleep(self.poll_interval).await;
        }
    }

    /// Maps a finished job to the removal outcome, or to an error when it did not succeed.
    async fn job_outcome(&self, job_id: u64, job: &Job) -> PortResult<RemovalOutcome> {
        if job.status != "successful" {
            let explanation = short_text(&job.job_explanation);
            let explanation = if explanation.is_empty() {
                String::new()
            } else {
                format!(" ({explanation})")
            };
            return Err(PortError::permanent(
                SERVICE,
                "wait for job",
                format!(
                    "uninstall job {job_id} ended {}{explanation}: read its output in the \
                     controller",
                    job.status
                ),
            ));
        }

        let mut url = self
            .client
            .url(&format!("jobs/{job_id}/job_host_summaries/"))?;
        url.query_pairs_mut()
            .append_pair("page_size", &self.page_size.to_string());
        let summaries: Vec<HostSummary> = self.list_all("list job host summaries", url).await?;
        if summaries.is_empty() {
            tracing::warn!(
                service = SERVICE,
                job_id,
                "the uninstall job ran on no host; check the ring's inventory group"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        }
        let changed_any = summaries.iter().any(|summary| summary.changed > 0);
        Ok(if changed_any {
            RemovalOutcome::Removed
        } else {
            RemovalOutcome::AlreadyAbsent
        })
    }
}

/// Returns the first 200 characters of a controller message on one line.
fn short_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}
