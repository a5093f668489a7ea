//! Ansible Vault, byte-compatible with `ansible-vault` (formats 1.1 and
//! 1.2): detecting, decrypting and encrypting vaulted text, loading vault
//! passwords (`--vault-id`, `--vault-password-file`, `--ask-vault-pass`,
//! `ANSIBLE_VAULT_PASSWORD_FILE`, `vault_identity_list`), and the
//! `tutti vault ...` / `ansible-vault` commands.
//!
//! The engine uses [`is_vault`] and [`decrypt`] on whole files and on
//! `!vault |` values, with the [`VaultSecrets`] that [`load_secrets`] built
//! from [`VaultOptions`] (see [`vault_options_from_env`]).

pub mod cli;
mod crypto;
mod format;
mod secrets;

use thiserror::Error;

use crate::secret::Secret;

pub use cli::{AnsibleVaultCli, VaultArgs, VaultCli};
pub use secrets::{VaultOptions, VaultSecrets, load_secrets, vault_options_from_env};

/// The secrets of this run, set once when the command starts, so every
/// place that reads YAML can decrypt what it finds.
static GLOBAL: std::sync::OnceLock<VaultSecrets> = std::sync::OnceLock::new();

/// Makes `secrets` the run's vault secrets.
pub fn set_global(secrets: VaultSecrets) {
    let _ = GLOBAL.set(secrets);
}

/// Decrypts vaulted text with the run's secrets, and remembers the
/// plaintext so it is scrubbed from all output.
pub fn decrypt_global(text: &str) -> Result<String, VaultError> {
    let secrets = GLOBAL.get().ok_or(VaultError::NoSecrets)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let plain = decrypt(text, secrets)?;
    let plain = String::from_utf8(plain)
        .map_err(|_| VaultError::Format("the decrypted data is not UTF-8 text".into()))?;
    crate::secret::register(&plain);
    Ok(plain)
}

/// The label of a secret given without one, and of 1.1 files.
pub const DEFAULT_VAULT_ID: &str = "default";

/// Why vaulted text could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VaultError {
    /// The text does not start with `$ANSIBLE_VAULT`.
    #[error("Input is not vault encrypted data.")]
    NotVault,
    /// The envelope is malformed (bad header, bad hex, missing parts).
    #[error("{0}")]
    Format(String),
    /// No secrets were configured at all.
    #[error("Attempting to decrypt but no vault secrets found")]
    NoSecrets,
    /// No secret passed the HMAC check (wrong password, or tampered data).
    #[error("Decryption failed (no vault secrets were found that could decrypt)")]
    DecryptionFailed,
}

/// A successful decryption and what it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// The label of the secret that decrypted it.
    pub secret_id: String,
    /// The vault id written in a 1.2 header, if any.
    pub header_id: Option<String>,
}

/// Whether `text` is vault-encrypted (starts with `$ANSIBLE_VAULT`, leading
/// whitespace allowed).
pub fn is_vault(text: &str) -> bool {
    format::is_vault(text)
}

/// Decrypts vaulted text (a whole file or a `!vault` value). Every secret
/// is tried; the vault id in a 1.2 header only decides which go first
/// (unless `vault_id_match` is on, then only matching ids are tried).
pub fn decrypt(text: &str, secrets: &VaultSecrets) -> Result<Vec<u8>, VaultError> {
    decrypt_detailed(text, secrets).map(|d| d.plaintext)
}

/// Like [`decrypt`], also telling which secret worked (for `edit` and
/// `rekey`, which re-encrypt with it).
pub fn decrypt_detailed(text: &str, secrets: &VaultSecrets) -> Result<Decrypted, VaultError> {
    let envelope = format::parse(text)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let hint = envelope.vault_id.as_deref();
    let matching = secrets.iter().filter(|(id, _)| Some(*id) == hint);
    let others = secrets.iter().filter(|(id, _)| Some(*id) != hint);
    let order: Vec<(&str, &Secret)> = if secrets.id_match {
        // 1.1 files carry no id: they match the default one.
        let want = hint.unwrap_or(DEFAULT_VAULT_ID);
        secrets.iter().filter(|(id, _)| *id == want).collect()
    } else {
        matching.chain(others).collect()
    };
    for (id, secret) in order {
        if let Ok(plaintext) = crypto::decrypt(
            &envelope.hmac,
            &envelope.ciphertext,
            secret.expose().as_bytes(),
            &envelope.salt,
        ) {
            return Ok(Decrypted {
                plaintext,
                secret_id: id.to_string(),
                header_id: envelope.vault_id.clone(),
            });
        }
    }
    Err(VaultError::DecryptionFailed)
}

/// Encrypts `plaintext` with `secret`. A `vault_id` other than `default`
/// gives a 1.2 header carrying it; otherwise 1.1. The salt is 32 random
/// bytes, or the raw bytes of `ANSIBLE_VAULT_ENCRYPT_SALT` when set (as
/// Ansible does; meant for reproducible tests).
pub fn encrypt(plaintext: &[u8], secret: &Secret, vault_id: Option<&str>) -> String {
    let fixed = std::env::var("ANSIBLE_VAULT_ENCRYPT_SALT")
        .ok()
        .filter(|s| !s.is_empty());
    encrypt_with_salt(
        plaintext,
        secret,
        vault_id,
        fixed.as_deref().map(str::as_bytes),
    )
}

/// [`encrypt`] with an explicit salt (`None`: 32 random bytes).
pub fn encrypt_with_salt(
    plaintext: &[u8],
    secret: &Secret,
    vault_id: Option<&str>,
    salt: Option<&[u8]>,
) -> String {
    let salt: Vec<u8> = match salt {
        Some(s) if !s.is_empty() => s.to_vec(),
        _ => rand::random::<[u8; 32]>().to_vec(),
    };
    let (hmac, ciphertext) = crypto::encrypt(plaintext, secret.expose().as_bytes(), &salt);
    let id = vault_id.filter(|id| !id.is_empty() && *id != DEFAULT_VAULT_ID);
    format::format(id, &salt, &hmac, &ciphertext)
}

/// The `!vault |` YAML block `ansible-vault encrypt_string` prints for
/// `vaulttext` (optionally as `name: !vault |`), the envelope indented by
/// 10 spaces, without a trailing newline.
pub fn yaml_block(name: Option<&str>, vaulttext: &str) -> String {
    format::yaml_block(name, vaulttext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[(&str, &str)]) -> VaultSecrets {
        let mut s = VaultSecrets::new();
        for (id, pw) in list {
            s.push(*id, Secret::new(*pw));
        }
        s
    }

    #[test]
    fn every_secret_is_tried_and_the_id_is_a_hint() {
        let text = encrypt(b"data", &Secret::new("right"), Some("prod"));
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        let s = secrets(&[("prod", "wrong"), ("dev", "right")]);
        let d = decrypt_detailed(&text, &s).unwrap();
        assert_eq!(d.plaintext, b"data");
        assert_eq!(d.secret_id, "dev");
        assert_eq!(d.header_id.as_deref(), Some("prod"));
        let mut strict = s.clone();
        strict.id_match = true;
        assert_eq!(decrypt(&text, &strict), Err(VaultError::DecryptionFailed));
    }

    #[test]
    fn wrong_password_and_no_secrets() {
        let text = encrypt(b"data", &Secret::new("right"), None);
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        let err = decrypt(&text, &secrets(&[("default", "nope")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Decryption failed (no vault secrets were found that could decrypt)"
        );
        assert_eq!(
            decrypt(&text, &VaultSecrets::new()),
            Err(VaultError::NoSecrets)
        );
        assert_eq!(
            decrypt("plain", &secrets(&[("default", "x")])),
            Err(VaultError::NotVault)
        );
    }

    #[test]
    fn default_id_writes_1_1() {
        let text = encrypt(b"", &Secret::new("pw"), Some("default"));
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    }
}
