//! A catalogue text from a hostile or broken source: parsing and validation never panic, and a
//! catalogue that validates plans every item and bundle, on every terminal it names, with every
//! first answer, without panicking.
#![no_main]

use catalogue::{Answers, Choice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(c) = catalogue::signed::parse(text) else { return };
    let terminals: Vec<&str> = c.authorisations.iter().flat_map(|a| a.terminals.iter().map(String::as_str)).collect();
    let choices = c
        .items
        .iter()
        .map(|i| Choice::Item(i.code.clone()))
        .chain(c.bundles.iter().map(|b| Choice::Bundle { id: b.id.clone(), optional: b.optional.clone() }));
    for choice in choices {
        for terminal in &terminals {
            let mut answers = Answers::new();
            for _ in 0..c.questions.len() + 1 {
                let Ok(plan) = c.plan(terminal, &choice, &answers) else { break };
                let Some(q) = plan.next_question(&answers) else { break };
                answers.insert(q.id.clone(), q.options[0].value.clone());
            }
        }
    }
});
