//! `--from-alert`: an Alertmanager webhook payload as the input of a play.
//!
//! The alert that paged the on-call already names the target (namespace,
//! pod, instance): `[alerts.labels]` in runbook.toml maps its labels to the
//! runbook's variables, and `[alerts.runbooks]` maps an alertname to the
//! runbook to play, so `runbook play --from-alert alert.json` starts the
//! right playbook on the right target. Only Alertmanager's webhook format
//! (version "4") is accepted: anything else is refused with what is wrong,
//! never guessed at.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Alerts;

#[derive(Debug, Clone, Deserialize)]
struct Payload {
    version: Option<String>,
    status: Option<String>,
    #[serde(default, rename = "commonLabels")]
    common_labels: BTreeMap<String, String>,
    alerts: Option<Vec<RawAlert>>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawAlert {
    status: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
}

/// The alert a play starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub alertname: Option<String>,
    /// `firing` or `resolved`.
    pub status: String,
    /// The chosen alert's labels over the group's common labels.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<String>,
    /// Alerts in the payload (the first firing one is used).
    pub count: usize,
}

const HINT: &str = "pass the JSON body Alertmanager POSTs to a webhook receiver (version \"4\": {receiver, status, alerts: [{status, labels, annotations, startsAt, …}], groupLabels, commonLabels, …})";

/// Parse a payload; `Err((message, hint))`.
pub fn parse(text: &str) -> Result<Alert, (String, String)> {
    let bad = |m: String| Err((format!("not an Alertmanager webhook payload: {m}"), HINT.to_string()));
    if text.trim().is_empty() {
        return bad("the input is empty".into());
    }
    let json: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return bad(format!("not JSON ({e})")),
    };
    if !json.is_object() {
        return bad("the JSON is not an object".into());
    }
    let p: Payload = match serde_json::from_value(json) {
        Ok(p) => p,
        Err(e) => return bad(e.to_string()),
    };
    match p.version.as_deref() {
        Some("4") => {}
        Some(v) => return bad(format!("version \"{v}\" (only version \"4\" is known)")),
        None => return bad("no `version` field".into()),
    }
    if p.status.is_none() {
        return bad("no `status` field".into());
    }
    let Some(alerts) = p.alerts else { return bad("no `alerts` list".into()) };
    if alerts.is_empty() {
        return bad("the `alerts` list is empty".into());
    }
    for (i, a) in alerts.iter().enumerate() {
        if a.labels.is_none() {
            return bad(format!("alerts[{i}] has no `labels`"));
        }
        if a.status.is_none() {
            return bad(format!("alerts[{i}] has no `status`"));
        }
    }
    let count = alerts.len();
    let chosen = alerts.iter().find(|a| a.status.as_deref() == Some("firing")).unwrap_or(&alerts[0]).clone();
    let mut labels = p.common_labels;
    labels.extend(chosen.labels.unwrap_or_default());
    Ok(Alert {
        alertname: labels.get("alertname").cloned(),
        status: chosen.status.unwrap_or_default(),
        labels,
        annotations: chosen.annotations,
        starts_at: chosen.starts_at,
        count,
    })
}

/// Read a payload from a file, or stdin for `-`.
pub fn read(path: &str) -> std::io::Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

impl Alert {
    /// The variables `[alerts.labels]` maps this alert's labels to, and notes
    /// for the operator (mapped labels the alert does not carry, …).
    pub fn vars(&self, cfg: &Alerts) -> (Vec<(String, String)>, Vec<String>) {
        let mut vars = Vec::new();
        let mut notes = Vec::new();
        if cfg.labels.is_empty() {
            notes.push("runbook.toml has no [alerts.labels]: no alert label becomes a variable".into());
        }
        let mut missing = Vec::new();
        for (label, var) in &cfg.labels {
            match self.labels.get(label) {
                Some(v) => vars.push((var.clone(), v.clone())),
                None => missing.push(label.as_str()),
            }
        }
        if !missing.is_empty() {
            notes.push(format!("the alert has no label {}", missing.join(", ")));
        }
        if self.count > 1 {
            notes
                .push(format!("the payload holds {} alerts: the variables come from the first firing one", self.count));
        }
        if self.status == "resolved" {
            notes.push("the alert is resolved".into());
        }
        (vars, notes)
    }

    /// The runbook `[alerts.runbooks]` names for this alert.
    pub fn runbook<'c>(&self, cfg: &'c Alerts) -> Result<&'c str, (String, String)> {
        let Some(name) = &self.alertname else {
            return Err((
                "the alert has no `alertname` label, so no runbook can be picked for it".into(),
                "name the runbook: runbook play ID --from-alert FILE".into(),
            ));
        };
        match cfg.runbooks.get(name) {
            Some(id) => Ok(id),
            None => {
                let known: Vec<&str> = cfg.runbooks.keys().map(String::as_str).collect();
                let hint = if known.is_empty() {
                    format!(
                        "add `{name} = \"RUNBOOK-ID\"` under [alerts.runbooks] in runbook.toml, or name the runbook: runbook play ID --from-alert FILE"
                    )
                } else {
                    format!(
                        "[alerts.runbooks] knows {}; add `{name} = \"RUNBOOK-ID\"` or name the runbook",
                        known.join(", ")
                    )
                };
                Err((format!("no runbook for alert `{name}` in [alerts.runbooks]"), hint))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"HeadLagHigh\"}", "truncatedAlerts": 0,
      "status": "firing", "receiver": "runbook",
      "groupLabels": {"alertname": "HeadLagHigh"},
      "commonLabels": {"alertname": "HeadLagHigh", "namespace": "animica-devnet", "severity": "page"},
      "commonAnnotations": {}, "externalURL": "http://am:9093",
      "alerts": [
        {"status": "resolved", "labels": {"alertname": "HeadLagHigh", "pod": "animica-node-1"}, "annotations": {},
         "startsAt": "2024-05-01T10:00:00Z", "endsAt": "2024-05-01T10:05:00Z", "generatorURL": "", "fingerprint": "a"},
        {"status": "firing", "labels": {"alertname": "HeadLagHigh", "pod": "animica-node-0", "instance": "10.0.0.5:9100"},
         "annotations": {"summary": "head lag"}, "startsAt": "2024-05-01T10:01:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "", "fingerprint": "b"}
      ]
    }"#;

    fn cfg() -> Alerts {
        Alerts {
            labels: [("namespace", "namespace"), ("pod", "pod"), ("instance", "target")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            runbooks: [("HeadLagHigh".to_string(), "2.1-head-stall".to_string())].into_iter().collect(),
        }
    }

    #[test]
    fn first_firing_alert_over_common_labels() {
        let a = parse(PAYLOAD).unwrap();
        assert_eq!(a.alertname.as_deref(), Some("HeadLagHigh"));
        let (vars, notes) = a.vars(&cfg());
        assert_eq!(
            vars,
            vec![
                ("target".to_string(), "10.0.0.5:9100".to_string()),
                ("namespace".to_string(), "animica-devnet".to_string()),
                ("pod".to_string(), "animica-node-0".to_string()),
            ]
        );
        assert!(notes.iter().any(|n| n.contains("2 alerts")), "{notes:?}");
        assert_eq!(a.runbook(&cfg()).unwrap(), "2.1-head-stall");
    }

    #[test]
    fn other_shapes_are_refused() {
        for (text, why) in [
            ("", "empty"),
            ("not json", "not JSON"),
            ("[1]", "not an object"),
            (r#"{"status":"firing","alerts":[]}"#, "no `version`"),
            (r#"{"version":"3","status":"firing","alerts":[]}"#, "version \"3\""),
            (r#"{"version":"4","status":"firing"}"#, "no `alerts`"),
            (r#"{"version":"4","status":"firing","alerts":[]}"#, "empty"),
            (r#"{"version":"4","status":"firing","alerts":[{"status":"firing"}]}"#, "no `labels`"),
            (r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1}}]}"#, "invalid type"),
        ] {
            let (m, _) = parse(text).unwrap_err();
            assert!(m.starts_with("not an Alertmanager webhook payload") && m.contains(why), "{text}: {m}");
        }
    }
}
