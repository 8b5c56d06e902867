//! Planning: bundles merge into one form and one material list, answers shape the application,
//! and only what the terminal is authorised for is offered.

use catalogue::{Answers, Catalogue, Choice, PlanError, Problem};

/// A small catalogue with exactly the cases under test.
fn mini() -> Catalogue {
    let text = |zh: &str| serde_json::json!({"zh": zh, "en": zh});
    let field = |id: &str| serde_json::json!({"id": id, "label": text(id), "kind": {"type": "text", "max_len": 20}, "required": true});
    let material = |id: &str, rongque: Option<u32>| {
        let mut m = serde_json::json!({"id": id, "name": text(id), "reusable": true, "trust": "B",
            "capture": {"colour": "grey", "max_pages": 2}});
        if let Some(d) = rongque {
            m["rongque"] = serde_json::json!({"deadline_days": d});
        }
        m
    };
    let item = |code: &str,
                dept: &str,
                fields: &[&str],
                materials: &[(&str, bool)],
                questions: &[&str]| {
        serde_json::json!({"code": code, "name": text(code), "department": dept, "subjects": ["natural"],
            "life_stage": "birth", "time_limit_days": 5, "delivery": ["mail"],
            "fields": fields, "questions": questions,
            "materials": materials.iter().map(|(m, r)| serde_json::json!({"material": m, "required": r})).collect::<Vec<_>>()})
    };
    let json = serde_json::json!({
        "format": 1, "version": 3, "published": "2026-11-01", "publisher": text("中心"),
        "departments": [{"id": "police", "name": text("公安")}, {"id": "health", "name": text("卫健")},
                        {"id": "tobacco", "name": text("烟草")}],
        "fields": [field("applicant.name"), field("child.name"), field("hukou.address"), field("tobacco.shop")],
        "materials": [material("id_card", None), material("birth_cert", None), material("hukou_book", Some(3)),
                      material("marriage_cert", Some(5)), material("unmarried_note", None), material("shop_lease", None)],
        "questions": [
            {"id": "married", "text": text("已婚?"), "options": [
                {"value": "yes", "label": text("是")},
                {"value": "no", "label": text("否"), "effects": [{"remove_material": "marriage_cert"},
                    {"add_material": {"material": "unmarried_note", "required": true}}]}]},
            {"id": "hukou_where", "text": text("随谁落户?"), "when": {"question": "married", "equals": "yes"},
             "options": [{"value": "father", "label": text("父亲")},
                         {"value": "mother", "label": text("母亲"), "effects": [{"add_field": "hukou.address"}]}]},
            {"id": "sell_tobacco", "text": text("卖烟?"), "options": [
                {"value": "yes", "label": text("是"), "effects": [{"add_item": "T1"}]},
                {"value": "no", "label": text("否")}]}
        ],
        "items": [
            item("B1", "health", &["applicant.name", "child.name"], &[("id_card", true), ("birth_cert", true)], &[]),
            item("B2", "police", &["child.name", "applicant.name"], &[("hukou_book", true), ("id_card", false), ("marriage_cert", true)], &["married"]),
            item("B3", "health", &["applicant.name"], &[("id_card", false)], &["sell_tobacco"]),
            item("T1", "tobacco", &["tobacco.shop", "applicant.name"], &[("shop_lease", true)], &[])
        ],
        "bundles": [{"id": "newborn", "name": text("出生"), "summary": text("出生"), "subjects": ["natural"],
                     "life_stage": "birth", "mandatory": ["B1", "B2"], "optional": ["B3", "T1"]}],
        "authorisations": [{"terminals": ["*"], "departments": ["police", "health"]},
                           {"terminals": ["10001"], "departments": ["tobacco"]}]
    });
    let c: Catalogue = serde_json::from_value(json).unwrap();
    c.validate().unwrap();
    c
}

fn ids<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    it.collect()
}

#[test]
fn a_bundle_asks_shared_fields_once_and_lists_shared_materials_once() {
    let c = mini();
    let choice = Choice::Bundle {
        id: "newborn".into(),
        optional: vec![],
    };
    let plan = c.plan("20001", &choice, &Answers::new()).unwrap();
    assert_eq!(
        ids(plan.items.iter().map(|i| i.code.as_str())),
        ["B1", "B2"]
    );
    assert_eq!(
        ids(plan.fields.iter().map(|f| f.id.as_str())),
        ["applicant.name", "child.name"]
    );
    let materials: Vec<(&str, bool)> = plan
        .materials
        .iter()
        .map(|m| (m.material.id.as_str(), m.required))
        .collect();
    assert_eq!(
        materials,
        [
            ("id_card", true),
            ("birth_cert", true),
            ("hukou_book", true),
            ("marriage_cert", true)
        ],
        "id_card is asked by both items, required by one: listed once, required"
    );
    let id_card = &plan.materials[0];
    assert_eq!(id_card.items, ["B1", "B2"]);
    assert_eq!(plan.materials[2].rongque_deadline(), Some(3));
}

#[test]
fn an_optional_item_adds_its_fields_and_materials() {
    let c = mini();
    let choice = Choice::Bundle {
        id: "newborn".into(),
        optional: vec!["T1".into()],
    };
    let plan = c.plan("10001", &choice, &Answers::new()).unwrap();
    assert_eq!(
        ids(plan.items.iter().map(|i| i.code.as_str())),
        ["B1", "B2", "T1"]
    );
    assert_eq!(
        ids(plan.fields.iter().map(|f| f.id.as_str())),
        ["applicant.name", "child.name", "tobacco.shop"]
    );
    assert!(
        plan.materials
            .iter()
            .any(|m| m.material.id == "shop_lease" && m.required)
    );
    let not_optional = Choice::Bundle {
        id: "newborn".into(),
        optional: vec!["B1".into()],
    };
    assert_eq!(
        c.plan("10001", &not_optional, &Answers::new()).unwrap_err(),
        PlanError::NotOptional {
            bundle: "newborn".into(),
            item: "B1".into()
        }
    );
}

#[test]
fn questions_are_asked_in_order_and_a_follow_up_only_after_its_answer() {
    let c = mini();
    let choice = Choice::Bundle {
        id: "newborn".into(),
        optional: vec![],
    };
    let mut answers = Answers::new();
    let plan = c.plan("20001", &choice, &answers).unwrap();
    assert_eq!(plan.next_question(&answers).unwrap().id, "married");
    answers.insert("married".into(), "yes".into());
    let plan = c.plan("20001", &choice, &answers).unwrap();
    assert_eq!(
        plan.next_question(&answers).unwrap().id,
        "hukou_where",
        "the follow-up comes next"
    );
    answers.insert("hukou_where".into(), "mother".into());
    let plan = c.plan("20001", &choice, &answers).unwrap();
    assert_eq!(plan.next_question(&answers), None);
    assert!(
        plan.fields.iter().any(|f| f.id == "hukou.address"),
        "the answer added a field"
    );

    let mut unmarried = Answers::new();
    unmarried.insert("married".into(), "no".into());
    let plan = c.plan("20001", &choice, &unmarried).unwrap();
    assert_eq!(
        plan.next_question(&unmarried),
        None,
        "no follow-up after `no`"
    );
    let materials = ids(plan.materials.iter().map(|m| m.material.id.as_str()));
    assert!(!materials.contains(&"marriage_cert"), "{materials:?}");
    assert!(
        plan.materials
            .iter()
            .any(|m| m.material.id == "unmarried_note" && m.required)
    );

    // An answer left over from before `married` changed to `no` no longer applies.
    unmarried.insert("hukou_where".into(), "mother".into());
    let plan = c.plan("20001", &choice, &unmarried).unwrap();
    assert!(!plan.fields.iter().any(|f| f.id == "hukou.address"));

    unmarried.insert("married".into(), "perhaps".into());
    assert_eq!(
        c.plan("20001", &choice, &unmarried).unwrap_err(),
        PlanError::UnknownAnswer {
            question: "married".into(),
            value: "perhaps".into()
        }
    );
}

#[test]
fn an_answer_that_adds_an_item_the_terminal_may_not_offer_is_refused_there_only() {
    let c = mini();
    let choice = Choice::Item("B3".into());
    let mut answers = Answers::new();
    answers.insert("sell_tobacco".into(), "yes".into());
    assert_eq!(
        c.plan("20001", &choice, &answers).unwrap_err(),
        PlanError::NotAuthorised("T1".into())
    );
    let plan = c.plan("10001", &choice, &answers).unwrap();
    assert_eq!(
        ids(plan.items.iter().map(|i| i.code.as_str())),
        ["B3", "T1"]
    );
    assert_eq!(
        ids(c.items_for("20001").map(|i| i.code.as_str())),
        ["B1", "B2", "B3"]
    );
    assert_eq!(
        c.bundles_for("20001").count(),
        1,
        "its mandatory items are all offered"
    );
}

#[test]
fn validation_names_each_broken_rule() {
    let mut c = mini();
    // 容缺 past the promised time limit (国办 rule: the deadline may not exceed it).
    c.items[1].time_limit_days = 2;
    c.items[0].department = "nowhere".into();
    c.questions[1].when.as_mut().unwrap().equals = "maybe".into();
    c.bundles[0].optional.push("B1".into());
    c.items[3].name.en.clear();
    let problems = c.validate().unwrap_err().0;
    for expected in [
        Problem::RongqueTooLate {
            item: "B2".into(),
            material: "hukou_book".into(),
            deadline: 3,
            limit: 2,
        },
        Problem::RongqueTooLate {
            item: "B2".into(),
            material: "marriage_cert".into(),
            deadline: 5,
            limit: 2,
        },
        Problem::Unknown {
            at: "item `B1`".into(),
            kind: "department",
            id: "nowhere".into(),
        },
        Problem::BadCondition {
            question: "hukou_where".into(),
            on: "married".into(),
            value: "maybe".into(),
        },
        Problem::RepeatedInBundle {
            bundle: "newborn".into(),
            item: "B1".into(),
        },
        Problem::Empty {
            at: "item `T1` English text".into(),
        },
    ] {
        assert!(
            problems.contains(&expected),
            "{expected:?} not in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn a_time_limit_or_deadline_longer_than_a_year_is_refused() {
    let mut c = mini();
    c.items[0].time_limit_days = catalogue::MAX_DAYS + 1;
    c.materials[2].rongque.as_mut().unwrap().deadline_days = catalogue::MAX_DAYS + 1;
    let problems = c.validate().unwrap_err().0;
    assert!(problems.contains(&Problem::TooLong {
        at: "item `B1` time limit".into(),
        days: catalogue::MAX_DAYS + 1
    }));
    assert!(problems.contains(&Problem::TooLong {
        at: "material `hukou_book` 容缺 deadline".into(),
        days: catalogue::MAX_DAYS + 1
    }));
}
