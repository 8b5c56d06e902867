//! A CUPS queue over IPP (RFC 8011): the printer's state and reasons, Print-Job with a PDF,
//! the job's state, Cancel-Job. The queue's state reasons are assessed for the device model.

use device_model::{ActionHint, DeviceState, ErrorCode, Fault};
use ipp::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A CUPS request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CupsError {
    /// The server does not answer (CUPS not running, wrong address).
    #[error("CUPS not reachable at {uri}: {reason}")]
    Unreachable {
        /// The queue's URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The server answered with an IPP error status.
    #[error("CUPS refused {operation}: {status}")]
    Refused {
        /// The operation.
        operation: &'static str,
        /// The IPP status.
        status: String,
    },
    /// An answer without an attribute it must have.
    #[error("CUPS answer to {operation} lacks {attribute}")]
    Malformed {
        /// The operation.
        operation: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// The queue name or server address does not make a URI.
    #[error("bad queue address: {0}")]
    BadAddress(String),
}

/// The queue's state (`printer-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Ready, nothing printing.
    Idle,
    /// Printing.
    Processing,
    /// Stopped: by an error or by an administrator.
    Stopped,
}

/// What the queue reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Its state.
    pub state: QueueState,
    /// `printer-state-reasons` keywords, `none` left out.
    pub reasons: Vec<String>,
    /// It accepts new jobs.
    pub accepting: bool,
    /// `printer-state-message`, for a technician.
    pub message: String,
}

impl QueueStatus {
    /// Reasons with this stem, whatever their severity suffix (`-error`, `-warning`, `-report`).
    fn has(&self, stem: &str) -> bool {
        self.reasons.iter().any(|r| {
            r.strip_prefix(stem)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
    }

    /// The device state this means and who must act. Supplies running low keep it online.
    pub fn assess(&self) -> (DeviceState, Option<Fault>) {
        let fault = |code, action, message: String| {
            Some(Fault {
                code,
                action,
                message,
            })
        };
        use ActionHint::*;
        use ErrorCode::{DeviceNotReady, HardwareError, UserError};
        if self.has("media-jam") {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Staff, "A4 paper jam".into()),
            )
        } else if self.has("media-empty") || self.has("media-needed") {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Staff, "A4 paper out: refill".into()),
            )
        } else if self.has("toner-empty") || self.has("marker-supply-empty") {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Staff, "toner empty: replace".into()),
            )
        } else if self.has("cover-open") || self.has("door-open") {
            (
                DeviceState::UserError,
                fault(UserError, Staff, "A4 printer cover open".into()),
            )
        } else if self.has("offline") || self.has("shutdown") || self.has("timed-out") {
            (
                DeviceState::Offline,
                fault(DeviceNotReady, Reset, "A4 printer offline".into()),
            )
        } else if self.state == QueueState::Stopped || !self.accepting {
            let why = if self.message.is_empty() {
                "A4 queue stopped".to_owned()
            } else {
                format!("A4 queue stopped: {}", self.message)
            };
            (DeviceState::Offline, fault(DeviceNotReady, Engineer, why))
        } else if let Some(error) = self.reasons.iter().find(|r| r.ends_with("-error")) {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Engineer, format!("A4 printer: {error}")),
            )
        } else {
            (DeviceState::Online, None)
        }
    }
}

/// A job's state (`job-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting its turn.
    Pending,
    /// Held.
    Held,
    /// Printing.
    Processing,
    /// Stopped while printing (the printer stopped).
    Stopped,
    /// Canceled.
    Canceled,
    /// Aborted by the system (a filter or the device failed).
    Aborted,
    /// Printed.
    Completed,
}

impl JobState {
    fn from_ipp(n: i32) -> Option<Self> {
        Some(match n {
            3 => JobState::Pending,
            4 => JobState::Held,
            5 => JobState::Processing,
            6 => JobState::Stopped,
            7 => JobState::Canceled,
            8 => JobState::Aborted,
            9 => JobState::Completed,
            _ => return None,
        })
    }

    /// Whether the job can change no more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Canceled | JobState::Aborted | JobState::Completed
        )
    }
}

/// A job's state and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// Its state.
    pub state: JobState,
    /// `job-state-reasons` keywords.
    pub reasons: Vec<String>,
}

/// One CUPS queue.
pub struct CupsQueue {
    uri: Uri,
    client: AsyncIppClient,
    user: String,
}

fn keywords(value: Option<&IppValue>) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &IppValue| {
        if let IppValue::Keyword(k) = v
            && k.as_str() != "none"
        {
            out.push(k.as_str().to_owned());
        }
    };
    match value {
        Some(IppValue::Array(values)) => values.iter().for_each(&mut add),
        Some(v) => add(v),
        None => {}
    }
    out
}

impl CupsQueue {
    /// The queue `name` on the CUPS server at `server` (`http://127.0.0.1:631`); requests time
    /// out after `timeout`, and jobs are submitted as `user`.
    pub fn new(server: &str, name: &str, user: &str, timeout: Duration) -> Result<Self, CupsError> {
        let address = format!("{}/printers/{name}", server.trim_end_matches('/'));
        let uri: Uri = address
            .parse()
            .map_err(|e| CupsError::BadAddress(format!("{address}: {e}")))?;
        let client = AsyncIppClient::builder(uri.clone())
            .request_timeout(timeout)
            .build();
        Ok(Self {
            uri,
            client,
            user: user.to_owned(),
        })
    }

    async fn send(
        &self,
        operation: &'static str,
        request: impl Into<IppRequestResponse>,
        group: DelimiterTag,
    ) -> Result<IppAttributeGroup, CupsError> {
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| CupsError::Unreachable {
                uri: self.uri.to_string(),
                reason: e.to_string(),
            })?;
        let status = response.header().status_code();
        if !status.is_success() {
            return Err(CupsError::Refused {
                operation,
                status: status.to_string(),
            });
        }
        response
            .attributes()
            .groups_of(group)
            .next()
            .cloned()
            .ok_or(CupsError::Malformed {
                operation,
                attribute: "attribute group",
            })
    }

    /// The queue's state now.
    pub async fn status(&self) -> Result<QueueStatus, CupsError> {
        const OP: &str = "Get-Printer-Attributes";
        let request = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes([
                "printer-state",
                "printer-state-reasons",
                "printer-is-accepting-jobs",
                "printer-state-message",
            ])
            .build()
            .map_err(|e| CupsError::BadAddress(e.to_string()))?;
        let attrs = self
            .send(OP, request, DelimiterTag::PrinterAttributes)
            .await?;
        let state = match attrs.get("printer-state").map(IppAttribute::value) {
            Some(IppValue::Enum(3)) => QueueState::Idle,
            Some(IppValue::Enum(4)) => QueueState::Processing,
            Some(IppValue::Enum(5)) => QueueState::Stopped,
            _ => {
                return Err(CupsError::Malformed {
                    operation: OP,
                    attribute: "printer-state",
                });
            }
        };
        Ok(QueueStatus {
            state,
            reasons: keywords(attrs.get("printer-state-reasons").map(IppAttribute::value)),
            accepting: !matches!(
                attrs
                    .get("printer-is-accepting-jobs")
                    .map(IppAttribute::value),
                Some(IppValue::Boolean(false))
            ),
            message: match attrs.get("printer-state-message").map(IppAttribute::value) {
                Some(IppValue::TextWithoutLanguage(t)) => t.to_string(),
                _ => String::new(),
            },
        })
    }

    /// Submits `pdf` as one job called `title`; returns the job's id.
    pub async fn submit(&self, title: &str, pdf: Vec<u8>) -> Result<i32, CupsError> {
        const OP: &str = "Print-Job";
        let request = IppOperationBuilder::print_job(
            self.uri.clone(),
            IppPayload::new(std::io::Cursor::new(pdf)),
        )
        .user_name(&self.user)
        .job_title(title)
        .document_format("application/pdf")
        .build()
        .map_err(|e| CupsError::BadAddress(e.to_string()))?;
        let attrs = self.send(OP, request, DelimiterTag::JobAttributes).await?;
        match attrs.get("job-id").map(IppAttribute::value) {
            Some(IppValue::Integer(id)) => Ok(*id),
            _ => Err(CupsError::Malformed {
                operation: OP,
                attribute: "job-id",
            }),
        }
    }

    /// The state of job `id`.
    pub async fn job(&self, id: i32) -> Result<JobStatus, CupsError> {
        const OP: &str = "Get-Job-Attributes";
        let request = IppOperationBuilder::get_job_attributes(self.uri.clone(), id)
            .build()
            .map_err(|e| CupsError::BadAddress(e.to_string()))?;
        let attrs = self.send(OP, request, DelimiterTag::JobAttributes).await?;
        let state = match attrs.get("job-state").map(IppAttribute::value) {
            Some(IppValue::Enum(n)) => JobState::from_ipp(*n),
            _ => None,
        }
        .ok_or(CupsError::Malformed {
            operation: OP,
            attribute: "job-state",
        })?;
        Ok(JobStatus {
            state,
            reasons: keywords(attrs.get("job-state-reasons").map(IppAttribute::value)),
        })
    }

    /// Cancels job `id`.
    pub async fn cancel(&self, id: i32) -> Result<(), CupsError> {
        let request = IppOperationBuilder::cancel_job(self.uri.clone(), id)
            .user_name(&self.user)
            .build()
            .map_err(|e| CupsError::BadAddress(e.to_string()))?;
        self.send("Cancel-Job", request, DelimiterTag::OperationAttributes)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: QueueState, reasons: &[&str]) -> QueueStatus {
        QueueStatus {
            state,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            accepting: true,
            message: String::new(),
        }
    }

    #[test]
    fn reasons_name_who_must_act() {
        let assess = |state, reasons: &[&str]| {
            let (s, f) = status(state, reasons).assess();
            (s, f.map(|f| f.action))
        };
        assert_eq!(assess(QueueState::Idle, &[]), (DeviceState::Online, None));
        assert_eq!(
            assess(QueueState::Idle, &["media-low-report", "toner-low-warning"]),
            (DeviceState::Online, None)
        );
        assert_eq!(
            assess(QueueState::Processing, &["media-empty-error"]),
            (DeviceState::HardwareError, Some(ActionHint::Staff))
        );
        assert_eq!(
            assess(QueueState::Stopped, &["media-jam"]),
            (DeviceState::HardwareError, Some(ActionHint::Staff))
        );
        assert_eq!(
            assess(QueueState::Idle, &["cover-open-warning"]),
            (DeviceState::UserError, Some(ActionHint::Staff))
        );
        assert_eq!(
            assess(QueueState::Idle, &["offline-report"]),
            (DeviceState::Offline, Some(ActionHint::Reset))
        );
        assert_eq!(
            assess(QueueState::Stopped, &["paused"]),
            (DeviceState::Offline, Some(ActionHint::Engineer))
        );
        assert_eq!(
            assess(QueueState::Idle, &["fuser-over-temp-error"]),
            (DeviceState::HardwareError, Some(ActionHint::Engineer))
        );
        // A stem is matched whole: "media-empty" is not "media-emptying".
        assert_eq!(
            assess(QueueState::Idle, &["media-emptying-report"]),
            (DeviceState::Online, None)
        );
    }
}
