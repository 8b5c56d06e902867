//! The sample catalogue is real enough to demonstrate 一窗通办 and 一件事一次办.

use catalogue::{Choice, sample};
use std::collections::HashSet;

#[test]
fn the_sample_has_the_breadth_the_brief_asks_for() {
    let c = sample::catalogue().unwrap();
    assert!(c.items.len() >= 40, "{} items", c.items.len());
    let departments: HashSet<_> = c.items.iter().map(|i| i.department.as_str()).collect();
    assert!(departments.len() >= 12, "{} departments", departments.len());
    for name in [
        "港澳通行证再次签注",
        "居民身份证换领",
        "居民身份证补领",
        "社会保障卡申领",
        "城乡居民医保参保登记",
        "交通违法处理",
        "住房公积金提取",
        "增值税发票申领",
        "劳动争议调解申请",
        "幼儿园学位申请",
        "长者助餐服务申请",
        "残疾人两项补贴申请",
    ] {
        assert!(
            c.items.iter().any(|i| i.name.zh.contains(name)),
            "{name} is missing"
        );
    }
    assert!(c.materials.iter().filter(|m| m.rongque.is_some()).count() >= 8);
}

#[test]
fn the_named_bundles_have_their_items_and_plan_on_a_lobby_terminal() {
    let c = sample::catalogue().unwrap();
    let bundle = |zh: &str| {
        c.bundles
            .iter()
            .find(|b| b.name.zh.contains(zh))
            .unwrap_or_else(|| panic!("bundle {zh} is missing"))
    };
    let newborn = bundle("新生儿出生");
    assert_eq!(newborn.mandatory.len(), 5);
    let depts: HashSet<_> = newborn
        .mandatory
        .iter()
        .map(|code| &c.item(code).unwrap().department)
        .collect();
    assert_eq!(depts.len(), 4, "5 items of 4 departments, 5 trips cut to 1");
    assert_eq!(bundle("企业开办").mandatory.len(), 5);
    let hotel = bundle("开旅店");
    assert_eq!((hotel.mandatory.len(), hotel.optional.len()), (7, 6));
    for zh in ["员工录用", "灵活就业", "企业职工退休"] {
        assert!(bundle(zh).mandatory.len() >= 3, "{zh}");
    }
    for b in &c.bundles {
        let plan = c
            .plan(
                sample::LOBBY_TERMINAL,
                &Choice::Bundle {
                    id: b.id.clone(),
                    optional: vec![],
                },
                &Default::default(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", b.id));
        let asked: usize = plan.items.iter().map(|i| i.fields.len()).sum();
        assert!(plan.fields.len() <= asked);
        if b.mandatory.len() > 1 {
            assert!(
                plan.fields.len() < asked,
                "{}: its items share no field",
                b.id
            );
        }
    }
    assert!(
        c.items_for(sample::LOBBY_TERMINAL).count() < c.items_for(sample::HALL_TERMINAL).count()
    );
}
