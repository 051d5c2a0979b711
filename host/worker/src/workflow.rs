//! The built-in workflow `procbox.run`: runs the `procbox.run` activity once
//! (or `max_attempts` times) with the input's timeout, so that
//! `temporal workflow execute --type procbox.run --input '{...}'` needs no
//! workflow code.

use std::time::Duration;

use temporalio_client::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityCancellationType, ActivityOptions, ApplicationFailure, WorkflowContext, WorkflowResult};

use crate::activity::ProcboxActivities;
use crate::contract::{Failure, Input, Output, DEFAULT_TIMEOUT_S};

/// Beyond the plugin's own timeout, so that the activity ends the plugin
/// and reports `ProcboxTimeout` before Temporal's own timeout fires.
const TIMEOUT_GRACE: Duration = Duration::from_secs(10);

/// Short, so that a cancel reaches the worker within about a second (the
/// worker's heartbeat throttle is a second: see `main`).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The workflow; it keeps no state of its own.
#[workflow]
#[derive(Default)]
pub struct RunWorkflow;

#[workflow_methods]
impl RunWorkflow {
    /// Runs the activity with the same input and returns its result.
    #[run(name = crate::contract::RUN)]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: serde_json::Value) -> WorkflowResult<Output> {
        let mut parsed = Input::parse(input).map_err(invalid)?;
        let timeout_s = parsed.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        // The activity stops the plugin at this time, before the
        // activity's own deadline (TIMEOUT_GRACE later).
        parsed.timeout_s = Some(timeout_s);
        let max_attempts = parsed.max_attempts.unwrap_or(1);
        let input = serde_json::to_value(&parsed).map_err(|e| invalid(Failure::InvalidInput(e.to_string())))?;
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs_f64(timeout_s) + TIMEOUT_GRACE)
            .heartbeat_timeout(HEARTBEAT_TIMEOUT)
            .retry_policy(RetryPolicy::builder().maximum_attempts(max_attempts).build())
            // A cancelled workflow ends after its plugin's tree is gone.
            .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
            .build();
        Ok(ctx.execute_activity(ProcboxActivities::run, input, options).await?)
    }
}

/// An input the workflow cannot run, as the activity would report it.
fn invalid(failure: Failure) -> ApplicationFailure {
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Message(String);
    ApplicationFailure::builder(Message(failure.message()))
        .type_name(failure.type_name().to_string())
        .non_retryable(true)
        .build()
}
