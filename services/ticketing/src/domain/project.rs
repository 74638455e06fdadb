//! A project (seed 002): title, type, status workflow, budget, dates, requirements, client.
//!
//! # Status workflow
//!
//! ```text
//! planning  → active, cancelled
//! active    → on_hold, completed, cancelled
//! on_hold   → active, cancelled
//! completed → cancelled
//! cancelled → (none: final)
//! ```
//!
//! A new project starts in `planning`. Any status but `cancelled` may be cancelled; `completed`
//! is reached only from `active`. Setting the current status again changes nothing.

use chrono::NaiveDate;
use platform::FieldError;
use uuid::Uuid;

use super::customer::choice;

choice!(
    /// Where a project is; moves follow the workflow in this module's documentation.
    ProjectStatus {
        Planning => "planning",
        Active => "active",
        OnHold => "on_hold",
        Completed => "completed",
        Cancelled => "cancelled",
    }
);

choice!(
    /// What kind of work a project is: seed 002's project types plus `support`.
    ProjectType {
        Website => "website",
        ECommerce => "e_commerce",
        WebApp => "web_app",
        MobileApp => "mobile_app",
        Branding => "branding",
        Marketing => "marketing",
        Support => "support",
        Other => "other",
    }
);

impl ProjectStatus {
    /// The statuses a project in `self` may move to.
    pub fn allowed_moves(self) -> &'static [ProjectStatus] {
        use ProjectStatus::*;
        match self {
            Planning => &[Active, Cancelled],
            Active => &[OnHold, Completed, Cancelled],
            OnHold => &[Active, Cancelled],
            Completed => &[Cancelled],
            Cancelled => &[],
        }
    }

    pub fn can_move_to(self, to: ProjectStatus) -> bool {
        self == to || self.allowed_moves().contains(&to)
    }
}

/// Why a move is refused: the statuses that are allowed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMove {
    pub from: ProjectStatus,
    pub to: ProjectStatus,
}

impl InvalidMove {
    /// `"a project that is on_hold can move to: active, cancelled"`.
    pub fn detail(&self) -> String {
        let allowed = self.from.allowed_moves();
        let names = if allowed.is_empty() {
            "nothing (it is final)".to_owned()
        } else {
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        };
        format!("a project that is {} cannot become {}; it can move to: {names}", self.from.as_str(), self.to.as_str())
    }
}

/// Largest budget accepted (the column is NUMERIC(14, 2)).
pub const MAX_BUDGET: f64 = 999_999_999_999.99;

/// Who the project is for: a member of the organization or a customer profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    User(Uuid),
    Customer(Uuid),
}

/// A project's every field, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub title: String,
    pub project_type: ProjectType,
    pub status: ProjectStatus,
    pub budget: Option<f64>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub requirements: Option<String>,
    pub client: Option<Client>,
}

/// Parsed changes: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub project_type: Option<ProjectType>,
    pub status: Option<ProjectStatus>,
    pub budget: Option<Option<f64>>,
    pub start_date: Option<Option<NaiveDate>>,
    pub end_date: Option<Option<NaiveDate>>,
    pub requirements: Option<Option<String>>,
    pub client: Option<Option<Client>>,
}

/// Why changes were refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Invalid(FieldError),
    Move(InvalidMove),
}

impl Project {
    /// A new project in `planning`.
    pub fn new(title: String, project_type: ProjectType) -> Self {
        Self {
            title,
            project_type,
            status: ProjectStatus::Planning,
            budget: None,
            start_date: None,
            end_date: None,
            requirements: None,
            client: None,
        }
    }

    /// The project after `changes`: the status move must follow the workflow and the end date
    /// must not come before the start date (with either one from the change or as it was).
    pub fn apply(mut self, c: Changes) -> Result<Self, Refusal> {
        if let Some(to) = c.status {
            if !self.status.can_move_to(to) {
                return Err(Refusal::Move(InvalidMove { from: self.status, to }));
            }
            self.status = to;
        }
        if let Some(v) = c.title {
            self.title = v;
        }
        self.project_type = c.project_type.unwrap_or(self.project_type);
        if let Some(v) = c.budget {
            self.budget = v;
        }
        if let Some(v) = c.start_date {
            self.start_date = v;
        }
        if let Some(v) = c.end_date {
            self.end_date = v;
        }
        if let Some(v) = c.requirements {
            self.requirements = v;
        }
        if let Some(v) = c.client {
            self.client = v;
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date) {
            if end < start {
                return Err(Refusal::Invalid(FieldError::new("end_date", "must not be before start_date")));
            }
        }
        Ok(self)
    }
}

/// Requirements: at most 20,000 characters.
pub fn requirements(field: &str, raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() > 20_000 {
        Err(FieldError::new(field, "must be at most 20000 characters"))
    } else {
        Ok(raw.to_owned())
    }
}

/// A budget: 0 to [`MAX_BUDGET`], kept to the cent.
pub fn budget(field: &str, raw: f64) -> Result<f64, FieldError> {
    if raw.is_finite() && (0.0..=MAX_BUDGET).contains(&raw) {
        Ok((raw * 100.0).round() / 100.0)
    } else {
        Err(FieldError::new(field, "must be between 0 and 999999999999.99"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProjectStatus::*;

    fn at(status: ProjectStatus) -> Project {
        Project { status, ..Project::new("Site".into(), ProjectType::Website) }
    }

    #[test]
    fn the_workflow() {
        for (from, to) in [(Planning, Active), (Active, OnHold), (OnHold, Active), (Active, Completed)] {
            assert!(from.can_move_to(to), "{from:?} → {to:?}");
        }
        for s in [Planning, Active, OnHold, Completed] {
            assert!(s.can_move_to(Cancelled), "{s:?}");
        }
        assert!(Cancelled.allowed_moves().is_empty());
        for (from, to) in [(Planning, Completed), (OnHold, Completed), (Completed, Active), (Cancelled, Active)] {
            assert!(!from.can_move_to(to), "{from:?} → {to:?}");
        }
        let refused = at(OnHold).apply(Changes { status: Some(Completed), ..Changes::default() }).unwrap_err();
        let Refusal::Move(m) = refused else { panic!("not a move refusal") };
        assert!(m.detail().ends_with("it can move to: active, cancelled"), "{}", m.detail());
    }

    #[test]
    fn dates_are_ordered_with_the_stored_ones() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = Project { start_date: Some(d("2025-03-01")), ..at(Active) };
        let early = Changes { end_date: Some(Some(d("2025-02-28"))), ..Changes::default() };
        assert!(matches!(p.clone().apply(early), Err(Refusal::Invalid(e)) if e.field == "end_date"));
        assert!(p.apply(Changes { end_date: Some(Some(d("2025-03-01"))), ..Changes::default() }).is_ok());
    }
}
