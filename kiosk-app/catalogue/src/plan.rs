//! From what the applicant chose and answered to the exact application: which items, one merged
//! form, and one merged list of materials (一事一次告知).
//!
//! Questions are asked in order: the bundle's first, then each item's, skipping those whose
//! condition is not met. An answer may add or remove items, materials or fields; an added item
//! brings its own questions. A field or material shared by several items appears once; a
//! material is required if any item that needs it requires it.

use crate::model::{Catalogue, Effect, Field, Item, Material, Question};
use std::collections::BTreeMap;

/// What the applicant chose to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// One item, by code.
    Item(String),
    /// A bundle, with the optional items the applicant added.
    Bundle {
        /// The bundle's id.
        id: String,
        /// Codes of the optional items chosen.
        optional: Vec<String>,
    },
}

/// Answers to situation questions: question id → option value.
pub type Answers = BTreeMap<String, String>;

/// Why a choice cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The item is not in the catalogue.
    #[error("item `{0}` is not in the catalogue")]
    UnknownItem(String),
    /// The bundle is not in the catalogue.
    #[error("bundle `{0}` is not in the catalogue")]
    UnknownBundle(String),
    /// This terminal may not offer the item.
    #[error("item `{0}` is not offered on this terminal")]
    NotAuthorised(String),
    /// An item chosen as optional is not an optional item of the bundle.
    #[error("item `{item}` is not an optional item of bundle `{bundle}`")]
    NotOptional {
        /// The bundle.
        bundle: String,
        /// The item.
        item: String,
    },
    /// An answer is not one of the question's options.
    #[error("`{value}` is not an answer to question `{question}`")]
    UnknownAnswer {
        /// The question.
        question: String,
        /// The answer given.
        value: String,
    },
}

/// A material in the merged list.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMaterial<'c> {
    /// The material.
    pub material: &'c Material,
    /// Whether the application needs it.
    pub required: bool,
    /// Codes of the items that ask for it (empty when only an answer added it).
    pub items: Vec<&'c str>,
}

impl PlannedMaterial<'_> {
    /// The supplement deadline in working days if it may be missing at submission (容缺).
    pub fn rongque_deadline(&self) -> Option<u32> {
        self.material.rongque.map(|r| r.deadline_days)
    }
}

/// The exact application a choice and its answers come to.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'c> {
    /// Items filed, in order.
    pub items: Vec<&'c Item>,
    /// The merged form: each field once, in the order first asked.
    pub fields: Vec<&'c Field>,
    /// The merged material list: each material once.
    pub materials: Vec<PlannedMaterial<'c>>,
    /// Questions that applied, in the order asked.
    pub questions: Vec<&'c Question>,
    /// The longest promised time limit of the items, in working days.
    pub time_limit_days: u32,
}

impl<'c> Plan<'c> {
    /// The first question that applies and has no answer yet; `None` when all are answered.
    pub fn next_question(&self, answers: &Answers) -> Option<&'c Question> {
        self.questions
            .iter()
            .copied()
            .find(|q| !answers.contains_key(&q.id))
    }
}

impl Catalogue {
    /// Plans `choice` on `terminal` with the answers given so far.
    pub fn plan<'c>(
        &'c self,
        terminal: &str,
        choice: &Choice,
        answers: &Answers,
    ) -> Result<Plan<'c>, PlanError> {
        let (mut codes, mut pending): (Vec<&str>, Vec<&str>) = match choice {
            Choice::Item(code) => {
                let item = self
                    .item(code)
                    .ok_or_else(|| PlanError::UnknownItem(code.clone()))?;
                (vec![item.code.as_str()], Vec::new())
            }
            Choice::Bundle { id, optional } => {
                let bundle = self
                    .bundle(id)
                    .ok_or_else(|| PlanError::UnknownBundle(id.clone()))?;
                let mut codes: Vec<&str> = bundle.mandatory.iter().map(String::as_str).collect();
                for code in optional {
                    let listed = bundle.optional.iter().find(|c| *c == code);
                    let code = listed.ok_or_else(|| PlanError::NotOptional {
                        bundle: id.clone(),
                        item: code.clone(),
                    })?;
                    if !codes.contains(&code.as_str()) {
                        codes.push(code);
                    }
                }
                (codes, bundle.questions.iter().map(String::as_str).collect())
            }
        };
        // Questions of every item ever in the plan, in order; items added later append theirs.
        let mut seen_items = Vec::new();
        let mut asked: Vec<&Question> = Vec::new();
        let mut effects: Vec<&Effect> = Vec::new();
        let mut next = 0;
        loop {
            for code in &codes {
                if !seen_items.contains(code) {
                    seen_items.push(code);
                    if let Some(item) = self.item(code) {
                        pending.extend(item.questions.iter().map(String::as_str));
                    }
                }
            }
            let Some(&qid) = pending.get(next) else {
                break;
            };
            next += 1;
            let Some(q) = self.question(qid) else {
                continue;
            };
            if asked.iter().any(|a| a.id == q.id) {
                continue;
            }
            // A follow-up applies only once its question was asked and got the answer it waits
            // for; a leftover answer to a question no longer asked does not count.
            let applies = q.when.as_ref().is_none_or(|w| {
                asked.iter().any(|a| a.id == w.question)
                    && answers.get(&w.question) == Some(&w.equals)
            });
            if !applies {
                continue;
            }
            asked.push(q);
            let Some(value) = answers.get(&q.id) else {
                continue;
            };
            let option = q
                .options
                .iter()
                .find(|o| &o.value == value)
                .ok_or_else(|| PlanError::UnknownAnswer {
                    question: q.id.clone(),
                    value: value.clone(),
                })?;
            for e in &option.effects {
                match e {
                    Effect::AddItem(code) if !codes.contains(&code.as_str()) => codes.push(code),
                    Effect::RemoveItem(code) => codes.retain(|c| c != code),
                    _ => {}
                }
                effects.push(e);
            }
            // Followers of this question come right after it.
            let followers = self
                .questions
                .iter()
                .filter(|f| f.when.as_ref().is_some_and(|w| w.question == q.id));
            for (k, follower) in followers.enumerate() {
                pending.insert(next + k, &follower.id);
            }
        }

        let mut items = Vec::new();
        for code in &codes {
            let item = self
                .item(code)
                .ok_or_else(|| PlanError::UnknownItem((*code).to_owned()))?;
            if !self.authorised(terminal, code) {
                return Err(PlanError::NotAuthorised((*code).to_owned()));
            }
            items.push(item);
        }
        let mut fields: Vec<&Field> = Vec::new();
        let mut add_field = |id: &str| {
            if let Some(f) = self.field(id)
                && !fields.iter().any(|x| x.id == f.id)
            {
                fields.push(f);
            }
        };
        for item in &items {
            item.fields.iter().for_each(|f| add_field(f));
        }
        let mut materials: Vec<PlannedMaterial> = Vec::new();
        let add_material = |materials: &mut Vec<PlannedMaterial<'c>>,
                            id: &str,
                            required: bool,
                            item: Option<&'c str>| {
            let Some(m) = self.material(id) else {
                return;
            };
            if let Some(entry) = materials.iter_mut().find(|p| p.material.id == m.id) {
                entry.required |= required;
                entry.items.extend(item);
            } else {
                materials.push(PlannedMaterial {
                    material: m,
                    required,
                    items: item.into_iter().collect(),
                });
            }
        };
        for item in &items {
            for m in &item.materials {
                add_material(&mut materials, &m.material, m.required, Some(&item.code));
            }
        }
        // Answers apply in the order given: a later answer may add back what an earlier removed.
        for e in &effects {
            match e {
                Effect::AddMaterial(m) => {
                    add_material(&mut materials, &m.material, m.required, None)
                }
                Effect::RemoveMaterial(m) => materials.retain(|p| p.material.id != *m),
                Effect::AddField(f) => add_field(f),
                Effect::AddItem(_) | Effect::RemoveItem(_) => {}
            }
        }
        Ok(Plan {
            time_limit_days: items.iter().map(|i| i.time_limit_days).max().unwrap_or(0),
            items,
            fields,
            materials,
            questions: asked,
        })
    }
}
