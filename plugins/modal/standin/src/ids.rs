//! Object ids with Modal's prefixes and shapes. The client decides a sandbox's API family from
//! its id alone: `sb-` + 22 base62 characters is V1, anything else V2.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LOWER: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == len {
                break;
            }
            out.push(alphabet[usize::from(*byte) % alphabet.len()] as char);
        }
    }
    out
}

pub fn app() -> String {
    format!("ap-{}", random_text(BASE62, 22))
}

pub fn environment() -> String {
    format!("en-{}", random_text(BASE62, 22))
}

/// Lower case only, so the id doubles as a Docker tag.
pub fn image() -> String {
    format!("im-{}", random_text(LOWER, 22))
}

pub fn volume() -> String {
    format!("vo-{}", random_text(BASE62, 22))
}

pub fn sandbox(v2: bool) -> String {
    if v2 {
        // 26 characters, like a ULID: never mistaken for the V1 shape.
        format!("sb-{}", random_text(CROCKFORD, 26))
    } else {
        format!("sb-{}", random_text(BASE62, 22))
    }
}

/// V2 task ids end with `V`.
pub fn task(v2: bool) -> String {
    if v2 {
        format!("ta-{}V", random_text(BASE62, 21))
    } else {
        format!("ta-{}", random_text(BASE62, 22))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `id` has the V1 sandbox shape, by the client's rule.
    pub fn is_v1_sandbox(id: &str) -> bool {
        id.strip_prefix("sb-")
            .is_some_and(|rest| rest.len() == 22 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    #[test]
    fn sandbox_ids_have_the_shape_of_their_family() {
        assert!(is_v1_sandbox(&sandbox(false)));
        assert!(!is_v1_sandbox(&sandbox(true)));
        assert!(task(true).ends_with('V'));
        assert_eq!(image().len(), 25);
        assert!(image().bytes().all(|b| !b.is_ascii_uppercase()));
    }
}
