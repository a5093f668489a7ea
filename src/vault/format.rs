//! The Vault envelope: a header line (`$ANSIBLE_VAULT;1.1;AES256` or
//! `$ANSIBLE_VAULT;1.2;AES256;<vault-id>`) and a body that is
//! `hex(hex(salt) "\n" hex(hmac) "\n" hex(ciphertext))` (hex applied twice,
//! a historical quirk) wrapped at 80 columns, every line ending in `\n`.

use super::VaultError;

/// What every vaulted text starts with.
pub(crate) const MAGIC: &str = "$ANSIBLE_VAULT";
/// The only cipher Vault has.
pub(crate) const CIPHER: &str = "AES256";
/// Body line width.
const WIDTH: usize = 80;

/// A parsed envelope, before decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// `1.1` or `1.2`.
    pub version: String,
    /// The vault id from a 1.2 header (a hint only).
    pub vault_id: Option<String>,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Whether `text` is vault-encrypted data (leading whitespace allowed, as
/// an indented `!vault |` block may carry some).
pub(crate) fn is_vault(text: &str) -> bool {
    text.trim_start().starts_with(MAGIC)
}

/// Splits and decodes an envelope.
pub(crate) fn parse(text: &str) -> Result<Envelope, VaultError> {
    if !is_vault(text) {
        return Err(VaultError::NotVault);
    }
    let mut lines = text.trim().lines();
    let header = lines.next().unwrap_or_default().trim();
    let fields: Vec<&str> = header.split(';').map(str::trim).collect();
    if fields.len() < 3 || fields[0] != MAGIC {
        return Err(VaultError::Format(format!(
            "Invalid vaulttext envelope header: {header}"
        )));
    }
    let version = fields[1].to_string();
    if fields[2] != CIPHER {
        return Err(VaultError::Format(format!(
            "Vault cipher \"{}\" is not supported",
            fields[2]
        )));
    }
    let vault_id = fields
        .get(3)
        .filter(|id| !id.is_empty())
        .map(|id| (*id).to_string());
    let body: String = lines.map(str::trim).collect();
    let inner = hex::decode(body.as_bytes())
        .map_err(|e| VaultError::Format(format!("Vault format unhexlify error: {e}")))?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let mut next = |what: &str| -> Result<Vec<u8>, VaultError> {
        let part = parts.next().ok_or_else(|| {
            VaultError::Format(format!("Vault format error: the {what} is missing"))
        })?;
        hex::decode(part.trim_ascii()).map_err(|e| {
            VaultError::Format(format!("Vault format unhexlify error: {e} (in the {what})"))
        })
    };
    let salt = next("salt")?;
    let hmac = next("HMAC")?;
    let ciphertext = next("ciphertext")?;
    Ok(Envelope {
        version,
        vault_id,
        salt,
        hmac,
        ciphertext,
    })
}

/// Builds the envelope text: header, then the body wrapped at 80 columns,
/// each line (the last too) ending in `\n`.
pub(crate) fn format(
    vault_id: Option<&str>,
    salt: &[u8],
    hmac: &[u8],
    ciphertext: &[u8],
) -> String {
    let mut inner = hex::encode(salt);
    inner.push('\n');
    inner.push_str(&hex::encode(hmac));
    inner.push('\n');
    inner.push_str(&hex::encode(ciphertext));
    let body = hex::encode(inner.as_bytes());
    let mut out = match vault_id {
        Some(id) => format!("{MAGIC};1.2;{CIPHER};{id}\n"),
        None => format!("{MAGIC};1.1;{CIPHER}\n"),
    };
    out.reserve(body.len() + body.len() / WIDTH + 1);
    // The body is ASCII hex, so byte chunks are char boundaries.
    for chunk in body.as_bytes().chunks(WIDTH) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// The `!vault |` YAML form `ansible-vault encrypt_string` prints: an
/// optional `name: ` prefix, then the envelope indented by 10 spaces,
/// without a trailing newline.
pub(crate) fn yaml_block(name: Option<&str>, vaulttext: &str) -> String {
    let mut out = String::new();
    if let Some(name) = name {
        out.push_str(name);
        out.push_str(": ");
    }
    out.push_str("!vault |");
    for line in vaulttext.lines() {
        out.push('\n');
        out.push_str("          ");
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_then_parse() {
        let text = format(Some("prod"), b"salt", &[1; 32], &[2; 48]);
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert!(text.lines().skip(1).all(|l| l.len() <= 80));
        assert!(text.ends_with('\n'));
        let env = parse(&text).unwrap();
        assert_eq!(env.version, "1.2");
        assert_eq!(env.vault_id.as_deref(), Some("prod"));
        assert_eq!(env.salt, b"salt");
        assert_eq!(env.hmac, [1; 32]);
        assert_eq!(env.ciphertext, [2; 48]);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse("hello"), Err(VaultError::NotVault));
        assert!(matches!(
            parse("$ANSIBLE_VAULT;1.1;AES\n00\n"),
            Err(VaultError::Format(_))
        ));
        assert!(matches!(
            parse("$ANSIBLE_VAULT;1.1;AES256\nzz\n"),
            Err(VaultError::Format(_))
        ));
    }

    #[test]
    fn indented_inline_value_parses() {
        let text = format(None, b"s", &[1; 32], &[2; 16]);
        let indented: String = text.lines().map(|l| format!("   {l}\n")).collect();
        assert_eq!(parse(&indented).unwrap().ciphertext, [2; 16]);
    }
}
