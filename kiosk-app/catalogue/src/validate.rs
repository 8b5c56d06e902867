//! Checks that a catalogue is whole before it is installed: every reference resolves, ids are
//! unique, every text exists in both languages, and the 容缺 rule holds (a material may be
//! supplied late only within the promised time limit of every item that asks for it).

use crate::model::{Catalogue, Effect, FORMAT, FieldKind, MAX_DAYS, Text};
use std::collections::HashSet;
use std::fmt;

/// One reason a catalogue is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// It is in a format this build does not read.
    #[error("format {0} is not supported (this kiosk reads format {FORMAT})")]
    UnsupportedFormat(u32),
    /// Two entries of one list have the same id.
    #[error("{list} `{id}` is defined twice")]
    Duplicate {
        /// Which list.
        list: &'static str,
        /// The id.
        id: String,
    },
    /// A reference names nothing.
    #[error("{at} names {kind} `{id}`, which is not defined")]
    Unknown {
        /// Where the reference is.
        at: String,
        /// What kind of thing it names.
        kind: &'static str,
        /// The id it names.
        id: String,
    },
    /// A text, id or list that must not be empty is.
    #[error("{at} is empty")]
    Empty {
        /// What is empty.
        at: String,
    },
    /// A 容缺 deadline runs past an item's promised time limit.
    #[error(
        "item `{item}` promises {limit} working days but allows `{material}` to be supplied within {deadline}"
    )]
    RongqueTooLate {
        /// The item.
        item: String,
        /// The material.
        material: String,
        /// Its supplement deadline.
        deadline: u32,
        /// The item's time limit.
        limit: u32,
    },
    /// A time limit or deadline longer than the kiosk counts.
    #[error("{at}: {days} working days is more than {MAX_DAYS}")]
    TooLong {
        /// Where.
        at: String,
        /// The days given.
        days: u32,
    },
    /// A question depends on one asked later, or on an answer it cannot get.
    #[error(
        "question `{question}` depends on `{on}` = `{value}`, which is not an earlier question's answer"
    )]
    BadCondition {
        /// The dependent question.
        question: String,
        /// The question it depends on.
        on: String,
        /// The answer it waits for.
        value: String,
    },
    /// A number field's range is empty.
    #[error("field `{0}` has min above max")]
    BadRange(String),
    /// A bundle lists an item twice.
    #[error("bundle `{bundle}` lists item `{item}` more than once")]
    RepeatedInBundle {
        /// The bundle.
        bundle: String,
        /// The item.
        item: String,
    },
    /// A definition nothing uses: a sign of a mistake in the references.
    #[error("{kind} `{id}` is defined but nothing uses it")]
    Unused {
        /// What kind of definition.
        kind: &'static str,
        /// Its id.
        id: String,
    },
}

/// All the reasons a catalogue is refused, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, p) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Catalogue {
    /// Every problem that keeps this catalogue from being installed.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut check = Check {
            catalogue: self,
            problems: Vec::new(),
        };
        check.run();
        if check.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(check.problems))
        }
    }
}

struct Check<'a> {
    catalogue: &'a Catalogue,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn run(&mut self) {
        let c = self.catalogue;
        if c.format != FORMAT {
            self.problems.push(Problem::UnsupportedFormat(c.format));
            return;
        }
        self.text("publisher", &c.publisher);
        self.unique("department", c.departments.iter().map(|d| d.id.as_str()));
        self.unique("field", c.fields.iter().map(|f| f.id.as_str()));
        self.unique("material", c.materials.iter().map(|m| m.id.as_str()));
        self.unique("question", c.questions.iter().map(|q| q.id.as_str()));
        self.unique("item", c.items.iter().map(|i| i.code.as_str()));
        self.unique("bundle", c.bundles.iter().map(|b| b.id.as_str()));
        for d in &c.departments {
            self.text(&format!("department `{}`", d.id), &d.name);
        }
        for f in &c.fields {
            self.text(&format!("field `{}`", f.id), &f.label);
            match &f.kind {
                FieldKind::Number { min, max } if min > max => {
                    self.problems.push(Problem::BadRange(f.id.clone()))
                }
                FieldKind::Choice { options } => {
                    self.non_empty(&format!("field `{}` options", f.id), options.len());
                    for o in options {
                        self.text(&format!("field `{}` option `{}`", f.id, o.value), &o.label);
                    }
                }
                _ => {}
            }
        }
        for m in &c.materials {
            self.text(&format!("material `{}`", m.id), &m.name);
            if let Some(r) = m.rongque.filter(|r| r.deadline_days > MAX_DAYS) {
                self.problems.push(Problem::TooLong {
                    at: format!("material `{}` 容缺 deadline", m.id),
                    days: r.deadline_days,
                });
            }
            if m.rongque.is_some_and(|r| r.deadline_days == 0) {
                self.problems.push(Problem::Empty {
                    at: format!("material `{}` 容缺 deadline", m.id),
                });
            }
        }
        self.questions();
        self.items();
        self.bundles();
        self.authorisations();
        self.unused();
    }

    fn questions(&mut self) {
        let c = self.catalogue;
        for (n, q) in c.questions.iter().enumerate() {
            let at = format!("question `{}`", q.id);
            self.text(&at, &q.text);
            self.non_empty(&format!("{at} options"), q.options.len());
            if let Some(cond) = &q.when {
                let earlier = c.questions[..n].iter().find(|e| e.id == cond.question);
                if !earlier.is_some_and(|e| e.options.iter().any(|o| o.value == cond.equals)) {
                    self.problems.push(Problem::BadCondition {
                        question: q.id.clone(),
                        on: cond.question.clone(),
                        value: cond.equals.clone(),
                    });
                }
            }
            for o in &q.options {
                let at = format!("question `{}` answer `{}`", q.id, o.value);
                self.text(&at, &o.label);
                for e in &o.effects {
                    match e {
                        Effect::AddItem(code) | Effect::RemoveItem(code) => {
                            self.reference(&at, "item", code)
                        }
                        Effect::AddMaterial(m) => self.reference(&at, "material", &m.material),
                        Effect::RemoveMaterial(m) => self.reference(&at, "material", m),
                        Effect::AddField(f) => self.reference(&at, "field", f),
                    }
                }
            }
        }
    }

    fn items(&mut self) {
        let c = self.catalogue;
        for item in &c.items {
            let at = format!("item `{}`", item.code);
            self.non_empty(&format!("{at} code"), item.code.trim().len());
            self.text(&at, &item.name);
            self.reference(&at, "department", &item.department);
            if item.time_limit_days > MAX_DAYS {
                self.problems.push(Problem::TooLong {
                    at: format!("{at} time limit"),
                    days: item.time_limit_days,
                });
            }
            self.non_empty(&format!("{at} subjects"), item.subjects.len());
            self.non_empty(&format!("{at} delivery"), item.delivery.len());
            self.non_empty(&format!("{at} fields"), item.fields.len());
            for f in &item.fields {
                self.reference(&at, "field", f);
            }
            for q in &item.questions {
                self.reference(&at, "question", q);
            }
            for m in &item.materials {
                self.reference(&at, "material", &m.material);
            }
            // Materials a question may add count too: their deadline must fit this item.
            let added = item
                .questions
                .iter()
                .filter_map(|q| c.question(q))
                .flat_map(|q| q.options.iter().flat_map(|o| o.effects.iter()))
                .filter_map(|e| match e {
                    Effect::AddMaterial(m) => Some(&m.material),
                    _ => None,
                });
            for id in item.materials.iter().map(|m| &m.material).chain(added) {
                let Some(r) = c.material(id).and_then(|m| m.rongque) else {
                    continue;
                };
                if r.deadline_days > item.time_limit_days {
                    self.problems.push(Problem::RongqueTooLate {
                        item: item.code.clone(),
                        material: id.clone(),
                        deadline: r.deadline_days,
                        limit: item.time_limit_days,
                    });
                }
            }
        }
    }

    fn bundles(&mut self) {
        let c = self.catalogue;
        for b in &c.bundles {
            let at = format!("bundle `{}`", b.id);
            self.text(&at, &b.name);
            self.text(&format!("{at} summary"), &b.summary);
            self.non_empty(&format!("{at} mandatory items"), b.mandatory.len());
            self.non_empty(&format!("{at} subjects"), b.subjects.len());
            let mut seen = HashSet::new();
            for code in b.mandatory.iter().chain(&b.optional) {
                self.reference(&at, "item", code);
                if !seen.insert(code) {
                    self.problems.push(Problem::RepeatedInBundle {
                        bundle: b.id.clone(),
                        item: code.clone(),
                    });
                }
            }
            for q in &b.questions {
                self.reference(&at, "question", q);
            }
        }
    }

    fn authorisations(&mut self) {
        let c = self.catalogue;
        for (n, a) in c.authorisations.iter().enumerate() {
            let at = format!("authorisation {}", n + 1);
            self.non_empty(&format!("{at} terminals"), a.terminals.len());
            self.non_empty(
                &format!("{at} departments and items"),
                a.departments.len() + a.items.len(),
            );
            for d in a.departments.iter().filter(|d| *d != "*") {
                self.reference(&at, "department", d);
            }
            for i in a.items.iter().filter(|i| *i != "*") {
                self.reference(&at, "item", i);
            }
        }
    }

    fn unused(&mut self) {
        let c = self.catalogue;
        let effects = || {
            c.questions
                .iter()
                .flat_map(|q| q.options.iter().flat_map(|o| o.effects.iter()))
        };
        let fields: HashSet<&str> = c
            .items
            .iter()
            .flat_map(|i| i.fields.iter().map(String::as_str))
            .chain(effects().filter_map(|e| match e {
                Effect::AddField(f) => Some(f.as_str()),
                _ => None,
            }))
            .collect();
        let materials: HashSet<&str> = c
            .items
            .iter()
            .flat_map(|i| i.materials.iter().map(|m| m.material.as_str()))
            .chain(effects().filter_map(|e| match e {
                Effect::AddMaterial(m) => Some(m.material.as_str()),
                _ => None,
            }))
            .collect();
        let questions: HashSet<&str> = c
            .items
            .iter()
            .flat_map(|i| i.questions.iter())
            .chain(c.bundles.iter().flat_map(|b| b.questions.iter()))
            .chain(
                c.questions
                    .iter()
                    .filter_map(|q| q.when.as_ref().map(|w| &w.question)),
            )
            .map(String::as_str)
            .collect();
        // A question that only follows another is used if that one is.
        let followers: HashSet<&str> = c
            .questions
            .iter()
            .filter(|q| q.when.is_some())
            .map(|q| q.id.as_str())
            .collect();
        for f in c.fields.iter().filter(|f| !fields.contains(f.id.as_str())) {
            self.problems.push(Problem::Unused {
                kind: "field",
                id: f.id.clone(),
            });
        }
        for m in c
            .materials
            .iter()
            .filter(|m| !materials.contains(m.id.as_str()))
        {
            self.problems.push(Problem::Unused {
                kind: "material",
                id: m.id.clone(),
            });
        }
        for q in c
            .questions
            .iter()
            .filter(|q| !questions.contains(q.id.as_str()) && !followers.contains(q.id.as_str()))
        {
            self.problems.push(Problem::Unused {
                kind: "question",
                id: q.id.clone(),
            });
        }
    }

    fn unique<'s>(&mut self, list: &'static str, ids: impl Iterator<Item = &'s str>) {
        let mut seen = HashSet::new();
        for id in ids {
            if id.trim().is_empty() {
                self.problems.push(Problem::Empty {
                    at: format!("a {list} id"),
                });
            } else if !seen.insert(id) {
                self.problems.push(Problem::Duplicate {
                    list,
                    id: id.to_owned(),
                });
            }
        }
    }

    fn text(&mut self, at: &str, text: &Text) {
        if text.zh.trim().is_empty() {
            self.problems.push(Problem::Empty {
                at: format!("{at} Chinese text"),
            });
        }
        if text.en.trim().is_empty() {
            self.problems.push(Problem::Empty {
                at: format!("{at} English text"),
            });
        }
    }

    fn non_empty(&mut self, at: &str, len: usize) {
        if len == 0 {
            self.problems.push(Problem::Empty { at: at.to_owned() });
        }
    }

    fn unknown(&mut self, at: &str, kind: &'static str, id: &str) {
        self.problems.push(Problem::Unknown {
            at: at.to_owned(),
            kind,
            id: id.to_owned(),
        });
    }

    /// Reports `id` unless a definition of `kind` (`item`, `field`, `material`, `question` or
    /// `department`) has it.
    fn reference(&mut self, at: &str, kind: &'static str, id: &str) {
        let c = self.catalogue;
        let found = match kind {
            "item" => c.item(id).is_some(),
            "field" => c.field(id).is_some(),
            "material" => c.material(id).is_some(),
            "question" => c.question(id).is_some(),
            "department" => c.department(id).is_some(),
            _ => false,
        };
        if !found {
            self.unknown(at, kind, id);
        }
    }
}
