//! Voice guidance through a speech synthesiser (Debian's espeak-ng): one sentence at a time,
//! a new one cutting the last short, since the citizen has moved on to what it is about.
//! What is said is guidance written in the engine, never a citizen's data.

use crate::config::Speaker;
use session::Language;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The kiosk's voice.
pub struct Voice {
    speaker: Speaker,
    speaking: Mutex<Option<Child>>,
}

impl Voice {
    /// A voice on `speaker`.
    pub fn new(speaker: Speaker) -> Voice {
        Voice {
            speaker,
            speaking: Mutex::new(None),
        }
    }

    /// Says `text` in `language`, stopping whatever is being said.
    pub fn say(&self, text: &str, language: Language) {
        let mut speaking = self.speaking.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut last) = speaking.take() {
            let _ = last.kill();
            let _ = last.wait();
        }
        let voice = match language {
            Language::Zh => "cmn",
            Language::En => "en",
        };
        let started = Command::new(&self.speaker.program)
            .args(["-v", voice, "-s", &self.speaker.rate.to_string(), text])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match started {
            Ok(child) => *speaking = Some(child),
            Err(error) => tracing::warn!(
                program = %self.speaker.program.display(),
                %error,
                "voice guidance cannot speak"
            ),
        }
    }

    /// Waits until the sentence being said is finished (tests; shutdown).
    pub fn finish(&self) {
        let mut speaking = self.speaking.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut last) = speaking.take() {
            let _ = last.wait();
        }
    }
}

impl Drop for Voice {
    fn drop(&mut self) {
        if let Some(mut last) = self.speaking.get_mut().ok().and_then(Option::take) {
            let _ = last.kill();
            let _ = last.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// A synthesiser standing in for espeak-ng that writes what it was asked to `log`, or
    /// hands the request on to the real espeak-ng writing a WAV file.
    fn synthesiser(dir: &Path, body: &str) -> Speaker {
        let program = dir.join("say");
        std::fs::write(&program, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        Speaker { program, rate: 140 }
    }

    #[test]
    fn each_language_has_its_voice_and_a_new_sentence_cuts_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("said");
        let voice = Voice::new(synthesiser(
            dir.path(),
            &format!(
                "echo \"$@\" >> {}; sleep 0.3; echo done >> {}",
                log.display(),
                log.display()
            ),
        ));
        voice.say("请将身份证放在感应区。", Language::Zh);
        // The first sentence has begun (the synthesiser wrote its request) before the next.
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("cmn")) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        voice.say("Thank you.", Language::En);
        voice.finish();
        let said = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            said, "-v cmn -s 140 请将身份证放在感应区。\n-v en -s 140 Thank you.\ndone\n",
            "the first sentence was cut short"
        );
    }

    #[test]
    fn espeak_ng_says_chinese_with_its_mandarin_voice() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("said.wav");
        let voice = Voice::new(synthesiser(
            dir.path(),
            &format!("exec /usr/bin/espeak-ng -w {} \"$@\"", wav.display()),
        ));
        voice.say("申请已保存，请取走回执。", Language::Zh);
        voice.finish();
        let audio = std::fs::read(&wav).expect("espeak-ng (Debian package espeak-ng) wrote audio");
        assert_eq!(&audio[..4], b"RIFF");
        // Over a second of speech at espeak-ng's 22 050 samples of 16 bits a second.
        assert!(audio.len() > 44_100, "{} bytes", audio.len());
    }
}
