//! The signed catalogue: only a catalogue signed by a trusted key is installed, the swap is
//! atomic, and a refused one leaves the old one in place, on disk and in use.

use catalogue::signed::{open, parse};
use catalogue::{Algorithm, CatalogueError, Installed, SigningKey, TrustStore, sample};
use std::path::PathBuf;

fn dev_key() -> SigningKey {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample/dev-signing-key.json");
    SigningKey::load(&path).unwrap()
}

fn with_version(version: u64) -> String {
    let mut c = sample::catalogue().unwrap();
    c.version = version;
    serde_json::to_string(&c).unwrap()
}

fn signed(text: &str) -> Vec<u8> {
    serde_json::to_vec(&dev_key().sign(text).unwrap()).unwrap()
}

#[test]
fn the_committed_signed_sample_is_the_sample_signed_with_the_dev_key() {
    let catalogue = open(sample::SIGNED.as_bytes(), &sample::trust()).unwrap();
    assert_eq!(catalogue, sample::catalogue().unwrap());
    let resigned: catalogue::Envelope = serde_json::from_str(sample::SIGNED).unwrap();
    assert_eq!(
        resigned,
        dev_key().sign(sample::CATALOGUE).unwrap(),
        "re-sign it: kioskctl catalog sign kiosk-app/catalogue/sample/catalogue.json \
         --key kiosk-app/catalogue/sample/dev-signing-key.json --output kiosk-app/catalogue/sample/catalogue.signed.json"
    );
}

#[test]
fn both_algorithms_verify_and_an_altered_or_foreign_catalogue_is_refused() {
    let text = sample::CATALOGUE;
    for algorithm in [Algorithm::Ed25519, Algorithm::Sm2] {
        let key = SigningKey::generate(algorithm, "central-2026").unwrap();
        let trust = TrustStore(vec![key.public().unwrap()]);
        let envelope = key.sign(text).unwrap();
        let bytes = serde_json::to_vec(&envelope).unwrap();
        assert_eq!(
            open(&bytes, &trust).unwrap().items.len(),
            parse(text).unwrap().items.len()
        );

        let mut altered = envelope.clone();
        altered.catalogue = altered
            .catalogue
            .replacen("\"version\": 1", "\"version\": 9", 1);
        assert_ne!(altered.catalogue, envelope.catalogue);
        let err = open(&serde_json::to_vec(&altered).unwrap(), &trust).unwrap_err();
        assert!(matches!(err, CatalogueError::BadSignature), "{err}");

        let stranger = SigningKey::generate(algorithm, "central-2026").unwrap();
        let forged = serde_json::to_vec(&stranger.sign(text).unwrap()).unwrap();
        assert!(matches!(
            open(&forged, &trust).unwrap_err(),
            CatalogueError::BadSignature
        ));

        let unknown = SigningKey::generate(algorithm, "someone-else").unwrap();
        let other = serde_json::to_vec(&unknown.sign(text).unwrap()).unwrap();
        assert!(
            matches!(open(&other, &trust).unwrap_err(), CatalogueError::UnknownKey(id) if id == "someone-else")
        );
    }
    assert!(matches!(
        open(b"{\"not\": 1}", &sample::trust()).unwrap_err(),
        CatalogueError::Envelope(_)
    ));
}

#[test]
fn a_new_catalogue_is_swapped_in_whole_and_a_refused_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.json");
    let installed = Installed::open(&path, sample::trust()).unwrap();
    assert!(installed.current().is_none());
    let v1 = signed(&with_version(1));
    installed.install(&v1).unwrap();
    let on_disk = std::fs::read(&path).unwrap();

    let refusals: Vec<(Vec<u8>, &str)> = vec![
        (signed(&with_version(1)), "not newer"),
        (
            signed(&with_version(2).replace("\"format\":1", "\"format\":2")),
            "format 2",
        ),
        (
            signed(&with_version(2).replacen("\"department\":", "\"department\":\"x\",\"_\":", 1)),
            "cannot be read",
        ),
        (
            {
                let mut c = sample::catalogue().unwrap();
                c.version = 2;
                c.items[0].department = "nowhere".into();
                signed(&serde_json::to_string(&c).unwrap())
            },
            "`nowhere`, which is not defined",
        ),
        (
            {
                let mut env = dev_key().sign(&with_version(2)).unwrap();
                env.signature = env.signature.chars().rev().collect();
                serde_json::to_vec(&env).unwrap()
            },
            "signature",
        ),
    ];
    for (bytes, reason) in refusals {
        let err = installed.install(&bytes).unwrap_err().to_string();
        assert!(err.contains(reason), "expected `{reason}` in: {err}");
        assert_eq!(
            installed.current().unwrap().version,
            1,
            "the old one stays in use"
        );
        assert_eq!(std::fs::read(&path).unwrap(), on_disk, "and on disk");
    }

    installed.install(&signed(&with_version(2))).unwrap();
    assert_eq!(installed.current().unwrap().version, 2);
    let reopened = Installed::open(&path, sample::trust()).unwrap();
    assert_eq!(
        reopened.current().unwrap().version,
        2,
        "the swap is on disk"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file is left"
    );

    // A catalogue altered on disk is refused at the next start rather than trusted.
    let tampered = String::from_utf8(std::fs::read(&path).unwrap())
        .unwrap()
        .replacen("2026", "2027", 1);
    std::fs::write(&path, tampered).unwrap();
    assert!(Installed::open(&path, sample::trust()).is_err());
}
