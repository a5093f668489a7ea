//! SHA-crypt (`$5$` and `$6$` password hashes) for the `password_hash`
//! filter, written from Ulrich Drepper's public specification so that
//! `/etc/shadow` entries match what `openssl passwd -6` and glibc produce.

use sha2::{Digest, Sha256, Sha512};

const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The default number of rounds; it is left out of the output string.
pub const DEFAULT_ROUNDS: u32 = 5000;

/// `$6$salt$hash` (or `$6$rounds=N$salt$hash`).
pub fn sha512_crypt(password: &str, salt: &str, rounds: Option<u32>) -> String {
    let (salt, rounds, prefix) = prepare(salt, rounds, "$6$");
    let digest = sha_crypt::<Sha512>(password.as_bytes(), salt.as_bytes(), rounds);
    const ORDER: [(usize, usize, usize); 21] = [
        (0, 21, 42),
        (22, 43, 1),
        (44, 2, 23),
        (3, 24, 45),
        (25, 46, 4),
        (47, 5, 26),
        (6, 27, 48),
        (28, 49, 7),
        (50, 8, 29),
        (9, 30, 51),
        (31, 52, 10),
        (53, 11, 32),
        (12, 33, 54),
        (34, 55, 13),
        (56, 14, 35),
        (15, 36, 57),
        (37, 58, 16),
        (59, 17, 38),
        (18, 39, 60),
        (40, 61, 19),
        (62, 20, 41),
    ];
    let mut out = format!("{prefix}{salt}$");
    for (a, b, c) in ORDER {
        encode24(&mut out, digest[a], digest[b], digest[c], 4);
    }
    encode24(&mut out, 0, 0, digest[63], 2);
    out
}

/// `$5$salt$hash` (or `$5$rounds=N$salt$hash`).
pub fn sha256_crypt(password: &str, salt: &str, rounds: Option<u32>) -> String {
    let (salt, rounds, prefix) = prepare(salt, rounds, "$5$");
    let digest = sha_crypt::<Sha256>(password.as_bytes(), salt.as_bytes(), rounds);
    const ORDER: [(usize, usize, usize); 10] = [
        (0, 10, 20),
        (21, 1, 11),
        (12, 22, 2),
        (3, 13, 23),
        (24, 4, 14),
        (15, 25, 5),
        (6, 16, 26),
        (27, 7, 17),
        (18, 28, 8),
        (9, 19, 29),
    ];
    let mut out = format!("{prefix}{salt}$");
    for (a, b, c) in ORDER {
        encode24(&mut out, digest[a], digest[b], digest[c], 4);
    }
    encode24(&mut out, 0, digest[31], digest[30], 3);
    out
}

/// Clamps salt (16 chars) and rounds (1000..=999999999) like the spec and
/// builds the `$N$[rounds=R$]` prefix.
fn prepare<'a>(salt: &'a str, rounds: Option<u32>, id: &str) -> (&'a str, u32, String) {
    let salt = salt.strip_prefix(id).unwrap_or(salt);
    let salt = salt.split('$').next().unwrap_or_default();
    let salt = match salt.char_indices().nth(16) {
        Some((i, _)) => &salt[..i],
        None => salt,
    };
    match rounds {
        Some(r) if r != DEFAULT_ROUNDS => {
            let r = r.clamp(1000, 999_999_999);
            (salt, r, format!("{id}rounds={r}$"))
        }
        _ => (salt, DEFAULT_ROUNDS, id.to_string()),
    }
}

fn encode24(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(char::from(ALPHABET[(w & 0x3f) as usize]));
        w >>= 6;
    }
}

/// Repeats `digest` cyclically to `len` bytes.
fn stretch(digest: &[u8], len: usize) -> Vec<u8> {
    digest.iter().cycle().take(len).copied().collect()
}

fn sha_crypt<D: Digest + Clone>(pw: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let size = <D as Digest>::output_size();
    // Digest B: password, salt, password.
    let mut b = D::new();
    b.update(pw);
    b.update(salt);
    b.update(pw);
    let b = b.finalize().to_vec();

    // Digest A: password, salt, B stretched to the password's length, then
    // B or the password for each bit of the length.
    let mut a = D::new();
    a.update(pw);
    a.update(salt);
    a.update(stretch(&b, pw.len()));
    let mut len = pw.len();
    while len > 0 {
        if len & 1 == 1 {
            a.update(&b);
        } else {
            a.update(pw);
        }
        len >>= 1;
    }
    let a = a.finalize().to_vec();

    // P: digest of the password repeated once per byte of it.
    let mut dp = D::new();
    for _ in 0..pw.len() {
        dp.update(pw);
    }
    let p = stretch(&dp.finalize(), pw.len());

    // S: digest of the salt repeated 16 + A[0] times.
    let mut ds = D::new();
    for _ in 0..16 + usize::from(a[0]) {
        ds.update(salt);
    }
    let s = stretch(&ds.finalize(), salt.len());

    let mut c = a;
    for i in 0..rounds {
        let mut h = D::new();
        if i % 2 == 1 {
            h.update(&p);
        } else {
            h.update(&c);
        }
        if i % 3 != 0 {
            h.update(&s);
        }
        if i % 7 != 0 {
            h.update(&p);
        }
        if i % 2 == 1 {
            h.update(&c);
        } else {
            h.update(&p);
        }
        c = h.finalize().to_vec();
    }
    debug_assert_eq!(c.len(), size);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        // Checked against glibc (Python's crypt module).
        assert_eq!(
            sha512_crypt("Hello world!", "saltstring", None),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            sha256_crypt("Hello world!", "saltstring", None),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(
            sha512_crypt("Hello world!", "saltstringsaltstring", Some(10000)),
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        );
        assert_eq!(
            sha512_crypt("", "ab", None),
            "$6$ab$xnh5Qsr2NdbFw1PgdZie7nLON3gv.S.23iQDBqAzkdoXPtDnVSpludXkM5UWybQO3OI7hBj9wHg9Ow6sUWD60/"
        );
    }
}
