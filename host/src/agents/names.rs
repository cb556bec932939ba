//! Generated agent names: an adjective and a noun (`brisk-heron`), with a short suffix when
//! the pair is taken.

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brisk", "calm", "clever", "crisp", "daring", "eager", "fair", "fleet",
    "gentle", "glad", "golden", "grand", "hardy", "honest", "jolly", "keen", "kind", "lively",
    "lucid", "merry", "mighty", "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet",
    "rapid", "ready", "rosy", "sage", "silent", "silver", "sleek", "snappy", "solid", "steady",
    "sunny", "swift", "tidy", "true", "vivid", "warm", "wise", "witty", "young", "zesty",
];

const NOUNS: &[&str] = &[
    "badger", "beacon", "birch", "bison", "canyon", "cedar", "comet", "condor", "coral", "crane",
    "delta", "ember", "falcon", "fern", "fjord", "finch", "glacier", "harbor", "hawk", "heron",
    "island", "jackal", "lagoon", "lark", "lynx", "maple", "meadow", "mesa", "moose", "nebula",
    "oak", "orca", "osprey", "otter", "panda", "pebble", "pine", "quartz", "raven", "reef",
    "river", "robin", "sparrow", "spruce", "summit", "thistle", "tiger", "walrus", "willow",
    "wren",
];

fn random_u64() -> u64 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// A name not in `taken`.
pub fn generate(taken: &dyn Fn(&str) -> bool) -> String {
    for _ in 0..50 {
        let r = random_u64();
        let name = format!(
            "{}-{}",
            ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize],
            NOUNS[((r >> 16) % NOUNS.len() as u64) as usize]
        );
        if !taken(&name) {
            return name;
        }
    }
    let r = random_u64();
    format!(
        "{}-{}-{:04x}",
        ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize],
        NOUNS[((r >> 16) % NOUNS.len() as u64) as usize],
        (r >> 32) & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_and_avoid_taken_ones() {
        for _ in 0..100 {
            let name = generate(&|n| n.starts_with('a'));
            assert!(mngr_plugin_api::SafeName::parse(&name).is_ok(), "{name}");
            assert!(!name.starts_with('a'));
        }
        let name = generate(&|n| n.matches('-').count() == 1);
        assert_eq!(name.matches('-').count(), 2);
    }
}
