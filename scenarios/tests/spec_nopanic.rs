//! Nothing a user writes makes the parser panic (SPEC 11): mutated scenario files, random text and
//! pathological nesting all give `Ok` or a positioned error.

use proptest::prelude::*;
use scenarios::spec::*;
use std::path::Path;

fn builtin_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            out.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    out.sort();
    out
}

fn check(text: &str) {
    if let Err(e) = parse_scenario("fuzz.toml", text, None) {
        assert!(e.line >= 1 && e.column >= 1, "{e}");
        assert!(e.line <= text.lines().count().max(1) + 1, "{e}");
    }
}

/// A small deterministic generator (no OS randomness in tests either).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

const PIECES: [&str; 24] = [
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    "\n",
    "#",
    "0",
    "-1",
    "1e9",
    "0.5",
    "9999999999999999999",
    "\"all\"",
    "first:1:",
    "population:",
    "group:",
    "{:099}",
    "ENTERPRISEPACK",
    "ü",
    "\\u0000",
    "[[plan]]\naction = \"gate\"\n",
];

#[test]
fn mutated_builtin_scenarios_never_panic() {
    let mut rng = Lcg(7);
    for text in builtin_texts() {
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..250 {
            let mut c = chars.clone();
            let edits = 1 + rng.next(3);
            for _ in 0..edits {
                let at = rng.next(c.len() + 1);
                match rng.next(4) {
                    0 if at < c.len() => {
                        c.remove(at);
                    }
                    1 => {
                        let piece = PIECES[rng.next(PIECES.len())];
                        for (k, ch) in piece.chars().enumerate() {
                            c.insert((at + k).min(c.len()), ch);
                        }
                    }
                    2 if at < c.len() => {
                        // Swap a digit or letter for another.
                        c[at] = ['0', '9', 'x', 'Z', '_', '.', ' '][rng.next(7)];
                    }
                    _ => c.truncate(at),
                }
            }
            let s: String = c.into_iter().collect();
            check(&s);
        }
    }
}

#[test]
fn every_line_dropped_never_panics() {
    for text in builtin_texts() {
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut l = lines.clone();
            l.remove(i);
            check(&l.join("\n"));
        }
    }
}

#[test]
fn pathological_inputs() {
    check(&"[".repeat(100_000));
    check(&format!("a = {}{}", "[".repeat(50_000), "]".repeat(50_000)));
    check(&format!(
        "a = {}1{}",
        "{b = ".repeat(10_000),
        "}".repeat(10_000)
    ));
    check(&format!(
        "[[plan]]\naction = \"reprocess_user\"\nusers = \"{}all\"\n",
        "first:1:".repeat(100_000)
    ));
    check(
        "[[populations]]\nname = \"p\"\ncount = 10000000\nid_pattern = \"{:020}\"\n[[populations]]\nname = \"q\"\ncount = 1\nid_pattern = \"{:20}\"\n",
    );
    check("[[populations]]\nname = \"p\"\ncount = 9223372036854775807\n");
    check("[scenario]\nstart = 9999-99-99T99:99:99Z\n");
    check("[scenario]\nstart = 2026-01-01\n");
    check("[environment]\nconcurrency_probability = 1e999\n");
    check("[environment]\nconcurrency_probability = nan\n");
    check("[faults]\nmissing_usage_location = { population = \"p\", fraction = 0.5 }\n");
    check("\u{feff}[scenario]\nname = \"bom\"\n");
    check("[tenant]\ncatalogue = \"\"\n");
    check(
        "[[tenant.skus]]\npart_number = \"X\"\nplans = []\n[tenant]\nsubscriptions = { X = 4294967296 }\n",
    );
    check("[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = -9223372036854775808\n");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        check(&s);
    }

    #[test]
    fn random_tokens_never_panic(parts in proptest::collection::vec(0usize..PIECES.len(), 0..40)) {
        let s: String = parts.into_iter().map(|i| PIECES[i]).collect();
        check(&s);
    }
}
