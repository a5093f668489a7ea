//! The Vault `AES256` cipher: PBKDF2-HMAC-SHA256 (10 000 iterations) derives
//! 80 bytes — the AES-256 key, the HMAC-SHA256 key and the initial 128-bit
//! big-endian CTR counter block. The plaintext is PKCS#7-padded (even though
//! CTR does not need it) and encrypted with AES-256-CTR; the tag is
//! HMAC-SHA256 over the ciphertext alone (encrypt-then-MAC), checked in
//! constant time before anything is decrypted.

use aes::Aes256;
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

type Aes256Ctr = ctr::Ctr128BE<Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// PBKDF2 iterations Ansible uses.
const ITERATIONS: u32 = 10_000;
/// AES block size, the PKCS#7 padding unit.
const BLOCK: usize = 16;

/// The keys derived from a password and a salt, wiped when dropped.
struct Keys {
    aes: [u8; 32],
    /// The 32-byte HMAC key, zero-padded to SHA-256's 64-byte block (which
    /// is what HMAC does with a short key anyway).
    mac: [u8; 64],
    iv: [u8; 16],
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8]) -> Keys {
        let mut out = Zeroizing::new([0u8; 80]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, out.as_mut_slice());
        let mut keys = Keys {
            aes: [0; 32],
            mac: [0; 64],
            iv: [0; 16],
        };
        keys.aes.copy_from_slice(&out[0..32]);
        keys.mac[..32].copy_from_slice(&out[32..64]);
        keys.iv.copy_from_slice(&out[64..80]);
        keys
    }

    fn cipher(&self) -> Aes256Ctr {
        Aes256Ctr::new((&self.aes).into(), (&self.iv).into())
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new((&self.mac).into())
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.aes.zeroize();
        self.mac.zeroize();
        self.iv.zeroize();
    }
}

/// Why a decryption failed; deliberately vague (no oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CryptoError {
    /// The HMAC did not match: wrong password or tampered data.
    Hmac,
    /// The HMAC matched but the padding is malformed.
    Padding,
}

/// Encrypts `plaintext`; returns `(hmac, ciphertext)`.
pub(crate) fn encrypt(plaintext: &[u8], password: &[u8], salt: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let keys = Keys::derive(password, salt);
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    // `pad` is 1..=16, so it fits a byte.
    data.extend(std::iter::repeat_n(pad as u8, pad));
    keys.cipher().apply_keystream(&mut data);
    let mut mac = keys.mac();
    mac.update(&data);
    (mac.finalize().into_bytes().to_vec(), data)
}

/// Checks the tag in constant time, then decrypts and unpads.
pub(crate) fn decrypt(
    tag: &[u8],
    ciphertext: &[u8],
    password: &[u8],
    salt: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let keys = Keys::derive(password, salt);
    let mut mac = keys.mac();
    mac.update(ciphertext);
    // `verify_slice` compares in constant time (subtle).
    mac.verify_slice(tag).map_err(|_| CryptoError::Hmac)?;
    let mut cipher = keys.cipher();
    drop(keys);
    let mut data = ciphertext.to_vec();
    cipher.apply_keystream(&mut data);
    match unpad(&data) {
        Some(len) => {
            data[len..].zeroize();
            data.truncate(len);
            Ok(data)
        }
        None => {
            data.zeroize();
            Err(CryptoError::Padding)
        }
    }
}

/// The length of the data without its PKCS#7 padding, if the padding is valid.
fn unpad(data: &[u8]) -> Option<usize> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let last = *data.last()?;
    let n = usize::from(last);
    if n == 0 || n > BLOCK {
        return None;
    }
    let start = data.len() - n;
    data[start..].iter().all(|b| *b == last).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_lengths() {
        for len in 0..40 {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let (tag, ct) = encrypt(&plain, b"pw", b"salt");
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt(&tag, &ct, b"pw", b"salt").unwrap(), plain);
            assert_eq!(
                decrypt(&tag, &ct, b"other", b"salt"),
                Err(CryptoError::Hmac)
            );
        }
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let (tag, mut ct) = encrypt(b"hello", b"pw", b"salt");
        ct[0] ^= 1;
        assert_eq!(decrypt(&tag, &ct, b"pw", b"salt"), Err(CryptoError::Hmac));
    }

    #[test]
    fn unpad_rejects_bad_padding() {
        assert_eq!(unpad(&[16u8; 16]), Some(0));
        assert_eq!(unpad(&[0u8; 16]), None);
        let mut b = [3u8; 16];
        b[14] = 2;
        assert_eq!(unpad(&b), None);
    }
}
