//! Validation of alert expectations (`{"alert": "etcdNoLeader", "fires_within": "2m"}`,
//! `{"alert": "...", "never_fires": true}`): a known alert, exactly one of the two bounds, and none of a
//! metric's.

use super::model::Expectation;
use super::suggest::suggest;
use super::validate::{Check, Validator};
use crate::observe::alerts::Alert;

impl Validator<'_> {
    /// An expectation on an alert, or one that names neither a metric nor an alert.
    pub(crate) fn alert_expectation(&self, p: &str, e: &Expectation) -> Check {
        let allowed = Alert::names().join(", ");
        let Some(name) = &e.alert else {
            if e.metric.is_empty() {
                return Err(self.err(
                    p,
                    format!(
                        "an expectation needs `metric` (with `at_least`, `at_most`, `equals` or \
                         `recovered_within`) or `alert` (with `fires_within` or `never_fires`); \
                         alerts: {allowed}"
                    ),
                ));
            }
            let field = if e.fires_within.is_some() {
                "fires_within"
            } else {
                "never_fires"
            };
            return Err(self.err(
                &format!("{p}.{field}"),
                format!("`{field}` applies to an alert; write `\"alert\": NAME` instead of `\"metric\"`"),
            ));
        };
        if !e.metric.is_empty() {
            return Err(self.err(
                &format!("{p}.metric"),
                "an expectation names a `metric` or an `alert`, not both; write two expectations",
            ));
        }
        if Alert::from_name(name).is_none() {
            return Err(self.err(
                &format!("{p}.alert"),
                format!(
                    "unknown alert `{name}`{}; allowed: {allowed}",
                    suggest(name, Alert::names())
                ),
            ));
        }
        let metric_bounds = [
            ("at_least", e.at_least.is_some()),
            ("at_most", e.at_most.is_some()),
            ("equals", e.equals.is_some()),
            ("recovered_within", e.recovered_within.is_some()),
        ];
        if let Some((field, _)) = metric_bounds.iter().find(|(_, given)| *given) {
            return Err(self.err(
                &format!("{p}.{field}"),
                format!(
                    "`{field}` bounds a metric; an alert takes `fires_within` or `never_fires`"
                ),
            ));
        }
        match (e.fires_within, e.never_fires) {
            (Some(_), None) | (None, Some(true)) => Ok(()),
            (None, Some(false)) => Err(self.err(
                &format!("{p}.never_fires"),
                "`never_fires` takes only `true`; to require that the alert fires, use `fires_within`",
            )),
            (None, None) => Err(self.err(
                p,
                format!("expectation on alert `{name}` has no bound; give `fires_within` (a duration such as \"2m\") or `never_fires: true`"),
            )),
            (Some(_), Some(_)) => Err(self.err(
                &format!("{p}.never_fires"),
                "an alert expectation takes one of `fires_within` and `never_fires`, not both",
            )),
        }
    }
}
