//! What an application must satisfy before it is saved, checked against the catalogue it was
//! planned with: the choice and answers still plan on this terminal, every field of the merged
//! form passes its check, and every material of the merged list is captured, reused from a
//! valid consented copy, or missing where 容缺 allows it and by a deadline within the rules.

use application::{Correction, Draft, FormValue, Provided, Signature, time};
use catalogue::{Catalogue, FieldError, Plan, PlanError};

/// Why an application is refused before anything is saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The applicant did not consent to processing.
    #[error("the applicant has not consented to processing")]
    NoConsent,
    /// It was planned with another catalogue version.
    #[error("planned with catalogue {draft}, but {installed} is installed")]
    CatalogueChanged {
        /// The draft's version.
        draft: u64,
        /// The installed version.
        installed: u64,
    },
    /// The choice does not plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A field's value is refused.
    #[error("field `{field}`: {error}")]
    Field {
        /// The field.
        field: String,
        /// Why.
        error: FieldError,
    },
    /// A value for a field the form does not have.
    #[error("field `{0}` is not on this form")]
    UnknownField(String),
    /// A required material is not provided.
    #[error("material `{0}` is required")]
    MaterialMissing(String),
    /// A material the plan does not list.
    #[error("material `{0}` is not asked for")]
    UnknownMaterial(String),
    /// A material given twice.
    #[error("material `{0}` is given twice")]
    RepeatedMaterial(String),
    /// Missing, but 容缺 does not allow it.
    #[error("material `{0}` cannot be supplied later")]
    NoRongque(String),
    /// The promised supplement date is not a date after today and within what the rules allow.
    #[error("material `{material}` may be supplied until {allowed} at the latest, not {deadline}")]
    DeadlineTooLate {
        /// The material.
        material: String,
        /// The deadline given.
        deadline: String,
        /// The latest allowed.
        allowed: String,
    },
    /// Wrong page count.
    #[error("material `{material}` has {pages} pages; 1 to {max} are accepted")]
    Pages {
        /// The material.
        material: String,
        /// Pages given.
        pages: usize,
        /// The most accepted.
        max: u32,
    },
    /// A field or question given twice.
    #[error("`{0}` is given twice")]
    Repeated(String),
    /// A situation question that applies has no answer.
    #[error("question `{0}` is not answered")]
    Unanswered(String),
    /// The answers leave nothing to file.
    #[error("the answers leave no item to file")]
    NothingToFile,
    /// A delivery none of the items offers.
    #[error("no item's result can be delivered by {0}")]
    Delivery(String),
    /// The application is not signed.
    #[error("the application is not signed")]
    NotSigned,
    /// The reused copy is not available to this applicant, expired, or of another material.
    #[error(
        "stored copy `{0}` cannot be reused: unknown, expired, not consented or another material"
    )]
    ReuseInvalid(String),
    /// Corrections for an application that asks for none now.
    #[error("application {0} asks for no corrections")]
    NothingToCorrect(String),
    /// A correction of something the reviewer did not ask about.
    #[error("`{0}` was not asked to be corrected")]
    NotAsked(String),
    /// A correction asked for is not answered.
    #[error("the correction of `{0}` is missing")]
    CorrectionMissing(String),
}

/// Checks corrections supplied for `asked`: each field value passes its field's check, each
/// material has an accepted number of pages, everything asked is answered and nothing else.
pub(crate) fn check_supplement(
    catalogue: &Catalogue,
    asked: &[Correction],
    form: &[FormValue],
    captured: &[(&str, usize)],
    signature: &Signature,
) -> Result<(), Refusal> {
    if signature.strokes.iter().all(Vec::is_empty) {
        return Err(Refusal::NotSigned);
    }
    let mut answered: Vec<&str> = Vec::new();
    let targets = form
        .iter()
        .map(|v| v.field.as_str())
        .chain(captured.iter().map(|(m, _)| *m));
    for target in targets {
        if !asked.iter().any(|c| c.target == target) {
            return Err(Refusal::NotAsked(target.to_owned()));
        }
        if answered.contains(&target) {
            return Err(Refusal::Repeated(target.to_owned()));
        }
        answered.push(target);
    }
    for v in form {
        let field = catalogue
            .field(&v.field)
            .ok_or_else(|| Refusal::UnknownField(v.field.clone()))?;
        field.check(&v.value).map_err(|error| Refusal::Field {
            field: v.field.clone(),
            error,
        })?;
    }
    for (id, pages) in captured {
        let material = catalogue
            .material(id)
            .ok_or_else(|| Refusal::UnknownMaterial((*id).to_owned()))?;
        let max = material.capture.max_pages;
        if *pages == 0 || *pages > max as usize {
            return Err(Refusal::Pages {
                material: (*id).to_owned(),
                pages: *pages,
                max,
            });
        }
    }
    match asked
        .iter()
        .find(|c| !answered.contains(&c.target.as_str()))
    {
        Some(c) => Err(Refusal::CorrectionMissing(c.target.clone())),
        None => Ok(()),
    }
}

/// Checks `draft` (with `captured` page counts per material) against `catalogue`; returns the
/// plan it comes to.
pub(crate) fn check<'c>(
    catalogue: &'c Catalogue,
    terminal: &str,
    draft: &Draft,
    captured: &[(&str, usize)],
    saved_at_ms: i64,
) -> Result<Plan<'c>, Refusal> {
    if !draft.consents.processing {
        return Err(Refusal::NoConsent);
    }
    if draft.catalogue_version != catalogue.version {
        return Err(Refusal::CatalogueChanged {
            draft: draft.catalogue_version,
            installed: catalogue.version,
        });
    }
    if draft.signature.strokes.iter().all(Vec::is_empty) {
        return Err(Refusal::NotSigned);
    }
    let fields = draft.form.iter().map(|v| &v.field);
    let questions = draft.answers.iter().map(|a| &a.question);
    for list in [fields.collect::<Vec<_>>(), questions.collect()] {
        for (n, id) in list.iter().enumerate() {
            if list[..n].contains(id) {
                return Err(Refusal::Repeated((*id).clone()));
            }
        }
    }
    let answers = draft.answers();
    let plan = catalogue.plan(terminal, &draft.choice(), &answers)?;
    if let Some(q) = plan.next_question(&answers) {
        return Err(Refusal::Unanswered(q.id.clone()));
    }
    if plan.items.is_empty() {
        return Err(Refusal::NothingToFile);
    }
    // The delivery is the applicant's preference: each item whose result can go that way goes
    // that way, the others their own first way. At least one item must offer it.
    if !plan
        .items
        .iter()
        .any(|i| i.delivery.contains(&draft.delivery))
    {
        return Err(Refusal::Delivery(format!("{:?}", draft.delivery)));
    }
    for field in &plan.fields {
        field
            .check(draft.value(&field.id).unwrap_or(""))
            .map_err(|error| Refusal::Field {
                field: field.id.clone(),
                error,
            })?;
    }
    if let Some(v) = draft
        .form
        .iter()
        .find(|v| !plan.fields.iter().any(|f| f.id == v.field))
    {
        return Err(Refusal::UnknownField(v.field.clone()));
    }
    let given = draft
        .materials
        .iter()
        .map(|m| m.material.as_str())
        .chain(captured.iter().map(|(m, _)| *m));
    let mut seen = Vec::new();
    for m in given {
        if seen.contains(&m) {
            return Err(Refusal::RepeatedMaterial(m.to_owned()));
        }
        seen.push(m);
        if !plan.materials.iter().any(|p| p.material.id == m) {
            return Err(Refusal::UnknownMaterial(m.to_owned()));
        }
    }
    let today = time::local_date(saved_at_ms);
    for planned in &plan.materials {
        let id = planned.material.id.as_str();
        if let Some((_, pages)) = captured.iter().find(|(m, _)| *m == id) {
            let max = planned.material.capture.max_pages;
            if *pages == 0 || *pages > max as usize {
                return Err(Refusal::Pages {
                    material: id.to_owned(),
                    pages: *pages,
                    max,
                });
            }
            continue;
        }
        match draft
            .materials
            .iter()
            .find(|m| m.material == id)
            .map(|m| &m.provided)
        {
            Some(Provided::Missing { deadline }) => {
                let days = planned
                    .rongque_deadline()
                    .ok_or_else(|| Refusal::NoRongque(id.to_owned()))?;
                let allowed = time::add_working_days(today, days);
                let given = time::parse_iso(deadline);
                if !given.is_some_and(|d| d > today && d <= allowed) {
                    return Err(Refusal::DeadlineTooLate {
                        material: id.to_owned(),
                        deadline: deadline.clone(),
                        allowed: time::iso(allowed),
                    });
                }
            }
            Some(Provided::Reused { stored, .. }) if !planned.material.reusable => {
                return Err(Refusal::ReuseInvalid(stored.clone()));
            }
            Some(_) => {}
            None if planned.required => return Err(Refusal::MaterialMissing(id.to_owned())),
            None => {}
        }
    }
    Ok(plan)
}
