//! Realistic demo applications from the sample catalogue, for `kioskctl db submit-demo`, the
//! crash test and the benchmarks: citizens with valid ID numbers (a few return, so earlier
//! values and stored materials are reused), every question answered, every field filled with a
//! value its check accepts, and materials captured as real JPEG pages, reused, or left missing
//! where 容缺 allows.

use application::{
    Answer, Applicant, Consents, Draft, FormValue, MaterialEntry, Provided, Signature, time,
};
use catalogue::form::{credit_code_ok, luhn_ok};
use catalogue::{Catalogue, Choice, Field, FieldKind};
use idcard::card::id_number_check_ok;
use kiosk_store::{CapturedMaterial, Store, StoreError};
use zeroize::Zeroizing;

/// A small deterministic generator (SplitMix64): the same seed gives the same applications.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "林", "郑", "𠮷",
];
const GIVEN: &[&str] = &[
    "秀英", "建国", "丽华", "志强", "海燕", "国庆", "淑珍", "明", "桂兰", "晓东", "婷", "英",
];
const PLACES: &[(&str, &str)] = &[
    ("350502", "福建省泉州市鲤城区中山中路"),
    ("350582", "福建省晋江市青阳街道世纪大道"),
    ("110105", "北京市朝阳区建国路"),
    ("440106", "广东省广州市天河区体育西路"),
    ("510104", "四川省成都市锦江区春熙路"),
];

/// A citizen of the demo: the same `who` gives the same person, so people come back.
pub fn applicant(who: u64) -> Applicant {
    let mut rng = Rng::new(who.wrapping_mul(7919) + 1);
    let (region, street) = *rng.pick(PLACES);
    let year = 1940 + rng.below(60);
    let (month, day) = (1 + rng.below(12), 1 + rng.below(28));
    let male = rng.chance(50);
    let seq = rng.below(500) * 2 + usize::from(male);
    let body = format!("{region}{year:04}{month:02}{day:02}{seq:03}");
    Applicant {
        name: format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)),
        id_number: with_check(&body, "0123456789X", id_number_check_ok),
        sex: if male { "男" } else { "女" }.into(),
        nation: Some("汉".into()),
        birth_date: format!("{year:04}-{month:02}-{day:02}"),
        address: Some(format!("{street}{}号", 1 + rng.below(300))),
    }
}

/// `body` with the one check character from `alphabet` that `ok` accepts.
fn with_check(body: &str, alphabet: &str, ok: impl Fn(&str) -> bool) -> String {
    alphabet
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|s| ok(s))
        .unwrap_or_else(|| body.to_owned())
}

/// Page images (greyscale JPEG, A4 at 100 dpi) with text-like lines; made once per process.
pub fn page_images() -> Vec<Vec<u8>> {
    (0..3u32)
        .map(|variant| {
            let (w, h) = (827u32, 1169u32);
            let img = image::GrayImage::from_fn(w, h, |x, y| {
                let margin = x < 80 || x > w - 80 || y < 100 || y > h - 100;
                let line = (y / 18) % 2 == 0 && (y / 18 + variant) % 7 != 0;
                let word = ((x / 23 + y / 18 * 3 + variant) % 9) != 0;
                let ink = !margin && line && word && (y % 18) > 5;
                let noise = ((x * 31 + y * 17 + variant * 7) % 13) as u8;
                image::Luma([if ink { 40 + noise } else { 235 + noise }])
            });
            let mut out = Vec::new();
            let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
            // Encoding an in-memory image into a Vec cannot fail.
            let _ = enc.encode_image(&img);
            out
        })
        .collect()
}

/// One demo application: the draft and its captured pages.
pub fn application(
    catalogue: &Catalogue,
    terminal: &str,
    store: &Store,
    rng: &mut Rng,
    pages: &[Vec<u8>],
    now_ms: i64,
) -> Result<(Draft, Vec<CapturedMaterial>), StoreError> {
    let people = 40;
    let person = applicant(rng.below(people) as u64);
    let earlier = store.earlier_values(catalogue, &person.id_number)?;
    let stored = store.reusable_materials(&person.id_number, now_ms)?;
    loop {
        let (bundle, chosen) = choose(catalogue, terminal, rng);
        let choice = match &bundle {
            Some(id) => Choice::Bundle {
                id: id.clone(),
                optional: chosen.clone(),
            },
            None => Choice::Item(chosen[0].clone()),
        };
        let mut answers = catalogue::Answers::new();
        let plan = loop {
            let Ok(plan) = catalogue.plan(terminal, &choice, &answers) else {
                break None;
            };
            match plan.next_question(&answers) {
                Some(q) => {
                    answers.insert(q.id.clone(), rng.pick(&q.options).value.clone());
                }
                None => break Some(plan),
            }
        };
        // An answer may bring in an item this terminal does not offer: choose again.
        let Some(plan) = plan else { continue };
        let form = plan
            .fields
            .iter()
            .map(|f| FormValue {
                field: f.id.clone(),
                value: earlier
                    .iter()
                    .find(|v| v.field == f.id)
                    .map(|v| v.value.clone())
                    .unwrap_or_else(|| field_value(f, &person, rng, now_ms)),
            })
            .collect();
        let today = time::local_date(now_ms);
        let mut materials = Vec::new();
        let mut captured = Vec::new();
        for planned in &plan.materials {
            let id = &planned.material.id;
            if let Some(copy) = stored
                .iter()
                .find(|s| &s.material == id)
                .filter(|_| rng.chance(80))
            {
                materials.push(MaterialEntry {
                    material: id.clone(),
                    provided: Provided::Reused {
                        stored: copy.id.clone(),
                        captured_at_ms: copy.captured_at_ms,
                        trust: copy.trust,
                        pages: Vec::new(),
                    },
                });
            } else if let Some(days) = planned.rongque_deadline().filter(|_| rng.chance(25)) {
                materials.push(MaterialEntry {
                    material: id.clone(),
                    provided: Provided::Missing {
                        deadline: time::iso(time::add_working_days(today, days)),
                    },
                });
            } else if planned.required || rng.chance(50) {
                let count = 1 + rng.below(planned.material.capture.max_pages.min(2) as usize);
                captured.push(CapturedMaterial {
                    material: id.clone(),
                    pages: (0..count)
                        .map(|_| Zeroizing::new(rng.pick(pages).clone()))
                        .collect(),
                });
            }
        }
        let items: Vec<&catalogue::Item> = plan.items.clone();
        let draft = Draft {
            catalogue_version: catalogue.version,
            bundle,
            chosen,
            applicant: person,
            answers: answers
                .into_iter()
                .map(|(question, value)| Answer { question, value })
                .collect(),
            form,
            materials,
            delivery: items[0].delivery[0],
            consents: Consents {
                processing: true,
                store_for_reuse: rng.chance(70),
            },
            signature: Signature {
                strokes: vec![
                    (0..20)
                        .map(|i| (100 + i * 30, 200 + (i % 5) * 20))
                        .collect(),
                ],
            },
        };
        return Ok((draft, captured));
    }
}

fn choose(catalogue: &Catalogue, terminal: &str, rng: &mut Rng) -> (Option<String>, Vec<String>) {
    let bundles: Vec<_> = catalogue.bundles_for(terminal).collect();
    if !bundles.is_empty() && rng.chance(30) {
        let b = rng.pick(&bundles);
        let optional = b
            .optional
            .iter()
            .filter(|c| catalogue.authorised(terminal, c) && rng.chance(30))
            .cloned()
            .collect();
        return (Some(b.id.clone()), optional);
    }
    let items: Vec<_> = catalogue.items_for(terminal).collect();
    (None, vec![rng.pick(&items).code.clone()])
}

/// A value `field`'s check accepts.
/// A valid value for `field` as `person` would enter it (the card's value where the card has it).
pub fn field_value(field: &Field, person: &Applicant, rng: &mut Rng, now_ms: i64) -> String {
    if let Some(v) = person.card_value(field) {
        return v;
    }
    match &field.kind {
        FieldKind::Choice { options } => rng.pick(options).value.clone(),
        FieldKind::Text { max_len } => {
            let text = if field.id.contains("name") {
                format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
            } else if field.id.starts_with("company") {
                "泉州市晨光商贸有限公司".to_owned()
            } else {
                "自助终端办理，信息属实".to_owned()
            };
            text.chars().take(*max_len as usize).collect()
        }
        FieldKind::IdNumber => applicant(1000 + rng.below(1000) as u64).id_number.clone(),
        FieldKind::Phone => format!("1{}{}", rng.pick(&["3", "5", "8"]), rng.digits(9)),
        FieldKind::Date => {
            let d = time::local_date(now_ms - rng.below(300) as i64 * 86_400_000);
            time::iso(d)
        }
        FieldKind::Number { min, max } => {
            let span = (max - min).clamp(0, 1000) as usize;
            (min + rng.below(span + 1) as i64).to_string()
        }
        FieldKind::Address => person
            .address
            .clone()
            .unwrap_or_else(|| "福建省泉州市丰泽区".into()),
        FieldKind::CreditCode => {
            const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
            let body: String = "91350500"
                .chars()
                .chain((0..9).map(|_| char::from(*rng.pick(CHARS))))
                .collect();
            with_check(&body, "0123456789ABCDEFGHJKLMNPQRTUWXY", credit_code_ok)
        }
        FieldKind::Postcode => "362000".to_owned(),
        FieldKind::BankAccount => {
            with_check(&format!("622202{}", rng.digits(12)), "0123456789", luhn_ok)
        }
    }
}
