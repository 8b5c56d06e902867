//! A new application as it is being filled: the choice, the answers, the one merged form, how
//! each material is provided, consents and the signature. Everything personal in it is wiped
//! from memory when it is dropped.

use application::{
    Answer, Applicant, Consents, Draft, FormValue, MaterialEntry, Provided, Signature, time,
};
use catalogue::{Answers, Autofill, Catalogue, Choice, Delivery, Plan, PlanError};
use kiosk_store::{CapturedMaterial, StoredMaterial};
use std::collections::{BTreeMap, BTreeSet};
use zeroize::Zeroizing;

/// How a material is provided so far.
pub(crate) enum Provision {
    /// Pages captured now; wiped when dropped.
    Captured(Vec<Zeroizing<Vec<u8>>>),
    /// A stored copy.
    Reused(StoredMaterial),
    /// Supplied later, by this date.
    Later(String),
}

/// The application being filled.
pub(crate) struct Filing {
    pub bundle: Option<String>,
    pub chosen: Vec<String>,
    pub answers: Answers,
    /// Order in which questions were answered, so Back undoes the last one.
    pub answered: Vec<String>,
    pub values: BTreeMap<String, FormValue>,
    /// Fields filled from the card: shown, not editable.
    pub locked: BTreeSet<String>,
    /// Fields filled from an earlier application.
    pub from_earlier: BTreeSet<String>,
    /// Errors are shown for these (entered, or Continue was tried).
    pub checked: BTreeSet<String>,
    pub materials: BTreeMap<String, Provision>,
    pub delivery: Option<Delivery>,
    pub consents: Consents,
    pub signature: Signature,
}

impl Filing {
    pub fn item(code: &str) -> Filing {
        Filing::new(None, vec![code.to_owned()])
    }

    pub fn bundle(id: &str) -> Filing {
        Filing::new(Some(id.to_owned()), Vec::new())
    }

    fn new(bundle: Option<String>, chosen: Vec<String>) -> Filing {
        Filing {
            bundle,
            chosen,
            answers: Answers::new(),
            answered: Vec::new(),
            values: BTreeMap::new(),
            locked: BTreeSet::new(),
            from_earlier: BTreeSet::new(),
            checked: BTreeSet::new(),
            materials: BTreeMap::new(),
            delivery: None,
            consents: Consents::default(),
            signature: Signature {
                strokes: Vec::new(),
            },
        }
    }

    pub fn choice(&self) -> Choice {
        match &self.bundle {
            Some(id) => Choice::Bundle {
                id: id.clone(),
                optional: self.chosen.clone(),
            },
            None => Choice::Item(self.chosen.first().cloned().unwrap_or_default()),
        }
    }

    pub fn plan<'c>(
        &self,
        catalogue: &'c Catalogue,
        terminal: &str,
    ) -> Result<Plan<'c>, PlanError> {
        catalogue.plan(terminal, &self.choice(), &self.answers)
    }

    /// Fills the fields the plan asks that have no value yet: from the card (locked) or from the
    /// citizen's earlier application. Values of fields the plan no longer asks are dropped.
    pub fn prefill(&mut self, plan: &Plan<'_>, applicant: &Applicant, earlier: &[FormValue]) {
        let asked: BTreeSet<&str> = plan.fields.iter().map(|f| f.id.as_str()).collect();
        self.values.retain(|id, _| asked.contains(id.as_str()));
        for field in &plan.fields {
            if self.values.contains_key(&field.id) {
                continue;
            }
            let value = if let Some(v) = applicant.card_value(field) {
                // A card value the form's check refuses (a permit number, a long foreign
                // name) stays editable, or the form could never be completed.
                if field.check(&v).is_ok() {
                    self.locked.insert(field.id.clone());
                }
                Some(v)
            } else if field.autofill == Some(Autofill::Earlier) {
                let v = earlier.iter().find(|v| v.field == field.id);
                if v.is_some() {
                    self.from_earlier.insert(field.id.clone());
                }
                v.map(|v| v.value.clone())
            } else {
                None
            };
            if let Some(value) = value {
                self.values.insert(
                    field.id.clone(),
                    FormValue {
                        field: field.id.clone(),
                        value,
                    },
                );
            }
        }
        let planned: BTreeSet<&str> = plan
            .materials
            .iter()
            .map(|m| m.material.id.as_str())
            .collect();
        self.materials.retain(|id, _| planned.contains(id.as_str()));
    }

    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map_or("", |v| v.value.as_str())
    }

    /// Every required material is provided or deferred.
    pub fn materials_complete(&self, plan: &Plan<'_>) -> bool {
        plan.materials
            .iter()
            .all(|m| !m.required || self.materials.contains_key(&m.material.id))
    }

    /// Materials deferred under 容缺, as (name, deadline).
    pub fn missing(&self, plan: &Plan<'_>, zh: bool) -> Vec<(String, String)> {
        plan.materials
            .iter()
            .filter_map(|m| match self.materials.get(&m.material.id) {
                Some(Provision::Later(deadline)) => Some((
                    if zh {
                        m.material.name.zh.clone()
                    } else {
                        m.material.name.en.clone()
                    },
                    deadline.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The ways the result may be delivered: those of every item, in order.
    pub fn deliveries(plan: &Plan<'_>) -> Vec<Delivery> {
        let mut out = Vec::new();
        for item in &plan.items {
            for d in &item.delivery {
                if !out.contains(d) {
                    out.push(*d);
                }
            }
        }
        out
    }

    /// The delivery chosen if the plan still offers it (an answer changed since may have taken
    /// that way away), else the plan's first.
    pub fn delivery_in(&self, offered: &[Delivery]) -> Delivery {
        self.delivery
            .filter(|d| offered.contains(d))
            .or_else(|| offered.first().copied())
            .unwrap_or(Delivery::HallPickup)
    }

    /// Builds the draft and the captured pages for the store, emptying this filing of them.
    pub fn take_submission(
        &mut self,
        plan: &Plan<'_>,
        catalogue: &Catalogue,
        applicant: &Applicant,
    ) -> (Draft, Vec<CapturedMaterial>) {
        let form = plan
            .fields
            .iter()
            .filter_map(|f| self.values.get(&f.id).cloned())
            .filter(|v| !v.value.trim().is_empty())
            .collect();
        let mut materials = Vec::new();
        let mut captured = Vec::new();
        for planned in &plan.materials {
            let id = &planned.material.id;
            match self.materials.remove(id) {
                Some(Provision::Captured(pages)) => captured.push(CapturedMaterial {
                    material: id.clone(),
                    pages,
                }),
                Some(Provision::Reused(stored)) => materials.push(MaterialEntry {
                    material: id.clone(),
                    provided: Provided::Reused {
                        stored: stored.id.clone(),
                        captured_at_ms: stored.captured_at_ms,
                        trust: stored.trust,
                        pages: Vec::new(),
                    },
                }),
                Some(Provision::Later(deadline)) => materials.push(MaterialEntry {
                    material: id.clone(),
                    provided: Provided::Missing { deadline },
                }),
                None => {}
            }
        }
        let delivery = self.delivery_in(&Filing::deliveries(plan));
        let draft = Draft {
            catalogue_version: catalogue.version,
            bundle: self.bundle.clone(),
            chosen: self.chosen.clone(),
            applicant: applicant.clone(),
            answers: self
                .answers
                .iter()
                .map(|(q, v)| Answer {
                    question: q.clone(),
                    value: v.clone(),
                })
                .collect(),
            form,
            materials,
            delivery,
            consents: self.consents,
            signature: std::mem::replace(
                &mut self.signature,
                Signature {
                    strokes: Vec::new(),
                },
            ),
        };
        (draft, captured)
    }
}

/// The date `days` working days from today, as the deadline of a deferred material.
pub(crate) fn deadline(now_ms: i64, days: u32) -> String {
    time::iso(time::add_working_days(time::local_date(now_ms), days))
}
